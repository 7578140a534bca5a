// Matrix products for the dense layers.
//
// Notation: C[M, N] = alpha · op(A)[M, K] · op(B)[K, N] + beta · C[M, N],
// all row-major; `op` is the identity or the transpose. Leading dimensions
// (`lda`, `ldb`, `ldc`) are row strides in elements.
//
// `gemm` picks a kernel from the shapes alone (never from the thread count
// or the data), so the same shapes always run the same arithmetic: tiny
// products, like the tutorial's 4 × 3 · 3 × 4, run the Swift kernel because
// a library call costs more than the arithmetic; everything else goes to a
// oneDNN matmul primitive kept by the worker's `MatmulKernels`
// (`Kernels/`), in f32, or from bf16 copies of both operands while the
// worker runs a mixed-precision training pass.

/// Whether an operand of a matrix product is used as stored or transposed.
public enum Transpose: Sendable {
  /// op(X) = X.
  case none
  /// op(X) = Xᵀ.
  case transposed
}

/// Products with at most this many multiply-adds use the Swift kernel.
let smallProductLimit = 4096

/// C = alpha · op(A) · op(B) + beta · C, through the fastest kernel for the shapes.
///
/// `kernels` is the calling worker's cache of primitives; without one, a
/// primitive is made for this call alone (setup code and tests, never steps).
@inline(__always)
public func gemm(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Float, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
  kernels: MatmulKernels? = nil
) {
  if m == 0 || n == 0 { return }
  if m * n * k <= smallProductLimit {
    smallGEMM(
      transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
      ldb: ldb, beta: beta, c: c, ldc: ldc)
  } else {
    libraryGEMM(
      transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
      ldb: ldb, beta: beta, c: c, ldc: ldc, kernels: kernels ?? MatmulKernels())
  }
}

/// The oneDNN path of `gemm`: f32 operands, or bf16 copies of them in a mixed-precision pass.
@usableFromInline
func libraryGEMM(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Float, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, kernels: MatmulKernels
) {
  if kernels.isMixedPrecision {
    // Storage of op(A): [M, K], or [K, M] when transposed; likewise B.
    let (aRows, aColumns) = transA == .none ? (m, k) : (k, m)
    let (bRows, bColumns) = transB == .none ? (k, n) : (n, k)
    let a16 = kernels.packBF16(a, rows: aRows, columns: aColumns, ld: lda, slot: -1)
    let b16 = kernels.packBF16(b, rows: bRows, columns: bColumns, ld: ldb, slot: -2)
    if alpha == 1 {
      kernels.bf16GEMM(
        transA, transB, m: m, n: n, k: k, a: a16, lda: aColumns, b: b16, ldb: bColumns, beta: beta, c: c,
        ldc: ldc)
    } else {
      // Layers only use alpha 1; other alphas (tests) scale afterwards through beta's pass.
      let key = MatmulKey(
        transA: transA, transB: transB, m: m, n: n, k: k, lda: aColumns, ldb: bColumns, ldc: ldc,
        alpha: alpha, beta: beta, input: .bf16)
      kernels.run(key, a: a16, b: b16, c: c)
    }
  } else {
    var (b, ldb) = (b, ldb)
    if transB == .none { (b, ldb) = kernels.paddedB(b, k: k, n: n, ldb: ldb) }
    let key = MatmulKey(
      transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, alpha: alpha,
      beta: beta, input: .f32)
    kernels.run(key, a: a, b: b, c: c)
  }
}

/// Runs the oneDNN f32 path directly, bypassing the small-product kernel (for tests).
package func libraryOnlyGEMM(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Float, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  libraryGEMM(
    transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
    ldb: ldb, beta: beta, c: c, ldc: ldc, kernels: MatmulKernels())
}

/// Runs the small-product Swift kernel directly (for tests and benchmarks).
package func swiftOnlyGEMM(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Float, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  smallGEMM(
    transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
    ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// The Swift kernel for tiny products: row of C += a_ik · row of op(B).
///
/// The inner loop runs along a row of C so it vectorises when B is not
/// transposed; the shapes it sees are too small for blocking to matter.
@usableFromInline
func smallGEMM(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Float, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  for i in 0..<m {
    let cRow = c + i * ldc
    if beta == 0 {
      cRow.update(repeating: 0, count: n)
    } else if beta != 1 {
      for j in 0..<n { cRow[j] *= beta }
    }
    for p in 0..<k {
      let aip = alpha * (transA == .none ? a[i * lda + p] : a[p * lda + i])
      if transB == .none {
        let bRow = b + p * ldb
        for j in 0..<n { cRow[j] += aip * bRow[j] }
      } else {
        for j in 0..<n { cRow[j] += aip * b[j * ldb + p] }
      }
    }
  }
}

/// The naive reference product, accumulated in `Double`: the test oracle.
///
/// Deliberately the textbook triple loop, independent of both fast kernels.
package func referenceGEMM(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Float, a: [Float], lda: Int, b: [Float], ldb: Int,
  beta: Float, c: inout [Float], ldc: Int
) {
  for i in 0..<m {
    for j in 0..<n {
      var sum = 0.0
      for p in 0..<k {
        let aValue = transA == .none ? a[i * lda + p] : a[p * lda + i]
        let bValue = transB == .none ? b[p * ldb + j] : b[j * ldb + p]
        sum += Double(aValue) * Double(bValue)
      }
      let previous = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
      c[i * ldc + j] = Float(Double(alpha) * sum + previous)
    }
  }
}
