/// How many of a reference model's detections another run reproduces: for each reference detection,
/// best score first, the unused detection of the same class with the highest box IoU; a pair with
/// IoU at least `minimumIoU` counts as reproduced. Used to report what an int8 variant keeps of
/// its float32 model's output.
public struct DetectionAgreement: Sendable, Equatable {
    public var reference = 0
    public var reproduced = 0
    /// Detections of the other run left unpaired.
    public var extra = 0
    /// Sum of |score difference| and of IoU over reproduced pairs.
    public var scoreDifferenceSum = 0.0
    public var iouSum = 0.0

    public init() {}

    public var share: Double { reference == 0 ? 1 : Double(reproduced) / Double(reference) }
    public var meanScoreDifference: Double { reproduced == 0 ? 0 : scoreDifferenceSum / Double(reproduced) }
    public var meanIoU: Double { reproduced == 0 ? 0 : iouSum / Double(reproduced) }

    /// Adds one image's detections.
    public mutating func add(reference ref: Detections, other: Detections, minimumIoU: Float = 0.9) {
        var used = [Bool](repeating: false, count: other.count)
        let order = ref.scores.indices.sorted { ref.scores[$0] > ref.scores[$1] }
        for i in order {
            var best = -1
            var bestIoU: Float = -1
            for j in 0..<other.count where !used[j] && other.labels[j] == ref.labels[i] {
                let iou = ref.boxes[i].iou(other.boxes[j])
                if iou > bestIoU { bestIoU = iou; best = j }
            }
            reference += 1
            if best >= 0 && bestIoU >= minimumIoU {
                used[best] = true
                reproduced += 1
                scoreDifferenceSum += Double(abs(ref.scores[i] - other.scores[best]))
                iouSum += Double(bestIoU)
            }
        }
        extra += used.filter { !$0 }.count
    }
}
