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
}
