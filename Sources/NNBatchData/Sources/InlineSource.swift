import NNBatchCore
import NeuralNet

/// The `inline` data source: samples written in the config.
///
/// Config keys: `inputs` (rows of numbers, all of one length) and `targets`
/// (one row, or one number, per input row).
package struct InlineSource: DataSource {
  /// The config name.
  package static let name = "inline"

  /// Input rows.
  package var inputs: [[Double]]
  /// Target rows, one per input row.
  package var targets: [[Double]]

  /// A source of the rows `inputs` and `targets`.
  package init(inputs: [[Double]], targets: [[Double]]) {
    self.inputs = inputs
    self.targets = targets
  }

  /// For messages.
  package var description: String { "inline data" }

  package var settings: [DataSourceSetting] {
    [
      DataSourceSetting("inputs", "\(inputs.count) rows", identity: "\(inputs)"),
      DataSourceSetting("targets", "\(targets.count) rows", identity: "\(targets)"),
    ]
  }

  /// Reads `inputs` and `targets` and checks that they pair up.
  package static func decode(_ d: ObjectReader, context: DataSourceContext) -> InlineSource? {
    let inputs = numberRows(d, "inputs", sink: context.sink)
    let targets = numberRows(d, "targets", sink: context.sink, allowScalars: true)
    guard let inputs, let targets else { return nil }
    if inputs.count != targets.count {
      d.report("targets", "expected \(inputs.count) targets (one per input row), found \(targets.count)")
    }
    if inputs.isEmpty { d.report("inputs", "expected at least one sample, found none") }
    for (key, rows) in [("inputs", inputs), ("targets", targets)] {
      if let first = rows.first, first.isEmpty {
        d.report(key, "expected rows of at least one number, found an empty row ([])")
      }
    }
    return InlineSource(inputs: inputs, targets: targets)
  }

  /// The rows as matrices.
  package func open(task: LearningTask, labels: [String]) throws(NNBatchError) -> any SampleReader {
    let x = Matrix(inputs.map { $0.map(Float.init) })
    let t = Matrix(targets.map { $0.map(Float.init) })
    return InMemorySamples(RawData(inputs: x, targets: t, labels: [], classes: nil))
  }

  /// An array of equally long rows of numbers (or of numbers, as rows of one, with `allowScalars`).
  private static func numberRows(
    _ d: ObjectReader, _ key: String, sink: DiagnosticSink, allowScalars: Bool = false
  ) -> [[Double]]? {
    guard let items = d.array(key) else {
      if !d.has(key) { d.missing(key, "an array of rows of numbers") }
      return nil
    }
    var rows: [[Double]] = []
    var ok = true
    for (i, item) in items.enumerated() {
      let path = "\(d.childPath(key))[\(i)]"
      switch item {
      case .number(let v, _, _) where allowScalars:
        if !Float(v).isFinite {
          sink.report(
            item, path,
            "expected a number within ±\(Float.greatestFiniteMagnitude) (32-bit float), found \(v)")
          ok = false
        }
        rows.append([v])
      case .array(let values, _):
        var row: [Double] = []
        for (j, value) in values.enumerated() {
          guard case .number(let v, _, _) = value else {
            sink.report(value, "\(path)[\(j)]", "expected a number, found \(value.summary)")
            ok = false
            continue
          }
          // Samples are stored as Float: 1e39 is finite as a Double only.
          if !Float(v).isFinite {
            sink.report(
              value, "\(path)[\(j)]",
              "expected a number within ±\(Float.greatestFiniteMagnitude) (32-bit float), found \(v)")
            ok = false
          }
          row.append(v)
        }
        if let first = rows.first, first.count != row.count {
          sink.report(item, path, "expected a row of \(first.count) numbers, found \(row.count)")
          ok = false
        }
        rows.append(row)
      default:
        sink.report(item, path, "expected an array of numbers, found \(item.typeName)")
        ok = false
      }
    }
    return ok ? rows : nil
  }
}
