import Foundation
import TestSupport
import XCTest

/// Config errors that point the right way, through the real CLI (issue 24).
final class ConfigErrorCLITests: XCTestCase {
  func testAWrongLayerTypeStopsAtTheOneRealError() throws {
    let dir = TemporaryDirectory()
    dir.write(
      "dense.json",
      """
      { "name": "d",
        "data": { "source": "inline", "inputs": [[0, 1], [1, 0]], "targets": [[1], [0]] },
        "model": { "layers": [ { "type": "Dense", "units": 4, "activation": "relu" },
                               { "units": 1, "activation": "sigmoid" } ] },
        "loss": "binary_cross_entropy",
        "optimizer": { "kind": "adam" } }
      """)
    let result = try nnbatch(["--config", "dense.json"], in: dir.path)
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertEqual(
      result.stderr,
      #"""
      error: dense.json:3:36: $.model.layers[0].type: unknown layer type "Dense"; expected one of dense, conv2d, max_pool2d, avg_pool2d, flatten, dropout (did you mean "dense"?)

      """#)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("checkpoints")))
  }
}
