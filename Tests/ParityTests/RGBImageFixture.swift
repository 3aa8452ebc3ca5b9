import Imaging

enum RGBImageFixture {
    static func make(width: Int, height: Int, pixels: [Int]) -> RGBImage {
        RGBImage(width: width, height: height, pixels: pixels.map { UInt8($0) })
    }
}
