import Foundation
#if canImport(Glibc)
import CMalloc
#endif

/// How an inference process uses glibc's allocator.
///
/// Each inference allocates its activations afresh (tens of tensors, up to tens of megabytes each).
/// Under glibc's defaults every allocation above the mmap threshold is mapped on its own and
/// unmapped on free, so the next inference faults in and zeroes the same pages again: about 45,000
/// page faults (180 MB) per image on MobileNetV3-FPN, some 15% of its latency. The policy
/// keeps freed memory in the heap for the next inference instead, and gives it back to the system
/// when the process goes idle (`trim`, which the inference scheduler calls after a quiet spell), so
/// one very large request does not become the new baseline either.
public enum MemoryPolicy {
    /// Free memory at the top of the heap that glibc keeps rather than returning at each `free`
    /// (1 GiB: in practice all of it, until `trim`).
    public static let trimThreshold: Int32 = 1 << 30

    /// Whether `apply` changes anything: `RCNN_MEMORY_POLICY=system` keeps glibc's defaults (to
    /// measure the difference, or under another allocator).
    public static var enabled: Bool { ProcessInfo.processInfo.environment["RCNN_MEMORY_POLICY"] != "system" }

    /// Applies the policy; call once at start, before any other thread allocates (the arena cap
    /// only binds arenas made after it).
    public static func apply() {
        #if canImport(Glibc)
        guard enabled else { return }
        // No allocation gets a mapping of its own: the heap serves them all.
        _ = mallopt(M_MMAP_MAX, 0)
        _ = mallopt(M_TRIM_THRESHOLD, trimThreshold)
        // One arena, the main heap, for every thread. A thread's own arena grows in 64 MiB
        // segments that glibc unmaps as soon as one empties, whatever the trim threshold, so the
        // inference workers would fault their activations in afresh again (measured: 44,000 faults
        // per MobileNetV3-FPN request with per-thread arenas, 800 with one). Small allocations come
        // from per-thread caches first, so threads seldom wait for the arena's lock.
        _ = mallopt(M_ARENA_MAX, 1)
        #endif
    }

    /// Hands free heap pages back to the system (every arena's, including free chunks inside the
    /// heap, not only its top).
    public static func trim() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
