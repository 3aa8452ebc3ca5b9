import Detection
import Tensor
import XCTest

/// The per-level feature error that `rcnn compare --features` reports.
final class FeatureAgreementTests: XCTestCase {
    func maps(_ levels: [(String, [Float])]) -> FeatureMaps {
        FeatureMaps(names: levels.map(\.0), maps: levels.map { Tensor(shape: [1, 1, 1, $0.1.count], data: $0.1) })
    }

    func testPoolsTheRelativeL2ErrorOverImagesAndKeepsTheWorstImage() throws {
        var f = FeatureAgreement()
        // Image 1: level "0" error (0, 0, 1) against (3, 4, 0): 1 / 25; level "pool" exact.
        try f.add(reference: maps([("0", [3, 4, 0]), ("pool", [1, 2])]), other: maps([("0", [3, 4, 1]), ("pool", [1, 2])]))
        // Image 2: level "0" error 4 + 4 against 100 + 0 + 0; "pool" error 1 against 4.
        try f.add(reference: maps([("0", [10, 0, 0]), ("pool", [2, 0])]), other: maps([("0", [12, 2, 0]), ("pool", [2, 1])]))
        XCTAssertEqual(f.images, 2)
        XCTAssertEqual(f.levels.map(\.name), ["0", "pool"])
        XCTAssertEqual(f.levels[0].relativeError, (9.0 / 125).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(f.levels[0].worstImage, (8.0 / 100).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(f.levels[1].relativeError, (1.0 / 9).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(f.levels[1].worstImage, 0.5, accuracy: 1e-12)
    }

    func testIdenticalFeaturesHaveNoErrorAndMismatchedOnesAreRefused() throws {
        var f = FeatureAgreement()
        let a = maps([("0", [1, -2, 3])])
        try f.add(reference: a, other: a)
        XCTAssertEqual(f.levels[0].relativeError, 0)
        XCTAssertThrowsError(try f.add(reference: a, other: maps([("1", [1, -2, 3])])))
        XCTAssertThrowsError(try f.add(reference: a, other: maps([("0", [1, -2])])))
        var zero = FeatureAgreement()
        try zero.add(reference: maps([("0", [0, 0])]), other: maps([("0", [0, 1])]))
        XCTAssertEqual(zero.levels[0].relativeError, .infinity)
    }
}
