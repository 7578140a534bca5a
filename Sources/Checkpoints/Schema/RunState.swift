import HDF5Store
import NeuralNet

// Where a run stands: counters on the root, the rest under /state.
//
//     /                 attrs: step, epoch, batch_in_epoch, samples_seen
//     /state            attrs: epoch_loss_sum (float64), epoch_samples,
//                       best_metric (float64), best_epoch, stale_epochs (the last three when tracked),
//                       learning_rate (float64, when a Swift API callback set the base learning
//                       rate; the root's `requires` then lists "learning_rate_override")
//     /state/rng        uint64 [4]  generator state now
//     /state/epoch_rng  uint64 [4]  generator state at the start of the current epoch

/// The best value of the monitored metric so far (early stopping and keep_best).
public struct BestMetric: Sendable, Hashable {
  /// The best value.
  public var value: Double
  /// The epoch (1-based count of epochs done) that reached it.
  public var epoch: Int
  /// Epochs since, without improvement.
  public var staleEpochs: Int

  /// A best value reached after `epoch` epochs, `staleEpochs` epochs ago.
  public init(value: Double, epoch: Int, staleEpochs: Int) {
    self.value = value
    self.epoch = epoch
    self.staleEpochs = staleEpochs
  }
}

/// The training loop's counters: everything besides weights, optimizer and
/// generators that a resumed run needs to continue exactly.
public struct RunCounters: Sendable, Hashable {
  /// Optimizer steps taken.
  public var step: Int
  /// Epochs completed.
  public var epoch: Int
  /// Batches done in the current epoch.
  public var batchInEpoch: Int
  /// Samples trained on so far.
  public var samplesSeen: Int
  /// Σ loss · rows over the current epoch's steps (for its mean training loss).
  public var epochLossSum: Double
  /// Σ rows over the current epoch's steps.
  public var epochSamples: Int
  /// The monitored metric's best value, when early stopping or keep_best tracks one.
  public var best: BestMetric?
  /// The base learning rate a callback set in place of `optimizer.learning_rate` (nil: the config's).
  public var learningRate: Double?

  /// Counters of a run; a new run's are all zero.
  public init(
    step: Int = 0, epoch: Int = 0, batchInEpoch: Int = 0, samplesSeen: Int = 0, epochLossSum: Double = 0,
    epochSamples: Int = 0, best: BestMetric? = nil, learningRate: Double? = nil
  ) {
    self.step = step
    self.epoch = epoch
    self.batchInEpoch = batchInEpoch
    self.samplesSeen = samplesSeen
    self.epochLossSum = epochLossSum
    self.epochSamples = epochSamples
    self.best = best
    self.learningRate = learningRate
  }
}

extension RunCounters {
  /// Sets the root's counters and returns the /state group's attributes.
  func encode(root: inout HDF5Node) -> HDF5Node {
    root.set("step", step)
    root.set("epoch", epoch)
    root.set("batch_in_epoch", batchInEpoch)
    root.set("samples_seen", samplesSeen)
    var state = HDF5Node()
    state.set("epoch_loss_sum", epochLossSum)
    state.set("epoch_samples", epochSamples)
    if let best {
      state.set("best_metric", best.value)
      state.set("best_epoch", best.epoch)
      state.set("stale_epochs", best.staleEpochs)
    }
    if let learningRate { state.set("learning_rate", learningRate) }
    return state
  }

  static func decode(root: NodeReader, state: NodeReader) throws -> RunCounters {
    var counters = RunCounters(
      step: try root.counter("step"), epoch: try root.counter("epoch"),
      batchInEpoch: try root.counter("batch_in_epoch"), samplesSeen: try root.counter("samples_seen"),
      epochLossSum: try state.double("epoch_loss_sum"), epochSamples: try state.counter("epoch_samples"))
    if state.has("best_metric") {
      counters.best = BestMetric(
        value: try state.double("best_metric"), epoch: try state.counter("best_epoch"),
        staleEpochs: try state.counter("stale_epochs"))
    }
    if state.has("learning_rate") {
      let rate = try state.double("learning_rate")
      guard rate.isFinite, rate > 0 else {
        throw SchemaError(
          "\(state.attributePath("learning_rate")): expected a positive finite learning rate, found \(rate)")
      }
      counters.learningRate = rate
    }
    return counters
  }
}

/// The generator states of a run: `generator` now, `epochGenerator` at the current epoch's start.
struct GeneratorStates {
  let generator: SeededGenerator
  let epochGenerator: SeededGenerator

  static func encode(
    _ generator: SeededGenerator, _ epochGenerator: SeededGenerator, into state: inout HDF5Node
  ) {
    state.put("rng", generator.state)
    state.put("epoch_rng", epochGenerator.state)
  }

  static func decode(_ state: NodeReader) throws -> GeneratorStates {
    func generator(_ name: String) throws -> SeededGenerator {
      guard let generator = SeededGenerator(state: try state.words(name, count: 4)) else {
        throw SchemaError("\(state.childPath(name)): not a valid generator state (all zero)")
      }
      return generator
    }
    return GeneratorStates(generator: try generator("rng"), epochGenerator: try generator("epoch_rng"))
  }
}
