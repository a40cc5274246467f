import ProximaCore

/// How an index answers a filtered query (the seed's hybrid strategies).
///
/// A graph or list scan that only filters its results needs about `ef / s`
/// candidates to find `ef` that pass a filter keeping a fraction `s` of the
/// rows, and a very selective filter starves it. So: estimate `s` from a sample
/// of rows; when few rows pass, scan exactly those (filter first: perfect
/// recall, cost proportional to the matches); otherwise widen the search by 1/s.
public enum FilterPlan: Sendable, Equatable {
    /// Exact distances to every row that passes the filter.
    case filterFirst
    /// The index's own search, widened by this factor.
    case widened(Double)

    /// Rows tested to estimate the filter's selectivity.
    static let sampleSize = 512
    /// Below this many estimated matches (or this fraction), scanning them exactly is cheaper than a graph walk.
    static let filterFirstMatches = 4096.0
    static let filterFirstFraction = 0.02

    /// Fraction of `count` rows `accept` keeps, estimated from a fixed
    /// pseudo-random sample (evenly spaced rows would alias with periodic ids).
    public static func selectivity(count: Int, accept: (Int32) -> Bool) -> Double {
        guard count > 0 else { return 0 }
        if count <= sampleSize {
            var kept = 0
            for i in 0..<count where accept(Int32(i)) { kept += 1 }
            return max(Double(kept), 0.5) / Double(count)
        }
        var rng = SplitMix64(seed: 0x5EED)
        var kept = 0
        for _ in 0..<sampleSize where accept(Int32(rng.next() % UInt64(count))) { kept += 1 }
        let n = sampleSize
        // Never zero: a filter the sample missed may still match a few rows.
        return max(Double(kept), 0.5) / Double(n)
    }

    /// `exactBelowMatches`: whether a few thousand estimated matches also
    /// choose the exact scan — right for a user's filter, not for a delete
    /// bitmap alone, which passes nearly every row and would turn every
    /// small segment into an exact scan.
    public static func choose(count: Int, selectivity s: Double, exactBelowMatches: Bool = true) -> FilterPlan {
        if s <= filterFirstFraction || (exactBelowMatches && s * Double(count) <= filterFirstMatches) { return .filterFirst }
        return .widened(min(1 / s, 64))
    }
}
