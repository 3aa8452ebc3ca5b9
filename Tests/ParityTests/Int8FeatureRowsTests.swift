@testable import Detection
import Foundation
import Imaging
import Tensor
import TestSupport
import XCTest

/// ResNet-50 FPN int8 with the FPN's output layers keeping their maps as pixel rows beside the RPN
/// head's levels (`Backbone.callAsFunction(_:rpnInput:)`): the rows are the NCHW maps' bits, the
/// levels are those maps quantized for the RPN, and the RPN head, RoIAlign and the whole
/// detection give the bits of the NCHW path.
final class Int8FeatureRowsTests: XCTestCase {
    override func tearDown() {
        Conv2d.int8ChainsEnabled = true
    }

    private func bytes(_ l: QuantizedActivations) -> [UInt8] {
        l.withLevels { Array(UnsafeBufferPointer(start: $0, count: l.n * l.h * l.w * l.c)) }
    }

    private func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }

    func testRowsAndRPNLevelsKeepTheNCHWPathsBits() throws {
        guard let (fixture, x) = try Int8VariantFixture.resNet50() else { return }
        let model = try fixture.variant(in: self)
        let rpnInput = try XCTUnwrap(model.rpn.levelsInput, "the RPN head runs on levels")
        let fpn = try XCTUnwrap(model.backbone.fpn)
        XCTAssertNotNil(fpn.onRows(model.backbone.body(x, lateral: fpn.inner.map(\.int8)), rpnInput: rpnInput),
                        "every lateral and output layer is int8: the whole FPN runs on rows")
        let nchw = model.backbone(x)
        let kept = model.backbone(x, rpnInput: rpnInput)
        XCTAssertEqual(nchw.rpnLevels.map { $0 == nil }, [true, true, true, true, true])
        XCTAssertEqual(kept.rpnLevels.map { $0 == nil }, [false, false, false, false, true], "P2-P5 as rows, the pooled level NCHW")
        for i in nchw.names.indices {
            XCTAssertEqual(kept.shape(i), nchw.maps[i].shape)
            XCTAssertEqual(bits(kept.map(i)), bits(nchw.maps[i]), "level \(nchw.names[i])")
            if let levels = kept.rpnLevels[i] {
                XCTAssertEqual(bytes(levels), bytes(try XCTUnwrap(model.rpn.convs[0].int8).quantize(nchw.maps[i])),
                               "level \(nchw.names[i]): the RPN's levels")
                XCTAssertEqual(try XCTUnwrap(kept.rows(kept.names[i])).shape, [1, levels.h, levels.w, levels.c])
            }
        }
        let heads = (model.rpn.head(kept), model.rpn.head(nchw.maps))
        for (a, b) in zip(heads.0, heads.1) {
            XCTAssertEqual(bits(a.objectness), bits(b.objectness))
            XCTAssertEqual(bits(a.deltas), bits(b.deltas))
        }
        // RoIAlign on the rows against the NCHW maps, boxes over every level and past the borders.
        var rng = SplitMix64(seed: 5)
        let boxes = (0..<300).map { _ -> Box in
            // Sides of 4 to 700 pixels: RoIAlign's levels 2 to 5 (P2-P5) all get boxes.
            let s = exp2f(2 + Float(rng.next() % 1000) / 1000 * 7.5)
            let x0 = Float(rng.next() % 150) - 20, y0 = Float(rng.next() % 110) - 20
            return Box(x0, y0, x0 + s * Float(rng.next() % 3 + 1) / 2, y0 + s)
        }
        guard case .align(let pooler) = model.roiHeads.boxPool else { return XCTFail("ResNet-50 FPN pools with RoIAlign") }
        let pooled = pooler(kept, boxes: boxes, imageSize: (96, 128))
        XCTAssertEqual(bits(pooled), bits(pooler(nchw, boxes: boxes, imageSize: (96, 128))))
        XCTAssertEqual(Set(pooler.levels(boxes, scales: [0.25, 0.125, 0.0625, 0.03125])), [0, 1, 2, 3], "boxes on every level")

        // The int8 fc6 reads RoIAlign's samples quantized bins-major: each box's pooled [C, 7x7]
        // transposed and quantized as fc6 would, from rows and from NCHW maps alike.
        let input = try XCTUnwrap(model.roiHeads.boxHead.levelsInput, "the int8 fc6 reads levels")
        let c = pooled.shape[1], bins = pooled.shape[2] * pooled.shape[3]
        XCTAssertEqual(input.rowBytes, c * bins)
        var expected = [UInt8](repeating: 0, count: boxes.count * c * bins)
        for r in boxes.indices { for ch in 0..<c { for bin in 0..<bins {
            expected[(r * bins + bin) * c + ch] = UInt8(input.quantization.level(pooled.data[(r * c + ch) * bins + bin]))
        } } }
        XCTAssertGreaterThan(Set(expected).count, 20, "levels spread over the range")
        for features in [kept, nchw] {
            XCTAssertEqual(pooler.levels(features, boxes: boxes, imageSize: (96, 128), quantization: input.quantization,
                                         rowBytes: input.rowBytes), expected)
        }
        // The box head on those levels against fc6 quantizing the float tensor (chains off).
        let onLevels = model.roiHeads.classify(kept, proposals: boxes, imageSize: (96, 128))
        Conv2d.int8ChainsEnabled = false
        XCTAssertNil(model.roiHeads.boxHead.levelsInput, "chains off: fc6 quantizes the float tensor")
        let onFloats = model.roiHeads.classify(kept, proposals: boxes, imageSize: (96, 128))
        Conv2d.int8ChainsEnabled = true
        XCTAssertEqual(bits(onLevels.logits), bits(onFloats.logits))
        XCTAssertEqual(bits(onLevels.deltas), bits(onFloats.deltas))
    }

    /// The whole pipeline, rows and levels on (chains on) against every layer on its float input
    /// (chains off): the same detections, bit for bit.
    func testDetectionsMatchTheNCHWPath() throws {
        guard let (fixture, _) = try Int8VariantFixture.resNet50() else { return }
        let model = try fixture.variant(in: self)
        XCTAssertNotNil(model.rpn.levelsInput, "the RPN head runs on the levels the FPN stores")
        var rng = SplitMix64(seed: 9)
        let image = RGBImage(width: 160, height: 120, pixels: (0..<(160 * 120 * 3)).map { i in
            UInt8(truncatingIfNeeded: (i / 3 % 160) + Int(rng.next() % 40))
        })
        let options = DetectionModel.Options(pipeline: .faster)
        let (rows, timings) = model.detect(image, options: options)
        Conv2d.int8ChainsEnabled = false
        let (flat, _) = model.detect(image, options: options)
        Conv2d.int8ChainsEnabled = true
        XCTAssertEqual(timings.proposals, 1000)
        XCTAssertGreaterThan(rows.count, 20, "enough detections to compare")
        XCTAssertEqual(rows.labels, flat.labels)
        XCTAssertEqual(rows.scores.map(\.bitPattern), flat.scores.map(\.bitPattern))
        XCTAssertEqual(rows.boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }.map(\.bitPattern),
                       flat.boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }.map(\.bitPattern))
    }

    /// A float32 lateral layer: the FPN cannot run on rows as a whole, and each int8 output layer
    /// still stores rows with the RPN's levels (`FeaturePyramidNetwork`'s per-level path), with
    /// the NCHW path's bits.
    func testOutputRowsBesideAFloatLateralLayer() throws {
        guard let (fixture, x) = try Int8VariantFixture.resNet50() else { return }
        let model = try fixture.variant(keepFloat: ["backbone.fpn.inner_blocks.1.0"], in: self)
        let rpnInput = try XCTUnwrap(model.rpn.levelsInput)
        let fpn = try XCTUnwrap(model.backbone.fpn)
        XCTAssertNil(fpn.inner[1].int8)
        XCTAssertNil(fpn.onRows(model.backbone.body(x, lateral: fpn.inner.map(\.int8)), rpnInput: rpnInput))
        let nchw = model.backbone(x)
        let kept = model.backbone(x, rpnInput: rpnInput)
        XCTAssertEqual(kept.rpnLevels.map { $0 == nil }, [false, false, false, false, true])
        for i in nchw.names.indices {
            XCTAssertEqual(bits(kept.map(i)), bits(nchw.maps[i]), "level \(nchw.names[i])")
            if let levels = kept.rpnLevels[i] {
                XCTAssertEqual(bytes(levels), bytes(try XCTUnwrap(model.rpn.convs[0].int8).quantize(nchw.maps[i])))
            }
        }
    }

    /// The default model (MobileNetV3-Large FPN Mask R-CNN with keypoints) calibrated on a sample
    /// image, every layer int8 that can be: chains on (the FPN on rows from float laterals' inputs,
    /// the RPN on the stored levels, the mask head on levels through its upsampling) against chains
    /// off, the same detections, masks and keypoints bit for bit.
    func testDefaultModelChainsMatchTheUnchainedPath() throws {
        let image = try ImageDecoder.decode(try Data(contentsOf: Repository.url("Samples/shapes_val_0000.jpg")))
        let fixture = try Int8VariantFixture(source: Repository.url("Config/models/shapes_mask_rcnn.json")) { model in
            _ = model.detect(image)
        }
        let model = try fixture.variant(in: self)
        XCTAssertNotNil(model.rpn.levelsInput, "the RPN head runs on levels")
        let mask = try XCTUnwrap(model.roiHeads.maskHead)
        XCTAssertNotNil(mask.upsample.int8, "the mask upsampling is int8")
        XCTAssertNotNil(mask.logits.int8, "the mask logits layer is int8")
        var options = DetectionModel.Options(pipeline: .mask)
        options.scoreThreshold = 0.05
        let (chained, _) = model.detect(image, options: options)
        Conv2d.int8ChainsEnabled = false
        let (plain, _) = model.detect(image, options: options)
        Conv2d.int8ChainsEnabled = true
        XCTAssertGreaterThan(chained.count, 10, "enough detections to compare")
        XCTAssertEqual(chained.labels, plain.labels)
        XCTAssertEqual(chained.scores.map(\.bitPattern), plain.scores.map(\.bitPattern))
        XCTAssertEqual(chained.boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }.map(\.bitPattern),
                       plain.boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }.map(\.bitPattern))
        let probabilities = try XCTUnwrap(chained.maskProbabilities)
        XCTAssertEqual(probabilities.map { $0.map(\.bitPattern) }, try XCTUnwrap(plain.maskProbabilities).map { $0.map(\.bitPattern) })
        XCTAssertEqual(chained.keypoints?.map { $0.map { [$0.x, $0.y, $0.score].map(\.bitPattern) } }, plain.keypoints?.map { $0.map { [$0.x, $0.y, $0.score].map(\.bitPattern) } })
    }
}
