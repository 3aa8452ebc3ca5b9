import Synchronization

/// Floating-point operations of the GEMM-shaped layers (convolutions, transposed convolutions,
/// fully connected), counted as 2 per multiply-add, process-wide. `rcnn bench` reads it around each
/// stage to report GFLOP/s; with concurrent requests the counts of different requests mix, so it
/// is only meaningful for one request at a time. Pooling, RoIAlign, NMS and element-wise work are
/// not counted.
public enum FLOPCounter {
    private static let total = Atomic<UInt64>(0)

    @inline(__always)
    public static func add(_ flops: Int) {
        total.wrappingAdd(UInt64(truncatingIfNeeded: flops), ordering: .relaxed)
    }

    /// Operations counted since the process started.
    public static var count: UInt64 { total.load(ordering: .relaxed) }
}
