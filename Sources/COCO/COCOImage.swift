/// An entry of a COCO file's `images` list. Only `id`, `width` and `height` are used: the size
/// is what polygon segmentations are rasterized to.
public struct COCOImage: Sendable, Hashable, Codable {
    /// The image id that annotations refer to.
    public var id: Int
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// The image file name, when the file gives one.
    public var fileName: String?

    /// An image record.
    public init(id: Int, width: Int, height: Int, fileName: String? = nil) {
        self.id = id
        self.width = width
        self.height = height
        self.fileName = fileName
    }

    private enum CodingKeys: String, CodingKey {
        case id, width, height
        case fileName = "file_name"
    }
}

/// An entry of a COCO file's `categories` list.
///
/// Keypoint categories (such as COCO's "person") also name their keypoints, in the order the
/// annotations' `(x, y, v)` triples follow, and give a `skeleton`: pairs of 1-based keypoint
/// numbers joined by a limb, used for drawing. Decoding refuses a skeleton entry that is not a
/// pair of numbers from 1 to the keypoint count.
public struct COCOCategory: Sendable, Hashable, Codable {
    /// The category id that annotations refer to (COCO's ids run 1...90 with gaps).
    public var id: Int
    /// The class name, such as "person".
    public var name: String
    /// The parent group, such as "vehicle", when the file gives one.
    public var supercategory: String?
    /// Keypoint names in annotation order, such as "nose", "left_eye", ... (keypoint categories).
    public var keypoints: [String]?
    /// Limbs as pairs of 1-based keypoint numbers, such as `[16, 14]` (keypoint categories).
    public var skeleton: [[Int]]?

    /// A category record.
    public init(id: Int, name: String, supercategory: String? = nil, keypoints: [String]? = nil,
                skeleton: [[Int]]? = nil) {
        self.id = id
        self.name = name
        self.supercategory = supercategory
        self.keypoints = keypoints
        self.skeleton = skeleton
    }

    private enum CodingKeys: String, CodingKey {
        case id, name, supercategory, keypoints, skeleton
    }

    public init(from decoder: Decoder) throws {
        let object = try decoder.container(keyedBy: CodingKeys.self)
        id = try object.decode(Int.self, forKey: .id)
        name = try object.decodeIfPresent(String.self, forKey: .name) ?? ""
        supercategory = try object.decodeIfPresent(String.self, forKey: .supercategory)
        keypoints = try object.decodeIfPresent([String].self, forKey: .keypoints)
        skeleton = try object.decodeIfPresent([[Int]].self, forKey: .skeleton)
        for limb in skeleton ?? [] {
            let limit = keypoints?.count ?? Int.max
            guard limb.count == 2, limb.allSatisfy({ $0 >= 1 && $0 <= limit }) else {
                let range = keypoints.map { "1...\($0.count)" } ?? "numbers from 1"
                throw DecodingError.dataCorruptedError(forKey: .skeleton, in: object,
                    debugDescription: "a skeleton limb is a pair of 1-based keypoint numbers (\(range)), got \(limb)")
            }
        }
    }
}
