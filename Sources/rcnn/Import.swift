import ArgumentParser
import Foundation
import TorchImport

/// `rcnn import`: a torchvision checkpoint in, the project's model files out, no Python needed.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a torchvision Faster/Mask R-CNN checkpoint (.pth: zip or legacy torch.save, a training checkpoint, or .safetensors) as NAME.json + NAME.safetensors.",
        discussion: """
            The output is what Tools/convert_torchvision.py writes for the same checkpoint (same tensors, \
            bit for bit; same config apart from "producer"); serve it with `rcnn serve --model DIR/NAME.json` \
            or copy it into Config/models. The checkpoint's pickle is read by a reader that builds only \
            tensors and plain containers: a file that names any other Python object is refused, never run.
            Architectures: \(TorchvisionArchitecture.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @Option(name: .long, help: "The architecture the checkpoint was trained as.")
    var arch: String

    @Argument(help: "The checkpoint file.")
    var checkpoint: String

    @Option(name: .long, help: "Model name; the files are NAME.json and NAME.safetensors.")
    var name: String

    @Option(name: .long, help: "Output directory.")
    var out: String

    @Option(name: .long, help: "Class names, one per line (num_classes lines, or num_classes-1 without the background). Default: COCO's names when num_classes is 91, else class_N.")
    var classes: String?

    @Option(name: .long, help: "Keypoint names, one per line (keypoint models). Default: COCO's person keypoints and skeleton for 17, keypoint_N otherwise.")
    var keypointNames: String?
    @Option(name: .long, help: "Shorter image side the model resizes to (builder default if omitted).") var minSize: Int?
    @Option(name: .long, help: "Longer image side limit.") var maxSize: Int?
    @Option(name: .long, help: "RPN boxes kept per level before NMS.") var rpnPreNmsTopNTest: Int?
    @Option(name: .long, help: "RPN boxes kept after NMS.") var rpnPostNmsTopNTest: Int?
    @Option(name: .long, help: "RPN NMS IoU threshold.") var rpnNmsThresh: Double?
    @Option(name: .long, help: "RPN objectness threshold.") var rpnScoreThresh: Double?
    @Option(name: .long, help: "Detection score threshold.") var boxScoreThresh: Double?
    @Option(name: .long, help: "Per-class NMS IoU threshold.") var boxNmsThresh: Double?
    @Option(name: .long, help: "Detections kept per image.") var boxDetectionsPerImg: Int?
    @Option(name: .long, help: "Backbone batch-norm eps (0 matches torchvision's v1 ResNet-50 COCO weights, which it runs with overwrite_eps 0).")
    var backboneBnEps: Double?

    @Flag(name: .long, help: "Do not check torchvision's NAME-<sha256 prefix>.pth file-name hash.")
    var noVerifyHash = false

    func run() throws {
        guard let architecture = TorchvisionArchitecture(rawValue: arch) else {
            throw ValidationError("unknown --arch \(arch); expected one of \(TorchvisionArchitecture.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for (flag, v) in [("--min-size", minSize), ("--max-size", maxSize), ("--rpn-pre-nms-top-n-test", rpnPreNmsTopNTest),
                          ("--rpn-post-nms-top-n-test", rpnPostNmsTopNTest), ("--box-detections-per-img", boxDetectionsPerImg)] {
            if let v, v < 1 { throw ValidationError("\(flag) must be at least 1") }
        }
        var request = TorchvisionImporter.Request(
            arch: architecture, checkpoint: URL(fileURLWithPath: checkpoint), name: name,
            outputDirectory: URL(fileURLWithPath: out))
        request.classesFile = classes.map { URL(fileURLWithPath: $0) }
        request.keypointNamesFile = keypointNames.map { URL(fileURLWithPath: $0) }
        request.minSize = minSize
        request.maxSize = maxSize
        request.rpnPreNmsTopNTest = rpnPreNmsTopNTest
        request.rpnPostNmsTopNTest = rpnPostNmsTopNTest
        request.rpnNmsThresh = rpnNmsThresh
        request.rpnScoreThresh = rpnScoreThresh
        request.boxScoreThresh = boxScoreThresh
        request.boxNmsThresh = boxNmsThresh
        request.boxDetectionsPerImg = boxDetectionsPerImg
        request.backboneBnEps = backboneBnEps
        request.verifyFileNameHash = !noVerifyHash
        let result: TorchvisionImporter.Result
        do {
            result = try TorchvisionImporter.run(request)
        } catch let e as CheckpointError {
            FileHandle.standardError.write(Data("error: \(checkpoint): \(e.message)\n".utf8))
            throw ExitCode(2)
        }
        for note in result.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        let mib = Double(result.valueCount * 4) / 1_048_576
        print("\(name): \(arch) from a \(result.format.rawValue) (state dict at \(result.location)), \(result.classes.count) classes")
        print("  wrote \(result.configURL.path)")
        print("  wrote \(result.weightsURL.path): \(result.tensorCount) tensors, \(String(format: "%.2f", Double(result.valueCount) / 1e6)) M values, \(String(format: "%.1f", mib)) MiB, sha256 \(result.weightsSha256)")
    }
}
