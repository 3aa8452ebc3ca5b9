import ArgumentParser
import Detection
import Foundation
import Imaging

struct Proposals: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Selective search proposals for images, as JSON (the boxes R-CNN and Fast R-CNN start from).",
        discussion: "Times SelectiveSearch.proposals alone (after one warm-up run per image), not decoding.")

    @Argument(help: "JPEG or PNG images.")
    var images: [String]

    @Option(name: .long, help: "single, fast (R-CNN's 8 strategies), fastOpenCV or broad.")
    var mode: String = "fast"

    @Option(name: .long, help: "paper or level (default: the mode's).")
    var ranking: String?

    @Option(name: .long, help: "Drop a box whose IoU with a better-ranked one is at least this (default: the mode's).")
    var nearDuplicateIou: Float?

    @Option(name: .long, help: "Keep the best N proposals (default: all).")
    var max: Int?

    @Option(name: .long, help: "Timed runs per image.")
    var repeats: Int = 1

    @Option(name: .long, help: "Write the JSON here instead of standard output.")
    var output: String?

    func run() throws {
        guard let m = SelectiveSearch.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be one of \(SelectiveSearch.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var rank = m.defaultRanking
        if let ranking {
            guard let r = SelectiveSearch.Ranking(rawValue: ranking) else { throw ValidationError("--ranking must be paper or level") }
            rank = r
        }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        var items: [[String: Any]] = []
        for path in images {
            let image: RGBImage
            do { image = try ImageDecoder.decode(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
                throw ValidationError("\(path): \(error)")
            }
            let search = { SelectiveSearch.proposals(image: image, mode: m, maxProposals: max, ranking: rank, nearDuplicateIoU: nearDuplicateIou) }
            var boxes = search()   // warm-up
            var seconds: [Double] = []
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                boxes = search()
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            items.append(["path": path, "width": image.width, "height": image.height, "seconds": seconds,
                          "boxes": boxes.map { [$0.x1, $0.y1, $0.x2, $0.y2] }])
        }
        let data = try JSONSerialization.data(withJSONObject: ["mode": m.rawValue, "ranking": rank.rawValue, "images": items])
        if let output { try data.write(to: URL(fileURLWithPath: output)) } else {
            FileHandle.standardOutput.write(data)
            FileHandle.standardOutput.write("\n".data(using: .utf8)!)
        }
    }
}
