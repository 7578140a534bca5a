import NNBatchCore
import NeuralNet

/// The `synthetic` data source: seeded, learnable classification data.
///
/// Config keys: `samples`, `features`, `classes`; `seed` (default: the run's).
package struct SyntheticSource: DataSource {
  /// The config name.
  package static let name = "synthetic"
  /// Labels only: classification.
  package static var impliedTask: LearningTask? { .classification }

  /// Rows to generate.
  package var samples: Int
  /// Features per row.
  package var features: Int
  /// Classes (≥ 2).
  package var classes: Int
  /// The generator's seed.
  package var seed: UInt64

  /// A source of `samples` rows of `features` features in `classes` classes, from `seed`.
  package init(samples: Int, features: Int, classes: Int, seed: UInt64) {
    self.samples = samples
    self.features = features
    self.classes = classes
    self.seed = seed
  }

  /// For messages.
  package var description: String { "synthetic data" }

  package var settings: [DataSourceSetting] {
    [
      DataSourceSetting("samples", samples), DataSourceSetting("features", features),
      DataSourceSetting("classes", classes), DataSourceSetting("seed", seed),
    ]
  }

  /// Reads `samples`, `features`, `classes` and `seed`.
  package static func decode(_ d: ObjectReader, context: DataSourceContext) -> SyntheticSource? {
    let samples = d.int("samples", min: 1, max: 1 << 28)
    let features = d.int("features", min: 1, max: 1 << 20)
    let classes = d.int("classes", min: 2, max: 1 << 16)
    let seed = d.int("seed", min: 0).map(UInt64.init) ?? context.seed
    for key in ["samples", "features", "classes"] where !d.has(key) {
      d.missing(key, "a positive integer")
    }
    guard let samples, let features, let classes else { return nil }
    return SyntheticSource(samples: samples, features: features, classes: classes, seed: seed)
  }

  /// Generates the samples in memory.
  package func open(task: LearningTask, labels: [String]) throws(NNBatchError) -> any SampleReader {
    // samples × features may be 2^48 floats within the keys' own bounds.
    try MemoryBudget.require(
      checkedSum([
        checkedProduct([samples, features, MemoryLayout<Float>.size]),
        checkedProduct([features, classes, MemoryLayout<Float>.size]),
      ]), for: "\(samples) synthetic samples of \(features) features", in: "synthetic data")
    return InMemorySamples(generate())
  }

  /// x uniform in [0, 1), y = argmax((x − 0.5) · M).
  ///
  /// M [features, classes] is Gaussian from the same seed, so classes are
  /// roughly balanced and linearly separable (learnable by any network).
  package func generate() -> RawData {
    var generator = SeededGenerator(seed: seed)
    let projection = Matrix(rows: features, columns: classes)
    for i in 0..<(features * classes) {
      projection.storage.pointer[i] = Float(generator.nextGaussian())
    }
    let inputs = Matrix(rows: samples, columns: features)
    let x = inputs.storage.pointer
    for i in 0..<(samples * features) { x[i] = generator.nextFloat() }
    // Scores = (x − 0.5) · M = x · M − 0.5 · colsum(M), in blocks of rows.
    var offset = [Float](repeating: 0, count: classes)
    for j in 0..<features {
      for c in 0..<classes { offset[c] += 0.5 * projection[j, c] }
    }
    let targets = Matrix(rows: samples, columns: 1)
    let block = 4096
    let scores = FloatBuffer(count: block * classes)
    let kernels = MatmulKernels()
    var start = 0
    while start < samples {
      let rows = min(block, samples - start)
      gemm(
        .none, .none, m: rows, n: classes, k: features, alpha: 1, a: inputs.row(start),
        lda: features, b: projection.storage.pointer, ldb: classes, beta: 0, c: scores.pointer,
        ldc: classes, kernels: kernels)
      for r in 0..<rows {
        let s = scores.pointer + r * classes
        for c in 0..<classes { s[c] -= offset[c] }
        targets.storage.pointer[start + r] = Float(argmax(s, count: classes))
      }
      start += rows
    }
    return RawData(inputs: inputs, targets: targets, labels: [], classes: classes)
  }
}
