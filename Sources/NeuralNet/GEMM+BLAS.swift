// The only file that imports CBLAS (OpenBLAS).
import CBLAS

/// C = alpha · op(A) · op(B) + beta · C through `cblas_sgemm` (row-major).
///
/// The corresponding C function is `cblas_sgemm`.
@usableFromInline
func blasGEMM(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Float, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  cblas_sgemm(
    CblasRowMajor,
    transA == .none ? CblasNoTrans : CblasTrans,
    transB == .none ? CblasNoTrans : CblasTrans,
    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b,
    blasint(ldb), beta, c, blasint(ldc))
}

/// Runs `blasGEMM` directly, bypassing the small-product kernel (for tests).
public func blasOnlyGEMM(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Float, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  blasGEMM(
    transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
    ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// Runs the small-product Swift kernel directly (for tests and benchmarks).
public func swiftOnlyGEMM(
  _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
  alpha: Float, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int,
  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  smallGEMM(
    transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
    ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// BLAS threading control: workers call single-threaded BLAS.
public enum BLASThreads {
  /// Switches OpenBLAS's own thread pool to one thread.
  ///
  /// Data-parallel workers each call BLAS; letting OpenBLAS spawn its own
  /// threads too would oversubscribe the cores, and its results' bits depend
  /// on its thread count, which would break the determinism contract.
  public static func useSingleThread() {
    openblas_set_num_threads(1)
  }

  /// OpenBLAS's current thread count.
  public static var current: Int { Int(openblas_get_num_threads()) }
}
