import Foundation
import Tensor

/// Post-training calibration of an int8 variant: while a float32 model runs on calibration images,
/// records the range of every named convolution's and linear layer's input, then chooses each
/// int8 layer's input quantization and which layers stay float32.
///
/// Ranges: `percentile` (default) averages, over the layer's calls, the given percentile of each
/// side of its input (from an even sample of every `count / 65536`-th value, 65536 to 131071 values
/// per call for a larger input), so that rare outliers do not spend the levels; `minmax` takes the
/// extremes seen. The default depends on the activation width (`defaultPercentile`): with 7-bit
/// levels 99.995 (about the 4th to 7th largest value of such a sample) kept more of the float32
/// detections than 99.99 or 99.999 on both the default model and a trained-head ResNet-50; with
/// 8-bit levels, whose step is half as large, clipping less (99.999) does better on both
/// (Docs/int8.md, the percentile studies).
///
/// With `chooseBySpeed`, each int8-capable layer is also timed in float32 and in int8 on its first
/// input (interleaved runs, the fastest of each, on this CPU with the current thread count; see
/// `compare`), and a layer whose int8 run is not at least 10% faster (`speedMargin`) stays float32:
/// on CPUs whose int8 multiply is barely faster than float32 FMA (AVX2 without VNNI on 128-bit
/// units), Winograd 3x3 layers and small layers win in float.
public final class ActivationCalibrator: @unchecked Sendable {
    public enum Method: String, Sendable, CaseIterable { case percentile, minmax }

    public let method: Method
    /// Percentile of each side for `.percentile`, in (50, 100].
    public let percentile: Double
    /// Layer names kept float32 on request.
    public let keepFloat: Set<String>
    /// Layer names that read int8 levels with float32 weights (`weights: float32` in the table):
    /// never timed, never kept float32 for speed.
    public let floatWeights: Set<String>
    /// Whether layers whose int8 run is not faster than float32 stay float32.
    public let chooseBySpeed: Bool
    /// Bits of the int8 layers' weights (8 or 7), used by the timing runs and written to the table.
    public let weightBits: Int
    /// Bits of the activations' levels (8 or 7), likewise.
    public let activationBits: Int

    struct Stats {
        var calls = 0
        var lowSum = 0.0, highSum = 0.0
        var minimum = Float.infinity, maximum = -Float.infinity
        var multiplyAdds = 0.0
        var floatReason: String?
        /// Seconds of the timed float32 and int8 runs (chooseBySpeed).
        var floatSeconds = 0.0, int8Seconds = 0.0
    }

    private let lock = NSLock()
    private var stats: [String: Stats] = [:]
    private var order: [String] = []
    /// Set while a layer is being timed, so the timing runs are not observed themselves.
    private var timing = false

    /// The default percentile for `activationBits`-bit levels: 99.999 for 8, 99.995 for 7.
    public static func defaultPercentile(activationBits: Int) -> Double { activationBits == 8 ? 99.999 : 99.995 }

    /// `percentile` nil takes `defaultPercentile(activationBits:)`.
    public init(method: Method = .percentile, percentile: Double? = nil, keepFloat: Set<String> = [],
                floatWeights: Set<String> = [], chooseBySpeed: Bool = true, weightBits: Int = 8, activationBits: Int = 8) {
        precondition(PackedInt8Weights.weightBitChoices.contains(weightBits), "weight bits must be 7 or 8")
        precondition(ActivationQuantization.bitChoices.contains(activationBits), "activation bits must be 7 or 8")
        self.weightBits = weightBits
        self.activationBits = activationBits
        self.method = method
        self.percentile = min(100, max(50, percentile ?? Self.defaultPercentile(activationBits: activationBits)))
        self.keepFloat = keepFloat
        self.floatWeights = floatWeights
        self.chooseBySpeed = chooseBySpeed
    }

    /// The share of its float32 time that a layer's int8 run may take at most to be chosen: a layer
    /// must time at least 10% faster in int8. A closer result on one input is within the run-to-run
    /// noise of a shared machine, and a tie buys no speed for the accuracy that int8 costs.
    public static let speedMargin = 0.9

    /// Times two versions of a layer on the same input, interleaved so that a burst of load on
    /// the machine hits both alike: one untimed run of each, then rounds of one run of each until
    /// each side has run at least 3 times and for at least 20 ms in all (at most 15 rounds).
    /// Returns each side's fastest run in seconds; the minimum is the estimate least moved by
    /// other work on the machine. `beforeA` and `beforeB` run, untimed, before every run of their
    /// side: they set the machine up as that side finds it in a model run (see `timeFirstCall`).
    public static func compare<T>(_ a: () -> T, _ b: () -> T, beforeA: () -> Void = {},
                                  beforeB: () -> Void = {}) -> (Double, Double) {
        func once(_ before: () -> Void, _ body: () -> T) -> Double {
            before()
            let start = DispatchTime.now().uptimeNanoseconds
            _ = body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        _ = once(beforeA, a)
        _ = once(beforeB, b)
        var bestA = Double.infinity, bestB = Double.infinity, sumA = 0.0, sumB = 0.0
        for round in 1...15 {
            let ta = once(beforeA, a), tb = once(beforeB, b)
            bestA = min(bestA, ta)
            bestB = min(bestB, tb)
            sumA += ta
            sumB += tb
            if round >= 3 && sumA >= 0.02 && sumB >= 0.02 { break }
        }
        return (bestA, bestB)
    }

    /// Times a layer's float32 and int8 runs on its first input (chooseBySpeed); the int8 layer is
    /// built only then, from the input's range. `int8` returns the timed int8 run: a convolution's
    /// quantizes its input before (outside the timing), since between int8 layers its input comes as
    /// levels from the layer before (`Conv2d.sequence`, the RPN head's shared levels); timing the
    /// quantization too would keep small layers, such as the RPN's 3-output objectness layer, in
    /// float32, which breaks their chain and costs more than the layer. A layer that starts a chain
    /// (ResNet's first block after max pooling, a head's first convolution after RoIAlign, any layer
    /// with `RCNN_INT8_CHAINS=0`) does quantize its float input, so its timing favours int8 by that
    /// step; those layers have many outputs per input value, so the step is a small part of their run.
    ///
    /// Each float32 run starts with OpenBLAS's worker threads running, as after the float32 layer
    /// before it; each int8 run with them stopped (`BLAS.stopWorkerThreads`), as after the int8
    /// layer before it: right after a float32 run the workers spin for about 0.1 s and took a core
    /// from the int8 run, which then timed up to twice as slow (ResNet-50's layer3 and the FPN
    /// kept float32 by noise, not by speed).
    private func timeFirstCall(_ name: String, _ x: Tensor, float: () -> Tensor,
                               int8: (ActivationQuantization) -> () -> Tensor) {
        guard chooseBySpeed, !keepFloat.contains(name), !floatWeights.contains(name) else { return }
        let first = lock.withLock { (stats[name]?.floatSeconds ?? 0) == 0 }
        guard first else { return }
        timing = true
        defer { timing = false }
        let probe = int8(ActivationQuantization(lower: x.data.min() ?? 0, upper: x.data.max() ?? 1, bits: activationBits))
        let (f, q) = Self.compare(float, probe, beforeA: { BLAS.startWorkerThreads() },
                                  beforeB: { BLAS.stopWorkerThreads() })
        recordTiming(name, floatSeconds: f, int8Seconds: q)
    }

    /// The timed int8 run of a convolution on `x`: the layer quantized for `input`, multiplying levels
    /// of `x` quantized beforehand (as the levels a chain hands it); the output is `conv`'s int8 output.
    static func int8Run(_ conv: Conv2d, on x: Tensor, input: ActivationQuantization, weightBits: Int) -> () -> Tensor {
        let int8 = QuantizedConv2d(conv, input: input, weightBits: weightBits), levels = int8.quantize(x)
        return { int8(levels, activation: conv.activation) }
    }

    /// The timed int8 run of a transposed convolution on `x`, its input quantized beforehand.
    static func int8Run(_ layer: ConvTranspose2d, on x: Tensor, input: ActivationQuantization, weightBits: Int) -> () -> Tensor {
        let int8 = QuantizedConvTranspose2d(layer, input: input, weightBits: weightBits)
        let levels = QuantizedActivations(quantizing: x, as: input)
        return { int8(levels, activation: layer.activation) }
    }

    /// Adds a layer's timed float32 and int8 seconds.
    func recordTiming(_ name: String, floatSeconds: Double, int8Seconds: Double) {
        lock.withLock {
            var st = stats[name, default: Stats()]
            st.floatSeconds += floatSeconds
            st.int8Seconds += int8Seconds
            stats[name] = st
        }
    }

    /// Records the inputs of every named layer until `body` returns.
    public func recording<R>(_ body: () throws -> R) rethrows -> R {
        Conv2d.inputObserver = { [self] conv, x in
            if timing { return }
            let (oh, ow) = conv.outputSize(h: x.shape[2], w: x.shape[3])
            let macs = Double(x.shape[0] * conv.outChannels * oh * ow) * Double(conv.inChannels / conv.groups * conv.kernel.h * conv.kernel.w)
            var reason: String?
            if !conv.quantizable { reason = "grouped convolution that is not depthwise (no int8 kernel)" }
            else if conv.inChannels <= 4 { reason = "first layer: its input is the normalized image" }
            observe(conv.name, x, macs: macs, floatReason: reason)
            if reason == nil {
                timeFirstCall(conv.name, x, float: { conv(x) }, int8: { q in Self.int8Run(conv, on: x, input: q, weightBits: weightBits) })
            }
        }
        Linear.inputObserver = { [self] layer, x in
            if timing { return }
            observe(layer.name, x, macs: Double(x.shape[0]) * Double(layer.inFeatures * layer.outFeatures), floatReason: nil)
            timeFirstCall(layer.name, x, float: { layer(x) }, int8: { q in
                let int8 = layer.quantized(input: q, weightBits: weightBits)
                return { int8(x) }
            })
        }
        ConvTranspose2d.inputObserver = { [self] layer, x in
            if timing { return }
            let macs = Double(x.count) * Double(layer.outChannels * layer.weight.shape[2] * layer.weight.shape[3])
            let reason = layer.quantizable ? nil : "transposed convolution with overlapping taps (no int8 kernel)"
            observe(layer.name, x, macs: macs, floatReason: reason)
            if reason == nil {
                timeFirstCall(layer.name, x, float: { layer(x) }, int8: { q in Self.int8Run(layer, on: x, input: q, weightBits: weightBits) })
            }
        }
        defer {
            Conv2d.inputObserver = nil
            Linear.inputObserver = nil
            ConvTranspose2d.inputObserver = nil
        }
        return try body()
    }

    func observe(_ name: String, _ x: Tensor, macs: Double, floatReason: String?) {
        guard x.count > 0 else { return }
        let (lo, hi, mn, mx) = Self.range(x.data, percentile: percentile)
        lock.lock()
        defer { lock.unlock() }
        if stats[name] == nil { order.append(name) }
        var s = stats[name, default: Stats()]
        s.calls += 1
        s.lowSum += Double(lo)
        s.highSum += Double(hi)
        s.minimum = min(s.minimum, mn)
        s.maximum = max(s.maximum, mx)
        s.multiplyAdds += macs
        s.floatReason = s.floatReason ?? floatReason
        stats[name] = s
    }

    /// The percentile of each side (from an even sample) and the extremes of the finite values.
    static func range(_ values: [Float], percentile: Double) -> (Float, Float, Float, Float) {
        let step = max(1, values.count / 65536)
        var sample: [Float] = []
        sample.reserveCapacity(values.count / step + 1)
        var mn = Float.infinity, mx = -Float.infinity
        for (i, v) in values.enumerated() where v.isFinite {
            mn = min(mn, v)
            mx = max(mx, v)
            if i % step == 0 { sample.append(v) }
        }
        guard !sample.isEmpty else { return (0, 0, 0, 0) }
        sample.sort()
        let last = Double(sample.count - 1)
        let hiIndex = Int((last * percentile / 100).rounded(.up))
        let loIndex = Int((last * (100 - percentile) / 100).rounded(.down))
        return (sample[max(0, loIndex)], sample[min(sample.count - 1, hiIndex)], mn, mx)
    }

    /// Layers seen, in first-call order.
    public var layerNames: [String] { lock.withLock { order } }

    /// The quantization table: int8 for every layer seen that has a kernel and was not kept float
    /// (nor, choosing by speed, slower in int8; `bySpeed: false` ignores the timings).
    public func configuration(source: String, images: Int, bySpeed: Bool? = nil) -> QuantizationConfig {
        let chooseBySpeed = bySpeed ?? self.chooseBySpeed
        lock.lock()
        defer { lock.unlock() }
        var layers: [QuantizationConfig.Layer] = []
        var floats: [QuantizationConfig.FloatLayer] = []
        for name in order {
            let s = stats[name]!
            if let reason = s.floatReason {
                floats.append(.init(name: name, reason: reason))
                continue
            }
            if keepFloat.contains(name) {
                floats.append(.init(name: name, reason: "kept float32 by request"))
                continue
            }
            if chooseBySpeed && !floatWeights.contains(name) && s.floatSeconds > 0 && s.int8Seconds > Self.speedMargin * s.floatSeconds {
                floats.append(.init(name: name, reason: String(format: "int8 is not 10%% faster on the calibrating CPU (%.2f ms float32, %.2f ms int8)",
                                                              1000 * s.floatSeconds, 1000 * s.int8Seconds)))
                continue
            }
            let lo: Float, hi: Float
            switch method {
            case .percentile: (lo, hi) = (Float(s.lowSum / Double(s.calls)), Float(s.highSum / Double(s.calls)))
            case .minmax: (lo, hi) = (s.minimum, s.maximum)
            }
            let q = ActivationQuantization(lower: lo, upper: hi, bits: activationBits)
            layers.append(.init(name: name, scale: Double(q.scale), zeroPoint: q.zeroPoint,
                                weights: floatWeights.contains(name) ? "float32" : nil))
        }
        return QuantizationConfig(layers: layers, floatLayers: floats,
                                  calibration: .init(source: source, images: images, method: method.rawValue,
                                                     percentile: method == .percentile ? percentile : nil),
                                  weightBits: weightBits == 8 ? nil : weightBits, activationBits: activationBits)
    }

    /// Total seconds of the timed float32 and int8 runs over the layers the table runs in int8 and
    /// over all timed layers: (int8 layers' float32, int8 layers' int8, all layers' float32).
    public func timedSeconds(of table: QuantizationConfig) -> (Double, Double, Double) {
        lock.lock()
        defer { lock.unlock() }
        let int8 = Set(table.layers.filter { !$0.floatWeights }.map(\.name))
        let chosen = stats.filter { int8.contains($0.key) }.values
        return (chosen.reduce(0) { $0 + $1.floatSeconds }, chosen.reduce(0) { $0 + $1.int8Seconds },
                stats.values.reduce(0) { $0 + $1.floatSeconds })
    }

    /// The share of the recorded multiply-adds in layers the table runs in int8.
    public func int8Share(of table: QuantizationConfig) -> Double {
        lock.lock()
        defer { lock.unlock() }
        let int8 = Set(table.layers.filter { !$0.floatWeights }.map(\.name))
        let total = stats.values.reduce(0) { $0 + $1.multiplyAdds }
        let quantized = stats.filter { int8.contains($0.key) }.values.reduce(0) { $0 + $1.multiplyAdds }
        return total > 0 ? quantized / total : 0
    }
}
