import Foundation
import Imaging

/// Sliced inference for images much larger than the model's input: the image is cut into
/// overlapping square tiles, each tile runs through the model at the model's own resize (so small
/// objects keep the pixels the RPN's anchors need), detections are mapped back to image
/// coordinates, and the instances that overlap across tiles are merged: by NMS, or greedily
/// (the best detection absorbs the ones that match it: union box, best score, united mask).
///
/// Masks stay `BoxMask`s (a rectangle of bits where the instance is), moved into image
/// coordinates and united within their boxes, so memory grows with the tile size and the number of
/// detections, never with the image size: no full-image mask exists at any point.
public struct SliceOptions: Sendable, Equatable {
    /// How overlapping detections from different tiles are merged.
    public enum Merge: String, Sendable, CaseIterable {
        /// Class-wise NMS: the best detection of a match group survives as it is.
        case nms
        /// Greedy merging: the best detection absorbs every unmerged match (box union, highest
        /// score, mask union), as SAHI's GREEDYNMM does.
        case greedy
    }

    /// What makes two detections a match.
    public enum Metric: String, Sendable, CaseIterable {
        /// Intersection over union.
        case iou
        /// Intersection over the smaller box: a half-object cut by a tile border matches its whole.
        case ios
    }

    /// Side of a square tile in image pixels (a tile is cut smaller only where the image is).
    public var tileSize: Int = 640
    /// Fraction of a tile shared with its neighbour, `[0, 0.9]`.
    public var overlap: Double = 0.2
    /// Also run the whole image once (for objects larger than a tile).
    public var fullImagePass: Bool = false
    public var merge: Merge = .greedy
    public var metric: Metric = .iou
    /// Detections of one class match when the metric exceeds this.
    public var matchThreshold: Float = 0.5

    public init() {}

    /// The tile rectangles `(x, y, width, height)` covering a `width x height` image, row by row:
    /// starts every `tileSize * (1 - overlap)` pixels, the last tile of a row or column aligned to
    /// the image's edge, one tile per axis where the image is no larger than a tile.
    public func tiles(width: Int, height: Int) -> [(x: Int, y: Int, width: Int, height: Int)] {
        func starts(_ extent: Int) -> [Int] {
            guard extent > tileSize else { return [0] }
            let step = max(1, Int((Double(tileSize) * (1 - overlap)).rounded(.down)))
            var s = Array(stride(from: 0, to: extent - tileSize, by: step))
            s.append(extent - tileSize)
            return s
        }
        let tw = min(tileSize, width), th = min(tileSize, height)
        return starts(height).flatMap { y in starts(width).map { x in (x, y, tw, th) } }
    }
}

/// What a sliced run did, for the answer and the metrics.
public struct SliceReport: Sendable, Equatable {
    public var tiles: Int
    public var fullImagePass: Bool
    /// Detections before merging (every tile's, and the full pass's).
    public var candidates: Int
    /// Threads that ran tiles (1 when they ran one after another).
    public var threads: Int = 1
    /// Wall-clock milliseconds from the first tile's start to the last one's end (the stage
    /// timings are summed over tiles, so with several threads they add up to more than this).
    public var tilesWallMs: Double = 0
}

/// Runs `body(i)` for every `i` in `0..<count`, possibly on several threads at once, and returns
/// how many threads took part. `body` is thread-safe; the runner returns when every call has.
public typealias TileRunner = (_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> Int

/// The runner that calls `body` for each index in turn on the calling thread.
public let sequentialTiles: TileRunner = { count, body in
    for i in 0..<count { body(i) }
    return 1
}

extension DetectionModel {
    /// Detects on overlapping tiles of `image` and merges the results (see `SliceOptions`).
    /// `options` apply per tile (threshold, classes, masks, pipeline); `maxDetections` caps the
    /// merged result, best first (default: the model's per-image limit times the number of
    /// tiles). `runTiles` decides where the tiles run (the server spreads them over its idle
    /// inference workers); the result does not depend on it: tiles are merged in tile order.
    /// Timings are summed per stage over the tiles, with `slice` (cutting tiles) and `merge` added.
    public func detectSliced(_ image: RGBImage, options: Options, slicing: SliceOptions,
                             runTiles: TileRunner = sequentialTiles)
        -> (detections: Detections, timings: StageTimings, report: SliceReport)
    {
        let tileOptions = { var o = options; o.maxDetections = nil; return o }()
        let rects = slicing.tiles(width: image.width, height: image.height)
        let fullPass = slicing.fullImagePass && rects.count > 1
        // One slot per run (the tiles, then the full-image pass), written once each by whichever
        // thread ran it.
        let results = TileResults(count: rects.count + (fullPass ? 1 : 0))
        let wallStart = DispatchTime.now().uptimeNanoseconds
        let threads = runTiles(results.count) { [self] i in
            if i < rects.count {
                let r = rects[i]
                let start = DispatchTime.now().uptimeNanoseconds
                let tile = image.cropped(x: r.x, y: r.y, width: r.width, height: r.height)
                let cropMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                let (det, t) = detect(tile, options: tileOptions)
                results.set(i, det, t, cropMs)
            } else {
                let (det, t) = detect(image, options: tileOptions)
                results.set(i, det, t, 0)
            }
        }
        let wallMs = Double(DispatchTime.now().uptimeNanoseconds - wallStart) / 1e6
        var timings = StageTimings()
        var perStage: [(String, Double)] = []
        var all = Detections()
        var hasMasks = false, hasKeypoints = false
        var sliceMs = 0.0
        for i in 0..<results.count {
            guard let (det, t, cropMs) = results.get(i) else { preconditionFailure("tile \(i) did not run") }
            for (name, ms) in t.stages {
                if let k = perStage.firstIndex(where: { $0.0 == name }) { perStage[k].1 += ms } else { perStage.append((name, ms)) }
            }
            sliceMs += cropMs
            hasMasks = hasMasks || det.masks != nil
            hasKeypoints = hasKeypoints || det.keypoints != nil
            let (dx, dy) = i < rects.count ? (rects[i].x, rects[i].y) : (0, 0)
            all.append(det, dx: dx, dy: dy, imageWidth: image.width, imageHeight: image.height)
        }
        if !hasMasks { all.masks = nil }
        if !hasKeypoints { all.keypoints = nil }
        timings.record("slice", ms: sliceMs)
        for (name, ms) in perStage { timings.record(name, ms: ms) }
        let candidates = all.count
        let merged = timings.measure("merge") { () -> Detections in
            var m = SliceMerger.merge(all, slicing)
            // The model's per-image limit is for one input-sized image: a sliced image keeps it per
            // tile unless the caller set a limit.
            let limit = options.maxDetections ?? roiHeads.detectionsPerImage * max(1, rects.count)
            if m.count > limit { m = m.select(Array(0..<limit)) }
            return m
        }
        return (merged, timings, SliceReport(tiles: rects.count, fullImagePass: fullPass, candidates: candidates, threads: threads, tilesWallMs: wallMs))
    }
}

/// Per-tile results written from several threads, each slot once.
private final class TileResults: @unchecked Sendable {
    let count: Int
    private var slots: [(Detections, StageTimings, Double)?]
    private let lock = NSLock()

    init(count: Int) {
        self.count = count
        slots = Array(repeating: nil, count: count)
    }

    func set(_ i: Int, _ d: Detections, _ t: StageTimings, _ cropMs: Double) {
        lock.lock(); slots[i] = (d, t, cropMs); lock.unlock()
    }

    func get(_ i: Int) -> (Detections, StageTimings, Double)? {
        lock.lock(); defer { lock.unlock() }
        return slots[i]
    }
}

extension Detections {
    /// Appends `other`, found on a tile at `(dx, dy)`, moved into the coordinates of a
    /// `imageWidth x imageHeight` image (masks stay rectangles of bits).
    mutating func append(_ other: Detections, dx: Int, dy: Int, imageWidth: Int, imageHeight: Int) {
        let fx = Float(dx), fy = Float(dy)
        boxes += other.boxes.map { Box($0.x1 + fx, $0.y1 + fy, $0.x2 + fx, $0.y2 + fy) }
        scores += other.scores
        labels += other.labels
        // Masks stay aligned with boxes: a tile without masks contributes empty ones (dropped
        // again by the caller when no tile had any).
        let moved = other.masks.map { m in
            m.map {
                BoxMask(x0: $0.x0 + dx, y0: $0.y0 + dy, width: $0.width, height: $0.height,
                        imageWidth: imageWidth, imageHeight: imageHeight, bits: $0.bits)
            }
        } ?? other.boxes.map { _ in BoxMask.empty(imageWidth: imageWidth, imageHeight: imageHeight) }
        masks = (masks ?? []) + moved
        maskProbabilities = nil
        // Keypoints likewise: moved with their tile, empty lists where a tile had none.
        keypoints = (keypoints ?? []) + (other.keypoints.map { k in
            k.map { $0.map { Keypoint(x: $0.x + fx, y: $0.y + fy, score: $0.score) } }
        } ?? other.boxes.map { _ in [] })
    }
}

extension RGBImage {
    /// The pixels of the rectangle `(x, y, width, height)`, which must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height, "crop outside the image")
        var out = [UInt8](repeating: 0, count: w * h * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<h {
                    let from = ((y + row) * width + x) * 3
                    (dst.baseAddress! + row * w * 3).update(from: src.baseAddress! + from, count: w * 3)
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
