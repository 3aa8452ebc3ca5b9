/// One entry of a COCO results file: what a detector reports for one object.
///
/// JSON: `{"image_id", "category_id", "score", "bbox": [x, y, width, height]}` for box results,
/// plus or instead `"segmentation": {"size": [h, w], "counts": "..."}` for mask results. Boxes are
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

    /// A detection record.
    public init(imageID: Int, categoryID: Int, score: Double, bbox: COCOBox? = nil,
                segmentation: COCOSegmentation? = nil) {
        self.imageID = imageID
        self.categoryID = categoryID
        self.score = score
        self.bbox = bbox
        self.segmentation = segmentation
    }

    private enum CodingKeys: String, CodingKey {
        case score, bbox, segmentation
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
    }
}
