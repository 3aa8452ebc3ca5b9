/// Detections of one image as struct-of-arrays: `boxes[i]`, `scores[i]`, `labels[i]` and, for mask
/// models, `masks[i]` and, for keypoint models, `keypoints[i]` describe detection `i`. Boxes are `[x1, y1, x2, y2]` in original-image pixels;
/// masks are binary and stored over their (expanded, clipped) boxes only (`BoxMask`).
public struct Detections: Sendable {
    public var boxes: [Box] = []
    public var scores: [Float] = []
    public var labels: [Int] = []
    public var masks: [BoxMask]? = nil
    /// Mask probabilities of the predicted class before pasting, `[28 * 28]` each (mask models).
    public var maskProbabilities: [[Float]]? = nil
    /// Keypoints of each detection in the model's keypoint order (keypoint models).
    public var keypoints: [[Keypoint]]? = nil

    public init() {}

    public var count: Int { boxes.count }

    /// The detections at `indices`, all fields together.
    public func select(_ indices: [Int]) -> Detections {
        var d = Detections()
        d.boxes = indices.map { boxes[$0] }
        d.scores = indices.map { scores[$0] }
        d.labels = indices.map { labels[$0] }
        d.masks = masks.map { m in indices.map { m[$0] } }
        d.maskProbabilities = maskProbabilities.map { m in indices.map { m[$0] } }
        d.keypoints = keypoints.map { k in indices.map { k[$0] } }
        return d
    }
}
