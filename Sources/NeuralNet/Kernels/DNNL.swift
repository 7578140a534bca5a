// One of the two files that import CDNNL (oneDNN 2.6's C API, Debian libdnnl-dev); the
// other, DNNLConvolution.swift, holds the convolution primitives.
//
// One oneDNN matmul primitive computes C[M, N] = alpha · op(A)[M, K] ·
// op(B)[K, N] + beta · C for one fixed set of shapes, strides, element types
// and attributes. Creating one takes tens of microseconds (it picks and
// JIT-compiles a kernel), running one is the product itself: so primitives
// are made once per key and kept by the worker's `MatmulKernels`.
// Transposes and leading dimensions are strides of the 2-D memory
// descriptors, never copies.
import CDNNL

#if canImport(Glibc)
import Glibc
#endif

/// A failed oneDNN call: the function, its status, and what it was for.
struct DNNLFailure: Error, CustomStringConvertible {
  let function: String
  let status: dnnl_status_t
  let purpose: String

  var description: String {
    "oneDNN \(function) failed with status \(status.rawValue) while \(purpose)"
  }
}

/// Throws unless `status` is `dnnl_success`.
@inline(__always)
func check(_ status: dnnl_status_t, _ function: String, _ purpose: @autoclosure () -> String)
  throws(DNNLFailure)
{
  guard status == dnnl_success else {
    throw DNNLFailure(function: function, status: status, purpose: purpose())
  }
}

/// Checks the status of a `*_destroy` call, which cannot throw from `deinit` or `defer`.
///
/// A failure there means a handle was already freed or never valid: a bug in
/// this file, so it stops debug builds; release builds say so on stderr (nothing
/// to recover, and the run's results do not depend on it).
@inline(__always)
func released(_ status: dnnl_status_t, _ function: StaticString) {
  guard status != dnnl_success else { return }
  assertionFailure("oneDNN \(function) failed with status \(status.rawValue)")
  let message = "warning: oneDNN \(function) failed with status \(status.rawValue)\n"
  _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
}

/// Element type of a matmul's A and B operands (C is always f32).
enum MatmulInput: Hashable {
  /// 32-bit floats.
  case f32
  /// bfloat16 (the top half of an f32), accumulated in f32.
  case bf16

  fileprivate var dnnl: dnnl_data_type_t { self == .f32 ? dnnl_f32 : dnnl_bf16 }
}

/// Everything that decides a primitive: shapes, strides, types, alpha and beta.
struct MatmulKey: Hashable {
  var transA: Transpose
  var transB: Transpose
  var m: Int
  var n: Int
  var k: Int
  var lda: Int
  var ldb: Int
  var ldc: Int
  var alpha: Float
  var beta: Float
  var input: MatmulInput
}

/// The process's CPU engine (oneDNN engines are thread-safe and meant to be shared).
final class DNNLEngine: @unchecked Sendable {
  let handle: dnnl_engine_t?
  let failure: DNNLFailure?

  init() {
    var engine: dnnl_engine_t?
    do throws(DNNLFailure) {
      try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create", "creating the CPU engine")
      handle = engine
      failure = nil
    } catch {
      handle = nil
      failure = error
    }
  }

  static let shared = DNNLEngine()

  /// The engine, or the reason there is none (a fatal error: nothing can run without it).
  var engine: dnnl_engine_t {
    guard let handle else { fatalError(failure?.description ?? "oneDNN engine missing") }
    return handle
  }
}

/// An execution stream: one per worker, so workers never share one.
final class DNNLStream {
  let handle: dnnl_stream_t

  init() throws(DNNLFailure) {
    var stream: dnnl_stream_t?
    try check(
      dnnl_stream_create(&stream, DNNLEngine.shared.engine, UInt32(dnnl_stream_default_flags.rawValue)),
      "dnnl_stream_create", "creating a worker's stream")
    guard let stream else {
      throw DNNLFailure(function: "dnnl_stream_create", status: dnnl_runtime_error, purpose: "no stream")
    }
    handle = stream
  }

  deinit { released(dnnl_stream_destroy(handle), "dnnl_stream_destroy") }
}

/// One matmul primitive and the three memory objects it runs on (their data pointers set per call).
final class DNNLMatmul {
  let key: MatmulKey
  private let primitive: dnnl_primitive_t
  private let memories: [dnnl_memory_t]
  /// The implementation oneDNN picked, such as `brg:avx512_core` (for provenance and benchmarks).
  let implementation: String
  /// DNNL_ARG_SRC, _WEIGHTS, _DST with their memories; only `memory`'s handle changes per call.
  private var arguments: [dnnl_exec_arg_t]

  init(_ key: MatmulKey) throws(DNNLFailure) {
    self.key = key
    let engine = DNNLEngine.shared.engine
    let what = "creating a \(key.input) matmul m=\(key.m) n=\(key.n) k=\(key.k)"
    // op(A) [M, K]: row stride lda, or (transposed storage [K, M]) column stride lda.
    var a = dnnl_memory_desc_t()
    var b = dnnl_memory_desc_t()
    var c = dnnl_memory_desc_t()
    let (m, n, k) = (Int64(key.m), Int64(key.n), Int64(key.k))
    let (lda, ldb, ldc) = (Int64(key.lda), Int64(key.ldb), Int64(key.ldc))
    try check(
      key.transA == .none
        ? nnb_dnnl_md_2d(&a, m, k, lda, 1, key.input.dnnl) : nnb_dnnl_md_2d(&a, m, k, 1, lda, key.input.dnnl),
      "dnnl_memory_desc_init_by_strides", what)
    try check(
      key.transB == .none
        ? nnb_dnnl_md_2d(&b, k, n, ldb, 1, key.input.dnnl) : nnb_dnnl_md_2d(&b, k, n, 1, ldb, key.input.dnnl),
      "dnnl_memory_desc_init_by_strides", what)
    try check(nnb_dnnl_md_2d(&c, m, n, ldc, 1, dnnl_f32), "dnnl_memory_desc_init_by_strides", what)

    var descriptor = dnnl_matmul_desc_t()
    try check(dnnl_matmul_desc_init(&descriptor, &a, &b, nil, &c), "dnnl_matmul_desc_init", what)

    var attributes: dnnl_primitive_attr_t?
    try check(dnnl_primitive_attr_create(&attributes), "dnnl_primitive_attr_create", what)
    defer { released(dnnl_primitive_attr_destroy(attributes), "dnnl_primitive_attr_destroy") }
    if key.alpha != 1 {
      var alpha = key.alpha
      try check(
        dnnl_primitive_attr_set_output_scales(attributes, 1, 0, &alpha),
        "dnnl_primitive_attr_set_output_scales",
        what)
    }
    if key.beta != 0 {
      // C = alpha · op(A) · op(B) + beta · C: oneDNN's `sum` post-op reads the old C.
      var postOps: dnnl_post_ops_t?
      try check(dnnl_post_ops_create(&postOps), "dnnl_post_ops_create", what)
      defer { released(dnnl_post_ops_destroy(postOps), "dnnl_post_ops_destroy") }
      try check(dnnl_post_ops_append_sum(postOps, key.beta), "dnnl_post_ops_append_sum", what)
      try check(
        dnnl_primitive_attr_set_post_ops(attributes, postOps), "dnnl_primitive_attr_set_post_ops", what)
    }

    var descriptorPD: dnnl_primitive_desc_t?
    try withUnsafePointer(to: &descriptor) { (pointer) throws(DNNLFailure) in
      try check(
        dnnl_primitive_desc_create(&descriptorPD, UnsafeRawPointer(pointer), attributes, engine, nil),
        "dnnl_primitive_desc_create", what)
    }
    defer { released(dnnl_primitive_desc_destroy(descriptorPD), "dnnl_primitive_desc_destroy") }
    var name: UnsafePointer<CChar>?
    try check(
      dnnl_primitive_desc_query(descriptorPD, dnnl_query_impl_info_str, 0, &name),
      "dnnl_primitive_desc_query",
      what)
    implementation = name.map { String(cString: $0) } ?? "unknown"

    var created: dnnl_primitive_t?
    try check(dnnl_primitive_create(&created, descriptorPD), "dnnl_primitive_create", what)
    guard let created else {
      throw DNNLFailure(function: "dnnl_primitive_create", status: dnnl_runtime_error, purpose: what)
    }
    primitive = created

    var made: [dnnl_memory_t] = []
    for descriptor in [a, b, c] {
      var copy = descriptor
      var memory: dnnl_memory_t?
      let status = dnnl_memory_create(&memory, &copy, engine, nil)
      guard status == dnnl_success, let memory else {
        for earlier in made { released(dnnl_memory_destroy(earlier), "dnnl_memory_destroy") }
        released(dnnl_primitive_destroy(created), "dnnl_primitive_destroy")
        throw DNNLFailure(function: "dnnl_memory_create", status: status, purpose: what)
      }
      made.append(memory)
    }
    memories = made
    arguments = [
      dnnl_exec_arg_t(arg: nnb_dnnl_arg_src(), memory: made[0]),
      dnnl_exec_arg_t(arg: nnb_dnnl_arg_weights(), memory: made[1]),
      dnnl_exec_arg_t(arg: nnb_dnnl_arg_dst(), memory: made[2]),
    ]
  }

  deinit {
    for memory in memories { released(dnnl_memory_destroy(memory), "dnnl_memory_destroy") }
    released(dnnl_primitive_destroy(primitive), "dnnl_primitive_destroy")
  }

  /// Runs the product on `a`, `b` (f32 or bf16 as the key says) into `c` (f32), on one OpenMP thread.
  func run(
    a: UnsafeRawPointer, b: UnsafeRawPointer, c: UnsafeMutablePointer<Float>, stream: DNNLStream
  ) throws(DNNLFailure) {
    // The OpenMP thread count is a per-thread setting; Dispatch's workers
    // start with libgomp's default (all cores), so each thread is brought to
    // one before its first product. Reading it back costs nanoseconds.
    if omp_get_max_threads() != 1 { omp_set_num_threads(1) }
    try check(
      dnnl_memory_set_data_handle(memories[0], UnsafeMutableRawPointer(mutating: a)),
      "dnnl_memory_set_data_handle",
      "binding A")
    try check(
      dnnl_memory_set_data_handle(memories[1], UnsafeMutableRawPointer(mutating: b)),
      "dnnl_memory_set_data_handle",
      "binding B")
    try check(dnnl_memory_set_data_handle(memories[2], c), "dnnl_memory_set_data_handle", "binding C")
    let count = Int32(arguments.count)
    try arguments.withUnsafeBufferPointer { (args) throws(DNNLFailure) in
      try check(
        dnnl_primitive_execute(primitive, stream.handle, count, args.baseAddress), "dnnl_primitive_execute",
        "running a matmul m=\(key.m) n=\(key.n) k=\(key.k)")
    }
    try check(dnnl_stream_wait(stream.handle), "dnnl_stream_wait", "waiting for a matmul")
  }
}

/// What the kernel library is and what it can use on this CPU: for checkpoints and `inspect`.
public enum KernelLibrary {
  /// `oneDNN 2.6.3` (from `dnnl_version()`).
  public static var version: String {
    guard let v = dnnl_version()?.pointee else { return "oneDNN unknown" }
    return "oneDNN \(v.major).\(v.minor).\(v.patch)"
  }

  /// The widest instruction set oneDNN dispatches to here, such as `avx512_core_bf16`.
  public static var cpuFeatures: String {
    let isa = dnnl_get_effective_cpu_isa()
    switch isa {
    case dnnl_cpu_isa_sse41: return "sse41"
    case dnnl_cpu_isa_avx: return "avx"
    case dnnl_cpu_isa_avx2: return "avx2"
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic"
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops"
    case dnnl_cpu_isa_avx512_core: return "avx512_core"
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
    default: return "isa 0x\(String(isa.rawValue, radix: 16))"
    }
  }

  /// Whether the CPU multiplies bf16 natively (avx512_bf16 or AMX), as oneDNN sees it.
  public static var hasNativeBF16: Bool {
    let isa = dnnl_get_effective_cpu_isa()
    return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx
  }

  /// Whether this oneDNN has a bf16 matmul on this CPU (oneDNN 2.6 needs AVX-512 for one).
  ///
  /// Probed once by creating a small bf16 primitive.
  public static var hasBF16Matmul: Bool { BF16Probe.result }

  /// Whether oneDNN's f32 kernels here are the AVX2 (or older) sgemm, slowed by rows 1 KiB apart.
  static let aliasesWideRows: Bool = {
    let isa = dnnl_get_effective_cpu_isa()
    return isa == dnnl_cpu_isa_avx2 || isa == dnnl_cpu_isa_avx2_vnni || isa == dnnl_cpu_isa_avx
      || isa == dnnl_cpu_isa_sse41
  }()

  /// The OpenMP thread count the calling thread would give a oneDNN call.
  package static var openMPThreads: Int { Int(omp_get_max_threads()) }
}

/// The once-per-process answer to "can oneDNN multiply bf16 here?".
private enum BF16Probe {
  static let result: Bool = {
    let key = MatmulKey(
      transA: .none, transB: .none, m: 16, n: 16, k: 16, lda: 16, ldb: 16, ldc: 16, alpha: 1, beta: 0,
      input: .bf16)
    do throws(DNNLFailure) {
      _ = try DNNLMatmul(key)
      return true
    } catch {
      // dnnl_unimplemented: no bf16 kernel for this CPU; anything else is a real failure.
      if error.status == dnnl_unimplemented { return false }
      fatalError("\(error)")
    }
  }()
}
