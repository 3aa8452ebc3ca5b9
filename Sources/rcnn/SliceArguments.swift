import ArgumentParser
import Detection
import Imaging

/// `--slice` and its settings, shared by `rcnn detect` and `rcnn eval` (the API's slice options).
struct SliceArguments: ParsableArguments {
    @Option(name: .long, help: "Sliced inference for large images: off, on, or auto (only when the longer side exceeds twice the model's max_size or the shorter twice its min_size).")
    var slice: String = "off"

    @Option(name: .long, help: "Tile side in pixels (default: the model's min_size).")
    var sliceSize: Int?

    @Option(name: .long, help: "Fraction of a tile shared with its neighbour, 0-0.9.")
    var sliceOverlap: Double = 0.2

    @Flag(name: .long, help: "Also detect on the whole image (for objects larger than a tile).")
    var sliceFullPass = false

    @Option(name: .long, help: "Merge of overlapping tile detections: greedy (union box and mask) or nms.")
    var sliceMerge: String = "greedy"

    @Option(name: .long, help: "Match metric: iou (default) or ios (intersection over the smaller box).")
    var sliceMatch: String = "iou"

    @Option(name: .long, help: "Detections of a class match above this.")
    var sliceMatchThreshold: Float = 0.5

    func validate() throws {
        guard ["off", "on", "auto"].contains(slice) else { throw ValidationError("--slice must be off, on or auto") }
        if let s = sliceSize, !(64...4096).contains(s) { throw ValidationError("--slice-size must be 64-4096") }
        guard (0...0.9).contains(sliceOverlap) else { throw ValidationError("--slice-overlap must be in [0, 0.9]") }
        guard SliceOptions.Merge(rawValue: sliceMerge) != nil else { throw ValidationError("--slice-merge must be greedy or nms") }
        guard SliceOptions.Metric(rawValue: sliceMatch) != nil else { throw ValidationError("--slice-match must be ios or iou") }
        guard (0...1).contains(sliceMatchThreshold) else { throw ValidationError("--slice-match-threshold must be in [0, 1]") }
    }

    /// The tile settings for `image` under `model`, or nil when this image is not sliced.
    func options(for image: RGBImage, model: DetectionModel) -> SliceOptions? {
        let t = model.config.transform
        switch slice {
        case "on": break
        case "auto":
            guard max(image.width, image.height) > 2 * t.maxSize || min(image.width, image.height) > 2 * t.minSize else { return nil }
        default: return nil
        }
        var s = SliceOptions()
        s.tileSize = sliceSize ?? t.minSize
        s.overlap = sliceOverlap
        s.fullImagePass = sliceFullPass
        s.merge = SliceOptions.Merge(rawValue: sliceMerge) ?? .greedy
        s.metric = SliceOptions.Metric(rawValue: sliceMatch) ?? .iou
        s.matchThreshold = sliceMatchThreshold
        return s
    }
}
