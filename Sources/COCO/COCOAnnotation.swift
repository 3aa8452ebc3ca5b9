/// One object instance of a COCO dataset: a ground-truth annotation from `instances.json`, or a
/// detection after `COCODataset.loadResults` (which gives it an id, area and `score`).
///
/// Boxes are `[x, y, width, height]` in pixels. `area` is taken from the file as is (COCO's
/// ground-truth areas are polygon areas, not box areas); it decides which area range an object
/// falls in. The file's `ignore` key is not read: pycocotools overwrites it with `iscrowd`
/// before use, so crowd regions are exactly the ignored ground truths.
public struct COCOAnnotation: Sendable, Hashable, Codable {
    /// Annotation id (for detections, 1...N in file order).
    public var id: Int
    /// The image this object is in.
    public var imageID: Int
    /// The object's category.
    public var categoryID: Int
    /// The box; required for box evaluation.
    public var bbox: COCOBox?
    /// Area in pixels, used for the small/medium/large ranges.
    public var area: Double
    /// A crowd region: ignored as ground truth, and overlap with it is measured against the
    /// detection's own area.
    public var isCrowd: Bool
    /// The mask; required for mask (segm) evaluation.
    public var segmentation: COCOSegmentation?
    /// Confidence, for detections only.
    public var score: Double?

    /// An annotation record.
    public init(id: Int, imageID: Int, categoryID: Int, bbox: COCOBox?, area: Double,
                isCrowd: Bool = false, segmentation: COCOSegmentation? = nil, score: Double? = nil) {
        self.id = id
        self.imageID = imageID
        self.categoryID = categoryID
        self.bbox = bbox
        self.area = area
        self.isCrowd = isCrowd
        self.segmentation = segmentation
        self.score = score
    }

    private enum CodingKeys: String, CodingKey {
        case id, bbox, area, segmentation, score
        case imageID = "image_id"
        case categoryID = "category_id"
        case isCrowd = "iscrowd"
    }

    public init(from decoder: Decoder) throws {
        let object = try decoder.container(keyedBy: CodingKeys.self)
        id = try object.decode(Int.self, forKey: .id)
        imageID = try object.decode(Int.self, forKey: .imageID)
        categoryID = try object.decode(Int.self, forKey: .categoryID)
        bbox = try decodeOptionalBox(object, forKey: .bbox)
        area = try object.decode(Double.self, forKey: .area)
        // COCO writes 0/1; some tools write false/true.
        if let flag = try? object.decodeIfPresent(Bool.self, forKey: .isCrowd) {
            isCrowd = flag
        } else {
            isCrowd = try (object.decodeIfPresent(Int.self, forKey: .isCrowd) ?? 0) != 0
        }
        segmentation = try object.decodeIfPresent(COCOSegmentation.self, forKey: .segmentation)
        score = try object.decodeIfPresent(Double.self, forKey: .score)
    }

    public func encode(to encoder: Encoder) throws {
        var object = encoder.container(keyedBy: CodingKeys.self)
        try object.encode(id, forKey: .id)
        try object.encode(imageID, forKey: .imageID)
        try object.encode(categoryID, forKey: .categoryID)
        try object.encodeIfPresent(bbox, forKey: .bbox)
        try object.encode(area, forKey: .area)
        try object.encode(isCrowd ? 1 : 0, forKey: .isCrowd)
        try object.encodeIfPresent(segmentation, forKey: .segmentation)
        try object.encodeIfPresent(score, forKey: .score)
    }
}

/// A `bbox` key that may be absent, `null`, or `[]` (all meaning no box), or 4 numbers.
func decodeOptionalBox<K: CodingKey>(_ object: KeyedDecodingContainer<K>, forKey key: K) throws -> COCOBox? {
    guard let values = try object.decodeIfPresent([Double].self, forKey: key), !values.isEmpty else {
        return nil
    }
    guard let box = COCOBox(values) else {
        throw DecodingError.dataCorruptedError(forKey: key, in: object,
            debugDescription: "a COCO bbox needs 4 numbers [x, y, width, height], got \(values.count)")
    }
    return box
}
