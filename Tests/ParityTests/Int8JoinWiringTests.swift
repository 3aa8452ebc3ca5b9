@testable import Detection
import Foundation
import Tensor
import TestSupport
import XCTest

/// ResNet-50 FPN on levels (the parity fixture's weights, a table calibrated on a random input).
/// With `residual_joins: int8` the backbone's FPN maps equal a reference that runs every block on
/// its input levels' values layer by layer in float32 (chains off), joins with the float32
/// add-ReLU and quantizes the output for the layer that reads it next: the next block's first
/// convolution, or for a stage's last block the FPN lateral layer of that stage. Without it the
/// maps have the bits of the float32 path.
final class Int8JoinWiringTests: XCTestCase {
    override func tearDown() {
        Conv2d.int8ChainsEnabled = true
    }

    func testBlocksOnLevelsHandEachLayerTheLevelsTheSemanticsAskFor() throws {
        guard let (fixture, x) = try Int8VariantFixture.resNet50() else { return }
        XCTAssertEqual(fixture.table.floatLayers?.map(\.name), ["backbone.body.conv1"], "every backbone layer but the stem in int8")
        func variant(_ joins: String?) throws -> DetectionModel { try fixture.variant(joins: joins, in: self) }
        let joined = try variant("int8")
        let body = try XCTUnwrap(joined.backbone.body as? ResNet)
        let fpn = try XCTUnwrap(joined.backbone.fpn)
        XCTAssertTrue(body.int8Joins)

        // The reference, block by block on the levels' values.
        Conv2d.int8ChainsEnabled = false
        let blocks = body.stages.flatMap { $0 }
        var levels = blocks[0].convs[0].int8!.quantize(Pooling.maxPool2d(body.stem(x), kernel: 3, stride: 2, padding: 1))
        var stageLevels: [QuantizedActivations] = []
        var index = 0
        for (s, stage) in body.stages.enumerated() {
            for (b, block) in stage.enumerated() {
                let values = levels.dequantized()
                let (y, none) = block(values, levels: nil, next: nil)
                XCTAssertNil(none)
                index += 1
                let next = index < blocks.count ? blocks[index].convs[0].int8 : nil
                var reader = next
                if b == stage.count - 1, let i = body.returned.firstIndex(of: s) {
                    // A returned stage's output goes to its lateral layer (and, quantized alike, on).
                    reader = fpn.inner[i].int8
                    if let next { XCTAssertEqual(reader?.input, next.input, "stage \(s): lateral and next stage quantized alike") }
                }
                levels = try XCTUnwrap(reader).quantize(y)
            }
            stageLevels.append(levels)
        }
        let expected = fpn(body.returned.map { .levels(stageLevels[$0]) })
        Conv2d.int8ChainsEnabled = true

        let got = joined.backbone(x)
        XCTAssertEqual(got.maps.count, expected.count)
        for (g, e) in zip(got.maps, expected) {
            XCTAssertEqual(g.shape, e.shape)
            XCTAssertEqual(g.data.map(\.bitPattern), e.data.map(\.bitPattern), "FPN level \(e.shape)")
        }
        XCTAssertEqual(joined.backbone.residualPath, "levels, int8 joins")
        // Without int8 joins the blocks still run on levels, joined on pixel rows, and give the
        // bits of the float32 path (chains off: every layer on its float input, NCHW joins).
        let exact = try variant(nil)
        XCTAssertEqual(exact.backbone.residualPath, "levels")
        let rows = exact.backbone(x)
        Conv2d.int8ChainsEnabled = false
        XCTAssertNil(exact.backbone.residualPath)
        let unchained = exact.backbone(x)
        Conv2d.int8ChainsEnabled = true
        for (r, u) in zip(rows.maps, unchained.maps) {
            XCTAssertEqual(r.data.map(\.bitPattern), u.data.map(\.bitPattern), "FPN level \(u.shape): pixel-row joins")
        }
        XCTAssertNotEqual(rows.maps[0].data, got.maps[0].data, "int8 joins change the maps")
    }
}
