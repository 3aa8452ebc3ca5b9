import Foundation

/// A COCO dataset in memory: images, annotations and categories, as in an `instances.json`
/// file, with the lookups pycocotools' `COCO.createIndex` builds.
///
/// Immutable once made, so safe to share between threads. Where ids repeat, lookups by id
/// return the last record with that id, as pycocotools' dictionaries do.
public struct COCODataset: Sendable {
    /// The `images` list, in file order.
    public let images: [COCOImage]
    /// The `annotations` list, in file order.
    public let annotations: [COCOAnnotation]
    /// The `categories` list, in file order.
    public let categories: [COCOCategory]

    /// Position in `images` of each image id.
    let imagePositions: [Int: Int]
    /// Position in `annotations` of each annotation id.
    let annotationPositions: [Int: Int]

    /// A dataset from records already in memory.
    public init(images: [COCOImage], annotations: [COCOAnnotation], categories: [COCOCategory]) {
        self.images = images
        self.annotations = annotations
        self.categories = categories
        var imagePositions: [Int: Int] = [:]
        for (position, image) in images.enumerated() { imagePositions[image.id] = position }
        var annotationPositions: [Int: Int] = [:]
        for (position, annotation) in annotations.enumerated() { annotationPositions[annotation.id] = position }
        self.imagePositions = imagePositions
        self.annotationPositions = annotationPositions
    }

    /// Reads a COCO annotation file such as `instances_val2017.json`.
    /// - Throws: `COCOError.invalidFile` naming the file and, for a bad record, where it is.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw COCOError.invalidFile(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        try self.init(jsonData: data, path: url.path)
    }

    /// Parses the JSON of a COCO annotation file; `path` only names the source in errors.
    public init(jsonData: Data, path: String = "<data>") throws {
        let file = try decodeJSON(File.self, from: jsonData, path: path)
        self.init(images: file.images ?? [], annotations: file.annotations ?? [],
                  categories: file.categories ?? [])
    }

    /// The image with this id, if any.
    public func image(id: Int) -> COCOImage? {
        imagePositions[id].map { images[$0] }
    }

    /// The annotation with this id, if any.
    public func annotation(id: Int) -> COCOAnnotation? {
        annotationPositions[id].map { annotations[$0] }
    }

    /// Every image id, sorted, without repeats (the default images to evaluate).
    public var imageIDs: [Int] { Array(imagePositions.keys).sorted() }

    /// Every category id, sorted, without repeats (the default categories to evaluate).
    public var categoryIDs: [Int] { Array(Set(categories.map(\.id))).sorted() }

    /// The top-level layout of an annotation file; every key is optional, as in pycocotools.
    private struct File: Decodable {
        var images: [COCOImage]?
        var annotations: [COCOAnnotation]?
        var categories: [COCOCategory]?
    }
}

/// Decodes JSON, turning a decoding failure into a `COCOError.invalidFile` that says where in the
/// file the problem is (for example `annotations[12].bbox`).
func decodeJSON<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch let error as DecodingError {
        throw COCOError.invalidFile(path: path, reason: describe(error))
    } catch {
        throw COCOError.invalidFile(path: path, reason: "\(error)")
    }
}

private func describe(_ error: DecodingError) -> String {
    func location(_ path: [CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text.isEmpty ? "top level" : text
    }
    switch error {
    case .keyNotFound(let key, let context):
        return "\(location(context.codingPath + [key])): missing"
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
        return "\(location(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}
