import NeuralNet

extension Checkpoint {
  /// What differs, bit for bit, between the runs of two checkpoints (empty when nothing does).
  ///
  /// For tests of the determinism contract: weights, optimizer step and state,
  /// loss and epoch histories, generators and counters. Provenance (`created`,
  /// `nnbatch_version`), the config text, the data fingerprint and the target names are not compared.
  package func bitwiseDifferences(from other: Checkpoint) -> [String] {
    var differences: [String] = []
    func check(_ name: String, _ same: Bool) {
      if !same { differences.append(name) }
    }
    check("counters \(counters) vs \(other.counters)", counters.bitwiseEqual(other.counters))
    check("architecture", architecture == other.architecture)
    check("parameters", parameters.map(\.bitPattern) == other.parameters.map(\.bitPattern))
    check("optimizer settings", optimizer.settings == other.optimizer.settings)
    check(
      "optimizer step \(optimizer.step) vs \(other.optimizer.step)", optimizer.step == other.optimizer.step)
    check(
      "optimizer state",
      optimizer.slots.map { $0.map(\.bitPattern) } == other.optimizer.slots.map { $0.map(\.bitPattern) })
    check("loss history", lossHistory.map(\.bitPattern) == other.lossHistory.map(\.bitPattern))
    check(
      "epoch history",
      epochHistory.series.mapValues { $0.map(\.bitPattern) }
        == other.epochHistory.series.mapValues { $0.map(\.bitPattern) })
    check("generator", generator == other.generator)
    check("epoch generator", epochGenerator == other.epochGenerator)
    // The fingerprint and target names describe the data, not the run's state (older files lack them).
    var facts = data
    facts.fingerprint = other.data.fingerprint
    facts.targetNames = other.data.targetNames
    check("data facts", facts == other.data)
    return differences
  }
}

extension RunCounters {
  fileprivate func bitwiseEqual(_ other: RunCounters) -> Bool {
    step == other.step && epoch == other.epoch && batchInEpoch == other.batchInEpoch
      && samplesSeen == other.samplesSeen && epochLossSum.bitPattern == other.epochLossSum.bitPattern
      && epochSamples == other.epochSamples && best?.value.bitPattern == other.best?.value.bitPattern
      && best?.epoch == other.best?.epoch && best?.staleEpochs == other.best?.staleEpochs
  }
}
