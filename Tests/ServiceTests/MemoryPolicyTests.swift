#if canImport(Glibc)
import Foundation
import Glibc
import Service
import TestSupport
import XCTest

/// The allocator policy of inference processes: freed activations stay in the heap for the next
/// inference (no fresh pages to fault in), and `trim` gives them back. Measured with the kernel's
/// own counters (page faults, resident memory), never with time. The policy stays applied for the
/// rest of the test process, as it is for every `rcnn` process; the service tests' schedulers run
/// no idle trim, so none lands inside these measurements.
final class MemoryPolicyTests: XCTestCase {
    private static let floats = 12 << 20   // 48 MiB: above glibc's largest mmap threshold (32 MiB)

    /// This thread's page faults (other threads' allocations do not count).
    private func minorFaults() -> Int {
        var usage = rusage()
        getrusage(1, &usage)   // RUSAGE_THREAD (Linux), which the Glibc module does not export
        return usage.ru_minflt
    }

    /// These tests check the policy itself; `RCNN_MEMORY_POLICY=system` turns it off for the run.
    private func requirePolicy() throws {
        try Prerequisite.require(MemoryPolicy.enabled, "the memory policy (RCNN_MEMORY_POLICY=system turned it off for this run)",
                                 provides: ".ci/run leaves RCNN_MEMORY_POLICY unset")
    }

    private func residentKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try XCTUnwrap(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    /// One activation-sized buffer, written throughout (as an op writes its output), then freed.
    private func allocateAndTouch() -> Float {
        let buffer = [Float](repeating: 1, count: Self.floats)
        return buffer[Self.floats - 1] + buffer[Self.floats / 2]
    }

    func testFreedActivationsAreReusedWithoutFaultingPagesInAgain() throws {
        try requirePolicy()
        MemoryPolicy.apply()
        XCTAssertEqual(allocateAndTouch(), 2)   // the first round may take fresh pages
        let before = minorFaults()
        for _ in 0..<4 { XCTAssertEqual(allocateAndTouch(), 2) }
        let faults = minorFaults() - before
        // Under glibc's defaults each round maps 48 MiB afresh: 12,288 faults of 4 KiB pages, ~49,000
        // for the four. With the policy the same heap pages serve every round.
        let pages = 4 * Self.floats * 4 / 4096
        XCTAssertLessThan(faults, pages / 20, "\(faults) page faults for 4 rounds of \((Self.floats * 4) >> 20) MiB")
    }

    func testTrimGivesFreedMemoryBack() throws {
        try requirePolicy()
        MemoryPolicy.apply()
        XCTAssertEqual(allocateAndTouch(), 2)
        let held = try residentKiB()
        MemoryPolicy.trim()
        let after = try residentKiB()
        // The freed 48 MiB were resident (kept by the policy); trimming returns at least most of them.
        XCTAssertGreaterThan(held - after, 32 << 10, "RSS \(held) KiB before trim, \(after) KiB after")
    }
}
#endif
