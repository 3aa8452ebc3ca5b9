/// One predicted keypoint: its position in image pixels and the heatmap logit at it (torchvision's
/// `keypoints_scores`; not a probability).
public struct Keypoint: Sendable, Equatable {
    public var x: Float
    public var y: Float
    public var score: Float

    public init(x: Float, y: Float, score: Float) {
        self.x = x
        self.y = y
        self.score = score
    }
}
