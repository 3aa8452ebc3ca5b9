import Foundation
import Tensor

/// How a model's heads turn boxes into fixed-size features, chosen by the config's
/// `box_roi_pool.type` / `mask_roi_pool.type`: RoIAlign over the pyramid (Mask R-CNN and
/// torchvision's default) or RoI max pooling of one map (Fast R-CNN, section 2.1).
/// Immutable; thread-safe.
public enum RoIPooler: Sendable {
    case align(MultiScaleRoIAlign)
    /// RoI max pooling of `featmapName`; `spatialScale` nil infers the map's power-of-two scale.
    case max(featmapName: String, outputSize: Int, spatialScale: Float?)

    public init(config: ModelConfig.RoIPoolConfig) {
        if config.type == "roi_pool" {
            self = .max(featmapName: config.featmapNames[0], outputSize: config.outputSize,
                        spatialScale: config.spatialScale.map { Float($0) })
        } else {
            self = .align(MultiScaleRoIAlign(config: config))
        }
    }

    /// Pools `boxes` (resized-image coordinates) into `[boxes.count, C, outputSize, outputSize]`.
    public func callAsFunction(_ features: FeatureMaps, boxes: [Box], imageSize: (h: Int, w: Int)) -> Tensor {
        switch self {
        case .align(let a):
            return a(features, boxes: boxes, imageSize: imageSize)
        case .max(let name, let size, let scale):
            let map = features[name]!
            let s = scale ?? MultiScaleRoIAlign.inferScale(featureSize: map.shape[2], imageSize: imageSize.h)
            return RoIPool.callAsFunction(map, boxes: boxes, outputH: size, outputW: size, spatialScale: s)
        }
    }
}
