import Tensor
import XCTest
import TestSupport

/// Truncated SVD against matrices built with known singular values: W = Q1 diag(s) Q2ᵀ with random
/// orthonormal Q1, Q2 (Gram-Schmidt in double). The factorisation must recover s, reproduce W at
/// full rank, and give the best rank-t approximation (Eckart-Young: ‖W - W_t‖²_F = Σ dropped s²).
final class TruncatedSVDTests: XCTestCase {
    var rng = SplitMix64(seed: 11)

    /// `count` orthonormal vectors of length `n` (rows), in double.
    func orthonormal(_ count: Int, _ n: Int) -> [[Double]] {
        var q: [[Double]] = []
        while q.count < count {
            var v = (0..<n).map { _ in Double.random(in: -1...1, using: &rng) }
            for u in q {
                let d = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<n { v[i] -= d * u[i] }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 1e-6 { q.append(v.map { $0 / norm }) }
        }
        return q
    }

    /// out x in matrix with singular values `s` (descending, count <= min(out, in)).
    func matrix(out m: Int, in n: Int, singularValues s: [Double]) -> (w: [Double], left: [[Double]], right: [[Double]]) {
        let left = orthonormal(s.count, m), right = orthonormal(s.count, n)
        var w = [Double](repeating: 0, count: m * n)
        for k in s.indices { for i in 0..<m { for j in 0..<n { w[i * n + j] += s[k] * left[k][i] * right[k][j] } } }
        return (w, left, right)
    }

    func apply(_ layers: [Linear], _ x: Tensor) -> Tensor {
        layers.reduce(x) { $1($0) }
    }

    func check(out m: Int, in n: Int) throws {
        let side = min(m, n)
        let s = (0..<side).map { 10 * pow(0.8, Double($0)) }
        let (w, left, right) = matrix(out: m, in: n, singularValues: s)
        let bias = (0..<m).map { _ in Float.random(in: -1...1, using: &rng) }
        let layer = Linear(weight: Tensor(shape: [m, n], data: w.map { Float($0) }), bias: bias, activation: .relu)

        // Singular values recovered.
        let (first, second, report) = try TruncatedSVD.factor(layer, setting: .rank(side))
        XCTAssertEqual(report.singularValues.count, side)
        for (got, want) in zip(report.singularValues, s) { XCTAssertEqual(Double(got), want, accuracy: 1e-3 * s[0], "\(m)x\(n)") }
        XCTAssertEqual(report.rank, side)
        XCTAssertEqual(report.energy, 1, accuracy: 1e-6)

        // Full rank: the two layers compute the original layer.
        let x = Tensor(shape: [5, n], data: (0..<5 * n).map { _ in Float.random(in: -1...1, using: &rng) })
        XCTAssertLessThan(apply([first, second], x).maxAbsDifference(layer(x)), 2e-4 * Float(s[0]), "\(m)x\(n) full rank")
        XCTAssertEqual(first.bias, nil)
        XCTAssertEqual(second.bias, bias)

        // Rank t: the product of the factors is the Eckart-Young approximation Σ_{k<t} s_k u_k v_kᵀ.
        let t = side / 3
        let (f, g, r) = try TruncatedSVD.factor(layer, setting: .rank(t))
        XCTAssertEqual(f.weight.shape, [t, n])
        XCTAssertEqual(g.weight.shape, [m, t])
        var worst = 0.0, residual = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var got = 0.0
                for k in 0..<t { got += Double(g.weight.data[i * t + k]) * Double(f.weight.data[k * n + j]) }
                var want = 0.0
                for k in 0..<t { want += s[k] * left[k][i] * right[k][j] }
                worst = max(worst, abs(got - want))
                residual += (w[i * n + j] - got) * (w[i * n + j] - got)
            }
        }
        XCTAssertLessThan(worst, 1e-3 * s[0], "\(m)x\(n) rank \(t) approximation")
        let dropped = s[t...].reduce(0) { $0 + $1 * $1 }, total = s.reduce(0) { $0 + $1 * $1 }
        XCTAssertEqual(residual, dropped, accuracy: 1e-3 * total)
        XCTAssertEqual(r.energy, 1 - dropped / total, accuracy: 1e-4)
        XCTAssertEqual(r.costRatio, Double(t * (m + n)) / Double(m * n), accuracy: 1e-12)

        // Energy: the fewest values whose squares reach the fraction.
        let target = 0.9
        var acc = 0.0, want = 0
        for (k, v) in s.enumerated() { acc += v * v; if acc >= target * total { want = k + 1; break } }
        XCTAssertEqual(try TruncatedSVD.rank(for: .energy(target), singularValues: report.singularValues), want)
    }

    func testWideLayer() throws { try check(out: 24, in: 60) }     // like fc6: fewer outputs than inputs
    func testTallLayer() throws { try check(out: 60, in: 24) }
    func testSquareLayer() throws { try check(out: 32, in: 32) }   // like fc7

    func testSettingsAreValidated() throws {
        XCTAssertThrowsError(try TruncatedSVD.rank(for: .rank(0), singularValues: [1, 2]))
        XCTAssertThrowsError(try TruncatedSVD.rank(for: .energy(0), singularValues: [1, 2]))
        XCTAssertThrowsError(try TruncatedSVD.rank(for: .energy(1.5), singularValues: [1, 2]))
        XCTAssertEqual(try TruncatedSVD.rank(for: .rank(10), singularValues: [3, 2, 1]), 3)
        XCTAssertEqual(try TruncatedSVD.rank(for: .energy(1), singularValues: [3, 2, 1]), 3)
        XCTAssertEqual(try TruncatedSVD.rank(for: .energy(0.5), singularValues: [3, 2, 1]), 1)   // 9/14 >= 0.5
        XCTAssertEqual(try TruncatedSVD.settings(ranks: nil, energy: nil), [])
        XCTAssertEqual(try TruncatedSVD.settings(ranks: [64, 32], energy: nil), [.rank(64), .rank(32)])
        XCTAssertEqual(try TruncatedSVD.settings(ranks: nil, energy: 0.9), [.energy(0.9)])
        XCTAssertThrowsError(try TruncatedSVD.settings(ranks: [64], energy: 0.9))
        XCTAssertThrowsError(try TruncatedSVD.settings(ranks: [], energy: nil))
        XCTAssertThrowsError(try TruncatedSVD.settings(ranks: [64, 0], energy: nil))
        XCTAssertThrowsError(try TruncatedSVD.settings(ranks: nil, energy: 0))
    }
}
