/// One object instance of a COCO dataset: a ground-truth annotation from `instances.json`, or a
/// detection after `COCODataset.loadResults` (which gives it an id, area and `score`).
///
/// Boxes are `[x, y, width, height]` in pixels. `area` is taken from the file as is (COCO's
/// ground-truth areas are polygon areas, not box areas); it decides which area range an object
/// falls in. The file's `ignore` key is not read: pycocotools overwrites it with `iscrowd`
/// before use, so crowd regions are exactly the ignored ground truths (for keypoint evaluation,
/// ground truths with `num_keypoints` 0 are ignored as well).
///
/// Keypoints are a flat list of `(x, y, v)` triples in pixels, in the order of the category's
/// `keypoints` names. For ground truth `v` is COCO's visibility flag (0 not labelled, 1 labelled
/// but hidden, 2 visible; only `v > 0` counts); for detections the third value is a score that
/// evaluation does not read. Decoding refuses a list whose length is not a multiple of 3 or that
/// holds a number that is not finite.
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
    /// Keypoints as flat `(x, y, v)` triples; required for keypoint evaluation.
    public var keypoints: [Double]?
    /// The file's `num_keypoints`: how many keypoints are labelled. Keypoint evaluation ignores a
    /// ground truth whose count is 0, as pycocotools does (it reads this field, not the flags).
    public var numKeypoints: Int?

    /// An annotation record.
    public init(id: Int, imageID: Int, categoryID: Int, bbox: COCOBox?, area: Double,
                isCrowd: Bool = false, segmentation: COCOSegmentation? = nil, score: Double? = nil,
                keypoints: [Double]? = nil, numKeypoints: Int? = nil) {
        self.id = id
        self.imageID = imageID
        self.categoryID = categoryID
        self.bbox = bbox
        self.area = area
        self.isCrowd = isCrowd
        self.segmentation = segmentation
        self.score = score
        self.keypoints = keypoints
        self.numKeypoints = numKeypoints
    }

    private enum CodingKeys: String, CodingKey {
        case id, bbox, area, segmentation, score, keypoints
        case numKeypoints = "num_keypoints"
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
        keypoints = try decodeKeypoints(object, forKey: .keypoints)
        numKeypoints = try object.decodeIfPresent(Int.self, forKey: .numKeypoints)
        if let count = numKeypoints, count < 0 {
            throw DecodingError.dataCorruptedError(forKey: .numKeypoints, in: object,
                debugDescription: "num_keypoints must not be negative, got \(count)")
        }
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
        try object.encodeIfPresent(keypoints, forKey: .keypoints)
        try object.encodeIfPresent(numKeypoints, forKey: .numKeypoints)
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

/// A `keypoints` key that may be absent or `null`, or a list of `(x, y, v)` triples of finite
/// numbers.
func decodeKeypoints<K: CodingKey>(_ object: KeyedDecodingContainer<K>, forKey key: K) throws -> [Double]? {
    guard let values = try object.decodeIfPresent([Double].self, forKey: key) else { return nil }
    if let problem = ObjectKeypointSimilarity.problem(with: values) {
        throw DecodingError.dataCorruptedError(forKey: key, in: object, debugDescription: problem)
    }
    return values
}
