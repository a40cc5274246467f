extension String {
    /// `bytes` as lower-case hex, two digits a byte (digests, ids, trace context).
    public init(hex bytes: some Sequence<UInt8>) {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        self = String(decoding: out, as: UTF8.self)
    }
}
