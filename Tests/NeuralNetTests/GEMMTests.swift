import Dispatch
import NeuralNet
import XCTest

/// oneDNN and the small Swift kernel against the naive Double reference.
final class GEMMTests: XCTestCase {
  private func random(_ count: Int, _ generator: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in generator.nextFloat() * 2 - 1 }
  }

  private typealias Kernel = (
    Transpose, Transpose, Int, Int, Int, Float, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int,
    Float, UnsafeMutablePointer<Float>, Int
  ) -> Void

  private func check(_ kernel: Kernel, name: String, shapes: [(Int, Int, Int)]) {
    var generator = SeededGenerator(seed: 7)
    for (m, n, k) in shapes {
      for ta in [Transpose.none, .transposed] {
        for tb in [Transpose.none, .transposed] {
          for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1.5)] {
            let a = random(m * k, &generator)
            let b = random(k * n, &generator)
            let c0 = random(m * n, &generator)
            let lda = ta == .none ? k : m
            let ldb = tb == .none ? n : k
            var expected = c0
            referenceGEMM(
              ta, tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
              c: &expected, ldc: n)
            var actual = c0
            a.withUnsafeBufferPointer { pa in
              b.withUnsafeBufferPointer { pb in
                actual.withUnsafeMutableBufferPointer { pc in
                  kernel(
                    ta, tb, m, n, k, alpha, pa.baseAddress!, lda, pb.baseAddress!, ldb, beta,
                    pc.baseAddress!, n)
                }
              }
            }
            for i in 0..<(m * n) {
              let tolerance = 1e-5 * Float(k) + 1e-5
              XCTAssertEqual(
                actual[i], expected[i], accuracy: tolerance,
                "\(name) m=\(m) n=\(n) k=\(k) \(ta) \(tb) alpha=\(alpha) beta=\(beta) at \(i)")
              if abs(actual[i] - expected[i]) > tolerance { return }
            }
          }
        }
      }
    }
  }

  func testOneDNNMatchesReferenceOnOddShapes() {
    check(
      {
        libraryOnlyGEMM(
          $0, $1, m: $2, n: $3, k: $4, alpha: $5, a: $6, lda: $7, b: $8, ldb: $9, beta: $10, c: $11, ldc: $12)
      },
      name: "oneDNN",
      shapes: [(1, 1, 1), (3, 5, 7), (17, 13, 1), (33, 65, 129), (128, 10, 255), (2, 300, 3), (9, 256, 17)])
  }

  func testSmallKernelMatchesReference() {
    check(
      {
        swiftOnlyGEMM(
          $0, $1, m: $2, n: $3, k: $4, alpha: $5, a: $6, lda: $7, b: $8, ldb: $9, beta: $10, c: $11, ldc: $12)
      },
      name: "swift", shapes: [(1, 1, 1), (4, 3, 4), (3, 5, 7), (9, 2, 11), (16, 16, 16)])
  }

  func testDispatchingGEMMMatchesReferenceAcrossTheThreshold() {
    check(
      {
        gemm(
          $0, $1, m: $2, n: $3, k: $4, alpha: $5, a: $6, lda: $7, b: $8, ldb: $9, beta: $10, c: $11, ldc: $12)
      },
      name: "gemm", shapes: [(4, 4, 4), (16, 16, 17), (64, 64, 64)])
  }

  func testKnownAnswer() {
    // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
    let a: [Float] = [1, 2, 3, 4]
    let b: [Float] = [5, 6, 7, 8]
    for kernel in [libraryOnlyGEMM, swiftOnlyGEMM] {
      var c = [Float](repeating: -1, count: 4)
      kernel(.none, .none, 2, 2, 2, 1, a, 2, b, 2, 0, &c, 2)
      XCTAssertEqual(c, [19, 22, 43, 50])
    }
  }

  /// oneDNN runs on OpenMP: after a product, the calling thread's OpenMP team is one thread.
  func testLibraryProductsLeaveOneOpenMPThread() {
    let a = [Float](repeating: 1, count: 64 * 64)
    var c = [Float](repeating: 0, count: 64 * 64)
    libraryOnlyGEMM(
      .none, .none, m: 64, n: 64, k: 64, alpha: 1, a: a, lda: 64, b: a, ldb: 64, beta: 0, c: &c, ldc: 64)
    XCTAssertEqual(c[0], 64)
    XCTAssertEqual(KernelLibrary.openMPThreads, 1)
  }

  /// Dispatch's worker threads start with libgomp's default team (all cores); each is at one after its first product.
  func testEveryWorkerThreadRunsItsProductsOnOneOpenMPThread() {
    let teams = FloatBuffer(count: 4)  // each worker writes its own element
    let a = [Float](repeating: 1, count: 48 * 48)
    DispatchQueue.concurrentPerform(iterations: 4) { worker in
      var c = [Float](repeating: 0, count: 48 * 48)
      gemm(
        .none, .none, m: 48, n: 48, k: 48, alpha: 1, a: a, lda: 48, b: a, ldb: 48, beta: 0, c: &c, ldc: 48,
        kernels: MatmulKernels())
      teams[worker] = c[0] == 48 ? Float(KernelLibrary.openMPThreads) : -1
    }
    XCTAssertEqual(teams.array, [1, 1, 1, 1])
  }

  /// A worker's kernels create one primitive per shape and reuse it on later calls.
  func testKernelsReusePrimitivesAcrossCalls() {
    let kernels = MatmulKernels()
    let a = [Float](repeating: 0.5, count: 32 * 48)
    var c = [Float](repeating: 0, count: 32 * 32)
    for _ in 0..<3 {
      gemm(
        .none, .transposed, m: 32, n: 32, k: 48, alpha: 1, a: a, lda: 48, b: a, ldb: 48, beta: 0, c: &c,
        ldc: 32,
        kernels: kernels)
    }
    XCTAssertEqual(kernels.primitiveCount, 1)
    gemm(
      .none, .transposed, m: 16, n: 32, k: 48, alpha: 1, a: a, lda: 48, b: a, ldb: 48, beta: 0, c: &c,
      ldc: 32,
      kernels: kernels)
    XCTAssertEqual(kernels.primitiveCount, 2)
    XCTAssertEqual(c[0], 12)
  }
}

/// The bf16 conversion and the mixed-precision products.
final class BFloat16Tests: XCTestCase {
  func testConversionRoundsToNearestEvenAndKeepsNaN() {
    XCTAssertEqual(BFloat16.bits(1), 0x3F80)
    XCTAssertEqual(BFloat16.bits(-2), 0xC000)
    // 1 + 2⁻⁸ is halfway between bf16 1 and 1 + 2⁻⁷: ties go to the even one (1).
    XCTAssertEqual(BFloat16.bits(1 + 0x1p-8), 0x3F80)
    // 1 + 3·2⁻⁸ is halfway between 1 + 2⁻⁷ and 1 + 2⁻⁶: the even one is 1 + 2⁻⁶.
    XCTAssertEqual(BFloat16.bits(1 + 3 * 0x1p-8), 0x3F82)
    XCTAssertEqual(BFloat16.bits(1 + 0x1p-8 + 0x1p-20), 0x3F81)
    XCTAssertTrue(BFloat16.value(BFloat16.bits(.nan)).isNaN)
    XCTAssertEqual(BFloat16.value(BFloat16.bits(.infinity)), .infinity)
    // The vector path gives the scalar path's bits, NaNs and infinities included.
    var generator = SeededGenerator(seed: 3)
    var values = (0..<67).map { _ in (generator.nextFloat() - 0.5) * 1000 }
    values[5] = .nan
    values[20] = -.infinity
    values[33] = Float(bitPattern: 0x7F80_0001)  // a signalling NaN
    var converted = [UInt16](repeating: 0, count: values.count)
    BFloat16.convert(values, count: values.count, into: &converted)
    for (value, bits) in zip(values, converted) {
      if value.isNaN {
        XCTAssertTrue(BFloat16.value(bits).isNaN)
      } else {
        XCTAssertEqual(bits, BFloat16.bits(value), "\(value)")
      }
    }
  }

  /// A bf16 product equals the reference product of the bf16-rounded operands (f32 accumulation).
  func testBF16ProductMatchesTheReferenceOnRoundedOperands() {
    var generator = SeededGenerator(seed: 9)
    let (m, n, k) = (33, 40, 70)
    for (ta, tb) in [(Transpose.none, Transpose.none), (.transposed, .none), (.none, .transposed)] {
      let a = (0..<(m * k)).map { _ in generator.nextFloat() * 2 - 1 }
      let b = (0..<(k * n)).map { _ in generator.nextFloat() * 2 - 1 }
      var a16 = [UInt16](repeating: 0, count: a.count)
      var b16 = [UInt16](repeating: 0, count: b.count)
      BFloat16.convert(a, count: a.count, into: &a16)
      BFloat16.convert(b, count: b.count, into: &b16)
      let lda = ta == .none ? k : m
      let ldb = tb == .none ? n : k
      var expected = [Float](repeating: 0, count: m * n)
      referenceGEMM(
        ta, tb, m: m, n: n, k: k, alpha: 1, a: a16.map(BFloat16.value), lda: lda, b: b16.map(BFloat16.value),
        ldb: ldb, beta: 0, c: &expected, ldc: n)
      var actual = [Float](repeating: 0, count: m * n)
      MatmulKernels().bf16GEMM(
        ta, tb, m: m, n: n, k: k, a: a16, lda: lda, b: b16, ldb: ldb, beta: 0, c: &actual, ldc: n)
      for i in 0..<(m * n) {
        XCTAssertEqual(actual[i], expected[i], accuracy: 1e-4, "\(ta) \(tb) at \(i)")
      }
    }
  }
}
