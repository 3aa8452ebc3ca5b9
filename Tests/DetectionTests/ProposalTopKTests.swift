@testable import Detection
import TestSupport
import XCTest

/// The RPN's per-level top-k selection against a full sort with torch.topk's order (NaN above every
/// number, -0 equal to +0, ties by lower index), on seeded arrays full of ties and special values.
final class ProposalTopKTests: XCTestCase {
    var rng = SplitMix64(seed: 77)

    /// a ranks above b in torch.topk's descending order.
    private func above(_ a: Float, _ b: Float) -> Bool {
        if a.isNaN { return !b.isNaN }
        if b.isNaN { return false }
        return a > b
    }

    private func reference(_ v: [Float], _ k: Int) -> [Int] {
        let all = v.indices.sorted { above(v[$0], v[$1]) || (!above(v[$1], v[$0]) && $0 < $1) }
        return Array(all.prefix(max(k, 0)))
    }

    private func values(_ n: Int, distinct: Int) -> [Float] {
        let special: [Float] = [.nan, -.nan, 0, -0, .infinity, -.infinity, .leastNonzeroMagnitude,
                                -.leastNonzeroMagnitude, .greatestFiniteMagnitude, -1, 1]
        return (0..<n).map { _ in
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: return special[Int.random(in: 0..<special.count, using: &rng)]
            case 1...4: return Float(Int.random(in: -distinct..<distinct, using: &rng)) / 4
            default: return Float.random(in: -12...12, using: &rng)
            }
        }
    }

    func testMatchesAFullSortOnTiesAndSpecialValues() {
        for n in [0, 1, 2, 7, 100, 3_000] {
            for distinct in [1, 3, 40] {
                let v = values(n, distinct: distinct)
                for k in Set([0, 1, 2, n / 3, n / 2, n - 1, n, n + 3, 1_000]) where k >= 0 {
                    XCTAssertEqual(RegionProposalNetwork.topK(v, k), reference(v, k), "n \(n) distinct \(distinct) k \(k)")
                }
            }
        }
    }

    func testLargeLevelWithTiedScores() {
        // A level the size of P2 at 1088x800 (3 anchors x 272 x 200) whose scores share a few values,
        // as a model with zeroed or saturated objectness weights gives.
        for distinct in [1, 2, 1_000] {
            let v = (0..<163_200).map { _ in Float(Int.random(in: 0..<distinct, using: &rng)) * 0.5 - 3 }
            XCTAssertEqual(RegionProposalNetwork.topK(v, 1_000), reference(v, 1_000), "distinct \(distinct)")
        }
    }

    func testOrderKeyIsTheFloatOrder() {
        let ordered: [Float] = [-.infinity, -.greatestFiniteMagnitude, -1, -.leastNonzeroMagnitude, 0,
                                .leastNonzeroMagnitude, 1, .greatestFiniteMagnitude, .infinity, .nan]
        let keys = ordered.map(RegionProposalNetwork.orderKey)
        XCTAssertEqual(keys, keys.sorted())
        XCTAssertEqual(Set(keys).count, keys.count)
        XCTAssertEqual(RegionProposalNetwork.orderKey(-0.0), RegionProposalNetwork.orderKey(0))
        XCTAssertEqual(RegionProposalNetwork.orderKey(-.nan), RegionProposalNetwork.orderKey(.nan))
    }
}
