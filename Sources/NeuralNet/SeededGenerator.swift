#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The project's seeded random generator: xoshiro256** seeded by SplitMix64.
///
/// Same seed, same stream, on every machine and Swift version (unlike the
/// standard library's `random(in:)` algorithms, which may change). Its whole
/// state is four words, saved in checkpoints so a resumed run draws exactly
/// what the uninterrupted run would have drawn.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Hashable {
  private var s0: UInt64
  private var s1: UInt64
  private var s2: UInt64
  private var s3: UInt64

  /// A generator whose state is expanded from `seed` by SplitMix64.
  public init(seed: UInt64) {
    var x = seed
    func splitMix() -> UInt64 {
      x &+= 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s0 = splitMix()
    s1 = splitMix()
    s2 = splitMix()
    s3 = splitMix()
  }

  /// A generator restored from `state` (four words, not all zero).
  public init?(state: [UInt64]) {
    guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
    s0 = state[0]
    s1 = state[1]
    s2 = state[2]
    s3 = state[3]
  }

  /// The four state words, for checkpoints.
  public var state: [UInt64] { [s0, s1, s2, s3] }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    let result = rotateLeft(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotateLeft(s3, 45)
    return result
  }

  /// A uniform float in [0, 1) with 24 random bits.
  public mutating func nextFloat() -> Float {
    Float(next() >> 40) * 0x1p-24
  }

  /// A uniform double in [0, 1) with 53 random bits.
  public mutating func nextDouble() -> Double {
    Double(next() >> 11) * 0x1p-53
  }

  /// A standard normal sample (Box-Muller; uses two uniforms, keeps no spare).
  public mutating func nextGaussian() -> Double {
    // 1 - u is in (0, 1], so the logarithm is finite.
    let u1 = 1 - nextDouble()
    let u2 = nextDouble()
    return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
  }

  /// A uniform integer in 0..<bound, without modulo bias (Lemire's method).
  public mutating func nextIndex(below bound: Int) -> Int {
    precondition(bound > 0, "nextIndex: bound must be positive")
    let range = UInt64(bound)
    var product = next().multipliedFullWidth(by: range)
    if product.low < range {
      let threshold = (0 &- range) % range
      while product.low < threshold {
        product = next().multipliedFullWidth(by: range)
      }
    }
    return Int(product.high)
  }

  /// Shuffles `elements` in place (Fisher-Yates, from the last element down).
  ///
  /// Concrete on `Int` (sample orders): an unspecialised generic `swapAt`
  /// allocated on every swap.
  public mutating func shuffle(_ elements: inout [Int]) {
    guard elements.count > 1 else { return }
    elements.withUnsafeMutableBufferPointer { buffer in
      for i in stride(from: buffer.count - 1, to: 0, by: -1) {
        let j = nextIndex(below: i + 1)
        let value = buffer[i]
        buffer[i] = buffer[j]
        buffer[j] = value
      }
    }
  }

  @inline(__always)
  private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
  }
}
