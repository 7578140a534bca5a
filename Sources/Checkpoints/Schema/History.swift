import HDF5Store

// /history: the loss curves.
//
//     /history/loss       float64 [steps]   loss of every step
//     /history/<series>   float64 [epochs]  EpochHistory.seriesNames, each when not empty

extension EpochHistory {
  /// The /history group for this history and the per-step `loss`.
  func encode(loss: [Double]) -> HDF5Node {
    var node = HDF5Node()
    node.put("loss", loss)
    for (name, values) in series { node.put(name, values) }
    return node
  }

  /// The per-step loss and the epoch series; series this build does not know are left alone.
  static func decode(_ node: NodeReader) throws -> (loss: [Double], epochs: EpochHistory) {
    var series: [String: [Double]] = [:]
    for name in seriesNames where node.hasDataset(name) {
      series[name] = try node.doubles(name)
    }
    return (try node.doubles("loss"), EpochHistory(series: series))
  }
}
