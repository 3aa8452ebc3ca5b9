import Foundation

/// A small Prometheus metrics registry: counters, gauges and histograms with labels, written out in
/// the text exposition format 0.0.4 (`text/plain; version=0.0.4`).
///
/// Families are registered once (at start-up) and keep their registration order in the output;
/// series inside a family are sorted by label values, so a scrape is deterministic. Label values
/// are escaped as the format requires (`\\`, `\"`, `\n`); callers keep cardinality bounded (route
/// templates, never raw paths).
///
/// Thread-safety: every method may be called from any thread; each family has its own lock, and
/// gauges computed at scrape time (`gaugeFunction`) run on the scraping thread.
public final class MetricsRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var families: [MetricFamily] = []

    public init() {}

    /// The media type of `exposition()`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Latency buckets in seconds, from 1 ms to 2 minutes (CPU inference of a large model takes
    /// seconds; a health check takes microseconds).
    public static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

    public func counter(_ name: String, _ help: String, labels: [String] = []) -> Counter {
        register(Counter(name: name, help: help, labelNames: labels))
    }

    public func gauge(_ name: String, _ help: String, labels: [String] = []) -> Gauge {
        register(Gauge(name: name, help: help, labelNames: labels))
    }

    /// A gauge whose samples are computed by `collect` at each scrape: `(label values, value)` pairs.
    public func gaugeFunction(_ name: String, _ help: String, labels: [String] = [], type: String = "gauge",
                              _ collect: @escaping @Sendable () -> [([String], Double)]) {
        register(FunctionMetric(name: name, help: help, type: type, labelNames: labels, collect: collect))
    }

    public func histogram(_ name: String, _ help: String, labels: [String] = [], buckets: [Double] = MetricsRegistry.latencyBuckets) -> Histogram {
        register(Histogram(name: name, help: help, labelNames: labels, buckets: buckets))
    }

    private func register<M: MetricFamily>(_ family: M) -> M {
        lock.lock(); defer { lock.unlock() }
        precondition(!families.contains { $0.name == family.name }, "metric \(family.name) registered twice")
        families.append(family)
        return family
    }

    /// Every family in the text exposition format, one `# HELP` and `# TYPE` line each.
    public func exposition() -> String {
        lock.lock(); let all = families; lock.unlock()
        var out = ""
        for f in all {
            out += "# HELP \(f.name) \(Self.escapeHelp(f.help))\n# TYPE \(f.name) \(f.type)\n"
            f.render(into: &out)
        }
        return out
    }

    /// `{a="x",b="y"}`, or `""` without labels.
    static func labelText(_ names: [String], _ values: [String]) -> String {
        guard !names.isEmpty else { return "" }
        return "{" + zip(names, values).map { "\($0)=\"\(escapeLabel($1))\"" }.joined(separator: ",") + "}"
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// HELP text escapes backslash and line feed.
    static func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Go's float syntax as Prometheus parses it: `+Inf`, `-Inf`, `NaN`, integers without `.0`.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}

/// One metric family: a name, help text, type and label names.
public class MetricFamily: @unchecked Sendable {
    public let name: String
    public let help: String
    public let labelNames: [String]
    var type: String { "untyped" }
    let lock = NSLock()

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
    }

    func render(into out: inout String) {}

    func checkArity(_ values: [String]) {
        precondition(values.count == labelNames.count, "\(name) takes labels \(labelNames), got \(values)")
    }
}

/// A monotonically increasing count.
public final class Counter: MetricFamily, @unchecked Sendable {
    private var values: [[String]: Double] = [:]
    override var type: String { "counter" }

    public func inc(_ labels: [String] = [], by amount: Double = 1) {
        checkArity(labels)
        precondition(amount >= 0, "counters only go up")
        lock.lock(); values[labels, default: 0] += amount; lock.unlock()
    }

    /// The current value for `labels` (0 when never incremented).
    public func value(_ labels: [String] = []) -> Double { lock.lock(); defer { lock.unlock() }; return values[labels] ?? 0 }

    override func render(into out: inout String) {
        lock.lock(); let snapshot = values; lock.unlock()
        if snapshot.isEmpty && labelNames.isEmpty { out += "\(name) 0\n"; return }
        for (k, v) in snapshot.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            out += "\(name)\(MetricsRegistry.labelText(labelNames, k)) \(MetricsRegistry.number(v))\n"
        }
    }
}

/// A value that goes up and down.
public final class Gauge: MetricFamily, @unchecked Sendable {
    private var values: [[String]: Double] = [:]
    override var type: String { "gauge" }

    public func set(_ labels: [String] = [], _ value: Double) {
        checkArity(labels)
        lock.lock(); values[labels] = value; lock.unlock()
    }

    public func add(_ labels: [String] = [], _ delta: Double) {
        checkArity(labels)
        lock.lock(); values[labels, default: 0] += delta; lock.unlock()
    }

    override func render(into out: inout String) {
        lock.lock(); let snapshot = values; lock.unlock()
        if snapshot.isEmpty && labelNames.isEmpty { out += "\(name) 0\n"; return }
        for (k, v) in snapshot.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            out += "\(name)\(MetricsRegistry.labelText(labelNames, k)) \(MetricsRegistry.number(v))\n"
        }
    }
}

/// A gauge (or counter) read at scrape time.
final class FunctionMetric: MetricFamily, @unchecked Sendable {
    let collect: @Sendable () -> [([String], Double)]
    let kind: String
    override var type: String { kind }

    init(name: String, help: String, type: String, labelNames: [String], collect: @escaping @Sendable () -> [([String], Double)]) {
        self.collect = collect
        self.kind = type
        super.init(name: name, help: help, labelNames: labelNames)
    }

    override func render(into out: inout String) {
        for (k, v) in collect() {
            checkArity(k)
            out += "\(name)\(MetricsRegistry.labelText(labelNames, k)) \(MetricsRegistry.number(v))\n"
        }
    }
}

/// Observations counted into cumulative buckets (`_bucket{le=...}`), with `_sum` and `_count`.
public final class Histogram: MetricFamily, @unchecked Sendable {
    /// Upper bounds, ascending; `+Inf` is implicit.
    public let buckets: [Double]
    private struct Series { var counts: [UInt64]; var sum: Double; var count: UInt64 }
    private var series: [[String]: Series] = [:]
    override var type: String { "histogram" }

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        precondition(!labelNames.contains("le"), "'le' is reserved for histogram buckets")
        self.buckets = buckets.sorted()
        super.init(name: name, help: help, labelNames: labelNames)
    }

    public func observe(_ labels: [String] = [], _ value: Double) {
        checkArity(labels)
        let i = buckets.firstIndex { value <= $0 } ?? buckets.count
        lock.lock()
        var s = series[labels] ?? Series(counts: Array(repeating: 0, count: buckets.count + 1), sum: 0, count: 0)
        s.counts[i] += 1
        s.sum += value
        s.count += 1
        series[labels] = s
        lock.unlock()
    }

    /// Observations so far for `labels`.
    public func count(_ labels: [String] = []) -> UInt64 { lock.lock(); defer { lock.unlock() }; return series[labels]?.count ?? 0 }

    override func render(into out: inout String) {
        lock.lock(); let snapshot = series; lock.unlock()
        for (k, s) in snapshot.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            var cumulative: UInt64 = 0
            for (i, bound) in (buckets + [.infinity]).enumerated() {
                cumulative += s.counts[i]
                out += "\(name)_bucket\(MetricsRegistry.labelText(labelNames + ["le"], k + [MetricsRegistry.number(bound)])) \(cumulative)\n"
            }
            let l = MetricsRegistry.labelText(labelNames, k)
            out += "\(name)_sum\(l) \(MetricsRegistry.number(s.sum))\n\(name)_count\(l) \(s.count)\n"
        }
    }
}
