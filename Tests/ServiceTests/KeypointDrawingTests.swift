import Detection
import Imaging
@testable import Service
import XCTest

/// Poses on the annotated image: keypoints over the threshold are dots in the class colour, the
/// skeleton joins shown keypoints only, and keypoints at or under the threshold are not drawn.
final class KeypointDrawingTests: XCTestCase {
    func testKeypointsAndSkeletonAreDrawnAboveTheThreshold() {
        let w = 200, h = 120
        let image = RGBImage(width: w, height: h, pixels: [UInt8](repeating: 40, count: w * h * 3))
        var det = Detections()
        det.boxes = [Box(10, 10, 190, 110)]
        det.scores = [0.9]
        det.labels = [3]
        det.keypoints = [[Keypoint(x: 40.5, y: 60.5, score: 5), Keypoint(x: 160.5, y: 60.5, score: 4),
                          Keypoint(x: 100.5, y: 95.5, score: -1)]]
        let color = ColorPalette.color(forClass: 3)
        func at(_ im: RGBImage, _ x: Int, _ y: Int) -> RGBColor {
            let i = (y * im.width + x) * 3
            return RGBColor(red: im.pixels[i], green: im.pixels[i + 1], blue: im.pixels[i + 2])
        }
        let drawn = Annotator.draw(image, det, classes: ["bg", "a", "b", "c"], skeleton: [[0, 1], [1, 2]], keypointThreshold: 0)
        XCTAssertEqual(at(drawn, 40, 60), color, "keypoint 0")
        XCTAssertEqual(at(drawn, 160, 60), color, "keypoint 1")
        XCTAssertEqual(at(drawn, 100, 60), color, "the skeleton line between keypoints 0 and 1")
        XCTAssertEqual(at(drawn, 100, 95), RGBColor(red: 40, green: 40, blue: 40), "keypoint 2 scores under the threshold")
        XCTAssertEqual(at(drawn, 130, 78), RGBColor(red: 40, green: 40, blue: 40), "no line to a hidden keypoint")
        // A higher threshold hides keypoint 1 and with it the line.
        let fewer = Annotator.draw(image, det, classes: ["bg", "a", "b", "c"], skeleton: [[0, 1]], keypointThreshold: 4)
        XCTAssertEqual(at(fewer, 40, 60), color)
        XCTAssertEqual(at(fewer, 160, 60), RGBColor(red: 40, green: 40, blue: 40))
        XCTAssertEqual(at(fewer, 100, 60), RGBColor(red: 40, green: 40, blue: 40))
        // Bad skeleton indices are ignored, not a trap.
        _ = Annotator.draw(image, det, classes: [], skeleton: [[0, 7], [-1, 1], [2]], keypointThreshold: -5)
    }
}
