import Foundation

/// Per-thread scratch memory for the kernels' temporaries (im2col bands, Winograd's transformed
/// tiles): each thread keeps its largest buffer so far and reuses it, so steady-state inference
/// does not map, fault in and zero fresh pages for them on every layer. Buffers above
/// `retainLimit` floats are allocated for the call only. Contents are undefined on entry.
public enum Scratch {
    /// Largest buffer, in floats, a thread keeps between calls (64 MiB).
    nonisolated(unsafe) public static var retainLimit = 16 << 20

    final class Buffer {
        var pointer: UnsafeMutablePointer<Float>?
        var capacity = 0
        var inUse = false
        deinit { pointer?.deallocate() }
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k) { raw in
            if let raw { Unmanaged<Buffer>.fromOpaque(raw).release() }
        }
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return k
    }()

    private static var current: Buffer {
        if let raw = pthread_getspecific(key) { return Unmanaged<Buffer>.fromOpaque(raw).takeUnretainedValue() }
        let b = Buffer()
        pthread_setspecific(key, Unmanaged.passRetained(b).toOpaque())
        return b
    }

    /// Calls `body` with at least `count` floats of this thread's scratch. Nested calls on one
    /// thread get a buffer of their own.
    public static func with<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let n = max(1, count)
        let b = current
        if b.inUse || n > retainLimit {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            defer { p.deallocate() }
            return try body(p)
        }
        if b.capacity < n {
            b.pointer?.deallocate()
            b.pointer = .allocate(capacity: n)
            b.capacity = n
        }
        b.inUse = true
        defer { b.inUse = false }
        return try body(b.pointer!)
    }

    /// Bytes of scratch this thread holds between calls.
    public static var retainedBytes: Int { current.capacity * MemoryLayout<Float>.stride }
}
