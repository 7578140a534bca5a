/// How initial weights are drawn; biases always start at zero.
public enum Initializer: String, Sendable, CaseIterable, Codable {
  /// Uniform in [0, 1): the tutorial's `np.random.rand`.
  case uniform01
  /// Uniform in ±√(6 / (fan_in + fan_out)) (Glorot & Bengio).
  case xavierUniform = "xavier_uniform"
  /// Uniform in ±√(6 / fan_in) (He et al.), for ReLU layers.
  case heUniform = "he_uniform"
  /// Normal with mean 0 and standard deviation √(2 / fan_in) (He et al.).
  case heNormal = "he_normal"

  /// Fills `parameters` for `architecture`, layer by layer, row-major, from `generator`.
  public func initialize(
    _ parameters: FloatBuffer, for architecture: Architecture,
    using generator: inout SeededGenerator
  ) {
    precondition(parameters.count == architecture.parameterCount, "parameter buffer size mismatch")
    parameters.zero()
    for layer in architecture.layout {
      let weights = parameters.pointer + layer.weightOffset
      let fanIn = Double(layer.inputs)
      let fanOut = Double(layer.units)
      for i in 0..<layer.weightCount {
        switch self {
        case .uniform01:
          weights[i] = generator.nextFloat()
        case .xavierUniform:
          let limit = (6 / (fanIn + fanOut)).squareRoot()
          weights[i] = Float((2 * generator.nextDouble() - 1) * limit)
        case .heUniform:
          let limit = (6 / fanIn).squareRoot()
          weights[i] = Float((2 * generator.nextDouble() - 1) * limit)
        case .heNormal:
          weights[i] = Float(generator.nextGaussian() * (2 / fanIn).squareRoot())
        }
      }
    }
  }
}
