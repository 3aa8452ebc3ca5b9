import Tensor

/// Named feature maps in pyramid order (finest first), as a backbone returns them.
public struct FeatureMaps: Sendable {
    public var names: [String]
    public var maps: [Tensor]

    public init(names: [String] = [], maps: [Tensor] = []) {
        precondition(names.count == maps.count)
        self.names = names
        self.maps = maps
    }

    public subscript(name: String) -> Tensor? {
        names.firstIndex(of: name).map { maps[$0] }
    }

    public mutating func append(_ name: String, _ map: Tensor) {
        names.append(name)
        maps.append(map)
    }
}

/// A CNN body that returns intermediate feature maps (torchvision's `IntermediateLayerGetter`).
/// Implementations are immutable and thread-safe.
protocol FeatureExtractor: Sendable {
    /// Channels of each returned map, in return order.
    var outChannels: [Int] { get }
    func callAsFunction(_ x: Tensor) -> [Tensor]
    /// The returned maps for an FPN whose lateral layers are `lateral` (their int8 precision, nil
    /// where float32): a body may hand a map over as levels quantized for its lateral layer instead
    /// of a float tensor.
    func callAsFunction(_ x: Tensor, lateral: [QuantizedConv2d?]) -> [FeatureInput]
}

extension FeatureExtractor {
    func callAsFunction(_ x: Tensor, lateral: [QuantizedConv2d?]) -> [FeatureInput] {
        self(x).map { .float($0) }
    }
}

/// A body output on its way to the FPN: a float tensor, or its levels for the lateral layer.
enum FeatureInput {
    case float(Tensor)
    case levels(QuantizedActivations)
}
