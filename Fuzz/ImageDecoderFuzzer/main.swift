// libFuzzer harness for the image decoder (Sources/Imaging/ImageDecoder.swift and the C codec in
// Sources/CImageCodec, built with -fsanitize=fuzzer-no-link,address; see Fuzz/build.sh).
//
// Every input goes to `ImageDecoder.decode(bytes, maxPixels: 4_000_000)`; the last byte picks
// whether EXIF orientation is applied, so the rotate/flip paths run on decoded images too. A thrown
// `ImageDecodingError` is an expected outcome. A decoded image must have positive dimensions
// within the pixel limit and exactly width * height * 3 bytes of pixels; anything else, any Swift
// trap and any ASan/LSan report is a finding.

// Compiled into one module with Sources/Imaging/*.swift, so no `import Imaging`.
import CImageCodec

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let applyOrientation = (bytes.last ?? 0) & 1 == 1
    do {
        let info = try ImageDecoder.decodeWithInfo(
            bytes, maxPixels: 4_000_000, applyEXIFOrientation: applyOrientation)
        let image = info.image
        precondition(image.width > 0 && image.height > 0, "empty decoded image")
        precondition(image.width * image.height <= 4_000_000, "pixel limit not enforced")
        precondition(image.pixels.count == image.width * image.height * 3, "pixel buffer size")
        _ = info.format
        _ = info.exifOrientation
        _ = info.sourceChannels
        // The plain entry point must agree.
        let plain = try ImageDecoder.decode(bytes, maxPixels: 4_000_000)
        if !applyOrientation { precondition(plain == image, "decode and decodeWithInfo differ") }
    } catch let error as ImageDecodingError {
        _ = error.code
        _ = error.description
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    return 0
}
