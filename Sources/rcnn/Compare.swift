import ArgumentParser
import Detection
import Foundation
import Imaging
import Tensor

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two models' detections on the same images (an int8 variant against its float32 model).",
        discussion: """
        Runs --config (the reference) and --with on each image and prints the share of the \
        reference's detections that the other reproduces: same class, box IoU at least --iou, paired \
        best score first. A low --score-threshold compares many detections, not only the confident \
        ones.

        --features adds two measures that do not depend on how chaotic the weights are: each \
        feature-pyramid level's relative L2 error (the other model's backbone on the reference's \
        input), and the detection agreement when both models classify the reference's RPN \
        proposals (the "fast" pipeline), so that proposal ranking and NMS near-ties upstream do not \
        decide the count.
        """)

    @OptionGroup var model: ModelOptions

    @Option(name: .customLong("with"), help: "The model config to compare against the reference (--config).")
    var other: String

    @Option(name: .long, help: "Folder of JPEG or PNG images.")
    var images: String

    @Option(name: .long, help: "Images to use at most.")
    var count: Int = 20

    @Option(name: .long, help: "Score threshold for both models (default: each model's box_score_thresh).")
    var scoreThreshold: Float?

    @Option(name: .long, help: "Box IoU a pair needs to count as reproduced.")
    var iou: Float = 0.9

    @Flag(name: .long, help: "Also report per-level feature error and the agreement on the reference's proposals.")
    var features = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        guard count > 0 else { throw ValidationError("--count must be positive") }
        guard iou > 0 && iou <= 1 else { throw ValidationError("--iou must be in (0, 1]") }
        if let s = scoreThreshold, !(s >= 0 && s <= 1) { throw ValidationError("--score-threshold must be in [0, 1]") }
        let reference = try model.loadModel()
        let candidate: DetectionModel
        do { candidate = try DetectionModel(configURL: URL(fileURLWithPath: other)) } catch { throw ValidationError("\(error)") }
        let files = try Calibrate.imageFiles(in: images).prefix(count)
        guard !files.isEmpty else { throw ValidationError("\(images): no .jpg, .jpeg or .png files") }
        var options = DetectionModel.Options(scoreThreshold: scoreThreshold)
        options.masks = false
        options.keypoints = false
        var agreement = DetectionAgreement()
        var featureAgreement = FeatureAgreement()
        var sameProposals = DetectionAgreement()
        var referenceMs = 0.0, candidateMs = 0.0
        for (index, file) in files.enumerated() {
            let image: RGBImage
            do { image = try ImageDecoder.decode(try Data(contentsOf: file)) } catch {
                throw ValidationError("\(file.path): \(error)")
            }
            if index == 0 {  // untimed warm-up of both: the first call faults in memory and builds caches
                _ = reference.detect(image, options: options)
                _ = candidate.detect(image, options: options)
            }
            let a = reference.detect(image, options: options)
            let b = candidate.detect(image, options: options)
            referenceMs += a.timings.totalMs
            candidateMs += b.timings.totalMs
            agreement.add(reference: a.detections, other: b.detections, minimumIoU: iou)
            if features {
                let input = reference.preprocessor(image)
                let fa = reference.backbone(input.batch)
                do { try featureAgreement.add(reference: fa, other: candidate.backbone(input.batch)) } catch {
                    throw ValidationError("\(file.path): \(error)")
                }
                let proposals = reference.rpn.proposals(reference.rpn.head(fa.maps), paddedSize: input.padded,
                                                        imageSize: input.resized).boxes
                var fast = options
                fast.pipeline = .fast
                fast.proposals = DetectionModel.mapBack(proposals, resized: input.resized, original: input.original)
                sameProposals.add(reference: reference.detect(image, options: fast).detections,
                                  other: candidate.detect(image, options: fast).detections, minimumIoU: iou)
            }
        }
        if json {
            var out: [String: Any] = [
                "reference": reference.name, "other": candidate.name, "images": files.count,
                "reference_detections": agreement.reference, "reproduced": agreement.reproduced,
                "share": agreement.share, "extra": agreement.extra, "mean_iou": agreement.meanIoU,
                "mean_score_difference": agreement.meanScoreDifference, "iou_threshold": Double(iou),
                "reference_ms": referenceMs / Double(files.count), "other_ms": candidateMs / Double(files.count),
            ]
            if features {
                out["feature_levels"] = featureAgreement.levels.map {
                    ["name": $0.name, "relative_error": $0.relativeError, "worst_image_relative_error": $0.worstImage] as [String: Any]
                }
                out["same_proposals"] = ["reference_detections": sameProposals.reference, "reproduced": sameProposals.reproduced,
                                         "share": sameProposals.share, "mean_iou": sameProposals.meanIoU,
                                         "mean_score_difference": sameProposals.meanScoreDifference] as [String: Any]
            }
            let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "%@ reproduces %d of %@'s %d detections (%.1f%%; class and box IoU >= %.2f) on %d images; %d unpaired of its own; mean IoU %.4f, mean |score difference| %.4f; %.0f ms against %.0f ms per image (%.2fx)",
                         candidate.name, agreement.reproduced, reference.name, agreement.reference, 100 * agreement.share, iou,
                         files.count, agreement.extra, agreement.meanIoU, agreement.meanScoreDifference,
                         candidateMs / Double(files.count), referenceMs / Double(files.count), candidateMs / max(1e-9, referenceMs)))
            if features {
                print("feature relative L2 error (pooled; worst image): " + featureAgreement.levels.map {
                    String(format: "%@ %.4f (%.4f)", $0.name, $0.relativeError, $0.worstImage)
                }.joined(separator: ", "))
                print(String(format: "on %@'s RPN proposals: reproduces %d of %d detections (%.1f%%), mean IoU %.4f, mean |score difference| %.4f",
                             reference.name, sameProposals.reproduced, sameProposals.reference, 100 * sameProposals.share,
                             sameProposals.meanIoU, sameProposals.meanScoreDifference))
            }
        }
    }
}
