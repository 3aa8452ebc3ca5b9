import Foundation
import Tensor

/// RoIAlign over a feature pyramid (torchvision's `MultiScaleRoIAlign`): each box is pooled from the
/// level `floor(4 + log2(sqrt(area) / 224) + 1e-6)` (FPN paper, eq. 1), clamped to the available
/// levels. Level scales are inferred from the map sizes relative to the resized image: the nearest
/// power of two of `featureSize / imageSize`.
public struct MultiScaleRoIAlign: Sendable {
    public let featmapNames: [String]
    public let outputSize: Int
    public let samplingRatio: Int
    public let canonicalScale: Float
    public let canonicalLevel: Float

    public init(config: ModelConfig.RoIPoolConfig) {
        featmapNames = config.featmapNames
        outputSize = config.outputSize
        samplingRatio = config.samplingRatio ?? 0
        canonicalScale = Float(config.canonicalScale ?? 224)
        canonicalLevel = Float(config.canonicalLevel ?? 4)
    }

    /// The power-of-two scale of a map of `featureSize` over an image of `imageSize` (per axis; both
    /// axes must agree, as torchvision asserts).
    static func inferScale(featureSize: Int, imageSize: Int) -> Float {
        let approx = Float(featureSize) / Float(imageSize)
        return powf(2, log2f(approx).rounded(.toNearestOrEven))
    }

    /// Level index (0-based among `featmapNames`) for each box.
    public func levels(_ boxes: [Box], scales: [Float]) -> [Int] {
        let kMin = -log2f(scales.first!), kMax = -log2f(scales.last!)
        return boxes.map { b in
            let s = b.area.squareRoot()
            var lvl = floorf(canonicalLevel + log2f(s / canonicalScale) + Float(1e-6))
            lvl = min(max(lvl, kMin), kMax)
            return Int(lvl - kMin)
        }
    }

    /// Pools `boxes` (resized-image coordinates) into `[boxes.count, C, outputSize, outputSize]`.
    public func callAsFunction(_ features: FeatureMaps, boxes: [Box], imageSize: (h: Int, w: Int)) -> Tensor {
        let maps = featmapNames.map { features[$0]! }
        let scales = maps.map { MultiScaleRoIAlign.inferScale(featureSize: $0.shape[2], imageSize: imageSize.h) }
        let c = maps[0].shape[1]
        var out = Tensor(shape: [boxes.count, c, outputSize, outputSize])
        if boxes.isEmpty { return out }
        if maps.count == 1 {
            RoIAlign.pool(maps[0], boxes: boxes, outputH: outputSize, outputW: outputSize, spatialScale: scales[0],
                          samplingRatio: samplingRatio, aligned: false, into: &out, rows: Array(boxes.indices))
            return out
        }
        let lv = levels(boxes, scales: scales)
        for (l, map) in maps.enumerated() {
            let rows = boxes.indices.filter { lv[$0] == l }
            if rows.isEmpty { continue }
            RoIAlign.pool(map, boxes: rows.map { boxes[$0] }, outputH: outputSize, outputW: outputSize, spatialScale: scales[l],
                          samplingRatio: samplingRatio, aligned: false, into: &out, rows: rows)
        }
        return out
    }
}
