import Foundation
import NNBatchCore
import TestSupport
import XCTest

@testable import NNBatchData

/// PNG and JPEG decoding against known pixels, channel conversion, the resize, folder order, hostile files.
///
/// The fixtures (Tests/Fixtures/images, written by its make.py with Pillow)
/// hold pixels given by formulas restated here; the JPEGs are compared with
/// Pillow's own decoding of them (jpeg-pixels.json).
final class ImageDecodeTests: XCTestCase {
  private let fixtures = "\(repositoryRoot)/Tests/Fixtures/images"

  /// The file `name` decoded as `channels`×`height`×`width` floats.
  private func decode(_ name: String, channels: Int, height: Int, width: Int) throws -> [Float] {
    let shape = ImageShape(channels: channels, height: height, width: width)
    var output = [Float](repeating: -1, count: shape.features)
    try output.withUnsafeMutableBufferPointer { buffer in
      try shape.decode(name.hasPrefix("/") ? name : "\(fixtures)/\(name)", into: buffer.baseAddress!)
    }
    return output
  }

  /// The error decoding `path` throws (fails when it decodes).
  private func decodeError(_ path: String) -> NNBatchError? {
    do {
      _ = try decode(path, channels: 3, height: 2, width: 2)
      XCTFail("\(path) decoded")
      return nil
    } catch let error as NNBatchError {
      return error
    } catch {
      XCTFail("unexpected \(error)")
      return nil
    }
  }

  func testGreyPNGAndGreyWithAlpha() throws {
    let expected = (0..<20).map { Float($0 * 12) / 255 }
    XCTAssertEqual(try decode("grey.png", channels: 1, height: 4, width: 5), expected)
    // The alpha channel is dropped, as Pillow's convert("L") drops it.
    XCTAssertEqual(try decode("grey-alpha.png", channels: 1, height: 4, width: 5), expected)
  }

  func testRGBAndRGBAPNGAreChannelsFirst() throws {
    let red = (0..<18).map { Float($0 * 10) / 255 }
    let green = (0..<18).map { Float(255 - $0 * 10) / 255 }
    let blue = (0..<18).map { Float($0 * 3) / 255 }
    XCTAssertEqual(try decode("rgb.png", channels: 3, height: 3, width: 6), red + green + blue)
    XCTAssertEqual(try decode("rgba.png", channels: 3, height: 3, width: 6), red + green + blue)
  }

  func testPalettePNG() throws {
    // Pixel i has palette index 7 - i, whose colour is (30 k, 200 - 20 k, 7 k).
    let index = (0..<8).map { 7 - $0 }
    let expected =
      index.map { Float($0 * 30) / 255 } + index.map { Float(200 - $0 * 20) / 255 }
      + index.map { Float($0 * 7) / 255 }
    XCTAssertEqual(try decode("palette.png", channels: 3, height: 2, width: 4), expected)
  }

  func testSixteenBitPNGKeepsItsPrecision() throws {
    let expected = (0..<9).map { Float($0 * 7000) / 65535 }
    let decoded = try decode("grey16.png", channels: 1, height: 3, width: 3)
    XCTAssertEqual(decoded, expected)
    // 7000/65535 is no multiple of 1/255: an 8-bit decode could not give it.
    XCTAssertNotEqual((decoded[1] * 255).rounded() / 255, decoded[1])
  }

  func testJPEGMatchesPillow() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/jpeg-pixels.json"))
    let pillow = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [Int]])
    for name in ["rgb.jpg", "progressive.jpg"] {
      let interleaved = try XCTUnwrap(pillow[name])
      // Pillow's bytes are interleaved RGB; nnbatch's planes are channels first.
      let expected = (0..<3).flatMap { c in (0..<128).map { Float(interleaved[$0 * 3 + c]) / 255 } }
      XCTAssertEqual(try decode(name, channels: 3, height: 8, width: 16), expected, name)
    }
    let grey = try XCTUnwrap(pillow["grey.jpg"]).map { Float($0) / 255 }
    XCTAssertEqual(try decode("grey.jpg", channels: 1, height: 8, width: 16), grey)
  }

  func testGreyToRGBRepeatsAndRGBToGreyIsBT601() throws {
    let grey = try decode("grey.png", channels: 1, height: 4, width: 5)
    XCTAssertEqual(try decode("grey.png", channels: 3, height: 4, width: 5), grey + grey + grey)
    let rgb = try decode("rgb.png", channels: 3, height: 3, width: 6)
    let luma = try decode("rgb.png", channels: 1, height: 3, width: 6)
    for p in 0..<18 {
      let expected = 0.299 * Double(rgb[p]) + 0.587 * Double(rgb[18 + p]) + 0.114 * Double(rgb[36 + p])
      XCTAssertEqual(Double(luma[p]), expected, accuracy: 1e-6, "pixel \(p)")
    }
  }

  /// Half-pixel bilinear without antialiasing, transcribed in Double from its definition.
  private func naiveResize(_ input: [Double], _ h: Int, _ w: Int, to oh: Int, _ ow: Int) -> [Double] {
    func source(_ i: Int, _ n: Int, _ out: Int) -> (Int, Int, Double) {
      var s = (Double(i) + 0.5) * Double(n) / Double(out) - 0.5
      s = min(max(s, 0), Double(n - 1))
      let low = Int(s.rounded(.down))
      return (low, min(low + 1, n - 1), s - Double(low))
    }
    var output: [Double] = []
    for y in 0..<oh {
      let (y0, y1, fy) = source(y, h, oh)
      for x in 0..<ow {
        let (x0, x1, fx) = source(x, w, ow)
        let top = input[y0 * w + x0] * (1 - fx) + input[y0 * w + x1] * fx
        let bottom = input[y1 * w + x0] * (1 - fx) + input[y1 * w + x1] * fx
        output.append(top * (1 - fy) + bottom * fy)
      }
    }
    return output
  }

  func testResizeMatchesANaiveReference() throws {
    // By hand: [0, 1] widened to 4 samples at x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
    var out = [Float](repeating: 0, count: 4)
    ImageResize.bilinear([0, 1], height: 1, width: 2, into: &out, height: 1, width: 4)
    XCTAssertEqual(out, [0, 0.25, 0.75, 1])
    var generator = SystemRandomNumberGenerator()
    for (h, w, oh, ow) in [
      (5, 7, 3, 11), (16, 8, 7, 5), (4, 4, 4, 9), (1, 6, 5, 2), (9, 9, 2, 2), (3, 2, 3, 2),
    ] {
      let input = (0..<(h * w)).map { _ in Float.random(in: 0...1, using: &generator) }
      var output = [Float](repeating: -1, count: oh * ow)
      ImageResize.bilinear(input, height: h, width: w, into: &output, height: oh, width: ow)
      let reference = naiveResize(input.map(Double.init), h, w, to: oh, ow)
      for (i, (a, b)) in zip(output, reference).enumerated() {
        XCTAssertEqual(Double(a), b, accuracy: 1e-6, "\(h)×\(w) → \(oh)×\(ow), output \(i)")
      }
    }
    // Through the decoder: a resized image is the resize of its decoded planes.
    let full = try decode("rgb.png", channels: 3, height: 3, width: 6)
    let small = try decode("rgb.png", channels: 3, height: 2, width: 4)
    for c in 0..<3 {
      let reference = naiveResize(full[(c * 18)..<((c + 1) * 18)].map(Double.init), 3, 6, to: 2, 4)
      for (a, b) in zip(small[(c * 8)..<((c + 1) * 8)], reference) {
        XCTAssertEqual(Double(a), b, accuracy: 1e-6)
      }
    }
  }

  func testClassesAndFilesSortByCodePoint() throws {
    let dir = TemporaryDirectory()
    let png = Data(pngBytes(width: 1, height: 1, channels: 1, pixels: [9]))
    // Python's sorted() of these names: upper case before lower case, then by code point
    // (a decomposed "é", starting with "e", before "f"; the precomposed one, U+00E9, after "z").
    let classes = ["b", "B", "a", "Z", "\u{E9}t\u{E9}", "e\u{301}cole", "f", "z"]
    for name in classes {
      try FileManager.default.createDirectory(atPath: dir.file(name), withIntermediateDirectories: true)
      for file in ["10.png", "2.png", "B.png", "a.png", ".hidden"] {
        try png.write(to: URL(fileURLWithPath: dir.file("\(name)/\(file)")))
      }
    }
    let folder = try ImageFolder.labelled(dir.path, known: [])
    let expected = ["B", "Z", "a", "b", "e\u{301}cole", "f", "z", "\u{E9}t\u{E9}"]
    XCTAssertEqual(folder.classes.map { Array($0.unicodeScalars) }, expected.map { Array($0.unicodeScalars) })
    XCTAssertEqual(folder.files.count, 32, "hidden files are left out")
    XCTAssertEqual(
      folder.files.prefix(4).map { ($0 as NSString).lastPathComponent },
      ["10.png", "2.png", "B.png", "a.png"])
    XCTAssertEqual(folder.labels, (0..<8).flatMap { [Int](repeating: $0, count: 4) })
    // Data for a model trained on other class numbers keeps the model's numbering.
    let known = ["z", "B", "Z", "a", "b", "e\u{301}cole", "f", "\u{E9}t\u{E9}", "extra"]
    let mapped = try ImageFolder.labelled(dir.path, known: known)
    XCTAssertEqual(mapped.labels.first, 1)
    XCTAssertEqual(mapped.labels.last, 7)
    XCTAssertThrowsError(try ImageFolder.labelled(dir.path, known: ["a", "b"])) { error in
      XCTAssertTrue("\(error)".contains("class \"B\" is not one of the model's 2 classes"), "\(error)")
    }
  }

  func testBadFilesAreErrorsNamingTheFile() throws {
    let dir = TemporaryDirectory()
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
      try Data(bytes).write(to: URL(fileURLWithPath: dir.file(name)))
      return dir.file(name)
    }
    let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/rgb.png")))
    let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/rgb.jpg")))
    let noise = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/noise.jpg")))
    var flipped = png
    flipped[40] ^= 0x10  // inside IDAT: the chunk's CRC no longer matches
    var sof = jpeg
    // The baseline SOF0 marker's height and width: 60000×60000 would need 10 GB of pixels.
    let marker = try XCTUnwrap((0..<(sof.count - 1)).first { sof[$0] == 0xFF && sof[$0 + 1] == 0xC0 })
    sof[marker + 5] = 0xEA
    sof[marker + 6] = 0x60
    sof[marker + 7] = 0xEA
    sof[marker + 8] = 0x60
    var wide = Array(png[0..<8]) + pngChunk("IHDR", [0, 0, 0x4E, 0x20, 0, 0, 0, 1, 8, 0, 0, 0, 0])
    wide += Array(png[33...])
    let cases: [(String, [UInt8], String)] = [
      ("empty.png", [], "found an empty file"),
      (
        "notes.png", Array("just text\n".utf8),
        "expected a PNG or JPEG image (by its first bytes), found first bytes 6a 75"
      ),
      ("anim.gif", Array("GIF89a\u{1}\u{0}\u{1}\u{0}".utf8), "found GIF, which nnbatch does not decode"),
      ("cut.png", Array(png.prefix(45)), "not a readable PNG image"),
      ("crc.png", flipped, "not a readable PNG image"),
      ("cut.jpg", Array(jpeg.prefix(jpeg.count / 2)), "not a readable JPEG image"),
      // Cut inside the scan data: libjpeg's warning is an error, not a partly grey image.
      (
        "cut-scan.jpg", Array(noise.prefix(noise.count * 4 / 5)), "Premature end of JPEG file (tjDecompress2)"
      ),
      ("huge.jpg", sof, "expected an image of at most 16384 pixels a side"),
      ("wide.png", wide, "not a readable PNG image"),
    ]
    for (name, bytes, fragment) in cases {
      let path = try write(name, bytes)
      let error = try XCTUnwrap(decodeError(path), name)
      XCTAssertEqual(error.kind, .usage, name)
      XCTAssertTrue(error.description.hasPrefix("\(path): "), "\(name): \(error)")
      XCTAssertTrue(error.description.contains(fragment), "\(name): \(error)")
    }
    // Detection is by content: a PNG named .jpg is read as PNG.
    let misnamed = try write("really-a-png.jpg", png)
    XCTAssertEqual(try decode(misnamed, channels: 3, height: 3, width: 6).count, 54)
  }
}
