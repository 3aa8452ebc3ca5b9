import Detection
import XCTest

/// The int8-against-float32 agreement count: same class, IoU at least the threshold, paired best
/// score first, each of the other run's detections used once.
final class DetectionAgreementTests: XCTestCase {
    func detections(_ items: [(Box, Float, Int)]) -> Detections {
        var d = Detections()
        for (b, s, l) in items {
            d.boxes.append(b)
            d.scores.append(s)
            d.labels.append(l)
        }
        return d
    }

    func testPairsSameClassAboveTheIoUThresholdOnce() {
        let ref = detections([(Box(0, 0, 10, 10), 0.9, 1), (Box(0, 0, 10, 10), 0.8, 1), (Box(20, 20, 30, 30), 0.7, 2),
                              (Box(40, 40, 50, 50), 0.6, 3)])
        let other = detections([(Box(0, 0, 10, 10.5), 0.85, 1),   // IoU 0.952 with the first two
                                (Box(20, 20, 30, 30), 0.7, 1),     // same box, wrong class
                                (Box(40, 40, 50, 52), 0.5, 3),     // IoU 0.833: below 0.9
                                (Box(60, 60, 70, 70), 0.4, 1)])
        var a = DetectionAgreement()
        a.add(reference: ref, other: other)
        XCTAssertEqual(a.reference, 4)
        XCTAssertEqual(a.reproduced, 1, "the 0.9 detection takes the one match; the 0.8 duplicate finds none left")
        XCTAssertEqual(a.extra, 3)
        XCTAssertEqual(a.share, 0.25)
        XCTAssertEqual(a.meanScoreDifference, 0.05, accuracy: 1e-6)
        XCTAssertEqual(a.meanIoU, Double(Float(100) / Float(105)), accuracy: 1e-6)
        var loose = DetectionAgreement()
        loose.add(reference: ref, other: other, minimumIoU: 0.8)
        XCTAssertEqual(loose.reproduced, 2)
        var same = DetectionAgreement()
        same.add(reference: ref, other: ref)
        XCTAssertEqual(same.share, 1)
        XCTAssertEqual(same.extra, 0)
        XCTAssertEqual(DetectionAgreement().share, 1, "nothing to reproduce")
    }
}
