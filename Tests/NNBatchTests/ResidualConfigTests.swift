import NNBatch
import NNBatchCore
import NeuralNet
import XCTest

/// `{"type": "residual", ...}`: the block's expansion into the layer graph, its names and its errors.
final class ResidualConfigTests: XCTestCase {
  /// A config of `layers` (JSON text) on 1×8×8 synthetic images.
  private func text(_ layers: String, bias: Bool = true) -> String {
    """
    { "data": { "source": "synthetic", "samples": 16, "features": 64, "classes": 3, "shape": [1, 8, 8] },
      "model": { "bias": \(bias), "layers": [\(layers)] }, "loss": "cross_entropy", "optimizer": { "kind": "sgd" } }
    """
  }

  private func errors(_ text: String) -> [String] {
    do {
      _ = try Config.parse(text: text, file: "c.json")
      return []
    } catch {
      return error.lines
    }
  }

  /// A stem then the ResNet basic block `filters` wide with `stride`, written as a residual block.
  private func basic(filters: Int, stride: Int, shortcut: String = "auto") -> String {
    """
    { "type": "conv2d", "name": "stem", "filters": 4, "kernel": 3, "padding": "same", "bias": false },
    { "type": "batch_norm", "activation": "relu" },
    { "type": "residual", "activation": "relu", "shortcut": "\(shortcut)", "layers": [
        { "type": "conv2d", "filters": \(filters), "kernel": 3, "stride": \(stride), "padding": "same", "bias": false },
        { "type": "batch_norm", "activation": "relu" },
        { "type": "conv2d", "filters": \(filters), "kernel": 3, "padding": "same", "bias": false },
        { "type": "batch_norm" } ] },
    { "type": "global_avg_pool2d" },
    { "units": 3, "activation": "softmax" }
    """
  }

  func testSameShapeExpandsToTheIdentityShortcut() throws {
    var config = try Config.parse(text: text(basic(filters: 4, stride: 1)), file: "c.json")
    try config.resolveShortcuts(input: [1, 8, 8])
    XCTAssertEqual(
      config.layers.map(\.kind),
      [
        "conv2d", "batch_norm", "conv2d", "batch_norm", "conv2d", "batch_norm", "add", "global_avg_pool2d",
        "dense",
      ])
    XCTAssertEqual(
      config.layerInputs?[6], [5, 1], "the add reads the last inner layer, then the block's input")
    XCTAssertEqual((config.layers[6] as? Add.Spec)?.activation, .relu)
    XCTAssertEqual(
      config.layerNames,
      [
        "stem", nil, "block1.conv1", "block1.batch_norm1", "block1.conv2", "block1.batch_norm2", "block1",
        nil, nil,
      ])
    XCTAssertEqual(config.layerPaths[4], "$.model.layers[2].layers[2]")
    XCTAssertEqual(try config.architecture(input: [1, 8, 8]).outputs, 3)
  }

  func testAChangedShapeGetsAStridedProjectionWithItsBatchNorm() throws {
    var config = try Config.parse(text: text(basic(filters: 8, stride: 2)), file: "c.json")
    try config.resolveShortcuts(input: [1, 8, 8])
    XCTAssertEqual(
      config.layers.map(\.kind),
      [
        "conv2d", "batch_norm", "conv2d", "batch_norm", "conv2d", "batch_norm", "conv2d", "batch_norm", "add",
        "global_avg_pool2d", "dense",
      ])
    let projection = try XCTUnwrap(config.layers[6] as? Conv2D.Spec)
    XCTAssertEqual(
      projection,
      Conv2D.Spec(filters: 8, kernel: 1, stride: 2, padding: .valid, activation: .linear, bias: false))
    XCTAssertEqual(config.layerInputs?[6], [1], "the projection reads the block's input")
    XCTAssertEqual(config.layerInputs?[7], [6])
    XCTAssertEqual(config.layerInputs?[8], [5, 7])
    XCTAssertEqual(config.layerNames[6], "block1.shortcut")
    XCTAssertEqual(config.layerNames[7], "block1.shortcut_bn")
    XCTAssertEqual(config.layerNames[8], "block1")
    let architecture = try config.architecture(input: [1, 8, 8])
    XCTAssertEqual(architecture.layers[8].outputShape, [8, 4, 4])
    // The copy `architecture(input:)` resolves is the same network.
    let unresolved = try Config.parse(text: text(basic(filters: 8, stride: 2)), file: "c.json")
    XCTAssertEqual(try unresolved.architecture(input: [1, 8, 8]), architecture)

    // An odd size: ⌈7 / 2⌉ = 4 rows, as the strided "same" conv2d gives.
    var odd = try Config.parse(text: text(basic(filters: 4, stride: 2)), file: "c.json")
    try odd.resolveShortcuts(input: [1, 7, 7])
    XCTAssertEqual((odd.layers[6] as? Conv2D.Spec)?.stride, 2)
    XCTAssertEqual(try odd.architecture(input: [1, 7, 7]).layers[8].outputShape, [4, 4, 4])
  }

  /// "projection" always projects; without batch_norm in the block the projection has a bias (model.bias) and no batch_norm.
  func testProjectionWithoutBatchNormAndDenseBlocks() throws {
    let layers = """
      { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same" },
      { "type": "residual", "shortcut": "projection", "layers": [
          { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu" } ] },
      { "units": 3, "activation": "softmax" }
      """
    var config = try Config.parse(text: text(layers), file: "c.json")
    try config.resolveShortcuts(input: [1, 8, 8])
    XCTAssertEqual(config.layers.map(\.kind), ["conv2d", "conv2d", "conv2d", "add", "flatten", "dense"])
    XCTAssertEqual(
      config.layers[2] as? Conv2D.Spec,
      Conv2D.Spec(filters: 4, kernel: 1, stride: 1, padding: .valid, activation: .linear, bias: true))
    var unbiased = try Config.parse(text: text(layers, bias: false), file: "c.json")
    try unbiased.resolveShortcuts(input: [1, 8, 8])
    XCTAssertEqual((unbiased.layers[2] as? Conv2D.Spec)?.bias, false)

    // Flat samples: a dense projection; a block may read a named layer and be read by name.
    let dense = """
      { "units": 6, "name": "h", "activation": "tanh" },
      { "type": "residual", "name": "r", "inputs": ["h"], "activation": "tanh", "layers": [ { "units": 5 } ] },
      { "type": "add", "inputs": ["r", "r"] },
      { "units": 3, "activation": "softmax" }
      """
    var flat = try Config.parse(text: text(dense), file: "c.json")
    try flat.resolveShortcuts(input: [64])
    XCTAssertEqual(flat.layers.map(\.kind), ["dense", "dense", "dense", "add", "add", "dense"])
    XCTAssertEqual(flat.layers[2] as? Dense.Spec, Dense.Spec(units: 5, activation: .linear, bias: true))
    XCTAssertEqual(flat.layerInputs ?? [], [[-1], [0], [0], [1, 2], [3, 3], [4]])
    XCTAssertEqual(flat.layerNames, ["h", "r.dense1", "r.shortcut", "r", nil, nil])
  }

  /// Nested blocks and inner names: `<block>.<name>`, nested blocks `<outer>.block1`.
  func testNamesOfNestedBlocksAndNamedInnerLayers() throws {
    let layers = """
      { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same" },
      { "type": "residual", "name": "outer", "layers": [
          { "type": "conv2d", "name": "first", "filters": 2, "kernel": 3, "padding": "same" },
          { "type": "residual", "layers": [ { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same" } ] } ] },
      { "type": "residual", "layers": [ { "type": "max_pool2d", "size": 1 } ] },
      { "type": "global_max_pool2d" }, { "units": 3, "activation": "softmax" }
      """
    var config = try Config.parse(text: text(layers), file: "c.json")
    try config.resolveShortcuts(input: [1, 8, 8])
    XCTAssertEqual(
      config.layerNames,
      [
        nil, "outer.first", "outer.block1.conv1", "outer.block1", "outer", "block2.max_pool1", "block2", nil,
        nil,
      ])
    XCTAssertEqual(config.layerInputs?[3], [2, 1])
    XCTAssertEqual(config.layerInputs?[4], [3, 0])
  }

  func testErrorsNameThePathInsideTheBlock() throws {
    func block(_ inner: String, _ extra: String = "") -> String {
      """
      { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same" },
      { "type": "residual"\(extra), "layers": [\(inner)] },
      { "units": 3, "activation": "softmax" }
      """
    }
    let conv = #"{ "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same" }"#
    let cases: [(String, String)] = [
      (
        block(#"\#(conv), { "type": "conv2d", "filters": "8", "kernel": 3 }"#),
        #"$.model.layers[1].layers[1].filters: expected an integer, found "8""#
      ),
      (
        block(#"\#(conv), { "type": "conv2d", "kernel": 3 }"#),
        "$.model.layers[1].layers[1].filters: missing required key"
      ),
      (block(""), "$.model.layers[1].layers: expected at least one layer, found none"),
      (block(conv, #", "shortcut": "skip""#), #"$.model.layers[1].shortcut: unknown shortcut "skip""#),
      (
        block(conv, #", "actvation": "relu""#),
        #"$.model.layers[1].actvation: unknown key "actvation" (did you mean "activation"?)"#
      ),
      (
        block(#"{ "type": "conv2d", "filters": 2, "kernel": 3, "inputs": ["input"] }"#),
        "$.model.layers[1].layers[0].inputs: a residual block's layers form a chain from the block's input"
      ),
      (block(conv, #", "inputs": ["a", "b"]"#), "$.model.layers[1].inputs: expected one layer name"),
      (
        block(conv, #", "activation": "softmax""#),
        "$.model.layers[1].activation: softmax is only allowed on the last layer"
      ),
      (
        """
        { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same" },
        { "type": "residual", "layers": [ \(conv) ] }, { "type": "residual", "name": "block1", "layers": [ \(conv) ] },
        { "units": 3, "activation": "softmax" }
        """,
        #"$.model.layers[2].name: "block1" already names layer 2"#
      ),
      (
        block(#"{ "type": "resdual" }"#),
        #"$.model.layers[1].layers[0].type: unknown layer type "resdual"; expected one of"#
      ),
    ]
    for (i, (layers, message)) in cases.enumerated() {
      let lines = errors(text(layers))
      XCTAssertTrue(lines.contains { $0.contains(message) }, "case \(i): \(lines)")
      XCTAssertEqual(lines.count, 1, "case \(i) is one error: \(lines)")
    }
  }

  /// Shapes that no shortcut fits: an identity on a changed shape, a size no stride gives, a flattening block.
  func testShortcutsThatCannotFitAreUsageErrorsNamingTheBlock() throws {
    let cases: [(String, String)] = [
      (
        basic(filters: 8, stride: 2, shortcut: "identity"),
        #"c.json: $.model.layers[2].shortcut: the identity needs the block's layers to keep its input's shape [4, 8, 8], found [8, 4, 4]; expected "projection" or "auto""#
      ),
      (
        """
        { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same" },
        { "type": "residual", "layers": [ { "type": "conv2d", "filters": 2, "kernel": 3 } ] },
        { "units": 3, "activation": "softmax" }
        """,
        "c.json: $.model.layers[1]: the block's layers turn [2, 8, 8] into [2, 6, 6], a size no 1×1 projection with a stride gives"
      ),
      (
        """
        { "type": "conv2d", "filters": 2, "kernel": 3, "padding": "same" },
        { "type": "residual", "layers": [ { "type": "global_avg_pool2d" } ] },
        { "units": 3, "activation": "softmax" }
        """,
        "c.json: $.model.layers[1]: the block's layers turn [2, 8, 8] into [2]; expected a shortcut between shapes of one kind"
      ),
    ]
    for (i, (layers, message)) in cases.enumerated() {
      let config = try Config.parse(text: text(layers), file: "c.json")
      XCTAssertThrowsError(try config.architecture(input: [1, 8, 8]), "case \(i)") { error in
        let error = error as? NNBatchError
        XCTAssertEqual(error?.kind, .usage, "case \(i)")
        let line = error?.lines.joined(separator: "\n") ?? ""
        XCTAssertTrue(line.hasPrefix(message), "case \(i): \(line)")
      }
      XCTAssertNil(config.outputs(sample: [1, 8, 8]), "case \(i)")
    }
  }
}
