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
public struct COCOCategory: Sendable, Hashable, Codable {
    /// The category id that annotations refer to (COCO's ids run 1...90 with gaps).
    public var id: Int
    /// The class name, such as "person".
    public var name: String
    /// The parent group, such as "vehicle", when the file gives one.
    public var supercategory: String?

    /// A category record.
    public init(id: Int, name: String, supercategory: String? = nil) {
        self.id = id
        self.name = name
        self.supercategory = supercategory
    }

    public init(from decoder: Decoder) throws {
        let object = try decoder.container(keyedBy: CodingKeys.self)
        id = try object.decode(Int.self, forKey: .id)
        name = try object.decodeIfPresent(String.self, forKey: .name) ?? ""
        supercategory = try object.decodeIfPresent(String.self, forKey: .supercategory)
    }
}
