import Detection
import Foundation
import Tensor
import XCTest

/// Hand-computed values for the family-agnostic pieces; each comment shows the arithmetic.
final class GoldenValueTests: XCTestCase {
    func testCellAnchorsAreRoundedLikeTorchvision() {
        // size 32, ratio 0.5: h_ratio = sqrt(0.5) = 0.7071068, w_ratio = 1.4142135;
        // w = 45.254833, h = 22.627417; halves 22.627417 and 11.313708 round to 23 and 11.
        let g = AnchorGenerator(sizes: [[32]], aspectRatios: [[0.5, 1.0, 2.0]])
        XCTAssertEqual(g.cellAnchors[0], [Box(-23, -11, 23, 11), Box(-16, -16, 16, 16), Box(-11, -23, 11, 23)])
        // Shifted by the stride (64 / 2 = 32 px): cell (row 1, col 0), ratio 1 -> centred at (0, 32).
        let a = g.anchors(level: 0, featureH: 2, featureW: 3, imageH: 64, imageW: 96)
        XCTAssertEqual(a.count, 2 * 3 * 3)
        XCTAssertEqual(a[(1 * 3 + 0) * 3 + 1], Box(-16, 16, 16, 48))
        // Half-to-even: size 1, ratio 1 gives +-0.5, which rounds to 0.
        XCTAssertEqual(AnchorGenerator(sizes: [[1]], aspectRatios: [[1]]).cellAnchors[0], [Box(0, 0, 0, 0)])
    }

    func testBoxCoderDecodeAndClamp() {
        // Reference (0, 0, 10, 20): w 10, h 20, centre (5, 10). Deltas (0.1, 0.2, 0, ln 2):
        // centre (0.1*10+5, 0.2*20+10) = (6, 14), size (10, 40) -> (1, -6, 11, 34).
        let coder = BoxCoder(weights: (1, 1, 1, 1))
        let b = coder.decode([0.1, 0.2, 0, Float(log(2.0))], reference: Box(0, 0, 10, 20))
        XCTAssertEqual(b.x1, 1, accuracy: 1e-5); XCTAssertEqual(b.y1, -6, accuracy: 1e-5)
        XCTAssertEqual(b.x2, 11, accuracy: 1e-5); XCTAssertEqual(b.y2, 34, accuracy: 1e-5)
        // dw = 10 is clamped to ln(1000/16): width 10 * 62.5 = 625 around centre 5.
        let c = coder.decode([0, 0, 10, 0], reference: Box(0, 0, 10, 20))
        XCTAssertEqual(c.x2 - c.x1, 625, accuracy: 1e-2)
        // Weights (10, 10, 5, 5) divide the deltas: dx 1 -> 0.1 of the width.
        let d = BoxCoder(weights: (10, 10, 5, 5)).decode([1, 0, 0, 0], reference: Box(0, 0, 10, 20))
        XCTAssertEqual(d.x1, 1, accuracy: 1e-5)
    }

    func testNMSThresholdIsStrict() {
        // IoU of the first two boxes: 9*9 = 81 over 100 + 100 - 81 = 119 -> 0.6807.
        let boxes = [Box(0, 0, 10, 10), Box(1, 1, 11, 11), Box(20, 20, 30, 30)]
        let scores: [Float] = [0.9, 0.8, 0.7]
        XCTAssertEqual(NonMaximumSuppression.nms(boxes, scores: scores, iouThreshold: 0.5), [0, 2])
        XCTAssertEqual(NonMaximumSuppression.nms(boxes, scores: scores, iouThreshold: 0.7), [0, 1, 2])
        // IoU exactly at the threshold is kept (suppression needs IoU > threshold): two 10x10 boxes
        // offset by 5 overlap 50 over 150 = 1/3.
        let t = Box(0, 0, 10, 10).iou(Box(5, 0, 15, 10))
        XCTAssertEqual(NonMaximumSuppression.nms([Box(0, 0, 10, 10), Box(5, 0, 15, 10)], scores: [1, 0.5], iouThreshold: t), [0, 1])
        // Batched: the same boxes in different groups never suppress each other; output by score.
        XCTAssertEqual(NonMaximumSuppression.batched(boxes, scores: [0.7, 0.8, 0.9], groups: [1, 2, 1], iouThreshold: 0.5), [2, 1, 0])
    }

    func testRoIAlignAveragesBilinearSamples() {
        // Map v(y, x) = 4y + x on a 4x4 grid. Box (0, 0, 3, 3), 1 bin, 2x2 samples at 0.75 and 2.25
        // in each axis; v is linear so each sample is exact: 3.75, 5.25, 9.75, 11.25 -> mean 7.5.
        let f = Tensor(shape: [1, 1, 4, 4], data: (0..<16).map(Float.init))
        let out = RoIAlign.callAsFunction(f, boxes: [Box(0, 0, 3, 3)], output: 1, spatialScale: 1, samplingRatio: 2)
        XCTAssertEqual(out.data, [7.5])
        // A box wholly outside the map (samples beyond -1) pools to zero.
        let outside = RoIAlign.callAsFunction(f, boxes: [Box(-20, -20, -10, -10)], output: 2, spatialScale: 1, samplingRatio: 2)
        XCTAssertEqual(outside.data, [0, 0, 0, 0])
    }

    func testLevelMapperFollowsFPNEquationOne() {
        // k = floor(4 + log2(sqrt(area) / 224)): a 224x224 box -> level 4 (index 2 of levels 2..5),
        // 112x112 -> 3, 448x448 -> 5, a 10x10 box clamps to level 2, 2000x2000 clamps to 5.
        let pool = MultiScaleRoIAlign(config: .init(featmapNames: ["0", "1", "2", "3"], outputSize: 7, samplingRatio: 2,
                                                    canonicalScale: 224, canonicalLevel: 4))
        let scales: [Float] = [0.25, 0.125, 0.0625, 0.03125]
        let boxes = [Box(0, 0, 224, 224), Box(0, 0, 112, 112), Box(0, 0, 448, 448), Box(0, 0, 10, 10), Box(0, 0, 2000, 2000)]
        XCTAssertEqual(pool.levels(boxes, scales: scales), [2, 1, 3, 0, 3])
    }

    func testMapBackUsesFloatRatios() {
        // Resized 800x1066 from 480x640: ratios 480/800 = 0.6 and 640/1066.
        let b = DetectionModel.mapBack([Box(100, 200, 1066, 800)], resized: (800, 1066), original: (480, 640))[0]
        XCTAssertEqual(b.x2, 640, accuracy: 1e-3)
        XCTAssertEqual(b.y2, 480, accuracy: 1e-3)
        XCTAssertEqual(b.y1, 120, accuracy: 1e-4)
    }
}
