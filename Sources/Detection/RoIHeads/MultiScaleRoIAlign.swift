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
    /// Maps the backbone kept as pixel rows are sampled where they lie; NCHW maps are copied
    /// channels-last first (`RoIAlign.pool`).
    public func callAsFunction(_ features: FeatureMaps, boxes: [Box], imageSize: (h: Int, w: Int)) -> Tensor {
        let c = features.shape(mapIndices(features)[0])[1]
        var out = Tensor.uninitialized([boxes.count, c, outputSize, outputSize])
        out.data.withUnsafeMutableBufferPointer { o in
            pool(features, boxes: boxes, imageSize: imageSize, into: .nchw(o.baseAddress!))
        }
        return out
    }

    /// The same samples quantized as `quantization`, each box's row bins-major (`[outputSize^2, C]`,
    /// then zeros up to a multiple of 4) and `rowBytes` apart: the levels an int8 layer reading
    /// pooled features bins-major (`QuantizedLinear.pooled`) would quantize from
    /// `callAsFunction`'s tensor, without that tensor.
    public func levels(_ features: FeatureMaps, boxes: [Box], imageSize: (h: Int, w: Int),
                       quantization: ActivationQuantization, rowBytes: Int) -> [UInt8] {
        let c = features.shape(mapIndices(features)[0])[1]
        precondition(rowBytes >= (c * outputSize * outputSize + 3) & ~3, "rows of \(rowBytes) bytes for \(c) channels")
        return [UInt8](unsafeUninitializedCapacity: boxes.count * rowBytes) { buffer, n in
            if let base = buffer.baseAddress {
                pool(features, boxes: boxes, imageSize: imageSize,
                     into: .levels(base, rowBytes: rowBytes, quantization: quantization))
                // Bytes past the padding to 4 are never read; give them a value all the same.
                let used = (c * outputSize * outputSize + 3) & ~3
                if used < rowBytes {
                    for r in 0..<boxes.count { (base + r * rowBytes + used).initialize(repeating: 0, count: rowBytes - used) }
                }
            }
            n = boxes.count * rowBytes
        }
    }

    /// The index of each of `featmapNames` among the features' maps.
    private func mapIndices(_ features: FeatureMaps) -> [Int] {
        featmapNames.map { name -> Int in
            guard let i = features.names.firstIndex(of: name) else { preconditionFailure("no feature map named \(name)") }
            return i
        }
    }

    /// Writes every box's pooled bins into its row of `out` (`RoIAlign.Destination`).
    private func pool(_ features: FeatureMaps, boxes: [Box], imageSize: (h: Int, w: Int), into out: RoIAlign.Destination) {
        if boxes.isEmpty { return }
        let index = mapIndices(features)
        let shapes = index.map { features.shape($0) }
        let scales = shapes.map { MultiScaleRoIAlign.inferScale(featureSize: $0[2], imageSize: imageSize.h) }
        let lv = levelOf(index.count, boxes, scales)
        for (l, i) in index.enumerated() {
            let rows = boxes.indices.filter { lv[$0] == l }
            if rows.isEmpty { continue }
            let picked = rows.map { boxes[$0] }
            if let pixelRows = features.rows(featmapNames[l]) {
                RoIAlign.pool(rows: pixelRows, boxes: picked, outputH: outputSize, outputW: outputSize, spatialScale: scales[l],
                              samplingRatio: samplingRatio, aligned: false, into: out, rows: rows)
            } else {
                RoIAlign.pool(features.map(i), boxes: picked, outputH: outputSize, outputW: outputSize, spatialScale: scales[l],
                              samplingRatio: samplingRatio, aligned: false, into: out, rows: rows)
            }
        }
    }

    /// Each box's level: the only one, or `levels(_:scales:)`.
    private func levelOf(_ count: Int, _ boxes: [Box], _ scales: [Float]) -> [Int] {
        count == 1 ? [Int](repeating: 0, count: boxes.count) : levels(boxes, scales: scales)
    }
}
