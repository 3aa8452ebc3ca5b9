/// COCO's person keypoints in the order torchvision's `keypointrcnn_resnet50_fpn` predicts them, the
/// skeleton joining them (0-based index pairs) and the per-keypoint sigmas of COCO's OKS.
enum COCOKeypoints {
    static let names = [
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
        "right_knee", "left_ankle", "right_ankle",
    ]
    static let skeleton = [
        [15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7], [6, 8], [7, 9],
        [8, 10], [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6],
    ]
    static let sigmas = [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
                         0.107, 0.107, 0.087, 0.087, 0.089, 0.089]
}
