/// Merges the detections of overlapping tiles (`SliceOptions.merge`): class-wise NMS, or greedy
/// merging where each detection, best first, absorbs the unmerged detections of its class that
/// match it (box union, its own score, mask union within the union box; its own keypoints, which
/// come from the tile that saw the instance best).
public enum SliceMerger {
    /// The match metric of two boxes.
    public static func match(_ a: Box, _ b: Box, _ metric: SliceOptions.Metric) -> Float {
        let iw = min(a.x2, b.x2) - max(a.x1, b.x1), ih = min(a.y2, b.y2) - max(a.y1, b.y1)
        guard iw > 0, ih > 0 else { return 0 }
        let inter = iw * ih
        switch metric {
        case .iou: return inter / (a.area + b.area - inter)
        case .ios: return inter / max(min(a.area, b.area), .leastNonzeroMagnitude)
        }
    }

    /// The merged detections, best score first.
    public static func merge(_ det: Detections, _ options: SliceOptions) -> Detections {
        let order = det.scores.indices.sorted { det.scores[$0] != det.scores[$1] ? det.scores[$0] > det.scores[$1] : $0 < $1 }
        var used = [Bool](repeating: false, count: det.count)
        var out = Detections()
        var masks: [BoxMask] = []
        var keypoints: [[Keypoint]] = []
        for (n, i) in order.enumerated() where !used[i] {
            used[i] = true
            var box = det.boxes[i]
            var mask = det.masks?[i]
            for j in order[(n + 1)...] where !used[j] && det.labels[j] == det.labels[i] {
                guard match(det.boxes[i], det.boxes[j], options.metric) > options.matchThreshold else { continue }
                used[j] = true
                if options.merge == .greedy {
                    let b = det.boxes[j]
                    box = Box(min(box.x1, b.x1), min(box.y1, b.y1), max(box.x2, b.x2), max(box.y2, b.y2))
                    if let m = mask, let other = det.masks?[j] { mask = m.union(other) }
                }
            }
            out.boxes.append(box)
            out.scores.append(det.scores[i])
            out.labels.append(det.labels[i])
            if let mask { masks.append(mask) }
            if let k = det.keypoints?[i] { keypoints.append(k) }
        }
        if det.masks != nil { out.masks = masks }
        if det.keypoints != nil { out.keypoints = keypoints }
        return out
    }
}

extension BoxMask {
    /// The union of two masks of the same image, stored in the rectangle that holds both.
    public func union(_ o: BoxMask) -> BoxMask {
        precondition(imageWidth == o.imageWidth && imageHeight == o.imageHeight, "masks of different images")
        if o.width == 0 || o.height == 0 { return self }
        if width == 0 || height == 0 { return o }
        let x0 = min(self.x0, o.x0), y0 = min(self.y0, o.y0)
        let x1 = max(self.x0 + width, o.x0 + o.width), y1 = max(self.y0 + height, o.y0 + o.height)
        let w = x1 - x0, h = y1 - y0
        var bits = [UInt8](repeating: 0, count: w * h)
        for m in [self, o] {
            for row in 0..<m.height {
                let src = row * m.width, dst = (m.y0 - y0 + row) * w + (m.x0 - x0)
                for col in 0..<m.width where m.bits[src + col] != 0 { bits[dst + col] = 1 }
            }
        }
        return BoxMask(x0: x0, y0: y0, width: w, height: h, imageWidth: imageWidth, imageHeight: imageHeight, bits: bits)
    }
}
