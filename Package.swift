// swift-tools-version:6.0
import PackageDescription

// Layering (dependencies point down only):
//   proximadb -> ProximaAPI -> ProximaAuth -> ProximaEngine -> {ProximaIndex, ProximaFormat, ProximaCloud} -> ProximaCore
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "ProximaDB",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "proximadb", targets: ["proximadb"]),
        .library(name: "ProximaEngine", targets: ["ProximaEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-service-context", from: "1.0.0"),
        // gRPC on 5679 (proto/proximadb.proto; generated code committed, scripts/generate-grpc).
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // Distance kernels for AVX-512 / AVX2+FMA / portable C, chosen at load time.
        .target(name: "CProximaKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "ProximaCore", dependencies: ["CProximaKernels"], swiftSettings: strict),
        // Graph builds and searches run in tight loops over a builder class's storage: its dynamic
        // exclusivity checks were 1.5 % of an HNSW build (release only; debug keeps them).
        .target(
            name: "ProximaIndex", dependencies: ["ProximaCore", "CProximaKernels"],
            swiftSettings: strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // libzstd from Debian's libzstd-dev (scripts/setup installs it).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "ProximaFormat", dependencies: ["ProximaCore", "CZstd"], swiftSettings: strict),
        .target(
            name: "ProximaCloud",
            dependencies: [
                "ProximaCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ProximaEngine",
            dependencies: [
                "ProximaCore", "ProximaIndex", "ProximaFormat", "ProximaCloud",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // Who a request acts for: API keys in the store, JWTs, rate limits.
        .target(
            name: "ProximaAuth",
            dependencies: [
                "ProximaCore", "ProximaCloud", "ProximaEngine",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ProximaAPI",
            dependencies: [
                "ProximaCore", "ProximaEngine", "ProximaAuth", "ProximaFormat",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "proximadb",
            dependencies: [
                "ProximaAPI", "ProximaAuth", "ProximaEngine", "ProximaCloud", "ProximaIndex", "ProximaCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // libFuzzer targets for the decoders of untrusted bytes (scripts/fuzz); a corpus replayer when built plainly.
        .executableTarget(name: "proximadb-fuzz", dependencies: ["ProximaCore", "ProximaFormat"], path: "Sources/ProximaFuzz"),
        // Shared test fixtures: the storage conformance suite and emulator launchers.
        .target(name: "ProximaTesting", dependencies: ["ProximaCloud", "ProximaCore"], swiftSettings: strict),
        // One test target per module, importing what it tests and what that module exposes.
        .testTarget(name: "ProximaCoreTests", dependencies: ["ProximaCore"]),
        .testTarget(name: "ProximaIndexTests", dependencies: ["ProximaIndex", "ProximaCore"]),
        .testTarget(name: "ProximaFormatTests", dependencies: ["ProximaFormat", "ProximaCore"]),
        .testTarget(name: "ProximaCloudTests", dependencies: ["ProximaCloud", "ProximaCore", "ProximaTesting"]),
        .testTarget(
            name: "ProximaEngineTests",
            dependencies: [
                "ProximaEngine", "ProximaCloud", "ProximaCore", "ProximaFormat", "ProximaIndex", "ProximaTesting",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ProximaAuthTests",
            dependencies: ["ProximaAuth", "ProximaEngine", "ProximaCloud", "ProximaCore", "ProximaTesting",
                           .product(name: "JWTKit", package: "jwt-kit")]
        ),
        .testTarget(
            name: "ProximaAPITests",
            dependencies: [
                "ProximaAPI", "ProximaAuth", "ProximaEngine", "ProximaCloud", "ProximaCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
