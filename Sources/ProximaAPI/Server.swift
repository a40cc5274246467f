import Foundation
import Hummingbird
import Logging
import ProximaEngine

/// Runs the REST API over HTTP until SIGTERM/SIGINT.
public enum ProximaServer {
    /// Serves `engine` on `host:port`, answering for `tenant`; prints the bound address once listening.
    public static func run(engine: Engine, tenant: Tenant = .default, host: String, port: Int, logger: Logger) async throws {
        let routes = RESTRoutes(engine: engine, tenant: tenant)
        let app = Application(
            router: routes.router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "ProximaDB"),
            onServerRunning: { channel in
                // Printed for people and for tests that start the server on port 0.
                let bound = channel.localAddress?.port ?? port
                let line = "ProximaDB \(RESTRoutes.version) listening on http://\(host):\(bound) (storage: \(engine.storageDescription))\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            },
            logger: logger)
        try await app.runService()
    }
}
