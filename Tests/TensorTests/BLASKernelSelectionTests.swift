import Tensor
import XCTest

final class BLASKernelSelectionTests: XCTestCase {
    func testSSEOnlyKernelsAreReplacedOnlyWhenTheCPUHasMore() {
        XCTAssertEqual(BLASKernelSelection.preferredCoreType(current: "Prescott", vectorLevel: 3), "SkylakeX")
        XCTAssertEqual(BLASKernelSelection.preferredCoreType(current: "Prescott", vectorLevel: 2), "Haswell")
        XCTAssertEqual(BLASKernelSelection.preferredCoreType(current: "Sandybridge", vectorLevel: 2), "Haswell")
        XCTAssertNil(BLASKernelSelection.preferredCoreType(current: "Prescott", vectorLevel: 1), "an AVX-only CPU keeps what OpenBLAS chose")
        XCTAssertNil(BLASKernelSelection.preferredCoreType(current: "Prescott", vectorLevel: 0))
        for good in ["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"] {
            XCTAssertNil(BLASKernelSelection.preferredCoreType(current: good, vectorLevel: 3), good)
        }
    }

    func testVectorLevelAgreesWithTheKernelOpenBLASChose() {
        // OpenBLAS recognised this CPU (or was told); an AVX2 kernel family implies level >= 2.
        let level = BLASKernelSelection.vectorLevel
        XCTAssertTrue((0...3).contains(level))
        if ["Haswell", "Zen", "SkylakeX", "Cooperlake"].contains(BLAS.coreName) {
            XCTAssertGreaterThanOrEqual(level, 2, "OpenBLAS runs \(BLAS.coreName) kernels")
        }
    }
}
