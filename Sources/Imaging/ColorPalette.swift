/// Deterministic, well-separated colours for class ids, so that the same class gets the same
/// colour in every response, every process and every run.
///
/// Colour `i` has hue `frac(i * φ⁻¹)` turns (the golden-ratio sequence, which keeps consecutive
/// ids far apart on the colour wheel), with saturation and value alternating between two levels
/// so that ids whose hues come close still differ in brightness. Class 0 (the "background"
/// class of torchvision's COCO models) is grey.
public enum ColorPalette {
    /// The colour for class id `classIndex` (any integer; negative ids are mirrored).
    public static func color(forClass classIndex: Int) -> RGBColor {
        if classIndex == 0 { return RGBColor(red: 128, green: 128, blue: 128) }
        let index = classIndex.magnitude
        let goldenRatioConjugate = 0.618_033_988_749_894_9
        var hue = (Double(index) * goldenRatioConjugate).truncatingRemainder(dividingBy: 1)
        if hue < 0 { hue += 1 }
        let saturation = index % 2 == 0 ? 0.65 : 0.90
        let value = index % 3 == 0 ? 0.80 : 0.95
        return hsvToRGB(hue: hue, saturation: saturation, value: value)
    }

    /// The first `count` class colours, for legends.
    public static func colors(count: Int) -> [RGBColor] {
        (0..<max(count, 0)).map { color(forClass: $0) }
    }

    /// HSV (each in 0...1, hue in turns) to 8-bit RGB, rounding to nearest.
    static func hsvToRGB(hue: Double, saturation: Double, value: Double) -> RGBColor {
        let sector = hue * 6
        let whole = Int(sector) % 6
        let fraction = sector - Double(Int(sector))
        let p = value * (1 - saturation)
        let q = value * (1 - saturation * fraction)
        let t = value * (1 - saturation * (1 - fraction))
        let (r, g, b): (Double, Double, Double)
        switch whole {
        case 0: (r, g, b) = (value, t, p)
        case 1: (r, g, b) = (q, value, p)
        case 2: (r, g, b) = (p, value, t)
        case 3: (r, g, b) = (p, q, value)
        case 4: (r, g, b) = (t, p, value)
        default: (r, g, b) = (value, p, q)
        }
        func byte(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (v * 255).rounded()))) }
        return RGBColor(red: byte(r), green: byte(g), blue: byte(b))
    }
}
