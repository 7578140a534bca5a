// A worker's matrix-product kernels: oneDNN primitives by key, and the bf16
// buffers mixed precision converts into.
//
// Each worker (each `Workspace`) owns one `MatmulKernels`, used by one thread
// at a time, so nothing here is locked. A primitive is created the first time
// its key is seen (the first step, or the first short last batch) and reused
// for the rest of the run: no step after those creates one.

/// The element type training's matrix products read.
public enum Precision: String, Sendable, Hashable, CaseIterable, Codable {
  /// Everything in 32-bit floats.
  case f32
  /// Mixed precision: bf16 copies of activations, weights and dZ feed the
  /// products, which accumulate and write f32; everything else stays f32.
  case bf16
}

/// One worker's matmul primitives and bf16 scratch, created once and reused every step.
public final class MatmulKernels: @unchecked Sendable {
  private var primitives: [MatmulKey: DNNLMatmul] = [:]
  private var stream: DNNLStream?
  /// bf16 buffers by slot: `2·layer` a layer's input, `2·layer + 1` its dZ; negative slots for operands.
  private var buffers: [Int: BF16Buffer] = [:]
  /// This worker's oneDNN convolution primitives by key (`ConvolutionKernels.swift`).
  var convolutions: [ConvolutionKey: DNNLConvolution] = [:]

  /// The bf16 copy of the flat parameters, while this worker runs a mixed-precision training pass.
  ///
  /// Set by the engine for the compute phase and cleared for evaluation,
  /// which computes in f32 from the master weights. While set, every product
  /// above the small-product limit reads bf16 operands.
  public var bf16Parameters: UnsafePointer<UInt16>?

  /// Padded-row copies of the dense weights, while this worker runs an f32 training pass on AVX2.
  ///
  /// Set by the engine for the compute phase only, when the mirror holds the
  /// parameters the pass reads; the f32 products then read W from it instead
  /// of copying W into padded scratch per call (see `PaddedWeights`).
  public var paddedWeights: PaddedWeights?

  /// Kernels with no primitive yet.
  public init() {}

  /// Number of primitives created so far (tests check that steps reuse them).
  package var primitiveCount: Int { primitives.count }

  /// The implementations oneDNN picked, such as `brg:avx512_core_bf16`, one per distinct name.
  package var implementations: Set<String> { Set(primitives.values.map(\.implementation)) }

  /// Whether products run on bf16 operands now.
  public var isMixedPrecision: Bool { bf16Parameters != nil }

  /// The primitive for `key`, created on first use.
  private func primitive(_ key: MatmulKey) -> DNNLMatmul {
    if let existing = primitives[key] { return existing }
    do {
      let made = try DNNLMatmul(key)
      primitives[key] = made
      return made
    } catch {
      // Shapes and types here are ones oneDNN supports on every x86-64 CPU;
      // a failure is a broken installation, not a user error.
      fatalError("\(error)")
    }
  }

  /// C = alpha · op(A) · op(B) + beta · C with A and B as `key.input` says.
  func run(_ key: MatmulKey, a: UnsafeRawPointer, b: UnsafeRawPointer, c: UnsafeMutablePointer<Float>) {
    let matmul = primitive(key)
    do {
      if stream == nil { stream = try DNNLStream() }
      guard let stream else { return }
      try matmul.run(a: a, b: b, c: c, stream: stream)
    } catch {
      fatalError("\(error)")
    }
  }

  /// A bf16 buffer of at least `count` elements for `slot`, reallocated only when it must grow.
  package func bf16Buffer(slot: Int, count: Int) -> UnsafeMutablePointer<UInt16> {
    if let buffer = buffers[slot], buffer.count >= count { return buffer.pointer }
    let buffer = BF16Buffer(count: count)
    buffers[slot] = buffer
    return buffer.pointer
  }

  /// An f32 scratch buffer of at least `count` elements for `slot` (shares the slots of `bf16Buffer`).
  package func floatBuffer(slot: Int, count: Int) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(bf16Buffer(slot: slot, count: 2 * count)).assumingMemoryBound(to: Float.self)
  }

  /// B [k, n] (row stride `ldb`) as the f32 products should read it: in place, or a copy with padded rows.
  ///
  /// oneDNN 2.6's AVX2 sgemm (`gemm:jit`) runs 4–5× slower when B's rows are
  /// a multiple of 1 KiB apart (cache-set aliasing; measured 14–18 GFLOP/s
  /// for 128 × 1024 × 784 against 80 with rows 1040 floats apart). There,
  /// a copy with 16 more floats per row costs about a tenth of the product.
  /// AVX-512 kernels (brgemm) pack B themselves and read it in place.
  func paddedB(_ b: UnsafePointer<Float>, k: Int, n: Int, ldb: Int) -> (UnsafePointer<Float>, Int) {
    guard KernelLibrary.aliasesWideRows, ldb % 256 == 0 else { return (b, ldb) }
    let padded = ldb + 16
    let copy = floatBuffer(slot: -5, count: k * padded)
    for r in 0..<k { (copy + r * padded).update(from: b + r * ldb, count: n) }
    return (UnsafePointer(copy), padded)
  }

  /// C[M, N] = op(A) · op(B) + beta · C from bf16 operands (f32 accumulation and output).
  ///
  /// `lda`/`ldb` are row strides of A's and B's storage, as for `gemm`.
  public func bf16GEMM(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
    a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    guard KernelLibrary.hasBF16Matmul else {
      // No bf16 matmul in this oneDNN on this CPU (it needs AVX-512): widen
      // the bf16 operands back to f32, where each product of two bf16 values
      // is exact, and accumulate in f32 as the native kernel does. Slower
      // than f32 (the trainer says so), with bf16's rounding of the operands.
      let (aRows, aColumns) = transA == .none ? (m, k) : (k, m)
      let (bRows, bColumns) = transB == .none ? (k, n) : (n, k)
      let a32 = widenedBF16(a, rows: aRows, columns: aColumns, ld: lda, stride: aColumns, slot: -3)
      // Padded rows for B where the AVX2 sgemm needs them (see `paddedB`).
      let bStride =
        transB == .none && KernelLibrary.aliasesWideRows && bColumns % 256 == 0 ? bColumns + 16 : bColumns
      let b32 = widenedBF16(b, rows: bRows, columns: bColumns, ld: ldb, stride: bStride, slot: -4)
      let key = MatmulKey(
        transA: transA, transB: transB, m: m, n: n, k: k, lda: aColumns, ldb: bStride, ldc: ldc, alpha: 1,
        beta: beta, input: .f32)
      run(key, a: a32, b: b32, c: c)
      return
    }
    let key = MatmulKey(
      transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, alpha: 1, beta: beta,
      input: .bf16)
    run(key, a: a, b: b, c: c)
  }

  /// bf16 storage (`rows` rows of `columns` at stride `ld`) widened to f32 in scratch `slot`, rows `stride` apart.
  private func widenedBF16(
    _ x: UnsafePointer<UInt16>, rows: Int, columns: Int, ld: Int, stride: Int, slot: Int
  ) -> UnsafePointer<Float> {
    let wide = floatBuffer(slot: slot, count: rows * stride)
    for r in 0..<rows {
      let source = x + r * ld
      let target = wide + r * stride
      for j in 0..<columns { target[j] = BFloat16.value(source[j]) }
    }
    return UnsafePointer(wide)
  }

  /// Converts op(X)'s storage (`rows` rows of `columns` at stride `ld`) into the bf16 buffer `slot`, packed.
  func packBF16(
    _ x: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int, slot: Int
  ) -> UnsafePointer<UInt16> {
    let packed = bf16Buffer(slot: slot, count: rows * columns)
    if ld == columns {
      BFloat16.convert(x, count: rows * columns, into: packed)
    } else {
      for r in 0..<rows { BFloat16.convert(x + r * ld, count: columns, into: packed + r * columns) }
    }
    return UnsafePointer(packed)
  }
}

/// A 64-byte aligned buffer of bf16 values (as their bit patterns).
final class BF16Buffer {
  let pointer: UnsafeMutablePointer<UInt16>
  let count: Int

  init(count: Int) {
    self.count = count
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: max(count, 1) * MemoryLayout<UInt16>.stride, alignment: 64)
    pointer = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
  }

  deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// f32 → bf16 conversion, round to nearest even: the same bits whoever converts.
public enum BFloat16 {
  /// The bf16 bit pattern nearest `value` (ties to even); NaNs stay NaN.
  @inline(__always)
  public static func bits(_ value: Float) -> UInt16 {
    let u = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: u >> 16) | 0x40 }
    return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
  }

  /// The f32 value of bf16 bits.
  @inline(__always)
  public static func value(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
  }

  /// dst[i] = bits(src[i]) for `count` elements, 16 lanes at a time.
  public static func convert(_ src: UnsafePointer<Float>, count: Int, into dst: UnsafeMutablePointer<UInt16>)
  {
    typealias U = SIMD16<UInt32>
    var i = 0
    let source = UnsafeRawPointer(src)
    let destination = UnsafeMutableRawPointer(dst)
    let one = U(repeating: 1)
    let round = U(repeating: 0x7FFF)
    let exponent = U(repeating: 0x7F80_0000)
    let mantissa = U(repeating: 0x007F_FFFF)
    let quiet = U(repeating: 0x0040_0000)
    while i + 16 <= count {
      let u = source.loadUnaligned(fromByteOffset: i * 4, as: U.self)
      let rounded = (u &+ round &+ ((u &>> 16) & one)) &>> 16
      // NaN: exponent all ones and a non-zero mantissa; truncate and keep it quiet.
      let isNaN = ((u & exponent) .== exponent) .& ((u & mantissa) .!= U(repeating: 0))
      let result = rounded.replacing(with: (u | quiet) &>> 16, where: isNaN)
      destination.storeBytes(
        of: SIMD16<UInt16>(truncatingIfNeeded: result), toByteOffset: i * 2, as: SIMD16<UInt16>.self)
      i += 16
    }
    while i < count {
      dst[i] = bits(src[i])
      i += 1
    }
  }
}
