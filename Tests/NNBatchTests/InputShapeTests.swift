import Foundation
import NNBatch
import NNBatchCore
import NNBatchData
import NeuralNet
import TestSupport
import XCTest

/// One sample's shape: `data.shape`, IDX images' own [1, H, W], and the checks on both.
final class InputShapeTests: XCTestCase {
  private func config(_ dir: TemporaryDirectory, data: String, layers: String) throws -> Config {
    let text = """
      { "seed": 1, "data": \(data),
        "model": { "layers": \(layers) },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.1 },
        "training": { "epochs": 1, "batch_size": 4 } }
      """
    return try Config.parse(text: text, file: dir.write("c.json", text))
  }

  private let synthetic64 =
    #"{ "source": "synthetic", "samples": 12, "features": 64, "classes": 3, "shape": [1, 8, 8] }"#
  private let softmax3 = #"[ { "units": 3, "activation": "softmax" } ]"#

  /// An unsigned-byte IDX file of `shape` holding `values`.
  private func idx(_ dir: TemporaryDirectory, _ name: String, shape: [Int], values: [UInt8]) throws -> String
  {
    var bytes: [UInt8] = [0, 0, 8, UInt8(shape.count)]
    for d in shape {
      bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)]
    }
    let path = dir.file(name)
    try Data(bytes + values).write(to: URL(fileURLWithPath: path))
    return path
  }

  func testDataShapeIsReadAndCheckedAgainstTheFeatures() throws {
    let dir = TemporaryDirectory()
    let c = try config(dir, data: synthetic64, layers: softmax3)
    XCTAssertEqual(c.dataShape, [1, 8, 8])
    XCTAssertEqual(try c.sampleShape(features: 64, sourceShape: nil), [1, 8, 8])
    XCTAssertThrowsError(try c.sampleShape(features: 63, sourceShape: nil)) { error in
      let error = error as? NNBatchError
      XCTAssertEqual(error?.kind, .usage)
      XCTAssertEqual(
        error?.lines,
        [
          "\(dir.file("c.json")): $.data.shape: expected the product of [1, 8, 8] (1×8×8 = 64) to equal the data's 63 features per sample"
        ])
    }
    // The mismatch stops training before it starts.
    let wrong = synthetic64.replacingOccurrences(of: "\"features\": 64", with: "\"features\": 60")
    XCTAssertThrowsError(try DataLoader.prepare(try config(dir, data: wrong, layers: softmax3))) { error in
      XCTAssertTrue(
        "\(error)".contains("$.data.shape: expected the product of [1, 8, 8] (1×8×8 = 64)"), "\(error)")
      XCTAssertTrue("\(error)".contains("the data's 60 features"), "\(error)")
    }
  }

  func testDataShapeMustBePositiveIntegersOfRankOneToThree() throws {
    let dir = TemporaryDirectory()
    let cases: [(String, String)] = [
      ("[1, 8, 0]", "$.data.shape: expected an array of positive integers such as [1, 8, 8], found 0 in it"),
      ("[1, 2.5]", "$.data.shape: expected an array of positive integers such as [1, 8, 8], found 2.5 in it"),
      (
        "[1, 2, 2, 16]",
        "$.data.shape: expected 1 to 3 sizes ([features] or [channels, height, width]), found 4"
      ),
      ("\"1x8x8\"", "$.data.shape: expected an array, found a string"),
    ]
    for (shape, message) in cases {
      let data = synthetic64.replacingOccurrences(of: "[1, 8, 8]", with: shape)
      XCTAssertThrowsError(try config(dir, data: data, layers: softmax3), shape) { error in
        XCTAssertTrue("\(error)".contains(message), "\(shape): \(error)")
        XCTAssertEqual((error as? NNBatchError)?.kind, .usage)
      }
    }
  }

  func testIDXImagesGiveOneChannelShapesAndAnMLPStillSeesFlatPixels() throws {
    let dir = TemporaryDirectory()
    let images = try idx(dir, "i.idx", shape: [4, 3, 5], values: (0..<60).map { UInt8($0) })
    let labels = try idx(dir, "l.idx", shape: [4], values: [0, 1, 2, 1])
    let data = #"{ "source": "idx", "images": "\#(images)", "labels": "\#(labels)" }"#
    let mlp = try config(dir, data: data, layers: softmax3)
    let prepared = try DataLoader.prepare(mlp)
    XCTAssertEqual(prepared.sampleShape, [1, 3, 5])
    XCTAssertEqual(prepared.train.features, 15)
    // Dense first: the network takes flat pixels, as before image shapes existed.
    XCTAssertEqual(mlp.networkInput(sample: prepared.sampleShape), [15])
    XCTAssertEqual(try mlp.architecture(input: [15]).inputShape, [15])

    // A rank-4 file is [count, C, H, W]: the sample is [C, H, W].
    let color = try idx(dir, "c.idx", shape: [2, 3, 2, 2], values: (0..<24).map { UInt8($0) })
    let colorLabels = try idx(dir, "cl.idx", shape: [2], values: [0, 1])
    let colorData = #"{ "source": "idx", "images": "\#(color)", "labels": "\#(colorLabels)" }"#
    let raw = try DataLoader.read(
      try config(dir, data: colorData, layers: softmax3).data, task: .classification)
    XCTAssertEqual(raw.sampleShape, [3, 2, 2])
  }

  func testFlatDataWithoutAShapeStaysFlat() throws {
    let dir = TemporaryDirectory()
    let data = #"{ "source": "synthetic", "samples": 12, "features": 5, "classes": 3 }"#
    let c = try config(dir, data: data, layers: softmax3)
    let prepared = try DataLoader.prepare(c)
    XCTAssertNil(c.dataShape)
    XCTAssertEqual(prepared.sampleShape, [5])
    XCTAssertEqual(c.layerPaths, ["$.model.layers[0]"])
  }
}
