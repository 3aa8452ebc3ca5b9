/// One entry of a COCO results file: what a detector reports for one object.
///
/// JSON: `{"image_id", "category_id", "score", "bbox": [x, y, width, height]}` for box results,
/// plus or instead `"segmentation": {"size": [h, w], "counts": "..."}` for mask results, or
/// `"keypoints": [x1, y1, s1, x2, y2, s2, ...]` for keypoint results. Boxes and keypoints are
/// in original-image pixels. Encodes to the same form (absent fields are left out), so a list of
/// these written with `JSONEncoder` is a results file pycocotools reads.
public struct COCODetection: Sendable, Hashable, Codable {
    /// The image the object was found in.
    public var imageID: Int
    /// The predicted category.
    public var categoryID: Int
    /// Confidence; higher is more confident.
    public var score: Double
    /// The box, `[x, y, width, height]` in pixels.
    public var bbox: COCOBox?
    /// The mask, normally a compressed RLE of the image's size.
    public var segmentation: COCOSegmentation?
    /// Keypoints as flat `(x, y, score)` triples in the order of the category's keypoint names
    /// (the per-keypoint score is carried, not evaluated). Decoding refuses a list whose length
    /// is not a multiple of 3 or that holds a number that is not finite.
    public var keypoints: [Double]?

    /// A detection record.
    public init(imageID: Int, categoryID: Int, score: Double, bbox: COCOBox? = nil,
                segmentation: COCOSegmentation? = nil, keypoints: [Double]? = nil) {
        self.imageID = imageID
        self.categoryID = categoryID
        self.score = score
        self.bbox = bbox
        self.segmentation = segmentation
        self.keypoints = keypoints
    }

    private enum CodingKeys: String, CodingKey {
        case score, bbox, segmentation, keypoints
        case imageID = "image_id"
        case categoryID = "category_id"
    }

    public init(from decoder: Decoder) throws {
        let object = try decoder.container(keyedBy: CodingKeys.self)
        imageID = try object.decode(Int.self, forKey: .imageID)
        categoryID = try object.decode(Int.self, forKey: .categoryID)
        score = try object.decode(Double.self, forKey: .score)
        bbox = try decodeOptionalBox(object, forKey: .bbox)
        segmentation = try object.decodeIfPresent(COCOSegmentation.self, forKey: .segmentation)
        keypoints = try decodeKeypoints(object, forKey: .keypoints)
    }
}
