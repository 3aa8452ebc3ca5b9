import Foundation
import Imaging
import TestSupport
#if canImport(Detection)
import Detection
#else
import SelectiveSearch
#endif

/// Paths and helpers shared by the selective search tests.
enum SelectiveSearchTestSupport {
    static func loadImage(_ url: URL) throws -> RGBImage {
        try ImageDecoder.decode(try Data(contentsOf: url))
    }

    /// Runs the repository's `.venv/bin/python` with `arguments` from the repository root; throws
    /// with its stderr on failure. A missing `.venv` is a missing prerequisite (`Prerequisite`).
    static func runPython(_ arguments: [String]) throws {
        try Prerequisite.require(FileManager.default.isExecutableFile(atPath: Repository.venvPython),
                                 "the Python reference environment \(Repository.venvPython) (scikit-image)",
                                 provides: ".ci/run runs Tools/setup_python.sh (via Tools/test.sh), which creates it")
        try TestProcess.check(Repository.venvPython, arguments, directory: Repository.root)
    }

    /// Adjusted Rand index (Hubert & Arabie 1985) between two labelings of the same pixels, from
    /// their contingency table: (index - expected) / (max - expected), with pair counts C(n, 2).
    static func adjustedRandIndex(_ a: [Int32], _ b: [Int32]) -> Double {
        precondition(a.count == b.count)
        var table: [Int64: Double] = [:]
        var rows: [Int32: Double] = [:]
        var cols: [Int32: Double] = [:]
        for i in a.indices {
            table[Int64(a[i]) << 32 | Int64(b[i]), default: 0] += 1
            rows[a[i], default: 0] += 1
            cols[b[i], default: 0] += 1
        }
        func pairs(_ x: Double) -> Double { x * (x - 1) / 2 }
        let index = table.values.reduce(0) { $0 + pairs($1) }
        let sumRows = rows.values.reduce(0) { $0 + pairs($1) }
        let sumCols = cols.values.reduce(0) { $0 + pairs($1) }
        let expected = sumRows * sumCols / pairs(Double(a.count))
        let maximum = (sumRows + sumCols) / 2
        if maximum == expected { return 1 }
        return (index - expected) / (maximum - expected)
    }

    /// Ground-truth boxes per file name from a COCO instances file, as (x1, y1, x2, y2).
    static func cocoBoxes(_ url: URL) throws -> [String: [SelectiveSearchBox]] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var names: [Int: String] = [:]
        for image in json["images"] as! [[String: Any]] {
            names[(image["id"] as! NSNumber).intValue] = image["file_name"] as? String
        }
        var out: [String: [SelectiveSearchBox]] = [:]
        for annotation in json["annotations"] as! [[String: Any]] {
            let id = (annotation["image_id"] as! NSNumber).intValue
            let b = (annotation["bbox"] as! [NSNumber]).map { $0.floatValue }
            out[names[id]!, default: []].append(
                SelectiveSearchBox(x1: b[0], y1: b[1], x2: b[0] + b[2], y2: b[1] + b[3]))
        }
        return out
    }

    static func iou(_ a: SelectiveSearchBox, _ b: SelectiveSearchBox) -> Float {
        let w = max(0, min(a.x2, b.x2) - max(a.x1, b.x1))
        let h = max(0, min(a.y2, b.y2) - max(a.y1, b.y1))
        let inter = w * h
        let union = a.width * a.height + b.width * b.height - inter
        return union > 0 ? inter / union : 0
    }

    /// How many of `truth` some proposal covers with IoU >= `threshold`.
    static func recalled(_ truth: [SelectiveSearchBox], by proposals: [SelectiveSearchBox],
                         threshold: Float) -> Int {
        truth.filter { t in proposals.contains { iou($0, t) >= threshold } }.count
    }
}
