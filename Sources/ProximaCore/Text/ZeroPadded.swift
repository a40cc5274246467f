extension String {
    /// `value` in decimal, left-padded with zeros to `width` digits, so names
    /// that carry numbers sort in numeric order (WAL sequences, manifest
    /// versions, queue messages, RFC 3339 fields).
    public init(zeroPadded value: Int64, width: Int) {
        let digits = String(value)
        self = String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
    }
}
