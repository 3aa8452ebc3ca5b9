import Dispatch
import Tensor
import XCTest

final class ScratchTests: XCTestCase {
    func testReusedOnOneThreadAndDistinctWhenNested() {
        let first = Scratch.with(1000) { p -> UnsafeMutablePointer<Float> in
            p[999] = 1
            return p
        }
        let again = Scratch.with(500) { $0 }
        XCTAssertEqual(first, again, "a smaller request reuses the thread's buffer")
        Scratch.with(100) { outer in
            Scratch.with(100) { inner in
                XCTAssertNotEqual(outer, inner, "a nested call must not share the outer buffer")
                outer[0] = 1
                inner[0] = 2
                XCTAssertEqual(outer[0], 1)
            }
        }
        XCTAssertGreaterThanOrEqual(Scratch.retainedBytes, 1000 * 4)
    }

    func testThreadsGetTheirOwnBuffers() {
        final class Seen: @unchecked Sendable {
            let lock = NSLock()
            var addresses = Set<Int>()
            func insert(_ p: UnsafeMutablePointer<Float>) { lock.lock(); addresses.insert(Int(bitPattern: p)); lock.unlock() }
        }
        let seen = Seen()
        let group = DispatchGroup()
        // Both threads hold their buffers at once (a thread that exited could hand its freed
        // buffer's memory to the next one, which would look like sharing).
        let inside = DispatchGroup()
        inside.enter()
        inside.enter()
        for t in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                Scratch.with(4096) { p in
                    for i in 0..<4096 { p[i] = Float(t) }
                    inside.leave()
                    inside.wait()
                    XCTAssertTrue((0..<4096).allSatisfy { p[$0] == Float(t) }, "another thread wrote into this buffer")
                    seen.insert(p)
                }
                group.leave()
            }
        }
        group.wait()
        XCTAssertEqual(seen.addresses.count, 2)
    }

    func testRequestsAboveTheRetainLimitAreNotKept() {
        let saved = Scratch.retainLimit
        Scratch.retainLimit = 10
        defer { Scratch.retainLimit = saved }
        let before = Scratch.retainedBytes
        Scratch.with(1_000_000) { p in p[999_999] = 3 }
        XCTAssertEqual(Scratch.retainedBytes, before)
    }
}
