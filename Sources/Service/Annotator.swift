import Detection
import Imaging

/// Draws detections onto a copy of the image: translucent masks first, then each box with a
/// "label score" tag, one colour per class, then poses: the skeleton's lines between keypoints
/// scoring above `keypointThreshold`, and those keypoints as dots.
public enum Annotator {
    public static func draw(_ image: RGBImage, _ det: Detections, classes: [String], maskAlpha: Double = 0.45,
                            skeleton: [[Int]] = [], keypointThreshold: Float = 0) -> RGBImage {
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
        if let keypoints = det.keypoints {
            let line = Float(max(2, scale)), radius = Float(max(2, scale)) + 1
            for (i, points) in keypoints.enumerated() {
                let color = ColorPalette.color(forClass: det.labels[i])
                let shown = points.map { $0.score > keypointThreshold }
                for pair in skeleton where pair.count == 2 && pair.allSatisfy({ points.indices.contains($0) }) {
                    guard shown[pair[0]] && shown[pair[1]] else { continue }
                    let a = points[pair[0]], b = points[pair[1]]
                    canvas.drawLine(x0: a.x, y0: a.y, x1: b.x, y1: b.y, color: color, thickness: line)
                }
                for (p, show) in zip(points, shown) where show {
                    // A white rim keeps the dot visible on its own colour.
                    canvas.fillDisc(cx: p.x, cy: p.y, radius: radius + 1, color: RGBColor(red: 255, green: 255, blue: 255))
                    canvas.fillDisc(cx: p.x, cy: p.y, radius: radius, color: color)
                }
            }
        }
        return canvas
    }
}

import Foundation
