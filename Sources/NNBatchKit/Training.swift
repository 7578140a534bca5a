import Foundation
import NNBatch
import NNBatchCore

/// A training step that finished.
public struct StepProgress: Sendable {
  /// 1-based epoch number.
  public var epoch: Int
  /// Epochs the run trains to.
  public var epochs: Int
  /// 1-based batch number within the epoch.
  public var batch: Int
  /// Batches per epoch.
  public var batches: Int
  /// Steps so far, this one included.
  public var step: Int
  /// The step's mean training loss.
  public var loss: Double
}

/// An epoch that finished, with its metrics.
public struct EpochProgress: Sendable {
  /// 1-based epoch number.
  public var epoch: Int
  /// Epochs the run trains to.
  public var epochs: Int
  /// Steps so far.
  public var step: Int
  /// Mean training loss over the epoch's samples.
  public var trainLoss: Double
  /// Validation metrics by name ("val_loss", "val_accuracy", "val_mae", "val_r2") when measured.
  public var validation: [String: Double]
  /// Learning rate of the epoch's last step.
  public var learningRate: Double
  /// Seconds since the run started.
  public var elapsed: Double
}

/// What a training run reports, in order: steps, each epoch after its last step, then the model.
public enum TrainingEvent: Sendable {
  /// A training step finished.
  case step(StepProgress)
  /// An epoch finished.
  case epoch(EpochProgress)
  /// Training finished; the model is the run's final checkpoint.
  case finished(TrainedModel)
}

extension TrainingConfig {
  /// Trains to the end and returns the model with its ``TrainedModel/history``, calling `onEvent` on the training thread as it goes.
  ///
  /// Checkpoints are written to `checkpointDirectory` (default: the config's; for a config
  /// built without one, a temporary folder removed before this returns) as by `nnbatch train`;
  /// results are bit-identical for any `threads` (default: the active processors). With `resume`, training continues the newest valid checkpoint there.
  /// `callbacks` run at each epoch's end, in order, and may stop the run or set the
  /// learning rate (``Callback``). Nothing is printed on stdout.
  public func train(
    threads: Int? = nil, epochs: Int? = nil, checkpointDirectory: String? = nil, resume: Bool = false,
    callbacks: [any Callback] = [], onEvent: (@Sendable (TrainingEvent) -> Void)? = nil
  ) throws(NNBatchKitError) -> TrainedModel {
    if temporaryCheckpoints && checkpointDirectory == nil && resume {
      throw NNBatchKitError(
        .usage,
        "resume: the config names no checkpoint folder (each run writes to a temporary one and removes it); pass checkpointDirectory, or set one in the config"
      )
    }
    let temporary = temporaryCheckpoints && checkpointDirectory == nil ? try TemporaryFolder() : nil
    defer { temporary?.remove() }
    var options = TrainOptions(
      configPath: config.file, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
    options.config = config
    options.epochs = epochs
    options.checkpointDir = checkpointDirectory ?? temporary?.path
    options.start = resume ? .resumeLatest : .fresh
    options.silent = true
    let recorder = RunRecorder(callbacks: callbacks)
    options.epochControl = { report in recorder.epochEnded(report) }
    if let onEvent {
      options.observer = { event in
        switch event {
        case .step(let s):
          onEvent(
            .step(
              StepProgress(
                epoch: s.epoch, epochs: s.epochs, batch: s.batch, batches: s.batches, step: s.step,
                loss: s.loss)))
        case .epoch(let e):
          onEvent(
            .epoch(
              EpochProgress(
                epoch: e.epoch, epochs: e.epochs, step: e.step, trainLoss: e.trainLoss,
                validation: e.validation,
                learningRate: e.learningRate, elapsed: e.elapsed)))
        }
      }
    }
    let run = options
    var model = try withMemorySamples { () throws(NNBatchKitError) -> TrainedModel in
      do throws(NNBatchError) {
        let trainer = try Trainer(options: run, signals: nil)
        _ = try trainer.run()  // 0 without signals: a failure throws
        // Read whole into memory: the model outlives a temporary folder.
        return TrainedModel(try SavedModel.load(trainer.checkpointPath))
      } catch {
        throw NNBatchKitError(error)
      }
    }
    model.history = recorder.history
    onEvent?(.finished(model))
    return model
  }

  /// Trains on a thread of its own, delivering the run's events as an asynchronous sequence.
  ///
  /// The sequence ends after ``TrainingEvent/finished(_:)``, or throws an ``NNBatchKitError``.
  /// Events are buffered, so a slow consumer never slows training down. Training runs to
  /// its end even when the consumer stops iterating.
  public func trainingEvents(
    threads: Int? = nil, epochs: Int? = nil, checkpointDirectory: String? = nil, resume: Bool = false,
    callbacks: [any Callback] = []
  ) -> AsyncThrowingStream<TrainingEvent, any Error> {
    let (stream, continuation) = AsyncThrowingStream.makeStream(
      of: TrainingEvent.self, throwing: (any Error).self)
    // A thread, not a task: a run is minutes of blocking CPU work that would hold
    // one of the concurrency pool's few threads.
    do {
      try BackgroundThread.start(name: "training", stackSize: 8 << 20) { [self] in
        do {
          _ = try train(
            threads: threads, epochs: epochs, checkpointDirectory: checkpointDirectory, resume: resume,
            callbacks: callbacks, onEvent: { continuation.yield($0) })
          continuation.finish()
        } catch {
          continuation.finish(throwing: error)
        }
      }
    } catch {
      continuation.finish(throwing: NNBatchKitError(error))
    }
    return stream
  }
}

/// A folder of its own under the system's temporary folder, for a run given no checkpoint folder.
struct TemporaryFolder {
  /// The folder.
  let path: String

  /// Creates `nnbatchkit-<random>` under the temporary folder (`TMPDIR`, else /tmp).
  init() throws(NNBatchKitError) {
    let base = FileManager.default.temporaryDirectory.path
    let candidate = "\(base)/nnbatchkit-\(UUID().uuidString)"
    do {
      // Not intermediate directories: a name taken by another process is an error, not shared.
      try FileManager.default.createDirectory(atPath: candidate, withIntermediateDirectories: false)
    } catch {
      throw NNBatchKitError(.failure, "\(candidate): cannot create a temporary checkpoint folder: \(error)")
    }
    path = candidate
  }

  /// Removes the folder and what the run wrote in it.
  func remove() {
    try? FileManager.default.removeItem(atPath: path)
  }
}
