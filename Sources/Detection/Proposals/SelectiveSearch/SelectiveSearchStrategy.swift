/// One diversification strategy: a colour space, a Felzenszwalb `k` and a similarity
/// combination. Felzenszwalb runs with `sigma` 0.8 and, unless told otherwise, a minimum segment
/// size of `k` pixels, as the authors' code does.
public struct SelectiveSearchStrategy: Sendable, Hashable {
    public var colorSpace: SelectiveSearchColorSpace
    public var k: Float
    public var similarity: SelectiveSearchSimilarity
    /// Felzenszwalb's `minSize`, in pixels.
    public var minSegmentSize: Int
    /// Ranking tier: every box of a lower tier is ranked before any box of a higher one (within a
    /// tier the ranking's random weighting interleaves the strategies).
    public var tier: Int

    public init(colorSpace: SelectiveSearchColorSpace, k: Float, similarity: SelectiveSearchSimilarity,
                minSegmentSize: Int? = nil, tier: Int = 0) {
        self.colorSpace = colorSpace
        self.k = k
        self.similarity = similarity
        self.minSegmentSize = minSegmentSize ?? Int(k)
        self.tier = tier
    }
}
