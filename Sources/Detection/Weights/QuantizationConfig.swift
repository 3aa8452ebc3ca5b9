import Foundation
import Tensor

/// The int8 precision of a model (`rcnn calibrate` writes it): the input quantization of every layer
/// that runs in int8, by the layer's name in the weights file, and the layers left in float32 with
/// the reason. Weights are quantized per output channel when the model loads, from the same
/// float32 weights file, so an int8 variant adds no weights to the model directory.
public struct QuantizationConfig: Codable, Sendable {
    /// "int8".
    public var precision: String
    public var layers: [Layer]
    /// Layers calibration saw and left in float32, with the reason.
    public var floatLayers: [FloatLayer]?
    /// How the ranges were found.
    public var calibration: Calibration?
    /// Bits of every int8 layer's weight levels: 8 (the default when absent) or 7. 7-bit weights
    /// run about 1.2x faster on CPUs whose int8 multiply is AVX2 without VNNI, at a small cost in
    /// accuracy; every path computes the same integers for either.
    public var weightBits: Int?
    /// Bits of every activation's levels: 7 (the default when absent: 0...127, which AVX2 without
    /// VNNI multiplies with its fastest kernels) or 8 (0...255: half the quantization step; AVX2
    /// multiplies 8-bit levels with 8-bit weights at half its 7-bit speed). Every path computes the
    /// same integers for either.
    public var activationBits: Int?
    /// How a ResNet block whose layers are all int8 joins its residual: "float" (the default when
    /// absent: the float32 add of the float32 shortcut, fused into the last layer's store) or
    /// "int8" (the block runs on levels alone, the identity shortcut dequantized from the input's
    /// levels: faster, with that quantization error added on every shortcut).
    public var residualJoins: String?

    public struct Layer: Codable, Sendable, Equatable {
        public var name: String
        public var scale: Double
        public var zeroPoint: Int
        /// "int8" (the default when absent: weights quantized per output channel) or "float32":
        /// the layer reads its input as levels (this entry's scale and zero point) and multiplies
        /// their values by its float32 weights. Taken by the RPN's objectness and box layers, 1x1
        /// layers on the RPN convolution's levels whose outputs move every proposal.
        public var weights: String?
        public init(name: String, scale: Double, zeroPoint: Int, weights: String? = nil) {
            self.name = name
            self.scale = scale
            self.zeroPoint = zeroPoint
            self.weights = weights
        }

        /// Whether the layer keeps float32 weights on int8 input levels (`weights: float32`).
        public var floatWeights: Bool { weights == "float32" }
    }

    /// Layers that read int8 levels with float32 weights (`weights: float32`).
    public var floatWeightLayerCount: Int { layers.filter(\.floatWeights).count }

    /// " (N of the int8 layers with float32 weights on int8 levels)" for a summary after its layer
    /// counts, or "" when no layer keeps them.
    public var floatWeightsSummary: String {
        floatWeightLayerCount > 0 ? " (\(floatWeightLayerCount) of the int8 layers with float32 weights on int8 levels)" : ""
    }

    /// The accepted values of a layer's `weights`.
    public static let layerWeightChoices = ["int8", "float32"]

    public struct FloatLayer: Codable, Sendable, Equatable {
        public var name: String
        public var reason: String
        public init(name: String, reason: String) {
            self.name = name
            self.reason = reason
        }
    }

    public struct Calibration: Codable, Sendable {
        /// The float32 model calibrated.
        public var source: String
        public var images: Int
        /// "percentile" or "minmax".
        public var method: String
        /// The percentile of each side of the range (percentile method).
        public var percentile: Double?
        public init(source: String, images: Int, method: String, percentile: Double?) {
            self.source = source
            self.images = images
            self.method = method
            self.percentile = percentile
        }
    }

    public init(precision: String = "int8", layers: [Layer], floatLayers: [FloatLayer]?, calibration: Calibration?,
                weightBits: Int? = nil, activationBits: Int? = nil, residualJoins: String? = nil) {
        self.precision = precision
        self.layers = layers
        self.floatLayers = floatLayers
        self.calibration = calibration
        self.weightBits = weightBits
        self.activationBits = activationBits
        self.residualJoins = residualJoins
    }

    /// The weight width the layers are quantized to (8 when the table does not say).
    public var effectiveWeightBits: Int { weightBits ?? 8 }

    /// The activation width (7 when the table does not say: tables written before 8-bit activations).
    public var effectiveActivationBits: Int { activationBits ?? 7 }

    /// The accepted values of `residual_joins`.
    public static let residualJoinChoices = ["float", "int8"]

    /// Whether ResNet blocks join their residuals in int8 (`residual_joins: int8`).
    public var int8Joins: Bool { residualJoins == "int8" }

    /// Each layer's input quantization by name, checked: a known precision, unique names, positive
    /// finite scales that float32 keeps positive, zero points in 0...127 (0...255 with 8-bit activations).
    func inputs(file: String) throws -> [String: ActivationQuantization] {
        func fail(_ reason: String) -> WeightsError { .invalidConfig(file: file, reason: "quantization: " + reason) }
        guard precision == "int8" else { throw fail("precision '\(precision)' is not int8") }
        guard PackedInt8Weights.weightBitChoices.contains(effectiveWeightBits) else {
            throw fail("weight_bits must be 7 or 8 (got \(effectiveWeightBits))")
        }
        let activationBits = effectiveActivationBits
        guard ActivationQuantization.bitChoices.contains(activationBits) else {
            throw fail("activation_bits must be 7 or 8 (got \(activationBits))")
        }
        if let joins = residualJoins, !Self.residualJoinChoices.contains(joins) {
            throw fail("residual_joins must be \(Self.residualJoinChoices.joined(separator: " or ")) (got '\(joins)')")
        }
        var table: [String: ActivationQuantization] = [:]
        for layer in layers {
            guard !layer.name.isEmpty else { throw fail("a layer has an empty name") }
            guard table[layer.name] == nil else { throw fail("layer '\(layer.name)' is listed twice") }
            if let weights = layer.weights, !Self.layerWeightChoices.contains(weights) {
                throw fail("layer '\(layer.name)': weights must be \(Self.layerWeightChoices.joined(separator: " or ")) (got '\(weights)')")
            }
            guard layer.scale.isFinite, layer.scale > 0, layer.scale < 1e30,
                  let q = ActivationQuantization(scale: Float(layer.scale), zeroPoint: layer.zeroPoint, bits: activationBits) else {
                throw fail("layer '\(layer.name)' needs a positive finite scale and a zero point in 0...\(ActivationQuantization.maxLevel(bits: activationBits)) (got \(layer.scale), \(layer.zeroPoint))")
            }
            table[layer.name] = q
        }
        return table
    }
}

/// Which of a quantization table's layers a model load used, so that a table naming a layer the
/// model does not have is an error rather than silently float32.
final class QuantizationPlan: @unchecked Sendable {
    let inputs: [String: ActivationQuantization]
    let file: String
    /// Bits of the weight levels (8 or 7).
    let weightBits: Int
    /// Whether ResNet blocks join their residuals in int8.
    let int8Joins: Bool
    /// Layers that keep float32 weights on their int8 input levels (`weights: float32`).
    let floatWeights: Set<String>
    private(set) var used: Set<String> = []

    init(inputs: [String: ActivationQuantization], file: String, weightBits: Int = 8, int8Joins: Bool = false,
         floatWeights: Set<String> = []) {
        self.inputs = inputs
        self.file = file
        self.weightBits = weightBits
        self.int8Joins = int8Joins
        self.floatWeights = floatWeights
    }

    /// The error for a layer whose table entry asks for float32 weights where the model cannot
    /// run them: only the RPN's objectness and box layers take them.
    func floatWeightsRefused(_ name: String) -> WeightsError {
        .invalidConfig(file: file, reason: "quantization: layer '\(name)' has weights float32, which only the RPN's 1x1 objectness and box layers take (they read the RPN convolution's levels)")
    }

    func take(_ name: String) -> ActivationQuantization? {
        guard let q = inputs[name] else { return nil }
        used.insert(name)
        return q
    }

    /// Throws when a listed layer was never built.
    func checkAllUsed() throws {
        let unused = Set(inputs.keys).subtracting(used).sorted()
        if let first = unused.first {
            throw WeightsError.invalidConfig(file: file, reason: "quantization: layer '\(first)' is not an int8-capable layer of this model"
                                             + (unused.count > 1 ? " (and \(unused.count - 1) more)" : ""))
        }
    }
}
