import HDF5Store
import NeuralNet

// /optimizer: the update rule, its step and its state.
//
//     /optimizer                          attrs: kind, step, then `hyperParameters` by name
//     /optimizer/<slot>/layer_i/<name>    float32, the model tensor's shape
//
// Hyper-parameters and slots come from the family's rule (NeuralNet/Optimizers/):
// sgd with momentum "velocity"; adam and adamw "m" and "v"; rmsprop "square_avg"
// (+ "grad_avg" when centered, + "momentum_buffer" with momentum); adagrad "sum".

/// An optimizer as a checkpoint holds it: settings, updates applied, state buffers.
public struct OptimizerSnapshot: Sendable, Equatable {
  /// Kind and hyper-parameters.
  public var settings: OptimizerSettings
  /// Updates applied so far (Adam's t).
  public var step: Int
  /// State buffers in `settings.slotNames` order, each in the parameters' layout.
  public var slots: [[Float]]

  /// A snapshot of `settings` after `step` updates with state `slots`.
  public init(settings: OptimizerSettings, step: Int, slots: [[Float]]) {
    self.settings = settings
    self.step = step
    self.slots = slots
  }
}

extension OptimizerSnapshot {
  func encode(_ architecture: Architecture) -> HDF5Node {
    var node = HDF5Node()
    node.set("kind", settings.kind.rawValue)
    node.set("step", step)
    for parameter in settings.hyperParameters {
      switch parameter.value {
      case .number(let value): node.set(parameter.name, value)
      case .flag(let value): node.set(parameter.name, value)
      }
    }
    for (name, buffer) in zip(settings.slotNames, slots) {
      var slot = HDF5Node()
      slot.groups = architecture.tensorGroups(buffer)
      node.groups[name] = slot
    }
    return node
  }

  /// Reads /optimizer (the same in versions 1 and 2, but for 0/1 flags stored as floats in 1).
  ///
  /// The family's rule says which attributes to read: a checkpoint holds
  /// each of its hyper-parameters, so none is taken from a default.
  static func decode(_ node: NodeReader, architecture: Architecture) throws -> OptimizerSnapshot {
    let kind = try node.choice("kind", OptimizerKind.self, what: "optimizer")
    var values: [String: HyperParameter.Value] = [:]
    for spec in kind.rule.hyperParameters {
      switch spec.kind {
      case .number: values[spec.name] = .number(try node.double(spec.name))
      case .flag: values[spec.name] = .flag(try node.flag(spec.name))
      }
    }
    let settings = OptimizerSettings(
      kind: kind, learningRate: try node.double("learning_rate"),
      weightDecay: try node.double("weight_decay"),
      clipNorm: node.has("clip_norm") ? try node.double("clip_norm") : nil, values)
    let slots = try settings.slotNames.map { try architecture.readTensors(node.group($0)) }
    return OptimizerSnapshot(settings: settings, step: try node.counter("step"), slots: slots)
  }
}
