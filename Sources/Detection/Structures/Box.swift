/// An axis-aligned box `[x1, y1, x2, y2]` in pixels (x right, y down), float32 like torchvision.
public struct Box: Sendable, Equatable, Hashable, Codable {
    public var x1: Float, y1: Float, x2: Float, y2: Float

    public init(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2
    }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    /// `(x2 - x1) * (y2 - y1)`, torchvision's `box_area` (no +1).
    public var area: Float { (x2 - x1) * (y2 - y1) }

    /// Intersection over union, as torchvision's `box_iou` computes it.
    public func iou(_ o: Box) -> Float {
        let w = max(0, min(x2, o.x2) - max(x1, o.x1))
        let h = max(0, min(y2, o.y2) - max(y1, o.y1))
        let inter = w * h
        return inter / (area + o.area - inter)
    }

    /// Clamped to `[0, width] x [0, height]` (torchvision `clip_boxes_to_image`).
    public func clipped(width: Float, height: Float) -> Box {
        Box(min(max(x1, 0), width), min(max(y1, 0), height), min(max(x2, 0), width), min(max(y2, 0), height))
    }

    public var array: [Float] { [x1, y1, x2, y2] }

    // Codable as a plain 4-element array, the JSON API's box format.
    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        self.init(try c.decode(Float.self), try c.decode(Float.self), try c.decode(Float.self), try c.decode(Float.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(x1); try c.encode(y1); try c.encode(x2); try c.encode(y2)
    }
}
