import NNBatch
import XCTest

/// Issue 23 #6: every path a config holds reaches the system as written, or is refused.
final class ConfigPathTests: XCTestCase {
  private func errors(_ text: String) -> [String] {
    do {
      _ = try Config.parse(text: text, file: "c.json")
      return []
    } catch {
      return error.lines
    }
  }

  private static let model = """
    "model": { "layers": [ { "units": 1 } ] }, "loss": "mse", "optimizer": { "kind": "sgd" }
    """

  /// A NUL (JSON "\u0000") anywhere in any path key is refused naming the key; so is an empty path.
  func testNULInAnyPathIsRefusedNamingItsKey() {
    let inline = #""data": { "source": "inline", "inputs": [[0], [1]], "targets": [[0], [1]] }"#
    let cases: [(String, String)] = [
      (#"{ \#(inline), "logging": { "csv": "victim.txt\u0000.csv" } }"#, "$.logging.csv"),
      (#"{ \#(inline), "logging": { "tensorboard": "runs\u0000" } }"#, "$.logging.tensorboard"),
      (#"{ \#(inline), "checkpoint": { "dir": "ck\u0000/x" } }"#, "$.checkpoint.dir"),
      (#"{ "data": { "source": "csv", "path": "\u0000data.csv" } }"#, "$.data.path"),
      (
        #"{ "data": { "source": "hdf5", "path": "d.h5\u0000", "inputs": "x", "targets": "y" } }"#,
        "$.data.path"
      ),
      (
        #"{ "data": { "source": "hdf5", "path": "d.h5", "inputs": "x\u0000", "targets": "y" } }"#,
        "$.data.inputs"
      ),
      (#"{ "data": { "source": "idx", "images": "i\u0000", "labels": "l" } }"#, "$.data.images"),
      (#"{ "data": { "source": "idx", "images": "i", "labels": "l\u0000" } }"#, "$.data.labels"),
      (#"{ "data": { "source": "npy", "features": "f\u0000.npy", "targets": "t.npy" } }"#, "$.data.features"),
      (#"{ "data": { "source": "npy", "features": "f.npy", "targets": "t\u0000.npy" } }"#, "$.data.targets"),
    ]
    for (head, key) in cases {
      let text = head.dropLast(1) + ", \(Self.model) }"
      let lines = errors(String(text))
      XCTAssertTrue(
        lines.contains { $0.contains("\(key): expected a path without NUL characters, found one at byte") },
        "\(key): \(lines)")
    }
    let named = errors(#"{ "name": "a\u0000b", \#(inline), \#(Self.model) }"#)
    XCTAssertTrue(
      named.contains {
        $0.contains(#"$.name: expected a non-empty name without '/' or NUL, found "a\u0000b""#)
      },
      "\(named)")
    let empty = errors(#"{ "data": { "source": "csv", "path": "" }, \#(Self.model) }"#)
    XCTAssertTrue(
      empty.contains { $0.contains("$.data.path: expected a path, found an empty string") }, "\(empty)")
  }
}
