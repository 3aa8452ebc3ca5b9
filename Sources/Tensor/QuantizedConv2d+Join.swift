import CKernels

/// The shortcut of a ResNet block whose residual join runs on pixel rows
/// (`QuantizedConv2d.callAsFunction(_:joining:quantizedFor:keepValues:)`).
public enum Int8Shortcut: Sendable {
    /// The block's input as float32 pixel rows (`[n, h, w, c]`, what the previous join kept): the
    /// float32 join's own shortcut.
    case values(Tensor)
    /// The block's input levels, each worth `quantization.value(level)`: the input's quantization
    /// error enters the join (`residual_joins: int8`).
    case levels(QuantizedActivations)
    /// An int8 downsampling convolution (1x1, stride 1 or 2) of the block's input levels, multiplied
    /// in the same task as the block's last layer: the float32 join's shortcut value.
    case downsample(QuantizedConv2d, QuantizedActivations)
}

extension QuantizedConv2d {
    /// A ResNet block's last convolution (identity activation) joined to its shortcut:
    /// `max(conv(x) + shortcut, 0)` quantized as `next`'s input, and with `keepValues` the float
    /// results too, as pixel rows `[n, h, w, c]` (the next block's `.values` shortcut). Each task
    /// multiplies its rows (and the downsampling layer's), joins them in registers and stores
    /// levels (and values) row by row: no NCHW tensor is written or read back, so no transposes.
    /// With a `.values` or `.downsample` shortcut the levels and values have the bits of the
    /// float32 join (`callAsFunction(_:addingReLU:quantizedFor:)`) on the same input.
    public func callAsFunction(_ x: QuantizedActivations, joining shortcut: Int8Shortcut,
                               quantizedFor next: ActivationQuantization,
                               keepValues: Bool) -> (QuantizedActivations, Tensor?) {
        precondition(!isDepthwise, "a residual join on pixel rows follows a dense convolution")
        precondition(floatWeights == nil, "a layer with float32 weights on levels produces float32 outputs only")
        let (oh, ow) = checkedOutputSize(x)
        let o = outChannels, m = x.n * oh * ow
        FLOPCounter.add(2 * m * o * weights.k)
        func check(_ n: Int, _ h: Int, _ w: Int, _ c: Int) {
            precondition(n == x.n && h == oh && w == ow && c == o,
                         "shortcut [\(n), \(h), \(w), \(c)] for output [\(x.n), \(oh), \(ow), \(o)] (NHWC)")
        }
        var down: (conv: QuantizedConv2d, levels: QuantizedActivations)?
        switch shortcut {
        case .values(let t):
            precondition(t.rank == 4, "float shortcut rows are [n, h, w, c], got \(t.shape)")
            check(t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        case .levels(let l):
            check(l.n, l.h, l.w, l.c)
        case .downsample(let d, let l):
            precondition(!d.isDepthwise && d.outChannels == o && l.n == x.n && d.outputSize(h: l.h, w: l.w) == (oh, ow),
                         "downsampling shortcut to \(d.outChannels) channels does not match output [\(x.n), \(o), \(oh), \(ow)]")
            _ = d.checkedOutputSize(l)
            FLOPCounter.add(2 * m * o * d.weights.k)
            down = (d, l)
        }
        var values = keepValues ? Tensor.uninitialized([x.n, oh, ow, o]) : nil
        let ownBytes = loweredBytesPerRow
        let downBytes = down?.conv.loweredBytesPerRow ?? 0
        let levels = QuantizedActivations(n: x.n, h: oh, w: ow, c: o, quantization: next) { out in
            withOptionalStorage(&values) { kept in
                x.withLevels { xl in
                    PackedInt8Weights.inTasks(m: m, columns: down == nil ? o : 2 * o, bytesPerRow: ownBytes + downBytes) { acc, bytes, first, count in
                        let (rows, lda) = operandRows(xl, x, first: first, count: count, scratch: bytes)
                        let dst = out + first * o, keep = kept.map { $0 + first * o }
                        func join(_ sc: rcnn_i8_shortcut) {
                            weights.multiplyRequantizing(m: count, a: rows, lda: lda, partialSums: acc, activation: .identity,
                                                         shortcut: sc, for: next, into: dst, values: keep)
                        }
                        switch shortcut {
                        case .values(let t):
                            t.data.withUnsafeBufferPointer { v in
                                join(rcnn_i8_shortcut(levels: nil, scale: 0, zero_point: 0, values: v.baseAddress! + first * o,
                                                      sums: nil, offset: nil, channel_scale: nil, bias: nil, ld: o))
                            }
                        case .levels(let l):
                            l.withLevels { sl in
                                join(rcnn_i8_shortcut(levels: sl + first * o, scale: l.quantization.scale,
                                                      zero_point: Int32(l.quantization.zeroPoint), values: nil, sums: nil,
                                                      offset: nil, channel_scale: nil, bias: nil, ld: o))
                            }
                        case .downsample(let d, let l):
                            let sums = acc + count * o
                            l.withLevels { sl in
                                d.multiplyRows(sl, l, first: first, count: count, scratch: bytes + count * ownBytes, into: sums)
                            }
                            d.weights.withConstants { off, scale, bias in
                                join(rcnn_i8_shortcut(levels: nil, scale: 0, zero_point: 0, values: nil, sums: sums, offset: off,
                                                      channel_scale: scale, bias: bias, ld: o))
                            }
                        }
                    }
                }
            }
        }
        return (levels, values)
    }
}

/// Calls `body` with the mutable storage of `tensor`, or nil without one.
private func withOptionalStorage(_ tensor: inout Tensor?, _ body: (UnsafeMutablePointer<Float>?) -> Void) {
    guard tensor != nil else { return body(nil) }
    tensor!.data.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
