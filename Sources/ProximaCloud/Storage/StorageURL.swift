/// Opens the store a URL names: `file:///path` (or a bare path) now;
/// `s3://`, `gs://` and `az://` are added with their clients.
public enum StorageURL {
    public static func open(_ url: String) throws -> any CloudStorage {
        if url.hasPrefix("file://") {
            return try LocalDirectoryStorage(root: String(url.dropFirst("file://".count)))
        }
        if !url.contains("://") { return try LocalDirectoryStorage(root: url) }
        throw StorageError(.fatal, "unsupported storage URL scheme in '\(url)' (supported: file://)")
    }
}
