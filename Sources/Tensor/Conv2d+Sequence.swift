import Foundation

extension Conv2d {
    /// Whether `Conv2d.sequence` hands levels from one int8 convolution to the next (default on;
    /// `RCNN_INT8_CHAINS=0` turns it off for the process, tests toggle it to compare both ways).
    nonisolated(unsafe) public static var int8ChainsEnabled =
        ProcessInfo.processInfo.environment["RCNN_INT8_CHAINS"] != "0"

    /// Runs `convs` one after another on `x`. Where an int8 convolution whose activation is
    /// identity or ReLU feeds another int8 convolution, its sums go straight to the next layer's
    /// input levels (`QuantizedConv2d.callAsFunction(_:activation:quantizedFor:)`): no float
    /// tensor is written and read back, and the result has the same bits as calling each layer in
    /// turn. While an input observer is set (calibration) every layer runs on its float input.
    public static func sequence(_ convs: [Conv2d], _ x: Tensor) -> Tensor {
        guard int8ChainsEnabled, inputObserver == nil else { return convs.reduce(x) { y, conv in conv(y) } }
        var float = x
        var levels: QuantizedActivations?
        for (i, conv) in convs.enumerated() {
            let next = i + 1 < convs.count ? convs[i + 1].int8 : nil
            if let int8 = conv.int8, let next, conv.activation == .identity || conv.activation == .relu {
                levels = int8(levels ?? int8.quantize(float), activation: conv.activation, quantizedFor: next.input)
            } else if let int8 = conv.int8, let input = levels {
                float = int8(input, activation: conv.activation)
                levels = nil
            } else {
                float = conv(float)
            }
        }
        return float
    }
}
