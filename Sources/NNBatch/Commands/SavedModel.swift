import Checkpoints
import HDF5Store
import NNBatchCore
import NNBatchData
import NeuralNet

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A trained model restored from a checkpoint, for predict, evaluate, inspect and plot.
public struct SavedModel: Sendable {
  /// The file it came from.
  public var path: String
  /// The file's format version and verified checksum.
  public var file: CheckpointFile
  /// The config the model was trained with.
  public var config: Config
  /// Layers and loss.
  public var network: Network
  /// The parameters.
  public var parameters: FloatBuffer

  /// The checkpoint's contents.
  public var checkpoint: Checkpoint { file.checkpoint }
  /// The feature scaling fitted at training time.
  public var scaler: AffineScaler { checkpoint.data.features }
  /// The regression-target scaling fitted at training time.
  public var targetScaler: AffineScaler { checkpoint.data.targets }
  /// The missing-value filling fitted at training time (`data.missing`), or nil.
  public var imputer: Imputer? { checkpoint.data.imputer }
  /// Features per sample in the data the model reads: before the imputer's indicator columns.
  public var rawFeatures: Int { encoder?.inputWidth ?? imputer?.inputWidth ?? network.architecture.inputs }
  /// The one-hot encoding of categorical columns fitted at training time (`data.categorical`), or nil.
  public var encoder: CategoricalEncoder? { checkpoint.data.encoder }
  /// The categories by raw feature position, for readers of raw rows (empty: no column is categorical,
  /// so none is detected in new data).
  package var categoriesByPosition: [Int: [String]] {
    Dictionary(uniqueKeysWithValues: (encoder?.columns ?? []).map { ($0.position, $0.categories) })
  }

  /// Loads and verifies `path`: a checkpoint file, or a folder's newest valid checkpoint.
  ///
  /// Every value in the file is checked as it is decoded (an unknown
  /// activation, scaling or task is an error naming its attribute), so the
  /// model here is exactly the one that was trained. A folder is read as
  /// `train --resume DIR` reads it (`CheckpointStore.newestValid`), and the
  /// file used is named on stderr; `path` is then that file. This is the one
  /// load of inspect, predict, evaluate, plot and export.
  public static func load(_ path: String) throws(NNBatchError) -> SavedModel {
    let file = try FileSystem.isDirectory(path) ? newestInFolder(path) : read(path)
    let config = try Config.parse(text: file.checkpoint.config, file: "\(file.path):/@config")
    // The conv2d kernels the run recorded, not this CPU's rule: predictions and
    // evaluations then compute as training's validation did.
    let architecture = Trainer.withConvolutionKernels(
      file.checkpoint.architecture, continuing: file.checkpoint, group: nil)
    return SavedModel(
      path: file.path, file: file, config: config,
      network: Network(architecture: architecture, loss: config.loss),
      parameters: FloatBuffer(file.checkpoint.parameters))
  }

  /// The checkpoint file `path`, read and verified.
  private static func read(_ path: String) throws(NNBatchError) -> CheckpointFile {
    do {
      return try CheckpointFile.read(path)
    } catch {
      throw NNBatchError(.usage, "\(error)")
    }
  }

  /// The newest valid checkpoint of folder `folder`, named on stderr with any newer file skipped.
  private static func newestInFolder(_ folder: String) throws(NNBatchError) -> CheckpointFile {
    // "ck/" and "ck" name the same folder; its files are shown as "ck/step-....h5".
    var name = folder
    while name.count > 1 && name.hasSuffix("/") { name.removeLast() }
    let found: (file: CheckpointFile, skipped: [CheckpointError])?
    do {
      found = try CheckpointStore(directory: name).newestValidFile()
    } catch let error as FileSystemError where !error.isUsageError {
      throw NNBatchError(.failure, "\(name): cannot list the checkpoint folder: \(error)")
    } catch {
      throw NNBatchError(.usage, "\(error)")
    }
    guard let found else {
      throw NNBatchError(
        .usage,
        "\(name): no checkpoint in this folder (step-*.h5); give a checkpoint file or a run's checkpoint folder"
      )
    }
    for skipped in found.skipped { writeMessageToStandardError("warning: skipped \(skipped)\n") }
    let fields = [
      LineField("using"), LineField(found.file.path, isPath: true),
      LineField("(newest valid in \(name))", dropRank: 1),
    ]
    // On a terminal one line of its width, the folder's name the first to go.
    let terminal = isatty(STDERR_FILENO) == 1
    let line = terminal ? fitStatusLine(fields, width: terminalColumns(of: STDERR_FILENO)) : fullLine(fields)
    writeToStandardError(line + "\n")
    return found.file
  }

  /// Each layer's name as the config gives it (`stem`, a residual block's `block1.conv1`), or nil when
  /// it names none.
  ///
  /// The checkpoint stores layers by index; the names follow from its config
  /// alone (Config+Residual.swift), so they are read from there, once the
  /// config's graph is resolved on the model's input and matches its layer count.
  public var layerNames: [String?]? {
    var resolved = config
    let architecture = network.architecture
    guard (try? resolved.resolveShortcuts(input: architecture.inputShape)) != nil,
      resolved.layerNames.count == architecture.layers.count,
      resolved.layerNames.contains(where: { $0 != nil })
    else { return nil }
    return resolved.layerNames
  }

  /// Class labels (the indices as text when the data had none).
  ///
  /// Training data may have fewer classes than the output layer has units;
  /// the outputs past its labels are named by their index.
  public var labels: [String] {
    let known = checkpoint.data.labels
    let outputs = network.architecture.outputs
    return known + (min(known.count, outputs)..<outputs).map(String.init)
  }

  /// Raw `inputs` [rows, rawFeatures] filled (missing values, indicator columns) and scaled as at training time.
  ///
  /// A missing value (NaN) in a column the checkpoint does not fill is refused by `scaleInputs`.
  package func prepareInputs(_ inputs: Matrix, source: String, before: Int) throws(NNBatchError) -> Matrix {
    var unseen: [Int] = []
    return try prepareInputs(inputs, source: source, before: before, unseen: &unseen)
  }

  /// `prepareInputs`, first one-hot encoding category indices (-1: unseen, counted per column into `unseen`).
  package func prepareInputs(_ inputs: Matrix, source: String, before: Int, unseen: inout [Int])
    throws(NNBatchError) -> Matrix
  {
    var encoded = inputs
    if let encoder {
      let result = encoder.apply(to: inputs)
      encoded = result.matrix
      if unseen.count != result.unseen.count { unseen = result.unseen.map { _ in 0 } }
      for i in unseen.indices { unseen[i] += result.unseen[i] }
    }
    let filled = imputer.map { $0.apply(to: encoded) } ?? encoded
    try scaleInputs(filled, source: source, before: before)
    return filled
  }

  /// Reports, once per column on stderr, the values of categorical columns that training never saw.
  package func reportUnseen(_ unseen: [Int]) {
    guard let encoder else { return }
    for (i, count) in unseen.enumerated() where count > 0 && i < encoder.columns.count {
      Warnings.emit(
        "\(count) value\(count == 1 ? "" : "s") of column \(excerpt(encoder.columns[i].name)) \(count == 1 ? "was" : "were") not seen in training: encoded as all zeros"
      )
    }
  }

  /// Scales raw `inputs` [rows, inputs] in place as at training time, checking every value.
  ///
  /// The one input check of `predict` and `evaluate`: a raw value that is not
  /// finite, or one that the checkpoint's scaling takes out of Float's range
  /// (3.4e38 − mean overflows), is an error naming `source`, the sample
  /// (1-based, after `before` earlier samples) and the feature, exit 2.
  package func scaleInputs(_ inputs: Matrix, source: String, before: Int) throws(NNBatchError) {
    let scaling = scaler.isIdentity || scaler.shift.count != inputs.columns ? nil : scaler
    for r in 0..<inputs.rows {
      let x = inputs.row(r)
      for j in 0..<inputs.columns {
        let raw = x[j]
        guard raw.isFinite else {
          throw NNBatchError(
            .usage,
            "\(source): sample \(before + r + 1), feature \(j): expected a finite number, found \(raw)")
        }
        guard let scaling else { continue }
        let value = scaling.scaled(raw, column: j)
        guard value.isFinite else {
          throw NNBatchError(
            .usage,
            "\(source): sample \(before + r + 1), feature \(j): expected a value that stays finite under the checkpoint's input scaling, found \(raw) ((x − \(scaling.shift[j])) · \(scaling.factor[j]) = \(value) in 32-bit floats)"
          )
        }
        x[j] = value
      }
    }
  }

  /// The model's outputs for scaled `inputs` [rows, inputs], regression outputs in the targets' units.
  package func outputs(scaled inputs: Matrix) -> Matrix {
    let outputs = network.predict(parameters: parameters, inputs: inputs)  // [rows, outputs]
    targetScaler.restore(outputs)
    return outputs
  }

  /// The one output check of `predict` and `evaluate`: a value that is not finite is an
  /// error naming `source` and the sample (1-based, after `before` earlier samples), exit 2.
  ///
  /// Finite inputs can still give one: weights that are NaN or infinite, or
  /// products and sums that overflow Float inside the network.
  package func checkOutputs(_ outputs: Matrix, source: String, before: Int) throws(NNBatchError) {
    for r in 0..<outputs.rows {
      let y = outputs.row(r)
      for j in 0..<outputs.columns where !y[j].isFinite {
        throw NNBatchError(
          .usage,
          "\(source): sample \(before + r + 1): expected finite outputs, found \(y[j]) at output \(j) (the checkpoint's weights, or this input through them, overflow 32-bit floats)"
        )
      }
    }
  }

  /// The error for a data set without samples, the same for `predict` and `evaluate`.
  package static func noSamples(in source: String) -> NNBatchError {
    NNBatchError(.usage, "\(source): expected at least one sample, found none")
  }

  /// A classifier's label for row `row` of its `outputs` [rows, outputs]; `labels` is ``labels``.
  ///
  /// One sigmoid output: its second label (or "1") from 0.5 up; otherwise the most probable class.
  public func label(_ outputs: Matrix, row: Int, labels: [String]) -> String {
    if outputs.columns == 1 {
      let p = outputs[row, 0]
      return labels.count == 2 ? labels[p >= 0.5 ? 1 : 0] : (p >= 0.5 ? "1" : "0")
    }
    return labels[argmax(outputs.row(row), count: outputs.columns)]
  }

  /// The training data's target column names: the checkpoint's (`/data@target_names`), else,
  /// for files written before it, the names its config gives a CSV source's `targets`.
  public var targetColumnNames: [String]? {
    if let names = checkpoint.data.targetNames { return names }
    guard let csv = config.data.source as? CSVSource else { return nil }
    let names = csv.targets.compactMap { if case .name(let name) = $0 { name } else { nil } }
    return names.count == csv.targets.count && !names.isEmpty ? names : nil
  }

  /// Whether the model classifies.
  public var isClassifier: Bool { checkpoint.data.task == .classification }
}
