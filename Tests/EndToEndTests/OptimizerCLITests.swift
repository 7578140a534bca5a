import Checkpoints
import Foundation
import TestSupport
import XCTest

/// The optimizers added as plugins (RMSprop, Adagrad) through the command line: config keys,
/// checkpoint slots read by h5dump, inspect, and resume bit-identical with any --threads.
final class OptimizerCLITests: XCTestCase {
  private func config(_ dir: TemporaryDirectory, _ name: String, optimizer: String, epochs: Int = 4) -> String
  {
    dir.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 4,
        "data": { "source": "csv", "path": "\(repositoryRoot)/configs/data/flowers.csv", "header": true,
                  "targets": "species", "scale": "standardize" },
        "model": { "layers": [ { "units": 12, "activation": "tanh" }, { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": \(optimizer),
        "training": { "epochs": \(epochs), "batch_size": 32, "shard_size": 8 },
        "checkpoint": { "dir": "\(dir.file("ck-" + name))", "every_steps": 7, "keep": 100 } }
      """)
  }

  func testRMSpropAndAdagradTrainSaveTheirStateAndResumeBitwiseWithAnyThreads() throws {
    let dir = TemporaryDirectory()
    let cases = [
      (
        "rmsprop",
        #"{ "kind": "rmsprop", "learning_rate": 0.005, "alpha": 0.9, "momentum": 0.5, "centered": true, "weight_decay": 0.001 }"#,
        ["square_avg", "grad_avg", "momentum_buffer"]
      ),
      (
        "adagrad",
        #"{ "kind": "adagrad", "learning_rate": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1 }"#,
        ["sum"]
      ),
    ]
    for (name, optimizer, slots) in cases {
      let whole = config(dir, name, optimizer: optimizer)
      let one = try nnbatch(["--config", whole, "--threads", "1", "--quiet"])
      XCTAssertEqual(one.status, 0, one.stderr)
      let end = try XCTUnwrap(try CheckpointStore(directory: dir.file("ck-\(name)")).newestValid())
      XCTAssertEqual(end.checkpoint.optimizer.settings.kind.rawValue, name)
      XCTAssertEqual(end.checkpoint.optimizer.settings.slotNames, slots)

      // Every slot is an ordinary dataset.
      if let h5dump = tool("h5dump") {
        for slot in slots {
          let dump = try runProcess(h5dump, ["-d", "/optimizer/\(slot)/layer_0/weights", end.path])
          XCTAssertEqual(dump.status, 0, dump.stderr)
          XCTAssertEqual(h5dumpValues(dump.stdout).count, 4 * 12, slot)
        }
      }
      let inspect = try nnbatch(["inspect", end.path])
      XCTAssertTrue(inspect.stdout.contains("optimizer   \(name) (step"), inspect.stdout)

      // Interrupted mid-epoch (step 7 of 4-batch epochs), resumed with 3 threads: the same bits.
      let resumedDir = dir.file("resumed-\(name)")
      let resume = try nnbatch([
        "--config", whole, "--checkpoint-dir", resumedDir, "--threads", "3", "--quiet", "--resume",
        dir.file("ck-\(name)/\(CheckpointStore.fileName(step: 7))"),
      ])
      XCTAssertEqual(resume.status, 0, resume.stderr)
      let resumed = try XCTUnwrap(try CheckpointStore(directory: resumedDir).newestValid()).checkpoint
      XCTAssertEqual(resumed.bitwiseDifferences(from: end.checkpoint), [], name)
    }
  }

  func testOptimizerKeysAreCheckedAgainstTheFamilysDeclaration() throws {
    let dir = TemporaryDirectory()
    let cases: [(String, String)] = [
      (#"{ "kind": "rmsprop", "beta1": 0.9 }"#, #"$.optimizer.beta1: unknown key"#),
      (#"{ "kind": "rmsprop", "alpha": 1 }"#, "$.optimizer.alpha: expected a number < 1.0, found 1"),
      (#"{ "kind": "adagrad", "lr_decay": -1 }"#, "$.optimizer.lr_decay: expected a number ≥ 0.0, found -1"),
      (#"{ "kind": "rmsprop", "centered": 1 }"#, "$.optimizer.centered: expected true or false, found 1"),
      // Positive in Double, 0 in the Float update loop: 0 / 0 would be the first step.
      (
        #"{ "kind": "adagrad", "epsilon": 1e-50 }"#,
        "$.optimizer.epsilon: expected a number a 32-bit float holds"
      ),
      (
        #"{ "kind": "adagrad", "lr_decay": 1e39 }"#,
        "$.optimizer.lr_decay: expected a number a 32-bit float holds"
      ),
      (
        #"{ "kind": "sgd", "nesterov": true }"#,
        "$.optimizer.nesterov: Nesterov momentum needs momentum > 0, found momentum 0"
      ),
      (#"{ "kind": "rmsprob" }"#, "rmsprop"),
    ]
    for (index, (optimizer, message)) in cases.enumerated() {
      let result = try nnbatch(["--config", config(dir, "bad\(index)", optimizer: optimizer), "--quiet"])
      XCTAssertEqual(result.status, 2, optimizer)
      XCTAssertTrue(result.stderr.contains(message), "\(optimizer): \(result.stderr)")
      XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ck-bad\(index)")), optimizer)
    }
    // A resume that changes an RMSprop setting is refused in config terms.
    let path = config(dir, "change", optimizer: #"{ "kind": "rmsprop", "alpha": 0.9 }"#, epochs: 1)
    XCTAssertEqual(try nnbatch(["--config", path, "--quiet"]).status, 0)
    let changed = config(dir, "change", optimizer: #"{ "kind": "rmsprop", "alpha": 0.8 }"#, epochs: 2)
    let refused = try nnbatch(["--config", changed, "--resume", "--quiet"])
    XCTAssertEqual(refused.status, 2)
    XCTAssertTrue(
      refused.stderr.contains("$.optimizer.alpha: checkpoint has 0.9, config has 0.8"), refused.stderr)
  }
}
