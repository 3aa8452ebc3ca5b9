import Tensor

/// Named feature maps in pyramid order (finest first), as a backbone returns them.
///
/// A map is kept NCHW, or, where an int8 FPN output layer stored it in one pass with the RPN
/// head's input levels, as pixel rows `[n, h, w, c]` with those levels: RoIAlign samples the rows
/// and the RPN multiplies the levels, so on the int8 path of a RoIAlign model nothing writes,
/// transposes or quantizes the map again. `maps`, `map(_:)` and the subscript give NCHW either way,
/// transposing rows on each call (the FPN's small pooled level, RoI max pooling, `rcnn compare`).
public struct FeatureMaps: Sendable {
    public var names: [String]
    private var stored: [Stored]

    /// One map as the backbone handed it over.
    struct Stored: Sendable {
        /// `[n, c, h, w]` (nil where the map is kept as rows only).
        var nchw: Tensor?
        /// `[n, h, w, c]`, with the map quantized for the RPN head's first layer.
        var rows: (values: Tensor, levels: QuantizedActivations)?

        var channelsFirst: Tensor { nchw ?? rows!.values.channelsFirst() }
    }

    public init(names: [String] = [], maps: [Tensor] = []) {
        precondition(names.count == maps.count)
        self.names = names
        stored = maps.map { Stored(nchw: $0) }
    }

    init(names: [String], stored: [Stored]) {
        precondition(names.count == stored.count)
        self.names = names
        self.stored = stored
    }

    /// Every map NCHW; a map kept as pixel rows is transposed on each call (the int8 path's own
    /// readers take the rows: `rows(_:)`, `rpnLevels`).
    public var maps: [Tensor] { stored.map(\.channelsFirst) }

    public subscript(name: String) -> Tensor? {
        names.firstIndex(of: name).map { stored[$0].channelsFirst }
    }

    /// The map called `name` as pixel rows `[n, h, w, c]`, where it is kept that way.
    func rows(_ name: String) -> Tensor? {
        names.firstIndex(of: name).flatMap { stored[$0].rows?.values }
    }

    /// Per map, its levels for the RPN head's first layer where the FPN stored them (else nil).
    var rpnLevels: [QuantizedActivations?] { stored.map { $0.rows?.levels } }

    /// Map `i` NCHW (transposed when kept as rows).
    func map(_ i: Int) -> Tensor { stored[i].channelsFirst }

    /// Map `i`'s shape as NCHW `[n, c, h, w]`, without transposing.
    func shape(_ i: Int) -> [Int] {
        if let t = stored[i].nchw { return t.shape }
        let s = stored[i].rows!.values.shape
        return [s[0], s[3], s[1], s[2]]
    }

    public mutating func append(_ name: String, _ map: Tensor) {
        names.append(name)
        stored.append(Stored(nchw: map))
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
