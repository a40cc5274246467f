/// One instance per test process of each emulator the tests use, started on
/// first use and stopped when the process exits. Suites share them (each
/// works under its own key prefix), so they can run in parallel.
public enum Emulators {
    /// moto's server with signature verification; `bucket` exists.
    public static let moto = Result { try EmulatorProcess("moto_server.py") }
    /// LocalStack, started by `localstack/start`; bucket `proximadb` exists.
    public static let localstack = Result { try EmulatorProcess("localstack_server.py", timeout: 900) }
    /// A fault-injecting proxy in front of `moto` (see `Tests/fixtures/fault_proxy.py`).
    public static let faultyMoto = Result { try EmulatorProcess("fault_proxy.py", arguments: [try moto.get()["endpoint"]]) }
    /// fake-gcs-server; `bucket` exists.
    public static let fakeGCS = Result { try EmulatorProcess("fake_gcs_server.py") }
    /// Debian's redis-server with a password; `url` carries it.
    public static let redis = Result { try EmulatorProcess("redis_server.py") }
}
