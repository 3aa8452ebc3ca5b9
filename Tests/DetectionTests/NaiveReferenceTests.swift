import Detection
import Foundation
import Tensor
import TestSupport
import XCTest

/// RoIAlign, RoIPool, NMS and the box coder against their naive references
/// (`NaiveDetectionOps.swift`) on seeded random maps, boxes and deltas; boxes reach past every
/// border of the map, and NMS gets clusters of heavily overlapping boxes with tied scores. (The
/// same ops against torchvision itself are in ParityTests.OpParityTests.)
final class NaiveReferenceTests: XCTestCase {
    var rng = SplitMix64(seed: 4242)

    func uniform(_ range: ClosedRange<Float>) -> Float { Float.random(in: range, using: &rng) }

    func map(_ c: Int, _ h: Int, _ w: Int) -> Tensor {
        Tensor(shape: [1, c, h, w], data: (0..<(c * h * w)).map { _ in uniform(-1...1) })
    }

    /// Boxes in image coordinates (map size / scale), some partly or wholly outside, some thinner
    /// than one cell.
    func boxes(_ count: Int, imageH: Float, imageW: Float) -> [Box] {
        (0..<count).map { _ in
            let x1 = uniform(-0.3 * imageW...imageW), y1 = uniform(-0.3 * imageH...imageH)
            return Box(x1, y1, x1 + uniform(0.1...0.8 * imageW), y1 + uniform(0.1...0.8 * imageH))
        }
    }

    /// Both sides take the same float32 sample positions; the implementation accumulates float32
    /// products, the reference double ones. Each bin averages at most 8 x 8 samples of four
    /// weighted values of magnitude <= 1, so the float rounding stays below 1e-6; 1e-5 allows it
    /// ten times over, while a wrong tap, weight or grid changes results by 1e-2 or more.
    func testRoIAlignMatchesNaive() {
        for trial in 0..<12 {
            let c = Int.random(in: 1...9, using: &rng), h = Int.random(in: 1...23, using: &rng), w = Int.random(in: 1...23, using: &rng)
            let scale: Float = [1, 0.5, 0.25, 0.125][trial % 4]
            let f = map(c, h, w)
            let b = boxes(7, imageH: Float(h) / scale, imageW: Float(w) / scale)
            let outH = Int.random(in: 1...7, using: &rng), outW = Int.random(in: 1...7, using: &rng)
            let sampling = [0, 1, 2, 3][trial % 4]
            for aligned in [false, true] {
                let got = RoIAlign.callAsFunction(f, boxes: b, outputH: outH, outputW: outW, spatialScale: scale,
                                                  samplingRatio: sampling, aligned: aligned)
                let want = NaiveDetection.roiAlign(f, boxes: b, outputH: outH, outputW: outW, spatialScale: scale,
                                                   samplingRatio: sampling, aligned: aligned)
                XCTAssertEqual(got.shape, [b.count, c, outH, outW])
                var worst = 0.0
                for i in want.indices { worst = max(worst, abs(Double(got.data[i]) - want[i])) }
                XCTAssertLessThanOrEqual(worst, 1e-5, "roi_align map \(c)x\(h)x\(w) scale \(scale) out \(outH)x\(outW) sampling \(sampling) aligned \(aligned)")
            }
        }
    }

    /// Max pooling picks values: exact.
    func testRoIPoolMatchesNaiveExactly() {
        for trial in 0..<12 {
            let c = Int.random(in: 1...9, using: &rng), h = Int.random(in: 1...23, using: &rng), w = Int.random(in: 1...23, using: &rng)
            let scale: Float = [1, 0.5, 0.0625, 0.25][trial % 4]
            let f = map(c, h, w)
            let b = boxes(7, imageH: Float(h) / scale, imageW: Float(w) / scale)
            let outH = Int.random(in: 1...7, using: &rng), outW = Int.random(in: 1...7, using: &rng)
            let got = RoIPool.callAsFunction(f, boxes: b, outputH: outH, outputW: outW, spatialScale: scale)
            XCTAssertEqual(got.shape, [b.count, c, outH, outW])
            XCTAssertEqual(got.data, NaiveDetection.roiPool(f, boxes: b, outputH: outH, outputW: outW, spatialScale: scale),
                           "roi_pool map \(c)x\(h)x\(w) scale \(scale) out \(outH)x\(outW)")
        }
    }

    /// Clusters of jittered copies of a few boxes (IoUs spread over 0...1), scores drawn from a
    /// few values so ties occur; plain and batched NMS at several thresholds keep exactly the
    /// reference's indices in the reference's order.
    func testNMSMatchesNaiveExactly() {
        for trial in 0..<10 {
            let centres = (0..<4).map { _ in Box(uniform(0...80), uniform(0...80), 0, 0) }
            var b: [Box] = [], scores: [Float] = [], groups: [Int] = []
            for _ in 0..<Int.random(in: 10...80, using: &rng) {
                let c = centres[Int.random(in: 0..<centres.count, using: &rng)]
                let x1 = c.x1 + uniform(-6...6), y1 = c.y1 + uniform(-6...6)
                b.append(Box(x1, y1, x1 + uniform(5...30), y1 + uniform(5...30)))
                scores.append(Float(Int.random(in: 0...20, using: &rng)) / 20)
                groups.append(Int.random(in: 0...2, using: &rng))
            }
            for threshold: Float in [0.3, 0.5, 0.7, 0.9] {
                XCTAssertEqual(NonMaximumSuppression.nms(b, scores: scores, iouThreshold: threshold),
                               NaiveDetection.nms(b, scores: scores, iouThreshold: threshold), "nms trial \(trial) at \(threshold)")
                XCTAssertEqual(NonMaximumSuppression.batched(b, scores: scores, groups: groups, iouThreshold: threshold),
                               NaiveDetection.nms(b, scores: scores, groups: groups, iouThreshold: threshold),
                               "batched_nms trial \(trial) at \(threshold)")
            }
        }
    }

    /// Float32 decoding against the double definition: a handful of float operations and one expf
    /// (<= 1 ulp), so the error is a few ulp of the largest term, the box's extent (<= 62.5 x 400
    /// px after the clamp): 1e-5 relative to that extent plus 1e-4 px.
    func testBoxCoderMatchesNaive() {
        for weights in [(Float(1), Float(1), Float(1), Float(1)), (10, 10, 5, 5)] {
            let coder = BoxCoder(weights: weights)
            for _ in 0..<400 {
                let x1 = uniform(-50...500), y1 = uniform(-50...500)
                let reference = Box(x1, y1, x1 + uniform(0.5...400), y1 + uniform(0.5...400))
                // Deltas up to +-6 · weight: some dw/dh pass the clamp at ln(1000/16) ~ 4.135.
                let d = [uniform(-3...3) * weights.0, uniform(-3...3) * weights.1, uniform(-6...6) * weights.2, uniform(-6...6) * weights.3]
                let got = coder.decode(d, reference: reference).array
                let want = NaiveDetection.decode(d, reference: reference, weights: weights, clip: Double(coder.clip))
                let extent = want.map(abs).max()!
                for k in 0..<4 {
                    XCTAssertEqual(Double(got[k]), want[k], accuracy: 1e-5 * extent + 1e-4, "decode \(d) on \(reference.array)")
                }
            }
        }
    }
}
