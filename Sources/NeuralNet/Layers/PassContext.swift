// What a forward or backward pass is for, and which rows it runs on.
//
// Most layers compute the same thing in training and inference and ignore
// the context. Dropout does not: in training its masks are a pure function
// of five whole numbers (seed, step, the row's position in the epoch, the
// layer's index, the unit), hashed by a counter-based generator. Nothing is
// drawn from a stream, so a mask cannot depend on which thread, shard or
// process computes a row, nor on whether the run was resumed.

/// What a pass is for (training or inference) and the key of its random masks.
///
/// The engine builds one per shard; `Network` sets `layer` before calling
/// each layer. Row r of the pass is the sample at position `firstPosition + r`
/// of the epoch's order (the shuffled order the batches are cut from), not
/// row number `firstPosition + r` of the data set: a row's position, unlike
/// its data-set index, is the same for every shard size and thread count and
/// is restored exactly on resume, while the data-set index would make every
/// epoch repeat the same masks for the same sample.
public struct PassContext: Sendable, Hashable {
  /// True in training: dropout is active.
  public var isTraining: Bool
  /// The run's seed (the config's `seed`).
  public var seed: UInt64
  /// The step being computed: 0 for the run's first step, counting across epochs.
  public var step: Int
  /// Position in the epoch's order of the pass's first row.
  public var firstPosition: Int
  /// Index of the layer being run in its network (set by `Network`).
  public var layer: Int
  /// The epoch being trained, counting from 0 (the key of augmentation's random numbers).
  public var epoch: Int = 0
  /// How training rows are augmented as they are gathered (`data.augment`); nil: not at all.
  ///
  /// Only a training pass carries one: inference contexts never augment.
  public var augmentation: ImageAugmentation?
  /// The running worker's matmul kernels (set by `Network` from its workspace).
  ///
  /// Not part of the pass's identity: equality and hashing ignore it.
  public var kernels: MatmulKernels?

  /// A context with every field given.
  public init(isTraining: Bool, seed: UInt64, step: Int, firstPosition: Int, layer: Int = 0) {
    self.isTraining = isTraining
    self.seed = seed
    self.step = step
    self.firstPosition = firstPosition
    self.layer = layer
  }

  /// Inference: prediction, evaluation and validation; dropout is the identity.
  public static let inference = PassContext(isTraining: false, seed: 0, step: 0, firstPosition: 0)

  /// Training step `step` of a run seeded with `seed`, whose first row sits at `firstPosition` of the epoch.
  ///
  /// With `augmentation`, the gathered rows are augmented, keyed by (seed, `epoch`, position).
  public static func training(
    seed: UInt64, step: Int, firstPosition: Int = 0, epoch: Int = 0, augmentation: ImageAugmentation? = nil
  ) -> PassContext {
    var context = PassContext(isTraining: true, seed: seed, step: step, firstPosition: firstPosition)
    context.epoch = epoch
    context.augmentation = augmentation
    return context
  }

  /// The augmentation key of row `row` of the pass: a hash of (seed, epoch, position).
  @inline(__always)
  public func augmentationKey(row: Int) -> UInt64 {
    ImageAugmentation.key(seed: seed, epoch: epoch, position: firstPosition + row)
  }

  /// The same pass on rows starting `rows` further into the epoch's order (a shard of a batch).
  public func advanced(by rows: Int) -> PassContext {
    var context = self
    context.firstPosition += rows
    return context
  }

  /// The same pass, run with `kernels`.
  public func with(kernels: MatmulKernels) -> PassContext {
    var context = self
    context.kernels = kernels
    return context
  }

  /// Same purpose, seed, step, position, layer, epoch and augmentation (the kernels do not count).
  public static func == (lhs: PassContext, rhs: PassContext) -> Bool {
    lhs.isTraining == rhs.isTraining && lhs.seed == rhs.seed && lhs.step == rhs.step
      && lhs.firstPosition == rhs.firstPosition && lhs.layer == rhs.layer && lhs.epoch == rhs.epoch
      && lhs.augmentation == rhs.augmentation
  }

  /// Hashes what `==` compares.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(isTraining)
    hasher.combine(seed)
    hasher.combine(step)
    hasher.combine(firstPosition)
    hasher.combine(layer)
    hasher.combine(epoch)
    hasher.combine(augmentation)
  }

  /// The same pass, for layer `index`.
  public func forLayer(_ index: Int) -> PassContext {
    var context = self
    context.layer = index
    return context
  }

  /// The key of row `row`'s random numbers in this layer: a hash of (seed, step, position, layer).
  ///
  /// Combine it with a unit index through `randomBits(key:unit:)`.
  @inline(__always)
  public func randomKey(row: Int) -> UInt64 {
    var h = Self.mix(seed ^ 0x6A09_E667_F3BC_C909)
    h = Self.mix(h ^ UInt64(truncatingIfNeeded: step))
    h = Self.mix(h ^ UInt64(truncatingIfNeeded: firstPosition + row))
    return Self.mix(h ^ UInt64(truncatingIfNeeded: layer))
  }

  /// 64 random bits for `unit` of the row whose key is `key`.
  @inline(__always)
  public static func randomBits(key: UInt64, unit: Int) -> UInt64 {
    mix(key ^ (UInt64(truncatingIfNeeded: unit) &* 0x9E37_79B9_7F4A_7C15))
  }

  /// A uniform float in [0, 1) with 24 random bits for `unit` of the row whose key is `key`.
  @inline(__always)
  public static func uniform(key: UInt64, unit: Int) -> Float {
    Float(randomBits(key: key, unit: unit) >> 40) * 0x1p-24
  }

  /// SplitMix64's finaliser (Stafford's mix 13): each input bit flips about half the output bits.
  @inline(__always)
  static func mix(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
