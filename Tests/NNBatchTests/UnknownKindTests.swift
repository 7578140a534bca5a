import NNBatch
import XCTest

/// An unknown layer type, data source or optimizer is the one error its object reports (issue 24).
final class UnknownKindTests: XCTestCase {
  private func errors(layers: String, data: String? = nil, optimizer: String? = nil) -> [String] {
    let text = """
      { "name": "k",
        "data": \(data ?? #"{ "source": "inline", "inputs": [[0, 1], [1, 0]], "targets": [[1], [0]] }"#),
        "model": { "layers": \(layers) },
        "loss": "binary_cross_entropy",
        "optimizer": \(optimizer ?? #"{ "kind": "adam" }"#) }
      """
    do {
      _ = try Config.parse(text: text, file: "k.json")
      return []
    } catch {
      return error.lines
    }
  }

  func testAWrongLayerTypeIsTheLayersOnlyError() {
    let lines = errors(
      layers:
        #"[ { "type": "Dense", "units": 4, "activation": "tanh" }, { "units": 1, "activation": "sigmoid" } ]"#
    )
    XCTAssertEqual(
      lines,
      [
        #"k.json:3:36: $.model.layers[0].type: unknown layer type "Dense"; expected one of dense, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, global_max_pool2d, flatten, dropout, add, concatenate, activation, batch_norm, residual (did you mean "dense"?)"#
      ])
  }

  func testATypeThatIsNoStringIsTheLayersOnlyError() {
    let lines = errors(
      layers: #"[ { "type": 3, "filters": 4, "kernel": 3 }, { "units": 1, "activation": "sigmoid" } ]"#)
    XCTAssertEqual(lines, [#"k.json:3:36: $.model.layers[0].type: expected a string, found an integer"#])
  }

  func testOtherLayersAreStillChecked() {
    let lines = errors(
      layers:
        #"[ { "type": "conv3d", "filters": 4 }, { "units": 1, "activation": "sigmoid", "unist": 2 } ]"#)
    XCTAssertEqual(lines.count, 2, "\(lines)")
    XCTAssertTrue(lines[0].contains(#"$.model.layers[0].type: unknown layer type "conv3d""#), "\(lines)")
    XCTAssertTrue(lines[1].contains(#"$.model.layers[1].unist: unknown key "unist" (did you mean "units"?)"#))
  }

  func testTheKnownKeysOfAnUnknownKeyMessageAreListedOnce() {
    let lines = errors(layers: #"[ { "type": "dense", "units": 1, "activation": "sigmoid", "foo": 2 } ]"#)
    XCTAssertEqual(
      lines,
      [
        #"k.json:3:82: $.model.layers[0].foo: unknown key "foo"; expected one of type, units, activation, bias, name, inputs"#
      ])
  }

  func testAnUnknownDataSourceIsTheDataSectionsOnlyError() {
    let lines = errors(
      layers: #"[ { "units": 1, "activation": "sigmoid" } ]"#,
      data: #"{ "source": "csvv", "path": "x.csv", "targets": "y", "scale": "standardize" }"#)
    XCTAssertEqual(lines.count, 1, "\(lines)")
    XCTAssertTrue(lines[0].contains(#"$.data.source: unknown data source "csvv""#), "\(lines)")
    // Keys every source shares are still checked.
    let scale = errors(
      layers: #"[ { "units": 1, "activation": "sigmoid" } ]"#,
      data: #"{ "source": "csvv", "path": "x.csv", "scale": "standardise" }"#)
    XCTAssertEqual(scale.count, 2, "\(scale)")
    XCTAssertTrue(scale[1].contains(#"$.data.scale: unknown scaling "standardise""#), "\(scale)")
  }

  func testAnUnknownOptimizerIsTheOptimizersOnlyError() {
    let lines = errors(
      layers: #"[ { "units": 1, "activation": "sigmoid" } ]"#,
      optimizer: #"{ "kind": "adma", "beta1": 0.8, "learning_rate": 0.01 }"#)
    XCTAssertEqual(lines.count, 1, "\(lines)")
    XCTAssertTrue(lines[0].contains(#"$.optimizer.kind: unknown optimizer "adma""#), "\(lines)")
    XCTAssertTrue(lines[0].contains(#"(did you mean "adam"?)"#), "\(lines)")
  }
}
