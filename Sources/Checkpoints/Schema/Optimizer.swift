import HDF5Store
import NeuralNet

// /optimizer: the update rule, its step and its state.
//
//     /optimizer                          attrs: kind, step, then `hyperParameters` by name
//     /optimizer/<slot>/layer_i/<name>    float32, the model tensor's shape
//
// Slots by kind: sgd with momentum "velocity"; adam and adamw "m" and "v".

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

/// One optimizer hyper-parameter, by the name the config and the checkpoint give it.
public struct HyperParameter: Sendable, Hashable, CustomStringConvertible {
  /// The value: a number, or a yes/no setting (nesterov).
  public enum Value: Sendable, Hashable, CustomStringConvertible {
    /// A number.
    case number(Double)
    /// A yes/no setting.
    case flag(Bool)

    /// The plain value: 0.9, true.
    public var description: String {
      switch self {
      case .number(let value): return "\(value)"
      case .flag(let value): return value ? "true" : "false"
      }
    }
  }

  /// The config key and attribute name ("momentum").
  public let name: String
  /// Its value.
  public let value: Value

  /// "momentum=0.9".
  public var description: String { "\(name)=\(value)" }
}

extension OptimizerSettings {
  /// The hyper-parameters `kind` uses, in config order (clip_norm only when set).
  public var hyperParameters: [HyperParameter] {
    var list = [HyperParameter(name: "learning_rate", value: .number(learningRate))]
    switch kind {
    case .sgd:
      list.append(HyperParameter(name: "momentum", value: .number(momentum)))
      list.append(HyperParameter(name: "nesterov", value: .flag(nesterov)))
    case .adam, .adamw:
      list.append(HyperParameter(name: "beta1", value: .number(beta1)))
      list.append(HyperParameter(name: "beta2", value: .number(beta2)))
      list.append(HyperParameter(name: "epsilon", value: .number(epsilon)))
    }
    list.append(HyperParameter(name: "weight_decay", value: .number(weightDecay)))
    if let clipNorm { list.append(HyperParameter(name: "clip_norm", value: .number(clipNorm))) }
    return list
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
  static func decode(_ node: NodeReader, architecture: Architecture) throws -> OptimizerSnapshot {
    let kind = try node.choice("kind", OptimizerKind.self, what: "optimizer")
    var settings = OptimizerSettings(
      kind: kind, learningRate: try node.double("learning_rate"), weightDecay: try node.double("weight_decay")
    )
    switch kind {
    case .sgd:
      settings.momentum = try node.double("momentum")
      settings.nesterov = try node.flag("nesterov")
    case .adam, .adamw:
      settings.beta1 = try node.double("beta1")
      settings.beta2 = try node.double("beta2")
      settings.epsilon = try node.double("epsilon")
    }
    if node.has("clip_norm") { settings.clipNorm = try node.double("clip_norm") }
    let slots = try settings.slotNames.map { try architecture.readTensors(node.group($0)) }
    return OptimizerSnapshot(settings: settings, step: try node.counter("step"), slots: slots)
  }
}
