import COpenBLAS
import Foundation

/// Truncated SVD of a fully connected layer (Fast R-CNN, section 3.1): `W ≈ U_t Σ_t V_tᵀ` with the
/// top `t` singular values, run as two layers — `Σ_t V_tᵀ` (t × in, no bias) then `U_t` (out × t,
/// with the original bias and activation). A layer of `out × in` weights costs `t (out + in)`
/// multiply-adds per row instead of `out · in`.
///
/// Computed from the Gram matrix of the shorter side (`W Wᵀ` or `Wᵀ W`, SYRK) and its eigenvectors
/// (LAPACK `ssyevd`): the singular vectors of that side, with `σ² = λ`.
public enum TruncatedSVD {
    /// How many singular values to keep.
    public enum Setting: Sendable, Equatable, CustomStringConvertible {
        /// At most this many (fewer when the matrix has fewer).
        case rank(Int)
        /// The fewest whose squares add up to at least this fraction (0 < e <= 1) of `‖W‖²_F`.
        case energy(Double)

        public var description: String {
            switch self {
            case .rank(let r): return "rank \(r)"
            case .energy(let e): return "energy \(e)"
            }
        }

        /// Throws `Failure.invalidSetting` for a rank below 1 or an energy outside (0, 1].
        public func validate() throws {
            switch self {
            case .rank(let r):
                guard r >= 1 else { throw Failure.invalidSetting("rank must be at least 1, got \(r)") }
            case .energy(let e):
                guard e > 0 && e <= 1 else { throw Failure.invalidSetting("energy must be in (0, 1], got \(e)") }
            }
        }
    }

    /// The settings for a model's layers from per-layer ranks or one energy fraction (the CLI's
    /// `--svd-rank` / `--svd-energy`, a server config's `svd_rank` / `svd_energy`), validated; empty
    /// when neither is given (full weights).
    public static func settings(ranks: [Int]?, energy: Double?) throws -> [Setting] {
        if ranks != nil && energy != nil { throw Failure.invalidSetting("give ranks or an energy, not both") }
        if ranks?.isEmpty == true { throw Failure.invalidSetting("the rank list is empty") }
        let settings = energy.map { [Setting.energy($0)] } ?? (ranks ?? []).map { Setting.rank($0) }
        for s in settings { try s.validate() }
        return settings
    }

    /// What a factorisation kept.
    public struct Report: Sendable {
        public let outFeatures: Int
        public let inFeatures: Int
        public let rank: Int
        /// Fraction of `‖W‖²_F` the kept singular values carry.
        public let energy: Double
        /// All singular values, largest first.
        public let singularValues: [Float]

        /// Multiply-adds per row after / before.
        public var costRatio: Double { Double(rank * (outFeatures + inFeatures)) / Double(outFeatures * inFeatures) }
    }

    public enum Failure: Error, CustomStringConvertible {
        case lapack(info: Int32)
        case invalidSetting(String)

        public var description: String {
            switch self {
            case .lapack(let info): return "truncated SVD: LAPACK ssyevd failed (info \(info))"
            case .invalidSetting(let s): return "truncated SVD: \(s)"
            }
        }
    }

    /// Singular values (largest first) and the right-hand factor rows of the shorter side:
    /// `vectors[k]` is the k-th singular vector of length `min(out, in)`.
    static func gramEigen(_ w: Tensor) throws -> (values: [Float], vectors: [Float], side: Int) {
        let m = w.shape[0], n = w.shape[1]
        let side = min(m, n)
        var gram = [Float](repeating: 0, count: side * side)
        w.data.withUnsafeBufferPointer { wp in
            gram.withUnsafeMutableBufferPointer { gp in
                // Row-major upper triangle of W Wᵀ (m <= n) or Wᵀ W (m > n).
                cblas_ssyrk(CblasRowMajor, CblasUpper, m <= n ? CblasNoTrans : CblasTrans, Int32(side), Int32(m <= n ? n : m),
                            1, wp.baseAddress!, Int32(n), 0, gp.baseAddress!, Int32(side))
            }
        }
        // Row-major upper == column-major lower.
        var eigen = [Float](repeating: 0, count: side)
        var nn = Int32(side), lda = Int32(side), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workSize: Float = 0, iworkSize: Int32 = 0
        ssyevd_("V", "L", &nn, &gram, &lda, &eigen, &workSize, &lwork, &iworkSize, &liwork, &info, 1, 1)
        guard info == 0 else { throw Failure.lapack(info: info) }
        // The query answers in a float, which rounds sizes above 2^24: take LAPACK's documented
        // minimum (jobz "V") when it is larger.
        lwork = Int32(max(Double(workSize.rounded(.up)), Double(1 + 6 * side + 2 * side * side)))
        liwork = max(iworkSize, Int32(3 + 5 * side))
        var work = [Float](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
        ssyevd_("V", "L", &nn, &gram, &lda, &eigen, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else { throw Failure.lapack(info: info) }
        // Column-major eigenvectors = rows of the row-major array, eigenvalues ascending: reverse.
        var values = [Float](repeating: 0, count: side), vectors = [Float](repeating: 0, count: side * side)
        for k in 0..<side {
            let src = side - 1 - k
            values[k] = max(eigen[src], 0).squareRoot()
            for i in 0..<side { vectors[k * side + i] = gram[src * side + i] }
        }
        return (values, vectors, side)
    }

    /// The rank a setting keeps for these singular values (largest first).
    public static func rank(for setting: Setting, singularValues s: [Float]) throws -> Int {
        try setting.validate()
        switch setting {
        case .rank(let r):
            return min(r, s.count)
        case .energy(let e):
            let total = s.reduce(0.0) { $0 + Double($1) * Double($1) }
            var acc = 0.0
            for (i, v) in s.enumerated() {
                acc += Double(v) * Double(v)
                if acc >= e * total * (1 - 1e-12) { return i + 1 }
            }
            return s.count
        }
    }

    /// Factors `layer` into two layers that compute `layer` with its weights' rank cut to `setting`.
    public static func factor(_ layer: Linear, setting: Setting) throws -> (first: Linear, second: Linear, report: Report) {
        let m = layer.outFeatures, n = layer.inFeatures
        let (s, vectors, side) = try gramEigen(layer.weight)
        let t = try rank(for: setting, singularValues: s)
        var first = Tensor.uninitialized([t, n]), second = Tensor.uninitialized([m, t])
        layer.weight.data.withUnsafeBufferPointer { wp in
            vectors.withUnsafeBufferPointer { vp in
                if m <= n {
                    // W ≈ U_t (U_tᵀ W): first = U_tᵀ W [t, n], second = U_t [m, t].
                    first.data.withUnsafeMutableBufferPointer { fp in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(n), Int32(m), 1,
                                    vp.baseAddress!, Int32(side), wp.baseAddress!, Int32(n), 0, fp.baseAddress!, Int32(n))
                    }
                    second.data.withUnsafeMutableBufferPointer { sp in
                        for i in 0..<m { for k in 0..<t { sp[i * t + k] = vp[k * side + i] } }
                    }
                } else {
                    // W ≈ (W V_t) V_tᵀ: first = V_tᵀ [t, n], second = W V_t [m, t].
                    first.data.withUnsafeMutableBufferPointer { fp in
                        for k in 0..<t { for j in 0..<n { fp[k * n + j] = vp[k * side + j] } }
                    }
                    second.data.withUnsafeMutableBufferPointer { sp in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(t), Int32(n), 1,
                                    wp.baseAddress!, Int32(n), vp.baseAddress!, Int32(side), 0, sp.baseAddress!, Int32(t))
                    }
                }
            }
        }
        let total = s.reduce(0.0) { $0 + Double($1) * Double($1) }
        let kept = s.prefix(t).reduce(0.0) { $0 + Double($1) * Double($1) }
        let report = Report(outFeatures: m, inFeatures: n, rank: t, energy: total > 0 ? kept / total : 1, singularValues: s)
        return (Linear(weight: first, bias: nil), Linear(weight: second, bias: layer.bias, activation: layer.activation), report)
    }
}
