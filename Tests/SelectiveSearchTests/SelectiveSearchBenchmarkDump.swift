import Foundation
import XCTest
import Imaging
#if canImport(Detection)
import Detection
#else
import SelectiveSearch
#endif

/// The Swift side of `Benchmarks/selective_search_compare.py`: skipped unless `SS_BENCH_OUT` is
/// set. Reads the image paths listed one per line in `SS_BENCH_IMAGES`, runs selective search
/// (`SS_BENCH_MODE`: single, fast or fastOpenCV, default fast; `SS_BENCH_RANKING`: paper or
/// level, default the mode's; `SS_BENCH_REPEATS` timed runs after one warm-up, default 3) and
/// writes `SS_BENCH_OUT` as JSON: `{"mode": ..., "images": [{"path": ..., "seconds": [..],
/// "boxes": [[x1, y1, x2, y2], ...]}]}`, all ranked boxes, uncapped (the script truncates).
/// Timing covers `SelectiveSearch.proposals` only, not decoding. Run it in release:
/// `swift test -c release --filter SelectiveSearchBenchmarkDump`.
final class SelectiveSearchBenchmarkDump: XCTestCase {
    func testDumpProposals() throws {
        let env = ProcessInfo.processInfo.environment
        guard let out = env["SS_BENCH_OUT"], let list = env["SS_BENCH_IMAGES"] else {
            throw XCTSkip("set SS_BENCH_OUT and SS_BENCH_IMAGES to run")
        }
        let mode = SelectiveSearch.Mode(rawValue: env["SS_BENCH_MODE"] ?? "fast") ?? .fast
        let ranking = env["SS_BENCH_RANKING"].flatMap(SelectiveSearch.Ranking.init(rawValue:)) ?? mode.defaultRanking
        let repeats = max(1, Int(env["SS_BENCH_REPEATS"] ?? "3") ?? 3)
        let paths = try String(contentsOfFile: list, encoding: .utf8).split(separator: "\n").map(String.init)
        var images: [[String: Any]] = []
        for path in paths where !path.isEmpty {
            let image = try SelectiveSearchTestSupport.loadImage(URL(fileURLWithPath: path))
            var boxes = SelectiveSearch.proposals(image: image, mode: mode, ranking: ranking)  // warm-up
            var seconds: [Double] = []
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                boxes = SelectiveSearch.proposals(image: image, mode: mode, ranking: ranking)
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            images.append(["path": path, "seconds": seconds,
                           "boxes": boxes.map { [$0.x1, $0.y1, $0.x2, $0.y2] }])
        }
        let data = try JSONSerialization.data(withJSONObject: ["mode": mode.rawValue, "ranking": ranking.rawValue, "images": images])
        try data.write(to: URL(fileURLWithPath: out))
    }
}
