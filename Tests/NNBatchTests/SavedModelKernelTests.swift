import Checkpoints
import Foundation
import NNBatch
import NeuralNet
import TestSupport
import XCTest

/// predict, evaluate, export and inspect load a model through `SavedModel.load`: with the conv2d kernels its run recorded.
final class SavedModelKernelTests: XCTestCase {
  func testALoadedModelComputesWithTheKernelsItsRunRecorded() throws {
    let dir = TemporaryDirectory()
    let config = dir.write(
      "cnn.json",
      """
      { "name": "saved-kernels", "seed": 2,
        "data": { "source": "synthetic", "samples": 64, "features": 64, "classes": 3, "seed": 3, "shape": [1, 8, 8] },
        "model": { "layers": [
          { "type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu" },
          { "type": "conv2d", "filters": 4, "kernel": 5, "padding": "same", "activation": "relu" },
          { "units": 3, "activation": "softmax" } ] },
        "loss": "cross_entropy", "optimizer": { "kind": "sgd", "learning_rate": 0.05 },
        "training": { "epochs": 1, "batch_size": 32, "shard_size": 16 },
        "checkpoint": { "dir": "\(dir.file("ck"))", "every_epochs": 1, "keep": 5 } }
      """)
    let run = try nnbatch(["--config", config, "--quiet"], in: repositoryRoot)
    XCTAssertEqual(run.status, 0, run.stderr)
    let trained = try Checkpoint.read(from: dir.file("ck/step-000000002.h5"))
    for recorded: [ConvolutionKernel]? in [[.im2col, .onednn], [.onednn, .im2col], nil] {
      var changed = trained
      changed.kernels?.convolutions = recorded
      let file = dir.file("k-\(recorded.map { $0.map(\.rawValue).joined(separator: "-") } ?? "none").h5")
      try changed.write(to: file)
      let model = try SavedModel.load(file)
      // Files written before the choice was recorded ran im2col.
      XCTAssertEqual(model.network.architecture.convolutionKernels, recorded ?? [.im2col, .im2col], file)
    }
  }
}
