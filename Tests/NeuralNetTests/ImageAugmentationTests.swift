import Foundation
import NeuralNet
import XCTest

/// `data.augment`'s transforms against exact pixels and a naive transcription of the formula, and their draws.
final class ImageAugmentationTests: XCTestCase {
  /// One 1×3×4 image: 1 to 12 in row-major order.
  private let image: [Float] = (1...12).map(Float.init)

  private func run(_ augmentation: ImageAugmentation, _ x: [Float], _ draw: ImageAugmentation.Draw) -> [Float]
  {
    var out = [Float](repeating: .nan, count: x.count)
    x.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBufferPointer { target in
        augmentation.apply(source.baseAddress!, to: target.baseAddress!, draw: draw)
      }
    }
    return out
  }

  private func draw(flip: Bool = false, _ oy: Int = 0, _ ox: Int = 0, b: Float = 1, c: Float = 1)
    -> ImageAugmentation.Draw
  {
    ImageAugmentation.Draw(flip: flip, rowOffset: oy, columnOffset: ox, brightness: b, contrast: c)
  }

  func testFlipAndShiftGiveTheExpectedPixels() {
    let a = ImageAugmentation(
      channels: 1, height: 3, width: 4, flipProbability: 0.5, shiftRows: 2, shiftColumns: 3)
    XCTAssertEqual(run(a, image, draw()), image)
    XCTAssertEqual(run(a, image, draw(flip: true)), [4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9])
    // out[r][q] = x[r + 1][q − 1]: content moves up one row and right one column, zeros come in.
    XCTAssertEqual(run(a, image, draw(1, -1)), [0, 5, 6, 7, 0, 9, 10, 11, 0, 0, 0, 0])
    // Flip first, then out[r][q] = f[r − 1][q + 2].
    XCTAssertEqual(run(a, image, draw(flip: true, -1, 2)), [0, 0, 0, 0, 2, 1, 0, 0, 6, 5, 0, 0])
    XCTAssertEqual(run(a, image, draw(2, 3)), [12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    XCTAssertEqual(run(a, image, draw(flip: true, -2, -3)), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4])
    // Channels move together.
    let two = ImageAugmentation(channels: 2, height: 1, width: 3, flipProbability: 1, shiftColumns: 1)
    XCTAssertEqual(run(two, [1, 2, 3, 4, 5, 6], draw(flip: true, 0, 1)), [2, 1, 0, 5, 4, 0])
  }

  func testJitterFollowsTheFormula() {
    // b = 1.5, c = 0.5 on [1, 3, 4]: t = 1.5x; m = mean(t) = 9.75; j = 0.5t + 0.5·9.75.
    let plain = ImageAugmentation(
      channels: 1, height: 3, width: 4, brightness: 0.5...1.5, contrast: 0.5...1.5)
    let expected = image.map { 0.5 * (1.5 * $0) + Float(0.5 * 9.75) }
    XCTAssertEqual(run(plain, image, draw(b: 1.5, c: 0.5)), expected)
    // Clipped to [0, 10] after each jitter: t = min(1.5x, 10), m = mean(t), j = clip(0.5t + 0.5m).
    let clipped = ImageAugmentation(
      channels: 1, height: 3, width: 4, brightness: 0.5...1.5, contrast: 0.5...1.5, clip: 0...10)
    let t = image.map { min(1.5 * $0, 10) }
    var lanes = [Double](repeating: 0, count: 8)
    for (i, v) in t.enumerated() { lanes[i % 8] += Double(v) }
    let m =
      (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) / 12
    XCTAssertEqual(
      run(clipped, image, draw(b: 1.5, c: 0.5)), t.map { min(max(0.5 * $0 + Float(0.5 * m), 0), 10) })
    // Only brightness: no mean, no pull.
    let bright = ImageAugmentation(channels: 1, height: 3, width: 4, brightness: 0...2)
    XCTAssertEqual(run(bright, image, draw(b: 0.25)), image.map { 0.25 * $0 })
  }

  /// The documented formula written out plainly: jitter the whole image, flip, then crop the zero-padded result.
  private func naive(_ a: ImageAugmentation, _ x: [Float], _ d: ImageAugmentation.Draw) -> [Float] {
    let (C, H, W) = (a.channels, a.height, a.width)
    func clip(_ v: Float) -> Float { a.clip.map { min(max(v, $0.lowerBound), $0.upperBound) } ?? v }
    var j = x
    if a.brightness != nil { j = j.map { clip(d.brightness * $0) } }
    if a.contrast != nil {
      // Grey values in Double, value i into lane i mod 8, the lanes added pairwise in order.
      var grey: [Double] = []
      if C == 3 {
        for i in 0..<(H * W) {
          let r: Double = 0.2989 * Double(j[i])
          let g: Double = 0.587 * Double(j[H * W + i])
          let b: Double = 0.114 * Double(j[2 * H * W + i])
          grey.append(r + g + b)
        }
      } else {
        grey = j.map { Double($0) }
      }
      var lanes = [Double](repeating: 0, count: 8)
      for (i, g) in grey.enumerated() { lanes[i % 8] += g }
      let total =
        ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
      let sum = total / Double(grey.count)
      let pull = Float((1 - Double(d.contrast)) * sum)
      j = j.map { clip(d.contrast * $0 + pull) }
    }
    var out = [Float](repeating: 0, count: x.count)
    for c in 0..<C {
      for r in 0..<H {
        for q in 0..<W {
          let (y, xx) = (r + d.rowOffset, q + d.columnOffset)
          guard (0..<H).contains(y), (0..<W).contains(xx) else { continue }
          let source = d.flip ? W - 1 - xx : xx
          out[(c * H + r) * W + q] = j[(c * H + y) * W + source]
        }
      }
    }
    return out
  }

  func testRandomDrawsMatchTheNaiveTranscription() {
    var state: UInt64 = 42
    func next() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(state >> 40) * 0x1p-24
    }
    let shapes = [(1, 5, 7), (3, 6, 4), (2, 4, 4)]
    for (C, H, W) in shapes {
      let x = (0..<(C * H * W)).map { _ in next() }
      let variants = [
        ImageAugmentation(
          channels: C, height: H, width: W, flipProbability: 0.5, shiftRows: 2, shiftColumns: 3),
        ImageAugmentation(
          channels: C, height: H, width: W, flipProbability: 0.5, shiftRows: 1, shiftColumns: 1,
          brightness: 0.6...1.4, contrast: 0.7...1.3),
        ImageAugmentation(
          channels: C, height: H, width: W, flipProbability: 0.3, shiftRows: 3, shiftColumns: 2,
          brightness: 0.2...1.8, contrast: 0...2, clip: 0...1),
        ImageAugmentation(channels: C, height: H, width: W, contrast: 0.5...1.5, clip: 0.1...0.9),
      ]
      for a in variants {
        for position in 0..<40 {
          let key = ImageAugmentation.key(seed: 3, epoch: 1, position: position)
          let d = a.draw(key: key)
          var out = [Float](repeating: .nan, count: x.count)
          x.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { t in a.apply(s.baseAddress!, to: t.baseAddress!, key: key) }
          }
          XCTAssertEqual(out, naive(a, x, d), "[\(C), \(H), \(W)] \(a) \(d)")
        }
      }
    }
  }

  func testDrawsCoverTheirRangesAndDependOnlyOnTheKey() {
    let a = ImageAugmentation(
      channels: 1, height: 8, width: 8, flipProbability: 0.5, shiftRows: 2, shiftColumns: 3,
      brightness: 0.8...1.2, contrast: 0...2)
    var rows = Set<Int>()
    var columns = Set<Int>()
    var flips = 0
    let n = 4000
    for position in 0..<n {
      let d = a.draw(key: ImageAugmentation.key(seed: 9, epoch: 0, position: position))
      rows.insert(d.rowOffset)
      columns.insert(d.columnOffset)
      if d.flip { flips += 1 }
      XCTAssertTrue((0.8...1.2).contains(d.brightness) && (0...2).contains(d.contrast), "\(d)")
    }
    XCTAssertEqual(rows, Set(-2...2))
    XCTAssertEqual(columns, Set(-3...3))
    XCTAssertEqual(Double(flips) / Double(n), 0.5, accuracy: 0.03)
    // Each transform draws from its own unit: turning others off keeps the flips and shifts.
    let flipOnly = ImageAugmentation(
      channels: 1, height: 8, width: 8, flipProbability: 0.5, shiftRows: 2, shiftColumns: 3)
    var epochsDiffer = 0
    for position in 0..<200 {
      let key = ImageAugmentation.key(seed: 9, epoch: 0, position: position)
      let (full, part) = (a.draw(key: key), flipOnly.draw(key: key))
      XCTAssertEqual(
        [full.flip ? 1 : 0, full.rowOffset, full.columnOffset],
        [part.flip ? 1 : 0, part.rowOffset, part.columnOffset])
      XCTAssertEqual(part.brightness, 1)
      XCTAssertEqual(a.draw(key: key), full, "the same key draws the same")
      if a.draw(key: ImageAugmentation.key(seed: 9, epoch: 1, position: position)) != full {
        epochsDiffer += 1
      }
    }
    XCTAssertGreaterThan(epochsDiffer, 190, "another epoch draws anew")
    // p = 1 always flips, p = 0 never; no shift draws offset 0.
    let always = ImageAugmentation(channels: 1, height: 2, width: 2, flipProbability: 1)
    let never = ImageAugmentation(channels: 1, height: 2, width: 2)
    for position in 0..<100 {
      let key = ImageAugmentation.key(seed: 1, epoch: 2, position: position)
      XCTAssertTrue(always.draw(key: key).flip)
      XCTAssertEqual(never.draw(key: key), draw())
    }
  }

  func testTrainingContextsCarryTheKeyOfEpochAndPosition() {
    let a = ImageAugmentation(channels: 1, height: 2, width: 2, flipProbability: 0.5)
    let context = PassContext.training(seed: 5, step: 17, firstPosition: 30, epoch: 2, augmentation: a)
    XCTAssertEqual(context.augmentationKey(row: 4), ImageAugmentation.key(seed: 5, epoch: 2, position: 34))
    XCTAssertEqual(context.advanced(by: 3).augmentationKey(row: 1), context.augmentationKey(row: 4))
    // The step does not enter the key: a sample's transform is a function of (seed, epoch, position).
    var other = context
    other.step = 99
    XCTAssertEqual(other.augmentationKey(row: 4), context.augmentationKey(row: 4))
    XCTAssertNil(PassContext.inference.augmentation)
  }
}
