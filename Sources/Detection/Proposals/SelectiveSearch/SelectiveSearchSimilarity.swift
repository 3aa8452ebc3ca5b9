/// Which of the paper's four similarity measures (section 3.2) a grouping sums, each with weight 1:
/// colour and texture are histogram intersections, size favours merging small regions early,
/// fill favours regions that fill each other's gaps.
public struct SelectiveSearchSimilarity: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// `s_colour`: intersection of 25-bin-per-channel colour histograms.
    public static let colour = SelectiveSearchSimilarity(rawValue: 1)
    /// `s_texture`: intersection of SIFT-like texture histograms (8 orientations x 10 bins per
    /// channel).
    public static let texture = SelectiveSearchSimilarity(rawValue: 2)
    /// `s_size = 1 - (|r_i| + |r_j|) / |image|`.
    public static let size = SelectiveSearchSimilarity(rawValue: 4)
    /// `s_fill = 1 - (|BB_ij| - |r_i| - |r_j|) / |image|`.
    public static let fill = SelectiveSearchSimilarity(rawValue: 8)

    /// C+T+S+F.
    public static let all: SelectiveSearchSimilarity = [.colour, .texture, .size, .fill]
    /// T+S+F.
    public static let textureSizeFill: SelectiveSearchSimilarity = [.texture, .size, .fill]
}
