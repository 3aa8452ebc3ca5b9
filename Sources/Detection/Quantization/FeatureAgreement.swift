import Tensor

/// How far another run's feature maps are from a reference's, per pyramid level: the relative
/// L2 error sqrt(sum (b - a)^2 / sum a^2), pooled over every image added, and the largest per-image
/// value. Used to judge an int8 variant where detection agreement cannot: on random weights a
/// model's detections move with any 1e-3 change of one layer's input, while its features show the
/// quantization error itself.
public struct FeatureAgreement: Sendable, Equatable {
    public struct Level: Sendable, Equatable {
        public var name: String
        public var squaredError = 0.0
        public var squaredReference = 0.0
        public var worstImage = 0.0

        /// The pooled relative L2 error over the images added (0 when the reference is all zero
        /// and the other run equals it).
        public var relativeError: Double {
            squaredReference > 0 ? (squaredError / squaredReference).squareRoot() : (squaredError > 0 ? .infinity : 0)
        }
    }

    public private(set) var levels: [Level] = []
    public private(set) var images = 0

    public init() {}

    public enum Mismatch: Error, Equatable, CustomStringConvertible {
        case levels([String], [String])
        case shape(String, [Int], [Int])

        public var description: String {
            switch self {
            case .levels(let a, let b): "the feature levels differ: \(a) against \(b)"
            case .shape(let n, let a, let b): "feature level \(n) has shape \(a) against \(b)"
            }
        }
    }

    /// Adds one image's feature maps; both runs must return the same levels with the same shapes.
    public mutating func add(reference: FeatureMaps, other: FeatureMaps) throws {
        guard reference.names == other.names else { throw Mismatch.levels(reference.names, other.names) }
        if levels.isEmpty { levels = reference.names.map { Level(name: $0) } }
        guard levels.map(\.name) == reference.names else { throw Mismatch.levels(levels.map(\.name), reference.names) }
        for (i, (a, b)) in zip(reference.maps, other.maps).enumerated() {
            guard a.shape == b.shape else { throw Mismatch.shape(reference.names[i], a.shape, b.shape) }
            var err = 0.0, ref = 0.0
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    for k in 0..<pa.count {
                        let d = Double(pb[k]) - Double(pa[k])
                        err += d * d
                        ref += Double(pa[k]) * Double(pa[k])
                    }
                }
            }
            levels[i].squaredError += err
            levels[i].squaredReference += ref
            let image = ref > 0 ? (err / ref).squareRoot() : (err > 0 ? .infinity : 0)
            levels[i].worstImage = max(levels[i].worstImage, image)
        }
        images += 1
    }
}
