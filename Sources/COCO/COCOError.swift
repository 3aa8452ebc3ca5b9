/// Errors from reading COCO files and evaluating detections. Messages name the file or the
/// annotation at fault.
public enum COCOError: Error, Equatable, CustomStringConvertible {
    /// A compressed RLE `counts` string that is not valid.
    case invalidRLEString(String)
    /// A JSON file that could not be read or is not COCO. `path` is the file, or `"<data>"`.
    case invalidFile(path: String, reason: String)
    /// Detections refer to an image the ground truth does not have (pycocotools' assertion
    /// "Results do not correspond to current coco set").
    case unknownImage(imageID: Int)
    /// An annotation lacks something the requested evaluation needs.
    case missingField(annotationID: Int, field: String)
    /// An annotation's keypoints are unusable: not `x, y, v` triples, not finite, or a count that
    /// differs from the number of OKS sigmas of its category. `reason` says which.
    case invalidKeypoints(annotationID: Int, reason: String)
    /// Evaluation settings that cannot be used, such as OKS sigmas that are not positive.
    case invalidParameters(String)

    public var description: String {
        switch self {
        case .invalidRLEString(let string):
            let shown = string.count > 40 ? String(string.prefix(40)) + "..." : string
            return "invalid compressed RLE counts string \"\(shown)\""
        case .invalidFile(let path, let reason):
            return "\(path): \(reason)"
        case .unknownImage(let imageID):
            return "results refer to image \(imageID), which is not in the ground truth"
        case .missingField(let annotationID, let field):
            return "annotation \(annotationID) has no '\(field)'"
        case .invalidKeypoints(let annotationID, let reason):
            return "annotation \(annotationID): \(reason)"
        case .invalidParameters(let reason):
            return "invalid evaluation parameters: \(reason)"
        }
    }
}
