#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A layer's element-wise (or, for softmax, row-wise) non-linearity.
///
/// Notation: Z[B, U] pre-activations, A[B, U] = f(Z) outputs, B rows
/// (samples), U units. Every derivative is written in terms of the output A,
/// as the tutorial writes σ'(a) = a(1 − a), so backward needs no copy of Z.
public enum Activation: String, Sendable, CaseIterable, Codable {
  /// σ(z) = 1 / (1 + e^−z).
  case sigmoid
  /// tanh(z).
  case tanh
  /// max(0, z).
  case relu
  /// z for z > 0, 0.01·z otherwise.
  case leakyRelu = "leaky_relu"
  /// z.
  case linear
  /// exp(z_j) / Σ_k exp(z_k) along each row; output layers only.
  case softmax

  /// Slope of `leaky_relu` for negative inputs.
  public static let leakySlope: Float = 0.01

  /// A = f(Z), in place on `values` ([rows, columns], row-major).
  public func forward(_ values: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    let count = rows * columns
    switch self {
    case .sigmoid:
      for i in 0..<count {
        let z = values[i]
        // Split by sign so exp never overflows.
        if z >= 0 {
          values[i] = 1 / (1 + expf(-z))
        } else {
          let e = expf(z)
          values[i] = e / (1 + e)
        }
      }
    case .tanh:
      for i in 0..<count { values[i] = tanhf(values[i]) }
    case .relu:
      var i = 0
      let raw = UnsafeMutableRawPointer(values)
      while i + 16 <= count {
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        raw.storeBytes(of: v.replacing(with: 0, where: v .< 0), toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
      }
      while i < count {
        values[i] = max(values[i], 0)
        i += 1
      }
    case .leakyRelu:
      let slope = Activation.leakySlope
      for i in 0..<count {
        let z = values[i]
        values[i] = z > 0 ? z : slope * z
      }
    case .linear:
      break
    case .softmax:
      for r in 0..<rows {
        let row = values + r * columns
        // Subtracting the row maximum keeps exp in range (log-sum-exp trick).
        var maximum = -Float.infinity
        for j in 0..<columns { maximum = max(maximum, row[j]) }
        var sum: Float = 0
        for j in 0..<columns {
          let e = expf(row[j] - maximum)
          row[j] = e
          sum += e
        }
        let inverse = 1 / sum
        for j in 0..<columns { row[j] *= inverse }
      }
    }
  }

  /// dZ = dA ⊙ f'(A), in place on `gradient`, from the outputs `output`.
  ///
  /// For softmax, dZ_j = a_j · (dA_j − Σ_k dA_k · a_k) on each row.
  public func backward(
    output: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
    rows: Int, columns: Int
  ) {
    let count = rows * columns
    switch self {
    case .sigmoid:
      for i in 0..<count {
        let a = output[i]
        gradient[i] *= a * (1 - a)
      }
    case .tanh:
      for i in 0..<count {
        let a = output[i]
        gradient[i] *= 1 - a * a
      }
    case .relu:
      // Explicit vectors: the compiler cannot prove `output` and `gradient` apart.
      var i = 0
      let a = UnsafeRawPointer(output)
      let g = UnsafeMutableRawPointer(gradient)
      while i + 16 <= count {
        let y = a.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        let d = g.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        g.storeBytes(of: d.replacing(with: 0, where: .!(y .> 0)), toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
      }
      while i < count {
        gradient[i] = output[i] > 0 ? gradient[i] : 0
        i += 1
      }
    case .leakyRelu:
      let slope = Activation.leakySlope
      for i in 0..<count { gradient[i] *= output[i] > 0 ? 1 : slope }
    case .linear:
      break
    case .softmax:
      for r in 0..<rows {
        let a = output + r * columns
        let g = gradient + r * columns
        var dot: Float = 0
        for j in 0..<columns { dot += g[j] * a[j] }
        for j in 0..<columns { g[j] = a[j] * (g[j] - dot) }
      }
    }
  }
}
