/// A stored object that does not decode: a segment, an index file, a WAL
/// entry. The engine reports it as `storage_corrupted`; it is never searched.
public struct FormatError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
