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

  /// Fills `parameters` for `architecture`: zero, then each layer's tensors in layer order.
  public func initialize(
    _ parameters: FloatBuffer, for architecture: Architecture,
    using generator: inout SeededGenerator
  ) {
    precondition(parameters.count == architecture.parameterCount, "parameter buffer size mismatch")
    parameters.zero()
    for layer in architecture.layers {
      layer.initialize(parameters.pointer, with: self, using: &generator)
    }
  }

  /// Draws `count` values into `values`, in order, for a tensor of `fanIn` inputs and `fanOut` outputs.
  public func fill(
    _ values: UnsafeMutablePointer<Float>, count: Int, fanIn: Int, fanOut: Int,
    using generator: inout SeededGenerator
  ) {
    let fanIn = Double(fanIn)
    let fanOut = Double(fanOut)
    switch self {
    case .uniform01:
      for i in 0..<count { values[i] = generator.nextFloat() }
    case .xavierUniform:
      let limit = (6 / (fanIn + fanOut)).squareRoot()
      for i in 0..<count { values[i] = Float((2 * generator.nextDouble() - 1) * limit) }
    case .heUniform:
      let limit = (6 / fanIn).squareRoot()
      for i in 0..<count { values[i] = Float((2 * generator.nextDouble() - 1) * limit) }
    case .heNormal:
      let deviation = (2 / fanIn).squareRoot()
      for i in 0..<count { values[i] = Float(generator.nextGaussian() * deviation) }
    }
  }
}
