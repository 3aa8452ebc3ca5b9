import CKernels
import Foundation

/// A 1x1 stride-1 convolution that reads int8 levels and multiplies their values by float32
/// weights: the layer's input carries the activation quantization of an int8 layer, its weights
/// none. For small output layers that share an int8 layer's levels (an RPN's objectness and box
/// layers on its 3x3 layer's output), whose outputs move every proposal: their multiply is a few
/// percent of the 3x3 layer's, so float32 weights cost next to nothing, and the producer still
/// writes levels rather than a float32 map four times their size.
///
/// Each level's value (`ActivationQuantization.value`) is multiplied by the weights in registers
/// (`rcnn_levels_conv1x1`), so the output is the float32 convolution of the levels' values, the
/// same bits on every path. Immutable; thread-safe.
public struct FloatWeightsOnLevels: Sendable {
    /// `[outChannels][inChannels]`, then zero rows up to a multiple of 8 (`rcnn_levels_conv1x1`).
    let weight: [Float]
    let bias: [Float]?
    public let inChannels: Int
    public let outChannels: Int

    /// Whether `conv` can run this way: dense, 1x1, stride 1, unpadded, undilated.
    public static func applies(to conv: Conv2d) -> Bool {
        conv.groups == 1 && conv.kernel == (1, 1) && conv.stride == (1, 1) && conv.padding == (0, 0)
            && conv.dilation == (1, 1)
    }

    public init(_ conv: Conv2d) {
        precondition(Self.applies(to: conv), "float32 weights on levels are for dense 1x1 stride-1 unpadded convolutions")
        // Rows rounded up to 8 with zeros: the kernel reads whole groups of 4 or 8 outputs.
        weight = conv.weight.data + [Float](repeating: 0, count: ((conv.outChannels + 7) / 8 * 8 - conv.outChannels) * conv.inChannels)
        bias = conv.bias
        inChannels = conv.inChannels
        outChannels = conv.outChannels
    }

    /// The NCHW float32 output `[n, outChannels, h, w]` of the convolution on the levels' values,
    /// after `activation`.
    public func callAsFunction(_ x: QuantizedActivations, activation: Activation) -> Tensor {
        Self.run([self], on: x, activations: [activation])[0]
    }

    /// Every one of `layers` (same input channels) on the same levels: `[n, layer.outChannels, h,
    /// w]` each, after its activation. Tasks of pixels run every layer on their pixels while the
    /// levels are in cache (`rcnn_levels_conv1x1`: each level's value multiplied in registers).
    public static func run(_ layers: [FloatWeightsOnLevels], on x: QuantizedActivations,
                           activations: [Activation]) -> [Tensor] {
        precondition(layers.count == activations.count && !layers.isEmpty, "one activation per layer")
        let c = x.c, plane = x.h * x.w
        precondition(layers.allSatisfy { $0.inChannels == c }, "expects \(c) channels of levels")
        for layer in layers { FLOPCounter.add(2 * x.n * plane * c * layer.outChannels) }
        let chunk = pixelsPerTask, chunks = (plane + chunk - 1) / chunk
        let scale = x.quantization.scale, zp = Int32(x.quantization.zeroPoint), isa = Int8Kernels.path.rawValue
        let data = withUninitializedBuffers(layers.map { x.n * $0.outChannels * plane }[...], []) { destinations in
            x.withLevels { levels in
                parallelFor(x.n * chunks) { t in
                    let b = t / chunks, first = (t % chunks) * chunk, count = min(chunk, plane - first)
                    for (i, layer) in layers.enumerated() {
                        let out = destinations[i] + b * layer.outChannels * plane + first
                        layer.weight.withUnsafeBufferPointer { wb in
                            let rc = withOptionalPointer(layer.bias) { bias in
                                rcnn_levels_conv1x1(isa, levels + (b * plane + first) * c, Int32(c), Int32(count), scale, zp,
                                                    wb.baseAddress!, bias, Int32(layer.outChannels), out, plane)
                            }
                            precondition(rc == 0, "int8 path \(Int8Kernels.path) is not supported by this CPU")
                        }
                        if activations[i] != .identity {
                            for j in 0..<layer.outChannels { activations[i].apply(out + j * plane, count: count) }
                        }
                    }
                }
            }
        }
        return zip(layers, data).map { Tensor(shape: [x.n, $0.outChannels, x.h, x.w], data: $1) }
    }

    /// Pixels per parallel task: 256 pixels of 256 levels are 64 KiB, which stay in cache while
    /// every layer reads them.
    static let pixelsPerTask = 256
}

private func withOptionalPointer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Arrays of `counts` floats, left for `body` to fill through the pointers it gets (one per count,
/// all valid at once): every element must be written.
private func withUninitializedBuffers(_ counts: ArraySlice<Int>, _ pointers: [UnsafeMutablePointer<Float>],
                                      _ body: ([UnsafeMutablePointer<Float>]) -> Void) -> [[Float]] {
    guard let first = counts.first else {
        body(pointers)
        return []
    }
    var rest: [[Float]] = []
    let array = [Float](unsafeUninitializedCapacity: first) { buffer, initialized in
        rest = withUninitializedBuffers(counts.dropFirst(), pointers + [buffer.baseAddress!], body)
        initialized = first
    }
    return [array] + rest
}
