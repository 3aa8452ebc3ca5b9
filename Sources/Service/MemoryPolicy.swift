import Foundation
#if canImport(Glibc)
import CMalloc
#endif

/// How the server's process uses glibc's allocator, so that memory taken for one large request
/// (a 30-megapixel upload, a burst of connection threads) goes back to the system afterwards
/// instead of staying in the heap as the new baseline.
public enum MemoryPolicy {
    /// Allocations from this size up are mapped on their own and unmapped on free. glibc's default
    /// starts at 128 KiB but raises itself to up to 32 MiB after the first such free, after which
    /// image buffers and activations come from the heap and stay there; a fixed value stops that.
    public static let mmapThreshold: Int32 = 256 * 1024

    /// Applies the policy; call once at start, before the serving threads exist.
    public static func apply() {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
        // At most two malloc arenas per core: one per connection thread would keep a heap each.
        _ = mallopt(M_ARENA_MAX, Int32(max(2, 2 * ProcessInfo.processInfo.activeProcessorCount)))
        #endif
    }

    /// Hands free heap pages back to the system (after a request that allocated a lot).
    public static func trim() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }
}
