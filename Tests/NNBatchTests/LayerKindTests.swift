import Checkpoints
import HDF5Store
import NNBatch
import NNBatchCore
import NeuralNet
import TestSupport
import XCTest

/// Every layer kind is declared once (`LayerKinds.all`); the config reader, the checkpoint
/// schema and the descriptions derive from that declaration (issue 19, item 1).
final class LayerKindTests: XCTestCase {
  /// A value of `setting` other than its default, inside its declared range.
  private func sample(_ setting: LayerSetting) -> LayerValue {
    switch setting.type {
    case .integer(let range): return .integer(range.lowerBound + 2)
    case .size(let range): return .size(Size2D(range.lowerBound + 1, range.lowerBound + 2))
    // The second name: never the default linear/valid, never softmax (refused before the last layer).
    case .choice(let names, _): return .choice(names[1])
    case .flag: return .flag(false)
    case .real(let range): return .real((range.min ?? 0) + 0.25)
    }
  }

  /// An input shape each kind's shape rule takes.
  private func input(for kind: LayerKind) -> Shape {
    kind.shapeRule == .flat ? [12] : [3, 16, 16]
  }

  /// Reads one layer object as `model.layers[0]`; the diagnostics' messages and the spec.
  private func readLayer(_ text: String, modelBias: Bool = true) throws -> (
    spec: (any LayerSpec)?, errors: [String]
  ) {
    let sink = DiagnosticSink(file: "k.json")
    let reader = try XCTUnwrap(
      ObjectReader.make(JSONParser.parse(text), path: "$.model.layers[0]", sink: sink))
    let spec = LayerConfigs.decode(reader, defaults: LayerDefaults(bias: modelBias))
    reader.finish()
    return (spec, sink.diagnostics.map { "\($0.path ?? ""): \($0.message)" })
  }

  func testEveryKindRoundTripsConfigSpecCheckpointSpec() throws {
    XCTAssertEqual(
      LayerKinds.names,
      [
        "dense", "conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "global_max_pool2d", "flatten",
        "dropout", "add", "concatenate", "activation", "batch_norm",
      ])
    for kind in LayerKinds.all {
      var values: [String: LayerValue] = [:]
      var members: [(String, JSONText)] = [("type", .string(kind.name))]
      for setting in kind.settings {
        XCTAssertFalse(setting.doc.isEmpty, "\(kind.name).\(setting.name) has no doc line")
        let value = sample(setting)
        XCTAssertTrue(setting.accepts(value), "\(kind.name).\(setting.name): \(value)")
        values[setting.name] = value
        members.append((setting.name, LayerConfigs.json(value)))
      }
      let text = JSONText.object(members).text
      let (read, errors) = try readLayer(text)
      XCTAssertEqual(errors, [], text)
      let spec = try XCTUnwrap(read, text)
      XCTAssertEqual(spec.kind, kind.name)
      XCTAssertEqual(kind.values(of: spec).byName, values, "\(kind.name): the config's values reach the spec")

      // The spec writes back as the same config object (NNBatchKit's layers are written so).
      XCTAssertEqual(LayerConfigs.json(spec).text, text)

      // Spec → checkpoint attributes → spec.
      let shape = input(for: kind)
      // A merge takes two inputs of the shape.
      let layer =
        try (spec as? any MergeLayerSpec)?.build(inputs: [shape, shape])
        ?? spec.build(input: shape, parameterOffset: 0)
      var group = HDF5Node()
      LayerSchemas.encode(layer, into: &group)
      XCTAssertEqual(group.attributes["kind"], .string(kind.name))
      let back = try LayerSchemas.decode(group, path: "/model/layer_0", input: shape)
      XCTAssertTrue(back.isEqual(to: spec), "\(kind.name): \(back) != \(spec)")

      // inspect's settings are the declared ones, in declared order.
      XCTAssertEqual(LayerSchemas.describe(layer).settings.map(\.key), kind.settings.map(\.name))
    }
  }

  func testDefaultsComeFromTheDeclarationAndTheModel() throws {
    let conv = try XCTUnwrap(
      readLayer(#"{"type": "conv2d", "filters": 4, "kernel": 3}"#, modelBias: false).spec)
    XCTAssertTrue(
      conv.isEqual(
        to: Conv2D.Spec(filters: 4, kernel: 3, stride: 1, padding: .valid, activation: .linear, bias: false)))
    let pool = try XCTUnwrap(readLayer(#"{"type": "avg_pool2d", "size": [2, 3]}"#).spec)
    XCTAssertTrue(pool.isEqual(to: AvgPool2D.Spec(size: Size2D(2, 3), stride: Size2D(2, 3))))
    let dense = try XCTUnwrap(readLayer(#"{"units": 2}"#).spec)
    XCTAssertTrue(dense.isEqual(to: Dense.Spec(units: 2, activation: .linear, bias: true)))
  }

  func testOutOfRangeAndMissingSettingsAreReportedFromTheDeclaration() throws {
    for kind in LayerKinds.all {
      for setting in kind.settings {
        let path = "$.model.layers[0].\(setting.name)"
        let tooLarge: (json: String, message: String)?
        switch setting.type {
        case .integer(let range):
          tooLarge = (
            "\(range.upperBound + 1)",
            "expected an integer ≤ \(range.upperBound), found \(range.upperBound + 1)"
          )
        case .size(let range):
          tooLarge = (
            "\(range.upperBound + 1)",
            "expected \(setting.expected) (each at most \(range.upperBound)), found \(range.upperBound + 1)"
          )
        case .real(let range):
          if let max = range.max {
            // The bound itself when it is excluded, else just above it (batch_norm's momentum 1 is valid).
            let value = range.exclusiveMax ? max : max + 0.5
            tooLarge = (
              "\(value)", "expected a number \(range.exclusiveMax ? "<" : "≤") \(max), found \(value)"
            )
          } else {
            // Unbounded above (batch_norm's epsilon): the lower bound, excluded.
            let min = try XCTUnwrap(range.min)
            XCTAssertTrue(range.exclusiveMin, "\(kind.name).\(setting.name)")
            tooLarge = ("\(min)", "expected a number > \(min), found \(min)")
          }
        case .choice, .flag: tooLarge = nil
        }
        if let tooLarge {
          let others = kind.settings.filter { $0.name != setting.name }.map {
            "\"\($0.name)\": \(LayerConfigs.json(sample($0)).text)"
          }
          let text =
            "{\"type\": \"\(kind.name)\", \"\(setting.name)\": \(tooLarge.json)\(others.map { ", " + $0 }.joined())}"
          let (spec, errors) = try readLayer(text)
          XCTAssertNil(spec, text)
          XCTAssertEqual(errors, ["\(path): \(tooLarge.message)"], text)
        }
        if setting.defaultValue == .required {
          let (spec, errors) = try readLayer("{\"type\": \"\(kind.name)\"}")
          XCTAssertNil(spec)
          XCTAssertTrue(
            errors.contains("\(path): missing required key; expected \(setting.expected)"), "\(errors)")
        }
      }
    }
  }

  func testTheMessagesOfTodaysKindsAreUnchanged() throws {
    XCTAssertEqual(
      try readLayer(#"{"type": "dropout", "rate": 1}"#).errors,
      ["$.model.layers[0].rate: expected a number < 1.0, found 1"])
    XCTAssertEqual(
      try readLayer(#"{"type": "dropout"}"#).errors,
      ["$.model.layers[0].rate: missing required key; expected a number in [0, 1)"])
    XCTAssertEqual(
      try readLayer(#"{"type": "conv2d", "kernel": 3}"#).errors,
      ["$.model.layers[0].filters: missing required key; expected a positive integer"])
    XCTAssertEqual(
      try readLayer(#"{"type": "conv2d", "filters": 2, "kernel": 3, "activation": "softmax"}"#).errors,
      [
        "$.model.layers[0].activation: softmax is for the last (dense) layer; a conv2d layer takes relu, tanh, ..."
      ])
    XCTAssertEqual(
      try readLayer(#"{"units": 1, "activation": "softmax"}"#).errors,
      ["$.model.layers[0].units: a softmax layer needs at least 2 units, found 1"])
  }

  /// The version 2 fixtures were written by the build before the declarations: re-encoding
  /// their layers gives the stored attributes exactly (names, types, values).
  func testVersion2FixturesLayersEncodeToTheirStoredAttributes() throws {
    for name in ["cnn-dropout-v2-step-000000015.h5", "flowers-v2-step-000000060.h5"] {
      let file = try HDF5File.openForReading(path: "\(repositoryRoot)/Tests/Fixtures/v2/\(name)")
      let tree = try file.readNode()
      try file.close()
      let model = try XCTUnwrap(tree.groups["model"])
      guard case .integer(let count)? = model.attributes["layers"] else {
        return XCTFail("\(name): no layer count")
      }
      let dimensions = try XCTUnwrap(model.datasets["input_shape"]?.values)
      guard case .int64(let sizes) = dimensions else { return XCTFail("\(name): input_shape \(dimensions)") }
      var shape = Shape(sizes.map { Int($0) })
      for index in 0..<count {
        let stored = try XCTUnwrap(model.groups["layer_\(index)"])
        let spec = try LayerSchemas.decode(stored, path: "/model/layer_\(index)", input: shape)
        let layer = try spec.build(input: shape, parameterOffset: 0)
        var group = HDF5Node()
        LayerSchemas.encode(layer, into: &group)
        XCTAssertEqual(group.attributes, stored.attributes, "\(name): layer_\(index)")
        shape = layer.outputShape
      }
    }
  }
}
