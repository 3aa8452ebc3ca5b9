import Detection
import Imaging

/// Draws detections onto a copy of the image: translucent masks first, then each box with a
/// "label score" tag, one colour per class.
public enum Annotator {
    public static func draw(_ image: RGBImage, _ det: Detections, classes: [String], maskAlpha: Double = 0.45) -> RGBImage {
        var canvas = image
        if let masks = det.masks {
            for (i, m) in masks.enumerated() {
                canvas.blendMask(m.bits, x: m.x0, y: m.y0, regionWidth: m.width, regionHeight: m.height,
                                 color: ColorPalette.color(forClass: det.labels[i]), alpha: maskAlpha)
            }
        }
        let scale = max(1, min(image.width, image.height) / 400)
        for i in 0..<det.count {
            let b = det.boxes[i]
            let name = det.labels[i] < classes.count ? classes[det.labels[i]] : "class_\(det.labels[i])"
            let text = "\(name) \(String(format: "%.2f", det.scores[i]))"
            canvas.drawDetection(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, label: text,
                                 color: ColorPalette.color(forClass: det.labels[i]), thickness: max(2, scale), scale: scale)
        }
        return canvas
    }
}

import Foundation
