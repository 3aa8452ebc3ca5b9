import Foundation

/// Anchors for each feature level (Ren et al., 2015, section 3.1), as torchvision's
/// `AnchorGenerator`: per level, "cell anchors" centred on the origin for every (ratio, size) pair
/// (ratio-major), rounded half-to-even to integers, then shifted to every feature cell with stride
/// `paddedImageSize / featureSize` (integer division). Order: cell row, cell column, anchor.
public struct AnchorGenerator: Sendable {
    public let cellAnchors: [[Box]]

    public init(sizes: [[Double]], aspectRatios: [[Double]]) {
        precondition(sizes.count == aspectRatios.count)
        cellAnchors = zip(sizes, aspectRatios).map { scales, ratios in
            var anchors: [Box] = []
            for r in ratios {
                let hRatio = Float(r).squareRoot()
                let wRatio = 1 / hRatio
                for s in scales {
                    let ws = wRatio * Float(s), hs = hRatio * Float(s)
                    anchors.append(Box(AnchorGenerator.round(-ws / 2), AnchorGenerator.round(-hs / 2),
                                       AnchorGenerator.round(ws / 2), AnchorGenerator.round(hs / 2)))
                }
            }
            return anchors
        }
    }

    /// torch.round: half to even.
    static func round(_ v: Float) -> Float { v.rounded(.toNearestOrEven) }

    public var anchorsPerLocation: Int { cellAnchors.first?.count ?? 0 }

    /// Anchors for one level with a `featureH` x `featureW` grid over a padded `imageH` x `imageW` batch.
    public func anchors(level: Int, featureH: Int, featureW: Int, imageH: Int, imageW: Int) -> [Box] {
        let sy = imageH / featureH, sx = imageW / featureW
        let cells = cellAnchors[level]
        var out: [Box] = []
        out.reserveCapacity(featureH * featureW * cells.count)
        for y in 0..<featureH {
            let oy = Float(y * sy)
            for x in 0..<featureW {
                let ox = Float(x * sx)
                for c in cells { out.append(Box(ox + c.x1, oy + c.y1, ox + c.x2, oy + c.y2)) }
            }
        }
        return out
    }
}
