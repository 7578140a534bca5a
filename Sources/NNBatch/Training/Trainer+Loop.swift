import NNBatchCore
import NeuralNet
import Parallel

// The training loop: one epoch's steps, then its end (validation, history,
// reports), with the checkpoint policy and early stopping in
// Trainer+Policy.swift. `train()` in Trainer.swift runs epochs until the
// last one, a stop or early stopping.

/// What stays fixed over a run's epochs.
struct RunSpan {
  /// `monotonicSeconds()` when training began (for elapsed times and ETAs).
  let started: Double
  /// Training samples.
  let samples: Int
  /// Samples per step.
  let batchSize: Int
  /// Steps per epoch.
  let batches: Int
  /// The step and samples seen when this process began (a resume starts past 0).
  let firstStep: Int
  /// Samples seen when this process began.
  let firstSamples: Int
}

/// How an epoch ended.
enum EpochEnd {
  /// Its last step ran and its end was recorded.
  case finished
  /// Early stopping ended the run after it.
  case stoppedEarly
  /// A stop was due (a signal's exit code): the run ends after this step.
  case stopped(Int32)
}

extension Trainer {
  /// Trains the current epoch from `batchInEpoch` to its end (or a stop), then records the epoch.
  func trainEpoch(_ run: RunSpan) throws(NNBatchError) -> EpochEnd {
    // The epoch's order comes from the generator state at the epoch's
    // start, so a resumed run redoes exactly the same shuffle.
    generator = epochGenerator
    do throws(NNBatchError) {
      try feed.beginEpoch(shuffle: config.shuffle, using: &generator, at: batchInEpoch * run.batchSize)
    } catch {
      try saveBeforeFailing(error)
      throw error
    }
    // Clock reads only for epochs that are reported or logged: the tutorial's
    // run has 1500 one-step epochs, where they would cost more than the step.
    let reported = reporter.reports(epoch: epoch + 1, of: config.epochs)
    let timed = reported || logs.recordsEpochs || options.epochControl != nil
    let epochStarted = timed ? monotonicSeconds() : 0
    let firstBatch = batchInEpoch
    var learningRate = baseLearningRate
    while batchInEpoch < run.batches {
      guard let rate = try trainStep(run) else {
        // A signal came while waiting for data: stop here, saving the steps done.
        return .stopped(stopRequest ?? 0)
      }
      learningRate = rate
      let lastOfEpoch = batchInEpoch == run.batches
      try stepPolicy(lastOfEpoch: lastOfEpoch)
      if !lastOfEpoch, let code = stopRequest { return .stopped(code) }
    }
    let trainLoss = endEpoch(learningRate: learningRate)
    var stoppedByCallback = false
    if timed {
      let seconds = monotonicSeconds() - epochStarted
      let trained = Double((run.batches - firstBatch) * run.batchSize)
      let report = EpochReport(
        epoch: epoch, epochs: config.epochs, step: step, trainLoss: trainLoss,
        validation: history.lastValidation, learningRate: learningRate,
        samplesPerSecond: seconds > 0 ? trained / seconds : 0, elapsed: monotonicSeconds() - run.started)
      if reported { reporter.epochDone(report) }
      logs.epoch(report)
      // Before the policy's save, so that the checkpoint holds what the callback set.
      if let control = options.epochControl, try applyControl(control(report)) { stoppedByCallback = true }
    }
    if try epochPolicy() || stoppedByCallback { return .stoppedEarly }
    if let code = stopRequest { return .stopped(code) }
    return .finished
  }

  /// One step on the next batch; returns its learning rate, or nil when a stop came while waiting for the batch.
  private func trainStep(_ run: RunSpan) throws(NNBatchError) -> Double? {
    let start = batchInEpoch * run.batchSize
    let batch: Dataset
    let indices: ArraySlice<Int>
    do throws(NNBatchError) {
      guard let next = try feed.batch(start..<min(start + run.batchSize, run.samples)) else { return nil }
      (batch, indices) = next
    } catch {
      try saveBeforeFailing(error)
      throw error
    }
    let learningRate = schedule.learningRate(base: baseLearningRate, step: step, epoch: epoch)
    // Dropout masks are keyed by (seed, step, position in the epoch's order), augmentation
    // by (seed, epoch, position): the same on resume.
    let context = PassContext.training(
      seed: config.seed, step: step, firstPosition: start, epoch: epoch, augmentation: augmentation)
    let outcome = engine.step(
      parameters: parameters, data: batch, indices: indices, learningRate: learningRate, context: context)
    guard outcome.isFinite else {
      throw NNBatchError(
        .failure,
        "training diverged at step \(step + 1) (epoch \(epoch + 1)): loss \(outcome.loss), gradient norm \(outcome.gradientNorm); nothing was saved from this step. Try a smaller learning rate (now \(learningRate)), data.scale \"standardize\", or optimizer.clip_norm"
      )
    }
    step += 1
    batchInEpoch += 1
    samplesSeen += outcome.rows
    lossHistory.append(outcome.loss)
    epochLossSum += outcome.loss * Double(outcome.rows)
    epochSamples += Double(outcome.rows)
    reporter.stepDone(
      epoch: epoch + 1, epochs: config.epochs, batch: batchInEpoch, batches: run.batches, step: step,
      loss: outcome.loss, started: run.started, done: step - run.firstStep,
      total: config.epochs * run.batches - run.firstStep, samples: samplesSeen - run.firstSamples)
    logs.step(step, loss: outcome.loss)
    return learningRate
  }

  /// Takes an epoch-end callback's decision; returns whether it stops the run.
  private func applyControl(_ decision: EpochControl) throws(NNBatchError) -> Bool {
    if let rate = decision.learningRate {
      guard rate.isFinite, rate > 0 else {
        throw NNBatchError(
          .usage, "callback after epoch \(epoch): expected a positive finite learning rate, found \(rate)")
      }
      learningRateOverride = rate
    }
    if decision.stop {
      reporter.note("stopped by a callback after epoch \(epoch)")
      stoppedEarly = true
    }
    return decision.stop
  }

  /// The epoch's end: counters move to the next epoch, validation runs, the history gains a row; returns the mean training loss.
  private func endEpoch(learningRate: Double) -> Double {
    epochGenerator = generator
    let trainLoss = epochLossSum / max(epochSamples, 1)
    epochLossSum = 0
    epochSamples = 0
    epoch += 1
    batchInEpoch = 0
    let classification = config.task == .classification
    var classifierMetrics: [String: Double] = [:]
    let validation = data.validation.map { set in
      // A classifier's rows' outputs are kept for F1 and AUC, which are no sums over shards.
      let outputs = classification ? Matrix(rows: set.count, columns: network.architecture.outputs) : nil
      let sums = engine.evaluate(
        parameters: parameters, data: set, targetScale: data.targetScaler, outputs: outputs)
      if let outputs { classifierMetrics = ClassifierMetrics.measure(outputs: outputs, targets: set.targets) }
      return sums
    }
    history.append(
      trainLoss: trainLoss, learningRate: learningRate, validation: validation, loss: config.loss,
      classification: classification, classifierMetrics: classifierMetrics)
    return trainLoss
  }
}
