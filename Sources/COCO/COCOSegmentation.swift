/// The `segmentation` of a COCO annotation: polygons, or a run-length encoded mask.
///
/// JSON forms accepted: a list of polygons `[[x0, y0, x1, y1, ...], ...]` in pixel coordinates,
/// an uncompressed RLE `{"size": [h, w], "counts": [Int]}` (used for crowd regions), or a
/// compressed RLE `{"size": [h, w], "counts": "string"}`. Both RLE forms decode to `.rle`; it is
/// always written back compressed, which pycocotools reads as the same mask.
public enum COCOSegmentation: Sendable, Hashable, Codable {
    /// One or more polygon parts of one object, each `[x0, y0, x1, y1, ...]`.
    case polygons([[Double]])
    /// A run-length encoded mask; its size comes from the RLE object, not from the image.
    case rle(RLE)

    /// The mask for an image of the given size, as `COCO.annToRLE` computes it: polygon parts
    /// are rasterized with `RLE(polygon:)` and unioned; an RLE is returned unchanged.
    public func rle(imageHeight: Int, imageWidth: Int) -> RLE {
        switch self {
        case .polygons(let parts):
            return RLE(polygons: parts, height: imageHeight, width: imageWidth)
        case .rle(let rle):
            return rle
        }
    }

    private enum Keys: String, CodingKey { case size, counts }

    public init(from decoder: Decoder) throws {
        if var list = try? decoder.unkeyedContainer() {
            var parts: [[Double]] = []
            while !list.isAtEnd { parts.append(try list.decode([Double].self)) }
            self = .polygons(parts)
            return
        }
        let object = try decoder.container(keyedBy: Keys.self)
        let size = try object.decode([Int].self, forKey: .size)
        guard size.count == 2, size[0] >= 0, size[1] >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .size, in: object,
                debugDescription: "RLE size must be [height, width], got \(size)")
        }
        if let string = try? object.decode(String.self, forKey: .counts) {
            do {
                self = .rle(try RLE(compressedCounts: string, height: size[0], width: size[1]))
            } catch {
                throw DecodingError.dataCorruptedError(forKey: .counts, in: object,
                    debugDescription: "\(error)")
            }
        } else {
            let counts = try object.decode([UInt32].self, forKey: .counts)
            self = .rle(RLE(height: size[0], width: size[1], counts: counts))
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .polygons(let parts):
            var list = encoder.unkeyedContainer()
            try list.encode(contentsOf: parts)
        case .rle(let rle):
            var object = encoder.container(keyedBy: Keys.self)
            try object.encode([rle.height, rle.width], forKey: .size)
            try object.encode(rle.compressedCounts, forKey: .counts)
        }
    }
}
