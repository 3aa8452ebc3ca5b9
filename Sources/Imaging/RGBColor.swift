/// An 8-bit-per-channel sRGB colour (no alpha; translucency is a parameter of the drawing calls).
public struct RGBColor: Sendable, Hashable {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// From `0xRRGGBB`, e.g. `RGBColor(hex: 0xFF8000)` is orange.
    public init(hex: UInt32) {
        self.init(red: UInt8(truncatingIfNeeded: hex >> 16),
                  green: UInt8(truncatingIfNeeded: hex >> 8),
                  blue: UInt8(truncatingIfNeeded: hex))
    }

    /// From client text: `#RRGGBB` or `RRGGBB` (hex digits, either case), `white` or `black`;
    /// nil for anything else.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "white": self = .white; return
        case "black": self = .black; return
        default: break
        }
        var digits = Substring(text)
        if digits.hasPrefix("#") { digits = digits.dropFirst() }
        guard digits.count == 6, digits.allSatisfy(\.isHexDigit), let value = UInt32(digits, radix: 16) else { return nil }
        self.init(hex: value)
    }

    public static let black = RGBColor(red: 0, green: 0, blue: 0)
    public static let white = RGBColor(red: 255, green: 255, blue: 255)
    public static let red = RGBColor(red: 255, green: 0, blue: 0)
    public static let green = RGBColor(red: 0, green: 255, blue: 0)
    public static let blue = RGBColor(red: 0, green: 0, blue: 255)

    /// Relative luminance estimate in 0...255 (ITU-R BT.601 weights on the encoded values,
    /// like PIL's RGB -> L conversion).
    public var luma: Double {
        0.299 * Double(red) + 0.587 * Double(green) + 0.114 * Double(blue)
    }

    /// Black or white, whichever reads better as text on top of this colour.
    public var contrastingTextColor: RGBColor { luma > 140 ? .black : .white }

    /// `0xRRGGBB`.
    public var hex: UInt32 { UInt32(red) << 16 | UInt32(green) << 8 | UInt32(blue) }
}

extension RGBColor: CustomStringConvertible {
    /// `#RRGGBB`, as CSS writes it.
    public var description: String {
        let digits = String(hex, radix: 16, uppercase: true)
        return "#" + String(repeating: "0", count: 6 - digits.count) + digits
    }
}
