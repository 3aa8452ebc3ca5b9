import Detection
import Foundation
import Imaging
import TestSupport
import XCTest

/// The R-CNN pipeline's wiring: warping, context, coordinates and decoding.
final class RCNNPipelineTests: XCTestCase {
    func model() throws -> DetectionModel {
        try DetectionModel(configURL: Repository.url("Config/models/shapes_mask_rcnn.json"))
    }

    func sample() throws -> RGBImage {
        try ImageDecoder.decode(try Data(contentsOf: Repository.url("Samples/shapes_val_0000.jpg")))
    }

    /// A square image of the model's input size with the sample in its top-left corner (mid-grey
    /// elsewhere): the model's transform leaves it unresized.
    func inputSizedSample(_ m: DetectionModel) throws -> RGBImage {
        let s = m.config.transform.minSize, image = try sample()
        XCTAssertEqual(m.config.transform.maxSize, s)
        XCTAssertGreaterThanOrEqual(s, image.width)
        XCTAssertGreaterThanOrEqual(s, image.height)
        var canvas = RGBImage(width: s, height: s, pixels: [UInt8](repeating: 128, count: s * s * 3))
        for y in 0..<image.height {
            let row = y * image.width * 3
            canvas.pixels.replaceSubrange(y * s * 3..<(y * s + image.width) * 3, with: image.pixels[row..<row + image.width * 3])
        }
        return canvas
    }

    /// A region whose dilated box is the whole input-sized image warps to the image itself (exact
    /// pixel centres), so R-CNN on it must equal Fast R-CNN on the same box: same features, same
    /// pooling, same decoding.
    func testIdentityWarpEqualsFastPipeline() throws {
        let m = try model(), image = try inputSizedSample(m)
        let s = m.config.transform.minSize
        let warper = RegionWarper(size: s, context: 16)
        let region = Box(16, 16, Float(s - 16), Float(s - 16))
        XCTAssertEqual(warper.dilated(region), Box(0, 0, Float(s), Float(s)))
        let options = DetectionModel.Options(scoreThreshold: 0, maxDetections: 100, proposals: [region])
        let rcnn = m.detectRCNN(image, options: options, warper: warper).detections
        var fastOptions = options
        fastOptions.pipeline = .fast
        let fast = m.detect(image, options: fastOptions).detections
        XCTAssertGreaterThan(fast.count, 3)
        XCTAssertEqual(rcnn.labels, fast.labels)
        XCTAssertEqual(rcnn.scores, fast.scores)
        for (a, b) in zip(rcnn.boxes, fast.boxes) { XCTAssertGreaterThan(a.iou(b), 0.9999) }
    }

    /// Context padding and the region cap.
    func testContextAndCap() throws {
        let warper = RegionWarper(size: 224, context: 16)
        // A 96 x 48 box occupies 192 x 192 warped pixels: 0.5 and 0.25 image pixels per warped pixel.
        let d = warper.dilated(Box(100, 50, 196, 98))
        XCTAssertEqual(d.x1, 92, accuracy: 1e-4); XCTAssertEqual(d.x2, 204, accuracy: 1e-4)
        XCTAssertEqual(d.y1, 46, accuracy: 1e-4); XCTAssertEqual(d.y2, 102, accuracy: 1e-4)
        // Outside the image the warp is the mean colour: 0 after normalisation.
        let black = RGBImage(width: 10, height: 10)
        let t = warper.warp(black, Box(100, 100, 120, 120), mean: [0.5, 0.5, 0.5], std: [1, 1, 1])
        XCTAssertTrue(t.data.allSatisfy { $0 == 0 })

        let m = try model(), image = try sample()
        var options = DetectionModel.Options(scoreThreshold: 0, maxDetections: 1000, pipeline: .rcnn,
                                             proposals: (0..<7).map { i in Box(Float(i * 20), 10, Float(i * 20 + 80), 120) })
        options.rcnnMaxRegions = 3
        let (det, timings) = m.detect(image, options: options)
        XCTAssertTrue(timings.stages.contains { $0.name == "regions" })
        XCTAssertFalse(timings.stages.contains { $0.name == "rpn" })
        // At most (classes - 1) detections per evaluated region.
        XCTAssertLessThanOrEqual(det.count, 3 * (m.classes.count - 1))
        XCTAssertGreaterThan(det.count, 0)
    }
}
