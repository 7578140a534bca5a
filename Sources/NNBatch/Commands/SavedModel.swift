import HDF5Store
import NeuralNet

/// A trained model restored from a checkpoint, for predict, evaluate and inspect.
public struct SavedModel: Sendable {
  /// The file it came from.
  public var path: String
  /// The checkpoint's contents.
  public var checkpoint: Checkpoint
  /// The config the model was trained with.
  public var config: Config
  /// Layers and loss.
  public var network: Network
  /// The parameters.
  public var parameters: FloatBuffer
  /// The feature scaling fitted at training time.
  public var scaler: AffineScaler
  /// The regression-target scaling fitted at training time.
  public var targetScaler: AffineScaler

  /// Loads and verifies `path`.
  public static func load(_ path: String) throws(NNBatchError) -> SavedModel {
    let checkpoint: Checkpoint
    do {
      checkpoint = try Checkpoint.read(from: path)
    } catch {
      throw NNBatchError(.usage, "\(error)")
    }
    let config = try Config.parse(text: checkpoint.config, file: "\(path):/@config")
    var layers: [any LayerSpec] = []
    for layer in checkpoint.layers {
      guard let activation = Activation(rawValue: layer.activation) else {
        throw NNBatchError(.usage, "\(path): unknown activation \"\(layer.activation)\" in the model")
      }
      layers.append(Dense.Spec(units: layer.units, activation: activation, bias: checkpoint.bias))
    }
    guard let first = checkpoint.layers.first,
      checkpoint.parameters.count == checkpoint.expectedParameterCount
    else {
      throw NNBatchError(.usage, "\(path): the model's parameters do not match its layers")
    }
    let architecture: Architecture
    do {
      architecture = try Architecture(input: [first.inputs], layers: layers)
    } catch {
      throw NNBatchError(.usage, "\(path): the model's layers do not fit together: \(error)")
    }
    let scaling = Scaling(rawValue: checkpoint.scaling) ?? .none
    let targetScaling = Scaling(rawValue: checkpoint.targetScaling) ?? .none
    guard
      targetScaling == .none
        || (checkpoint.targetShift.count == architecture.outputs
          && checkpoint.targetFactor.count == architecture.outputs)
    else {
      throw NNBatchError(
        .usage, "\(path): target scaling statistics do not match the \(architecture.outputs) outputs")
    }
    let features = first.inputs
    guard
      scaling == .none
        || (checkpoint.scaleShift.count == features && checkpoint.scaleFactor.count == features)
    else {
      throw NNBatchError(.usage, "\(path): scaling statistics do not match the \(features) inputs")
    }
    return SavedModel(
      path: path, checkpoint: checkpoint, config: config,
      network: Network(architecture: architecture, loss: config.loss),
      parameters: FloatBuffer(checkpoint.parameters),
      scaler: AffineScaler(kind: scaling, shift: checkpoint.scaleShift, factor: checkpoint.scaleFactor),
      targetScaler: AffineScaler(
        kind: targetScaling, shift: checkpoint.targetShift, factor: checkpoint.targetFactor))
  }

  /// Class labels (the indices as text when the data had none).
  public var labels: [String] {
    checkpoint.labels.isEmpty
      ? (0..<network.architecture.outputs).map(String.init) : checkpoint.labels
  }

  /// Whether the model classifies.
  public var isClassifier: Bool { checkpoint.task == LearningTask.classification.rawValue }
}
