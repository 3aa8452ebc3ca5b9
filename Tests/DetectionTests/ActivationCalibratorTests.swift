@testable import Detection
import Foundation
import Tensor
import XCTest

/// The calibrator's pieces that decide a variant's table: the input range it records, how it times
/// a layer both ways, and which layers the timing keeps float32.
final class ActivationCalibratorTests: XCTestCase {
    func testRangeTakesEachSidesPercentileAndIgnoresNonFiniteValues() {
        var values = (0..<1000).map { Float($0) }.shuffled()
        values += [.nan, .infinity, -.infinity]
        let (lo, hi, mn, mx) = ActivationCalibrator.range(values, percentile: 99)
        // Sorted 0...999: the upper index rounds 999 x 0.99 = 989.01 up, the lower 9.99 down.
        XCTAssertEqual(hi, 990)
        XCTAssertEqual(lo, 9)
        XCTAssertEqual(mn, 0)
        XCTAssertEqual(mx, 999)
    }

    func testCompareInterleavesTheTwoVersionsAfterOneWarmUpEach() {
        var calls: [Character] = []
        let t = Tensor(shape: [1])
        let (a, b) = ActivationCalibrator.compare({ calls.append("a"); return t }, { calls.append("b"); return t })
        XCTAssertTrue(a.isFinite && a >= 0 && b.isFinite && b >= 0)
        // Warm-ups, then rounds of one run each: strictly alternating, 4 to 16 runs per side.
        XCTAssertEqual(calls.count % 2, 0)
        for (i, c) in calls.enumerated() { XCTAssertEqual(c, i % 2 == 0 ? "a" : "b", "call \(i)") }
        XCTAssertTrue((4...16).contains(calls.count / 2), "\(calls.count / 2) runs per side")
    }

    func testCompareRunsEachSidesSetUpBeforeEveryRunOfThatSideOnly() {
        var calls: [String] = []
        let t = Tensor(shape: [1])
        _ = ActivationCalibrator.compare({ calls.append("a"); return t }, { calls.append("b"); return t },
                                         beforeA: { calls.append("setA") }, beforeB: { calls.append("setB") })
        XCTAssertEqual(calls.count % 4, 0)
        for (i, c) in calls.enumerated() { XCTAssertEqual(c, ["setA", "a", "setB", "b"][i % 4], "call \(i)") }
        XCTAssertGreaterThanOrEqual(calls.count / 4, 4, "a warm-up and at least 3 rounds")
    }

    func testCompareStopsAfterThreeRoundsOnceBothSidesRan20Milliseconds() {
        var runs = 0
        let t = Tensor(shape: [1])
        let slow = { () -> Tensor in
            runs += 1
            Thread.sleep(forTimeInterval: 0.01)
            return t
        }
        let (a, b) = ActivationCalibrator.compare(slow, slow)
        // Each run sleeps at least 10 ms, so three rounds reach 20 ms a side: warm-up + 3 each.
        XCTAssertEqual(runs, 8)
        XCTAssertGreaterThanOrEqual(a, 0.01)
        XCTAssertGreaterThanOrEqual(b, 0.01)
    }

    func testALayerMustTimeAtLeastTenPercentFasterInInt8ToBeChosen() {
        let calibrator = ActivationCalibrator()
        let x = Tensor(shape: [1, 4, 2, 2], data: (0..<16).map { Float($0) / 4 })
        for name in ["tie", "slightly", "faster", "slower", "untimed"] {
            calibrator.observe(name, x, macs: 1, floatReason: nil)
        }
        calibrator.recordTiming("tie", floatSeconds: 1.0, int8Seconds: 1.0)
        calibrator.recordTiming("slightly", floatSeconds: 1.0, int8Seconds: 0.95)
        calibrator.recordTiming("faster", floatSeconds: 1.0, int8Seconds: 0.85)
        calibrator.recordTiming("slower", floatSeconds: 1.0, int8Seconds: 1.3)
        let table = calibrator.configuration(source: "test", images: 1)
        XCTAssertEqual(table.layers.map(\.name), ["faster", "untimed"])
        XCTAssertEqual(table.floatLayers?.map(\.name), ["tie", "slightly", "slower"])
        for f in table.floatLayers ?? [] { XCTAssertTrue(f.reason.contains("not 10% faster"), f.reason) }

        let everything = ActivationCalibrator(chooseBySpeed: false)
        everything.observe("slower", x, macs: 1, floatReason: nil)
        everything.recordTiming("slower", floatSeconds: 1.0, int8Seconds: 1.3)
        XCTAssertEqual(everything.configuration(source: "test", images: 1).layers.map(\.name), ["slower"])
    }

    /// The int8 run timed against float32 is the layer's int8 output (its input quantized before the
    /// timing): the same bits as the quantized layer on the float input, for a 3x3 convolution with
    /// ReLU, a depthwise one with hardswish and the mask head's 2x2 stride-2 upsampling with ReLU.
    func testTheTimedInt8RunIsTheQuantizedLayersOutput() {
        var seed: UInt64 = 7
        func values(_ n: Int) -> [Float] {
            (0..<n).map { _ in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int(seed >> 40) % 2001 - 1000) / 1000
            }
        }
        let x = Tensor(shape: [2, 16, 5, 6], data: values(2 * 16 * 30).map { $0 * 2 + 0.5 })
        let q = ActivationQuantization(lower: -1.5, upper: 2.5)
        let convs = [Conv2d(weight: Tensor(shape: [24, 16, 3, 3], data: values(24 * 16 * 9)), bias: values(24), padding: 1,
                            activation: .relu, name: "c"),
                     Conv2d(weight: Tensor(shape: [16, 1, 3, 3], data: values(16 * 9)), bias: values(16), padding: 1,
                            groups: 16, activation: .hardswish, name: "dw")]
        for conv in convs {
            let timed = ActivationCalibrator.int8Run(conv, on: x, input: q, weightBits: 8)()
            let whole = conv.quantized(input: q)(x)
            XCTAssertEqual(timed.shape, whole.shape, conv.name)
            XCTAssertEqual(Self.differingBits(timed, whole), 0, "values whose bits differ, \(conv.name)")
            XCTAssertGreaterThan(Set(timed.data).count, 100, conv.name)
        }
        let up = ConvTranspose2d(weight: Tensor(shape: [16, 8, 2, 2], data: values(16 * 8 * 4)), bias: values(8), stride: 2,
                                 activation: .relu, name: "up")
        let timed = ActivationCalibrator.int8Run(up, on: x, input: q, weightBits: 8)()
        let whole = up.quantized(input: q)(x)
        XCTAssertEqual(timed.shape, [2, 8, 10, 12])
        XCTAssertEqual(Self.differingBits(timed, whole), 0, "values whose bits differ, upsampling")
        XCTAssertGreaterThan(Set(timed.data).count, 100)
    }

    static func differingBits(_ a: Tensor, _ b: Tensor) -> Int {
        zip(a.data, b.data).filter { $0.bitPattern != $1.bitPattern }.count + abs(a.count - b.count)
    }
}
