/// torchvision's upgrades of old state-dict names, applied where its modules apply them
/// (`_load_from_state_dict` of modules whose `_version` is 2): a checkpoint whose `_metadata` gives
/// the module no version, or a version below 2, has its old names renamed. Published checkpoints
/// saved before torchvision 0.13 (the 2019 COCO weights among them) use the old names.
enum LegacyNames {
    static func upgrade(_ tensors: [TorchCheckpoint.Entry], arch: TorchvisionArchitecture, versions: [String: Int]) -> [TorchCheckpoint.Entry] {
        var renames: [String: String] = [:]
        func old(_ module: String) -> Bool { (versions[module] ?? 0) < 2 }
        if old("rpn.head") {
            for t in ["weight", "bias"] { renames["rpn.head.conv.\(t)"] = "rpn.head.conv.0.0.\(t)" }
        }
        let fpnBlocks: Int
        switch arch.body {
        case .resnet50: fpnBlocks = 4
        case .mobileNetV3Large: fpnBlocks = 2
        case .vgg16: fpnBlocks = 0
        }
        if fpnBlocks > 0, old("backbone.fpn") {
            for block in ["inner_blocks", "layer_blocks"] {
                for i in 0..<fpnBlocks {
                    for t in ["weight", "bias"] { renames["backbone.fpn.\(block).\(i).\(t)"] = "backbone.fpn.\(block).\(i).0.\(t)" }
                }
            }
        }
        if arch.hasMasks, old("roi_heads.mask_head") {
            for i in 0..<4 {
                for t in ["weight", "bias"] { renames["roi_heads.mask_head.mask_fcn\(i + 1).\(t)"] = "roi_heads.mask_head.\(i).0.\(t)" }
            }
        }
        return tensors.map { t in
            guard let new = renames[t.name] else { return t }
            return TorchCheckpoint.Entry(name: new, dtype: t.dtype, shape: t.shape, values: t.values)
        }
    }
}
