import Foundation

extension Conv2d {
    /// Whether `Conv2d.sequence` hands levels from one int8 convolution to the next (default on;
    /// `RCNN_INT8_CHAINS=0` turns it off for the process, tests toggle it to compare both ways).
    nonisolated(unsafe) public static var int8ChainsEnabled =
        ProcessInfo.processInfo.environment["RCNN_INT8_CHAINS"] != "0"

    /// Whether chains may run now: enabled, and no input observer (calibration) that must see every
    /// layer's float input (the mask head's chain also passes levels into its transposed
    /// convolution).
    public static var chaining: Bool { int8ChainsEnabled && inputObserver == nil && ConvTranspose2d.inputObserver == nil }

    /// Runs `convs` one after another on `x`. Where an int8 convolution whose activation is
    /// identity, ReLU or hardswish feeds another int8 convolution, its sums go straight to the next
    /// layer's input levels (`QuantizedConv2d.callAsFunction(_:activation:quantizedFor:)`): no
    /// float tensor is written and read back, and the result has the same bits as calling each
    /// layer in turn. While an input observer is set (calibration) every layer runs on its float input.
    public static func sequence(_ convs: [Conv2d], _ x: Tensor) -> Tensor {
        guard chaining else { return convs.reduce(x) { y, conv in conv(y) } }
        switch chain(convs, x, levels: nil, endingIn: nil) {
        case .float(let y): return y
        case .levels: preconditionFailure("a chain without a consumer ends in float")
        }
    }

    /// `sequence(convs, x)` quantized as `next` (a layer that reads levels: Mask R-CNN's int8
    /// upsampling after its int8 mask convolutions): where the last convolution is int8 with
    /// identity, ReLU or hardswish its store writes the levels, else the float output is quantized.
    /// The levels of quantizing `sequence(convs, x)`; nil where chains cannot run (the caller runs
    /// the float sequence).
    public static func sequence(_ convs: [Conv2d], _ x: Tensor, levelsFor next: ActivationQuantization) -> QuantizedActivations? {
        guard chaining else { return nil }
        switch chain(convs, x, levels: nil, endingIn: next) {
        case .levels(let l): return l
        case .float(let y): return QuantizedActivations(quantizing: y, as: next)
        }
    }

    /// Each of `heads` applied to `sequence(convs, x)`, as an RPN runs its objectness and box
    /// layers on the shared convolution's output. Where the heads are int8 with one input
    /// quantization, the sequence ends in their levels (the last convolution's requantizing store)
    /// and every head multiplies those: the shared output is neither written in float32 nor
    /// quantized once per head. The bits of running the heads one by one on the float output.
    public static func sequence(_ convs: [Conv2d], _ x: Tensor, heads: [Conv2d]) -> [Tensor] {
        guard chaining, let first = sharedInput(heads) else {
            let shared = sequence(convs, x)
            return heads.map { $0(shared) }
        }
        return run(heads, on: chain(convs, x, levels: nil, endingIn: first.input))
    }

    /// The quantization in which `sequence(_:levels:heads:)` takes its input: where chains run and
    /// the heads are int8 with one input quantization, the first convolution's input quantization
    /// when it is int8 (the heads' without convolutions); else nil, and the input must come as a
    /// float tensor. An FPN whose output layers are int8 can then store its maps' levels in the
    /// same pass as the maps.
    public static func levelsInput(_ convs: [Conv2d], heads: [Conv2d]) -> ActivationQuantization? {
        guard chaining, let first = sharedInput(heads) else { return nil }
        guard let conv = convs.first else { return first.input }
        return conv.int8?.input
    }

    /// `sequence(convs, x, heads:)` on `x` already quantized as `levelsInput(convs, heads:)` says:
    /// the same bits as on the float tensor those levels were quantized from.
    public static func sequence(_ convs: [Conv2d], levels: QuantizedActivations, heads: [Conv2d]) -> [Tensor] {
        guard let wanted = levelsInput(convs, heads: heads), let first = sharedInput(heads) else {
            preconditionFailure("sequence on levels needs chains and int8 heads with one input quantization")
        }
        precondition(levels.quantization == wanted, "levels quantized as \(levels.quantization), the first layer reads \(wanted)")
        return run(heads, on: chain(convs, Tensor(shape: [0]), levels: levels, endingIn: first.input))
    }

    /// The heads' int8 layer when every head is int8 with one input quantization.
    private static func sharedInput(_ heads: [Conv2d]) -> QuantizedConv2d? {
        guard let first = heads.first?.int8, heads.allSatisfy({ $0.int8?.input == first.input }) else { return nil }
        return first
    }

    /// Every head (int8, one input quantization) on a chain's output.
    private static func run(_ heads: [Conv2d], on output: ChainOutput) -> [Tensor] {
        let levels: QuantizedActivations
        switch output {
        case .levels(let l): levels = l
        case .float(let y): levels = heads[0].int8!.quantize(y)
        }
        // Heads with float32 weights run together, each task reading its pixels' levels once for all.
        let floatWeights = heads.indices.filter { heads[$0].int8!.floatWeights != nil }
        var outputs = [Tensor?](repeating: nil, count: heads.count)
        if !floatWeights.isEmpty {
            let ys = FloatWeightsOnLevels.run(floatWeights.map { heads[$0].int8!.floatWeights! }, on: levels,
                                              activations: floatWeights.map { heads[$0].activation })
            for (i, y) in zip(floatWeights, ys) { outputs[i] = y }
        }
        return heads.indices.map { i in outputs[i] ?? heads[i].int8!(levels, activation: heads[i].activation) }
    }

    /// `sequence(convs, x)` followed by a residual join, `max(y + residual, 0)`, as a ResNet block
    /// ends. `levels`, when given, are `x` already quantized for the first convolution (the previous
    /// block's output). With int8 layers the join happens in the last convolution's store, and
    /// when `next` is given the output's levels for that layer come back too; the float output has
    /// the bits of the unfused path either way.
    public static func sequenceAddingReLU(_ convs: [Conv2d], _ x: Tensor, levels: QuantizedActivations?,
                                          residual: Tensor, next: QuantizedConv2d?) -> (Tensor, QuantizedActivations?) {
        guard chaining, let last = convs.last, let lastInt8 = last.int8, last.activation == .identity else {
            var y = sequence(convs, x)
            y.addReLU(residual)
            return (y, nil)
        }
        let input: QuantizedActivations
        switch chain(Array(convs.dropLast()), x, levels: levels, endingIn: lastInt8.input) {
        case .levels(let l): input = l
        case .float(let y): input = lastInt8.quantize(y)
        }
        return lastInt8(input, addingReLU: residual, quantizedFor: next?.input)
    }

    /// A ResNet block's shortcut and the levels its first convolution reads: `downsample(x)` (or `x`
    /// without one) and `levels` (x quantized for `first`, when given). Where the downsampling layer
    /// is int8 with the same input quantization as the first convolution (calibration records both
    /// from the same tensor), x is quantized once and both multiply the same levels, the previous
    /// block's when it handed them on; the bits are those of running each layer on x.
    public static func shortcut(_ downsample: Conv2d?, first: Conv2d?, _ x: Tensor,
                                levels: QuantizedActivations?) -> (residual: Tensor, levels: QuantizedActivations?) {
        guard let downsample else { return (x, levels) }
        guard chaining, let d8 = downsample.int8, let f8 = first?.int8, f8.input == d8.input else {
            return (downsample(x), levels)
        }
        let shared = levels ?? f8.quantize(x)
        return (d8(shared, activation: downsample.activation), shared)
    }

    private enum ChainOutput {
        case float(Tensor)
        case levels(QuantizedActivations)
    }

    /// Runs `convs` on `x` (or on `levels`, `x` quantized for the first layer), ending in levels for
    /// `consumer` where the last layer is int8 with identity, ReLU or hardswish, else in floats.
    private static func chain(_ convs: [Conv2d], _ x: Tensor, levels input: QuantizedActivations?,
                              endingIn consumer: ActivationQuantization?) -> ChainOutput {
        if convs.isEmpty { return input.map { .levels($0) } ?? .float(x) }
        var float = x
        var levels = input
        for (i, conv) in convs.enumerated() {
            let next = i + 1 < convs.count ? convs[i + 1].int8?.input : consumer
            if let int8 = conv.int8, int8.floatWeights == nil, let next, PackedInt8Weights.requantizable(conv.activation) {
                levels = int8(levels ?? int8.quantize(float), activation: conv.activation, quantizedFor: next)
            } else if let int8 = conv.int8, let l = levels {
                float = int8(l, activation: conv.activation)
                levels = nil
            } else {
                precondition(levels == nil, "levels handed to a float32 layer")
                float = conv(float)
            }
        }
        return levels.map { .levels($0) } ?? .float(float)
    }
}
