import ArgumentParser
import Detection
import Foundation

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a model config: architecture, classes, sizes.")

    @OptionGroup var model: ModelOptions

    func run() throws {
        let url = try model.configURL()
        let c: ModelConfig
        do { c = try ModelConfig.load(url) } catch { throw ValidationError("\(error)") }
        print("\(c.name): \(c.architecture), \(c.task), \(c.classes.count) classes, min_size \(c.transform.minSize), max_size \(c.transform.maxSize)")
        print("weights: \(c.weights) sha256 \(c.weightsSha256 ?? "-")")
        if let q = c.quantization {
            let source = q.calibration.map { " calibrated from \($0.source) on \($0.images) images (\($0.method))" } ?? ""
            let joins = q.int8Joins ? ", int8 residual joins" : ""
            print("precision: int8, \(q.layers.count) int8 layers (\(q.effectiveWeightBits)-bit weights, \(q.effectiveActivationBits)-bit activations\(joins)), \(q.floatLayers?.count ?? 0) float32 layers\(q.floatWeightsSummary)\(source)")
        } else {
            print("precision: float32")
        }
        if let k = c.keypointPredictor {
            let names = c.keypointNames ?? (0..<k.numKeypoints).map { "keypoint_\($0)" }
            print("keypoints (\(names.count)): \(names.joined(separator: ", "))")
            let skeleton = c.keypointSkeleton ?? []
            if !skeleton.isEmpty {
                print("skeleton: " + skeleton.map { "\(names[$0[0]])-\(names[$0[1]])" }.joined(separator: ", "))
            }
        }
    }
}
