import Checkpoints
import Foundation
import NNBatchCore

/// `nnbatch plot`: the loss curve (and per-epoch series) as a self-contained SVG.
public enum Plot {
  /// One line of a chart.
  public struct Series: Sendable {
    /// Legend text; also the `data-series` attribute of its path.
    public var name: String
    /// x values.
    public var x: [Double]
    /// y values.
    public var y: [Double]
    /// Stroke colour.
    public var color: String
  }

  /// The SVG for checkpoint `path`.
  public static func run(path: String, logScale: Bool) throws(NNBatchError) -> String {
    let model = try SavedModel.load(path)
    let c = model.checkpoint
    var panels: [(title: String, xLabel: String, yLabel: String, series: [Series], log: Bool)] = []
    let steps = c.lossHistory.indices.map { Double($0 + 1) }
    panels.append(
      (
        "Loss per step", "step", "loss (\(model.config.loss.rawValue))",
        [Series(name: "loss", x: steps, y: c.lossHistory, color: "#1f77b4")], logScale
      ))
    let series = c.epochHistory.series
    let epochs = c.epochHistory.trainLoss.indices.map { Double($0 + 1) }
    var lossSeries: [Series] = []
    if let train = series["train_loss"] {
      lossSeries.append(Series(name: "train_loss", x: epochs, y: train, color: "#1f77b4"))
    }
    if let val = series["val_loss"] {
      lossSeries.append(Series(name: "val_loss", x: epochs, y: val, color: "#ff7f0e"))
    }
    if epochs.count > 1 && !lossSeries.isEmpty {
      panels.append(("Loss per epoch", "epoch", "loss", lossSeries, logScale))
    }
    var metricSeries: [Series] = []
    for (key, color) in [("val_accuracy", "#2ca02c"), ("val_r2", "#9467bd"), ("val_mae", "#d62728")] {
      if let values = series[key] {
        metricSeries.append(Series(name: key, x: epochs, y: values, color: color))
      }
    }
    if !metricSeries.isEmpty {
      panels.append(("Validation metrics per epoch", "epoch", "metric", metricSeries, false))
    }
    let width = 720.0
    let panelHeight = 320.0
    var body = ""
    for (i, panel) in panels.enumerated() {
      body += chart(
        title: panel.title, xLabel: panel.xLabel, yLabel: panel.yLabel, series: panel.series,
        log: panel.log, origin: (0, Double(i) * panelHeight), size: (width, panelHeight))
    }
    let height = Double(panels.count) * panelHeight
    return """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
      <title>nnbatch \(escape(model.config.name)): \(escape(model.path))</title>
      <rect width="100%" height="100%" fill="white"/>
      \(body)</svg>

      """
  }

  static func fmt(_ v: Double) -> String { String(format: "%.2f", v) }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }

  /// "Nice" tick values covering [low, high] (1, 2, 5 × 10^k steps).
  static func ticks(_ low: Double, _ high: Double, count: Int = 6) -> [Double] {
    guard high > low else { return [low] }
    let raw = (high - low) / Double(count)
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
    var values: [Double] = []
    var v = ceil(low / step) * step
    while v <= high + step * 1e-9 {
      values.append(abs(v) < step * 1e-9 ? 0 : v)
      v += step
    }
    return values
  }

  static func label(_ v: Double) -> String {
    if v == 0 { return "0" }
    if abs(v) >= 1e5 || abs(v) < 1e-3 { return String(format: "%.0e", v) }
    return String(format: "%g", (v * 1e6).rounded() / 1e6)
  }

  private static func chart(
    title: String, xLabel: String, yLabel: String, series: [Series], log: Bool,
    origin: (Double, Double), size: (Double, Double)
  ) -> String {
    let left = origin.0 + 70
    let top = origin.1 + 36
    let plotWidth = size.0 - 70 - 150
    let plotHeight = size.1 - 36 - 52
    let transform: (Double) -> Double = log ? { log10(max($0, 1e-300)) } : { $0 }
    let allX = series.flatMap(\.x)
    let allY = series.flatMap { $0.y.filter { $0.isFinite && (!log || $0 > 0) } }.map(transform)
    var xLow = allX.min() ?? 0
    var xHigh = allX.max() ?? 1
    var yLow = allY.min() ?? 0
    var yHigh = allY.max() ?? 1
    if xHigh <= xLow { xHigh = xLow + 1 }
    if yHigh <= yLow {
      yLow -= 0.5
      yHigh += 0.5
    }
    if !log && yLow > 0 && yLow < (yHigh - yLow) { yLow = 0 }
    xLow = min(xLow, xHigh)
    func px(_ x: Double) -> Double { left + (x - xLow) / (xHigh - xLow) * plotWidth }
    func py(_ y: Double) -> Double { top + plotHeight - (transform(y) - yLow) / (yHigh - yLow) * plotHeight }
    var s = "<g class=\"chart\" data-title=\"\(escape(title))\">\n"
    s +=
      "<text x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(origin.1 + 20))\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>\n"
    s +=
      "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plotWidth))\" height=\"\(fmt(plotHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
    for t in ticks(xLow, xHigh) {
      let x = px(t)
      s +=
        "<line x1=\"\(fmt(x))\" y1=\"\(fmt(top + plotHeight))\" x2=\"\(fmt(x))\" y2=\"\(fmt(top + plotHeight + 5))\" stroke=\"#444\"/>"
      s +=
        "<text class=\"xtick\" x=\"\(fmt(x))\" y=\"\(fmt(top + plotHeight + 18))\" text-anchor=\"middle\">\(label(t))</text>\n"
    }
    for t in ticks(yLow, yHigh) {
      let y = top + plotHeight - (t - yLow) / (yHigh - yLow) * plotHeight
      let text = log ? label(pow(10, t)) : label(t)
      s +=
        "<line x1=\"\(fmt(left))\" y1=\"\(fmt(y))\" x2=\"\(fmt(left + plotWidth))\" y2=\"\(fmt(y))\" stroke=\"#ddd\"/>"
      s +=
        "<text class=\"ytick\" x=\"\(fmt(left - 6))\" y=\"\(fmt(y + 4))\" text-anchor=\"end\">\(text)</text>\n"
    }
    s +=
      "<text x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(top + plotHeight + 38))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
    s +=
      "<text transform=\"translate(\(fmt(origin.0 + 16)) \(fmt(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel + (log ? " (log scale)" : "")))</text>\n"
    for (i, line) in series.enumerated() {
      var points: [String] = []
      var values: [String] = []
      for (x, y) in zip(line.x, line.y) where y.isFinite && (!log || y > 0) {
        points.append("\(fmt(px(x))),\(fmt(py(y)))")
        values.append("\(x):\(y)")
      }
      s +=
        "<polyline class=\"series\" data-series=\"\(escape(line.name))\" data-values=\"\(values.joined(separator: " "))\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>\n"
      let ly = top + 12 + Double(i) * 18
      s +=
        "<line x1=\"\(fmt(left + plotWidth + 14))\" y1=\"\(fmt(ly))\" x2=\"\(fmt(left + plotWidth + 34))\" y2=\"\(fmt(ly))\" stroke=\"\(line.color)\" stroke-width=\"2\"/>"
      s +=
        "<text class=\"legend\" x=\"\(fmt(left + plotWidth + 40))\" y=\"\(fmt(ly + 4))\">\(escape(line.name))</text>\n"
    }
    return s + "</g>\n"
  }
}
