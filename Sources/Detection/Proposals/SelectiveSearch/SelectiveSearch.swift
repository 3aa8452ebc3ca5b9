import Foundation
import Imaging

/// A proposal box in image pixels: `[x1, y1, x2, y2]`, `x2`/`y2` exclusive, so a region covering
/// columns 0...9 has `x1 = 0, x2 = 10` and the whole image is `(0, 0, width, height)`.
public struct SelectiveSearchBox: Sendable, Hashable {
    public var x1: Float
    public var y1: Float
    public var x2: Float
    public var y2: Float

    public init(x1: Float, y1: Float, x2: Float, y2: Float) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }

    /// The same box as the engine's `Box`.
    public var box: Box { Box(x1, y1, x2, y2) }
}

/// Selective search object proposals (Uijlings, van de Sande, Gevers, Smeulders, "Selective
/// Search for Object Recognition", IJCV 2013).
///
/// Each strategy segments the image with Felzenszwalb-Huttenlocher in its colour space, groups
/// the segments hierarchically by its similarity combination and keeps every region's box. The
/// boxes of all strategies are then ranked as in section 3.4 of the paper: within a strategy the
/// region created last (the whole image) has position 1, the one before it 2, and so on; each box
/// gets `position * r` with `r` uniform in [0, 1) from a seeded generator, all boxes are sorted
/// by that value (lowest first) and exact duplicates are dropped after their first occurrence.
///
/// Stateless; `proposals` may be called from any thread. The work is single-threaded.
public enum SelectiveSearch {
    /// The paper's diversification presets (table 5).
    public enum Mode: String, Sendable, CaseIterable {
        /// One strategy: HSV, k = 100, colour+texture+size+fill.
        case single
        /// "Selective Search Fast" as R-CNN used it: HSV and Lab, k in {50, 100},
        /// C+T+S+F and T+S+F (8 strategies).
        case fast
        /// OpenCV ximgproc's `switchToSelectiveSearchFast()` configuration: HSV and Lab,
        /// k in {150, 300, 450} with a 100-pixel minimum segment, C+T+S+F and T+S+F
        /// (12 strategies); ranked by `.level` unless told otherwise, as OpenCV ranks.
        case fastOpenCV
        /// `.fastOpenCV`'s 12 strategies ranked first, then `.fast`'s 8 (k 50 and 100: finer
        /// segmentations) as a second tier, both by `.level`, with near-duplicates (IoU >= 0.9 with
        /// a better-ranked box) dropped: the top of the list is OpenCV's configuration without
        /// its repeats, the rest adds objects the coarser segmentations merge away. About half
        /// OpenCV's time for its 12 on two cores' worth of one thread.
        case broad

        /// The ranking used when none is given: `.level` for `.fastOpenCV` and `.broad`, else `.paper`.
        public var defaultRanking: Ranking { self == .fastOpenCV || self == .broad ? .level : .paper }

        /// The near-duplicate IoU used when none is given (nil: exact duplicates only).
        public var defaultNearDuplicateIoU: Float? { self == .broad ? 0.9 : nil }
    }

    /// How boxes from several strategies are interleaved into one ranked list.
    public enum Ranking: String, Sendable, CaseIterable {
        /// The paper's (section 3.4): `position * r`, position 1 for the region created last (the
        /// whole image), so large regions near the top of each hierarchy tend to come first.
        case paper
        /// OpenCV ximgproc's, which inverts the paper: `level * r`, level being the region's
        /// depth in the merge tree (1 for an initial segment), so small regions tend to come
        /// first.
        case level
    }

    /// The strategies a mode runs, in order.
    public static func strategies(for mode: Mode) -> [SelectiveSearchStrategy] {
        switch mode {
        case .single:
            return [SelectiveSearchStrategy(colorSpace: .hsv, k: 100, similarity: .all)]
        case .fast:
            var out: [SelectiveSearchStrategy] = []
            for space in [SelectiveSearchColorSpace.hsv, .lab] {
                for k: Float in [50, 100] {
                    for sim in [SelectiveSearchSimilarity.all, .textureSizeFill] {
                        out.append(SelectiveSearchStrategy(colorSpace: space, k: k, similarity: sim))
                    }
                }
            }
            return out
        case .fastOpenCV:
            var out: [SelectiveSearchStrategy] = []
            for space in [SelectiveSearchColorSpace.hsv, .lab] {
                for k: Float in [150, 300, 450] {
                    for sim in [SelectiveSearchSimilarity.all, .textureSizeFill] {
                        out.append(SelectiveSearchStrategy(colorSpace: space, k: k, similarity: sim,
                                                           minSegmentSize: 100))
                    }
                }
            }
            return out
        case .broad:
            return strategies(for: .fastOpenCV) + strategies(for: .fast).map { s in
                var s = s
                s.tier = 1
                return s
            }
        }
    }

    /// Ranked, de-duplicated proposals for `image`.
    ///
    /// - Parameters:
    ///   - mode: the diversification preset.
    ///   - maxProposals: keep at most this many of the best-ranked boxes (`nil`: all).
    ///   - minSize: drop boxes narrower or shorter than this many pixels.
    ///   - seed: seed of the ranking's random numbers; the same seed gives the same list.
    ///   - ranking: how the strategies' boxes are ordered (`mode.defaultRanking` when nil).
    ///   - nearDuplicateIoU: drop a box whose IoU with a better-ranked kept box is at least this
    ///     (nil: the mode's default; exact duplicates are always dropped). Strategies often find
    ///     the same object with boxes a pixel apart; dropping those leaves room for other objects
    ///     in the top N.
    public static func proposals(image: RGBImage, mode: Mode = .fast, maxProposals: Int? = nil,
                                 minSize: Int = 0, seed: UInt64 = 0,
                                 ranking: Ranking? = nil, nearDuplicateIoU: Float? = nil) -> [SelectiveSearchBox] {
        proposals(image: image, strategies: strategies(for: mode), maxProposals: maxProposals,
                  minSize: minSize, seed: seed, ranking: ranking ?? mode.defaultRanking,
                  nearDuplicateIoU: nearDuplicateIoU ?? mode.defaultNearDuplicateIoU)
    }

    /// As `proposals(image:mode:...)` with an explicit list of strategies. Colour conversions,
    /// texture maps and segmentations are computed once and shared between strategies.
    public static func proposals(image: RGBImage, strategies: [SelectiveSearchStrategy],
                                 maxProposals: Int? = nil, minSize: Int = 0,
                                 seed: UInt64 = 0, ranking: Ranking = .paper,
                                 nearDuplicateIoU: Float? = nil) -> [SelectiveSearchBox] {
        guard image.width > 0, image.height > 0 else { return [] }
        var colourImages: [SelectiveSearchColorSpace: SelectiveSearchPlanarImage] = [:]
        var textures: [SelectiveSearchColorSpace: SelectiveSearchTexture] = [:]
        var segmentations: [String: FelzenszwalbLabelMap] = [:]
        var random = SelectiveSearchRandom(seed: seed)
        var ranked: [(tier: Int, score: Float, box: (Int32, Int32, Int32, Int32))] = []

        for strategy in strategies {
            let space = strategy.colorSpace
            let colour = colourImages[space] ?? space.convert(image)
            colourImages[space] = colour
            let segmentationKey = "\(space.rawValue)/\(strategy.k)/\(strategy.minSegmentSize)"
            let labels = segmentations[segmentationKey]
                ?? FelzenszwalbSegmentation(scale: strategy.k, sigma: 0.8, minSize: strategy.minSegmentSize)
                    .segment(colour)
            segmentations[segmentationKey] = labels
            var texture = SelectiveSearchTexture.empty
            if strategy.similarity.contains(.texture) {
                texture = textures[space] ?? SelectiveSearchTexture(colour)
                textures[space] = texture
            }
            let hierarchy = SelectiveSearchHierarchy(labels: labels, colour: colour, texture: texture,
                                                     similarity: strategy.similarity)
            let count = hierarchy.boxes.count
            for (index, box) in hierarchy.boxes.enumerated() {
                let weight = ranking == .paper
                    ? Float(count - index)  // whole image (created last) is 1
                    : Float(hierarchy.levels[index])
                ranked.append((strategy.tier, weight * random.nextUnit(), box))
            }
        }

        // Stable sort by tier and score, then drop duplicates and small boxes.
        let order = ranked.indices.sorted { a, b in
            (ranked[a].tier, ranked[a].score, a) < (ranked[b].tier, ranked[b].score, b)
        }
        var seen = Set<SIMD4<Int32>>()
        var out: [SelectiveSearchBox] = []
        let limit = maxProposals ?? Int.max
        for i in order {
            if out.count >= limit { break }
            let (bx1, by1, bx2, by2) = ranked[i].box
            if Int(bx2 - bx1) < minSize || Int(by2 - by1) < minSize { continue }
            if !seen.insert(SIMD4(bx1, by1, bx2, by2)).inserted { continue }
            let candidate = SelectiveSearchBox(x1: Float(bx1), y1: Float(by1), x2: Float(bx2), y2: Float(by2))
            if let limit = nearDuplicateIoU, out.contains(where: { $0.box.iou(candidate.box) >= limit }) { continue }
            out.append(candidate)
        }
        return out
    }
}

/// SplitMix64: a small, seeded, platform-independent generator for the ranking.
struct SelectiveSearchRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits.
    mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
