import Foundation
import XCTest
import Imaging
#if canImport(Detection)
import Detection
#else
import SelectiveSearch
#endif
import TestSupport

/// Selective search: invariants of the proposal list, and recall of the ground-truth boxes of
/// `Samples/instances_samples.json` (6 images of the synthetic shapes set, 28 objects).
final class SelectiveSearchTests: XCTestCase {
    static let samples = Repository.url("Samples")

    func sampleImages() throws -> [(String, RGBImage)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.samples.path)
            .filter { $0.hasSuffix(".jpg") }.sorted()
        XCTAssertFalse(names.isEmpty)
        return try names.map { ($0, try SelectiveSearchTestSupport.loadImage(Self.samples.appendingPathComponent($0))) }
    }

    func testProposalInvariants() throws {
        let (_, image) = try sampleImages()[0]
        for mode in SelectiveSearch.Mode.allCases {
            let all = SelectiveSearch.proposals(image: image, mode: mode, minSize: 4, seed: 7)
            let boxes = Array(all.prefix(300))
            XCTAssertFalse(boxes.isEmpty)
            XCTAssertLessThanOrEqual(boxes.count, 300)
            XCTAssertEqual(Set(boxes).count, boxes.count, "duplicates in \(mode)")
            for b in boxes {
                XCTAssert(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= Float(image.width) && b.y2 <= Float(image.height), "\(b)")
                XCTAssert(b.width >= 4 && b.height >= 4, "\(b) smaller than minSize")
            }
            // Same seed, same list, and truncation keeps the ranking; another seed reorders.
            XCTAssertEqual(boxes, SelectiveSearch.proposals(image: image, mode: mode, maxProposals: 300,
                                                           minSize: 4, seed: 7))
            if mode == .single {
                let other = SelectiveSearch.proposals(image: image, mode: mode, minSize: 4, seed: 8)
                XCTAssertNotEqual(other, all)
                XCTAssertEqual(Set(other), Set(all), "the seed changes the order, not the set")
            }
            if mode.defaultNearDuplicateIoU == nil {
                XCTAssertTrue(all.contains(SelectiveSearchBox(x1: 0, y1: 0, x2: Float(image.width), y2: Float(image.height))),
                              "the hierarchy ends in the whole image")
            }
        }
    }

    func testStrategiesOfModes() {
        XCTAssertEqual(SelectiveSearch.strategies(for: .single).count, 1)
        let fast = SelectiveSearch.strategies(for: .fast)
        XCTAssertEqual(fast.count, 8)
        XCTAssertEqual(Set(fast.map(\.colorSpace)), [.hsv, .lab])
        XCTAssertEqual(Set(fast.map(\.k)), [50, 100])
        XCTAssertEqual(Set(fast.map(\.similarity)), [.all, .textureSizeFill])
        XCTAssertEqual(Set(fast.map(\.minSegmentSize)), [50, 100])
        let opencv = SelectiveSearch.strategies(for: .fastOpenCV)
        XCTAssertEqual(opencv.count, 12)
        XCTAssertEqual(Set(opencv.map(\.k)), [150, 300, 450])
        XCTAssertEqual(Set(opencv.map(\.minSegmentSize)), [100])
        XCTAssertEqual(SelectiveSearch.Mode.fastOpenCV.defaultRanking, .level)
        XCTAssertEqual(SelectiveSearch.Mode.fast.defaultRanking, .paper)
        let broad = SelectiveSearch.strategies(for: .broad)
        XCTAssertEqual(broad.count, 20)
        XCTAssertEqual(broad.filter { $0.tier == 0 }.map(\.k), opencv.map(\.k))
        XCTAssertEqual(Set(broad.filter { $0.tier == 1 }.map(\.k)), [50, 100])
        XCTAssertEqual(SelectiveSearch.Mode.broad.defaultRanking, .level)
        XCTAssertEqual(SelectiveSearch.Mode.broad.defaultNearDuplicateIoU, 0.9)
    }

    /// `.broad`: its first tier is exactly fastOpenCV's list with near-duplicates dropped, the
    /// second tier only adds boxes after it, and no two kept boxes overlap at IoU 0.9 or more.
    func testBroadModeTiersAndNearDuplicates() throws {
        for (_, image) in try sampleImages().prefix(3) {
            let broad = SelectiveSearch.proposals(image: image, mode: .broad, seed: 3)
            let first = SelectiveSearch.proposals(image: image, mode: .fastOpenCV, seed: 3, nearDuplicateIoU: 0.9)
            XCTAssertGreaterThan(broad.count, first.count)
            XCTAssertEqual(Array(broad.prefix(first.count)), first)
            for i in broad.indices {
                for j in broad.indices where j < i {
                    XCTAssertLessThan(SelectiveSearchTestSupport.iou(broad[i], broad[j]), 0.9, "\(broad[j]) and \(broad[i])")
                }
            }
            // Without suppression fastOpenCV keeps near-duplicates that the tiered list drops.
            let plain = SelectiveSearch.proposals(image: image, mode: .fastOpenCV, seed: 3)
            XCTAssertGreaterThan(plain.count, first.count)
        }
    }

    func testTinyAndUniformImages() {
        XCTAssertEqual(SelectiveSearch.proposals(image: RGBImage(width: 0, height: 0)), [])
        let flat = SelectiveSearch.proposals(image: RGBImage(width: 17, height: 9, fill: RGBColor(red: 9, green: 99, blue: 199)))
        XCTAssertEqual(flat, [SelectiveSearchBox(x1: 0, y1: 0, x2: 17, y2: 9)])
    }

    /// Recall at IoU 0.5 / 0.7 of the sample ground truth (28 objects; one object is 0.036).
    /// Measured with seed 0, minSize 0: fast (top 2000, about 1170 boxes per image) 1.000 / 0.964;
    /// fastOpenCV (top 2000, about 485) 0.964 / 0.893; single (top 500, about 166) 0.929 / 0.750.
    /// The floors sit one to two objects under those figures.
    func testRecallOnSamples() throws {
        let truth = try SelectiveSearchTestSupport.cocoBoxes(Self.samples.appendingPathComponent("instances_samples.json"))
        for (mode, top, floor50, floor70) in [(SelectiveSearch.Mode.fast, 2000, 0.95, 0.9),
                                              (.fastOpenCV, 2000, 0.95, 0.85),
                                              (.broad, 2000, 0.95, 0.9),
                                              (.single, 500, 0.85, 0.7)] {
            var total = 0, hit50 = 0, hit70 = 0, proposals = 0
            for (name, image) in try sampleImages() {
                let boxes = SelectiveSearch.proposals(image: image, mode: mode, maxProposals: top)
                let gt = truth[name] ?? []
                total += gt.count
                proposals += boxes.count
                hit50 += SelectiveSearchTestSupport.recalled(gt, by: boxes, threshold: 0.5)
                hit70 += SelectiveSearchTestSupport.recalled(gt, by: boxes, threshold: 0.7)
            }
            let r50 = Double(hit50) / Double(total), r70 = Double(hit70) / Double(total)
            print(String(format: "selective search %@ top %d: recall@0.5 %.3f, recall@0.7 %.3f (%d objects, %.0f boxes/image)",
                         mode.rawValue, top, r50, r70, total, Double(proposals) / 6))
            XCTAssertGreaterThan(total, 0)
            XCTAssertGreaterThanOrEqual(r50, floor50, "\(mode)")
            XCTAssertGreaterThanOrEqual(r70, floor70, "\(mode)")
        }
    }
}
