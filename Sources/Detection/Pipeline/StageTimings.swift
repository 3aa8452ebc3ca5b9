import Foundation
import Tensor

/// Wall-clock time per pipeline stage, in the order the stages ran (milliseconds).
public struct StageTimings: Sendable {
    public private(set) var stages: [(name: String, ms: Double)] = []
    /// GEMM-layer floating-point operations per measured stage (`FLOPCounter`; meaningful when one
    /// request runs at a time).
    public private(set) var flops: [String: UInt64] = [:]
    /// The regions the box head classified (the RPN's proposals, or the external ones of the fast
    /// pipeline); nil where no box head ran.
    public var proposals: Int?

    public init() {}

    @discardableResult
    public mutating func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds, ops = FLOPCounter.count
        let value = try body()
        stages.append((name, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6))
        flops[name, default: 0] += FLOPCounter.count &- ops
        return value
    }

    public mutating func record(_ name: String, ms: Double) { stages.append((name, ms)) }

    /// Appends another set of timings (for example the pipeline's after the CLI's decode).
    public mutating func append(_ other: StageTimings) {
        stages += other.stages
        flops.merge(other.flops) { $0 + $1 }
        proposals = other.proposals ?? proposals
    }

    public var totalMs: Double { stages.reduce(0) { $0 + $1.ms } }
}
