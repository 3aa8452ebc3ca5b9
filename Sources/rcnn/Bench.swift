import ArgumentParser
import Detection
import Foundation
import Imaging
import Tensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the pipeline per stage: median, min and max over repeated runs after warm-up.",
        discussion: """
        Measures wall-clock time of each pipeline stage on one image, in this process, with the given \
        thread count, with the GFLOP/s its convolutions and fully connected layers reach, the process's \
        peak resident memory and the model's load time. It does not measure image decoding of real \
        files, HTTP overhead, or concurrency between requests.
        """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "Image to run on (default: a synthetic image of --size).")
    var image: String?

    @Option(name: .long, help: "Synthetic image size WxH when no --image is given.")
    var size: String = "640x480"

    @Option(name: .long, help: "Timed runs.")
    var runs: Int = 5

    @Option(name: .long, help: "Untimed warm-up runs.")
    var warmup: Int = 1

    @Option(name: .long, help: "Pipeline: default, mask, faster, fast (selective search proposals) or rcnn.")
    var pipeline: String = "default"

    @Option(name: .long, help: "Output format: table or json.")
    var format: String = "table"

    func run() throws {
        guard let pipeline = DetectionModel.Pipeline(rawValue: pipeline) else {
            throw ValidationError("--pipeline must be one of \(DetectionModel.Pipeline.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let loadStart = Date()
        let detector = try model.loadModel()
        if pipeline == .mask && !detector.hasMasks { throw ValidationError("\(detector.name) has no mask head") }
        let options = DetectionModel.Options(pipeline: pipeline)
        let loadMs = Date().timeIntervalSince(loadStart) * 1000
        let rgb: RGBImage
        if let image {
            do { rgb = try ImageDecoder.decode(try Data(contentsOf: URL(fileURLWithPath: image))) } catch {
                throw ValidationError("\(image): \(error)")
            }
        } else {
            let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { throw ValidationError("--size must be WxH") }
            rgb = Self.syntheticImage(width: parts[0], height: parts[1])
        }
        for _ in 0..<warmup { _ = detector.detect(rgb, options: options) }
        var samples: [String: [Double]] = [:]
        var order: [String] = []
        var detections = 0
        var proposals: Int?
        var flops: [String: UInt64] = [:]
        for _ in 0..<runs {
            let (det, t) = detector.detect(rgb, options: options)
            detections = det.count
            proposals = t.proposals
            flops = t.flops
            flops["total"] = t.flops.values.reduce(0, +)
            for (name, ms) in t.stages + [("total", t.totalMs)] {
                if samples[name] == nil { order.append(name) }
                samples[name, default: []].append(ms)
            }
        }
        let stats = order.map { name -> (String, Double, Double, Double, Double) in
            let s = samples[name]!.sorted()
            return (name, s[s.count / 2], s.first!, s.last!, Double(flops[name] ?? 0) / 1e9)
        }
        let peak = Self.measuredSGEMMRate()
        if format == "json" {
            var out: [String: Any] = ["sgemm_gflop_per_s": peak, "winograd": Conv2d.winogradEnabled, "model": detector.name, "pipeline": pipeline.rawValue, "peak_rss_mb": Self.peakRSSMegabytes(), "image": ["width": rgb.width, "height": rgb.height],
                                      "runs": runs, "warmup": warmup, "threads": BLAS.threads, "blas_core": BLAS.coreName, "blas_core_note": BLASKernelSelection.note ?? "",
                                      "load_ms": loadMs, "detections": detections]
            if let proposals { out["proposals"] = proposals }
            out["stages"] = stats.map { ["stage": $0.0, "median_ms": $0.1, "min_ms": $0.2, "max_ms": $0.3, "gflop": $0.4,
                                         "gflop_per_s": $0.1 > 0 ? $0.4 / ($0.1 / 1000) : 0] }
            let data = try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("\(detector.name) (\(pipeline.rawValue) pipeline) on \(rgb.width)x\(rgb.height), \(runs) runs after \(warmup) warm-up, \(BLAS.threads) threads, BLAS \(BLAS.coreName)\(BLASKernelSelection.note.map { " (\($0))" } ?? ""); load \(String(format: "%.0f", loadMs)) ms; \(proposals.map { "\($0) proposals, " } ?? "")\(detections) detections; peak RSS \(String(format: "%.0f", Self.peakRSSMegabytes())) MB")
            print("measured SGEMM (1536^3, best of 5) on \(BLAS.threads) threads: \(String(format: "%.1f", peak)) GFLOP/s; Winograd \(Conv2d.winogradEnabled ? "on" : "off (RCNN_WINOGRAD=0)")")
            print("stage           median ms     min ms     max ms      GFLOP  GFLOP/s  of SGEMM")
            for (name, med, lo, hi, gflop) in stats {
                let r = gflop > 0 && med > 0 ? gflop / (med / 1000) : 0
                let rate = r > 0 ? String(format: "%8.1f %8.0f%%", r, 100 * r / peak) : "       -         -"
                print(name.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: "%12.1f %10.1f %10.1f %10.2f ", med, lo, hi, gflop) + rate)
            }
            print("GFLOP counts convolutions, transposed convolutions and fully connected layers as direct convolution would (2 per multiply-add), so stages with Winograd convolutions can run above the SGEMM rate; pooling, RoIAlign, NMS and element-wise work are timed but not counted.")
        }
    }

    /// This machine's SGEMM rate at the current thread count, in GFLOP/s: the yardstick for each
    /// stage's rate (best of 5 square 1536 products after one warm-up).
    static func measuredSGEMMRate() -> Double {
        let n = 1536
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for i in 0..<6 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                BLAS.sgemm(m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
            }}}
            let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if i > 0 { best = min(best, s) }
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// The process's peak resident set (getrusage; Linux reports KiB).
    static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    /// A deterministic test card: gradient background with a few filled shapes.
    static func syntheticImage(width: Int, height: Int) -> RGBImage {
        var img = RGBImage(width: width, height: height)
        for y in 0..<height { for x in 0..<width {
            let i = (y * width + x) * 3
            img.pixels[i] = UInt8(x * 255 / max(1, width - 1))
            img.pixels[i + 1] = UInt8(y * 255 / max(1, height - 1))
            img.pixels[i + 2] = UInt8((x + y) % 256)
        }}
        img.fillRectangle(x0: width / 8, y0: height / 8, x1: width / 3, y1: height / 2, color: RGBColor(red: 220, green: 30, blue: 30))
        img.fillRectangle(x0: width / 2, y0: height / 3, x1: width * 7 / 8, y1: height * 7 / 8, color: RGBColor(red: 30, green: 40, blue: 200))
        return img
    }
}
