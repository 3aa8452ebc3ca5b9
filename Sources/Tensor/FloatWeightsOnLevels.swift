import Foundation

/// A 1x1 stride-1 convolution that reads int8 levels and multiplies their values by float32
/// weights: the layer's input carries the activation quantization of an int8 layer, its weights
/// none. For small output layers that share an int8 layer's levels (an RPN's objectness and box
/// layers on its 3x3 layer's output), whose outputs move every proposal: their multiply is a few
/// percent of the 3x3 layer's, so float32 weights cost next to nothing, and the producer still
/// writes levels rather than a float32 map four times their size.
///
/// Each band of pixels is dequantized (`ActivationQuantization.value`) into scratch and multiplied
/// with SGEMM, so the output is the float32 convolution of the levels' values. Immutable;
/// thread-safe.
public struct FloatWeightsOnLevels: Sendable {
    /// `[outChannels][inChannels]`.
    let weight: [Float]
    let bias: [Float]?
    public let inChannels: Int
    public let outChannels: Int

    /// Pixels dequantized per multiply: 256 channels of 1024 pixels are 1 MiB of float32 scratch.
    static let bandBytes = 1 << 20

    /// Whether `conv` can run this way: dense, 1x1, stride 1, unpadded, undilated.
    public static func applies(to conv: Conv2d) -> Bool {
        conv.groups == 1 && conv.kernel == (1, 1) && conv.stride == (1, 1) && conv.padding == (0, 0)
            && conv.dilation == (1, 1)
    }

    public init(_ conv: Conv2d) {
        precondition(Self.applies(to: conv), "float32 weights on levels are for dense 1x1 stride-1 unpadded convolutions")
        weight = conv.weight.data
        bias = conv.bias
        inChannels = conv.inChannels
        outChannels = conv.outChannels
    }

    /// The NCHW float32 output `[n, outChannels, h, w]` of the convolution on the levels' values,
    /// after `activation`.
    public func callAsFunction(_ x: QuantizedActivations, activation: Activation) -> Tensor {
        Self.run([self], on: x, activations: [activation])[0]
    }

    /// Every one of `layers` (same input channels) on the same levels, each band of pixels
    /// dequantized once for all of them: `[n, layer.outChannels, h, w]` each, after its activation.
    public static func run(_ layers: [FloatWeightsOnLevels], on x: QuantizedActivations,
                           activations: [Activation]) -> [Tensor] {
        precondition(layers.count == activations.count && !layers.isEmpty, "one activation per layer")
        let c = x.c, plane = x.h * x.w
        precondition(layers.allSatisfy { $0.inChannels == c }, "expects \(c) channels of levels")
        var values = [Float](repeating: 0, count: 256)
        for q in 0...x.quantization.top { values[Int(q)] = x.quantization.value(Int(q)) }
        let band = max(1, min(plane, bandBytes / (4 * c)))
        var outputs = layers.map { Tensor.uninitialized([x.n, $0.outChannels, x.h, x.w]) }
        for layer in layers { FLOPCounter.add(2 * x.n * plane * c * layer.outChannels) }
        values.withUnsafeBufferPointer { table in
            x.withLevels { levels in
                Scratch.with(band * c) { rows in
                    for b in 0..<x.n {
                        var first = 0
                        while first < plane {
                            let count = min(band, plane - first)
                            let src = levels + (b * plane + first) * c
                            let half = (count + 1) / 2
                            parallelFor(2) { part in
                                let lo = part * half, hi = min(count, lo + half)
                                for i in (lo * c)..<(hi * c) { rows[i] = table[Int(src[i])] }
                            }
                            for (i, layer) in layers.enumerated() {
                                outputs[i].data.withUnsafeMutableBufferPointer { ys in
                                    layer.multiply(rows, count: count, into: ys.baseAddress! + b * layer.outChannels * plane + first,
                                                   plane: plane, activation: activations[i])
                                }
                            }
                            first += count
                        }
                    }
                }
            }
        }
        return outputs
    }

    /// `count` dequantized pixel rows (`inChannels` each) times the weights, plus the bias, into
    /// each output channel's plane (stride `plane`) at `out`, then `activation`.
    private func multiply(_ rows: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>,
                          plane: Int, activation: Activation) {
        let o = outChannels, c = inChannels
        for j in 0..<o {
            let v = bias?[j] ?? 0
            for p in 0..<count { out[j * plane + p] = v }
        }
        weight.withUnsafeBufferPointer { wb in
            BLAS.sgemm(transB: true, m: o, n: count, k: c, a: wb.baseAddress!, lda: c, b: rows, ldb: c,
                       beta: 1, c: out, ldc: plane)
        }
        if activation != .identity {
            for j in 0..<o { activation.apply(out + j * plane, count: count) }
        }
    }
}
