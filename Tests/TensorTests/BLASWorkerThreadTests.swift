import Foundation
import Tensor
import XCTest

final class BLASWorkerThreadTests: XCTestCase {
    /// The loaded OpenBLAS, from the process's mappings ("openblas-pthread", "openblas-openmp", ...).
    private var loadedOpenBLAS: String? {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
        return maps.split(separator: "\n").lazy.compactMap { $0.split(separator: " ").last }
            .first { $0.contains("libopenblas") }.map(String.init)
    }

    private func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }

    /// A product big enough for OpenBLAS to split over its threads.
    private func product(_ a: [Float], _ b: [Float], _ n: Int) -> [Float] {
        var c = [Float](repeating: .nan, count: n * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(m: n, n: n, k: n, a: pa.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n,
                               c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }

    func testStoppingAndStartingTheWorkersKeepsProductsRightAndStopsThem() throws {
        let n = 320
        var rng = SystemRandomNumberGenerator()
        let a = (0..<n * n).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<n * n).map { _ in Float.random(in: -1...1, using: &rng) }
        let first = product(a, b, n)
        for (i, j) in [(0, 0), (17, 301), (n - 1, n - 1)] {
            var exact = 0.0
            for k in 0..<n { exact += Double(a[i * n + k]) * Double(b[k * n + j]) }
            XCTAssertEqual(Double(first[i * n + j]), exact, accuracy: 1e-3)
        }

        let library = loadedOpenBLAS ?? "no OpenBLAS mapped"
        let controlled = BLAS.stopWorkerThreads()
        if library.contains("openblas-pthread") {
            XCTAssertTrue(controlled, "the pthreads OpenBLAS (\(library)) exports its thread pool's entry points")
        }
        // Lazily restarted by the next threaded call: same products, bit for bit.
        XCTAssertEqual(product(a, b, n), first)
        XCTAssertTrue(BLAS.stopWorkerThreads() == controlled && BLAS.stopWorkerThreads() == controlled,
                      "stopping stopped workers is a no-op")
        XCTAssertEqual(BLAS.startWorkerThreads(), controlled)
        XCTAssertEqual(BLAS.startWorkerThreads(), controlled, "starting running workers is a no-op")
        XCTAssertEqual(product(a, b, n), first)

        guard controlled, BLAS.threads > 1 else { return }
        // The workers are threads of this process: gone after a stop, back after a start.
        BLAS.startWorkerThreads()
        let running = threadCount()
        BLAS.stopWorkerThreads()
        let stopped = threadCount()
        BLAS.startWorkerThreads()
        let restarted = threadCount()
        XCTAssertLessThanOrEqual(stopped, running - (BLAS.threads - 1), "\(running) threads, \(stopped) after the stop")
        XCTAssertGreaterThanOrEqual(restarted, stopped + (BLAS.threads - 1), "\(stopped) threads, \(restarted) after the start")
        XCTAssertEqual(product(a, b, n), first)
    }
}
