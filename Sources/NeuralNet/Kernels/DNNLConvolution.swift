// oneDNN 2.6 convolution primitives: forward (with bias and an optional fused ReLU),
// backward data and backward weights (with the bias gradient), on the layer's own
// layouts (X, Z in NCHW, W in OIHW: `plain`) or on the layouts oneDNN prefers
// (`blocked`, format `any`), reordered from and to the plain buffers on every call.
//
// Every primitive is created on the thread that runs it after omp_set_num_threads(1)
// (oneDNN's primitive cache keys on the thread count), with fpmath_mode strict (else
// ONEDNN_DEFAULT_FPMATH_MODE=bf16 would lower f32 to bf16 on bf16 CPUs) and
// scratchpad_mode user: its scratchpad and its blocked copies live in one arena per
// worker (`MatmulKernels`), shared by all of the worker's convolutions (each uses it
// only during its call), so they cost the largest primitive's bytes, not their sum.
// The one exception: a backward-weights pass places its blocked dZ first in the arena,
// where the backward-data pass that follows it on the same dZ finds it (both passes
// want the same layout), so a layer's backward reorders dZ once, not twice.
import CDNNL

/// Which pass of a convolution a primitive computes.
package enum ConvolutionPass: String, Sendable, Hashable, CaseIterable {
  /// Z = W ⋆ X + b (then ReLU when fused).
  case forward
  /// dX from dZ and W.
  case backwardData = "backward-data"
  /// dW (and db) from X and dZ.
  case backwardWeights = "backward-weights"

  fileprivate var code: Int32 {
    switch self {
    case .forward: return 0
    case .backwardData: return 1
    case .backwardWeights: return 2
    }
  }
}

/// The memory layout a oneDNN convolution runs on.
package enum ConvolutionLayout: String, Sendable, Hashable, CaseIterable {
  /// NCHW activations and OIHW weights, as the layer stores them: no copies.
  case plain
  /// oneDNN's choice (format `any`, usually channel-blocked), with reorders from and to plain counted.
  case blocked
}

/// Everything that decides a convolution primitive.
package struct ConvolutionKey: Sendable, Hashable {
  /// Samples per call (N).
  package var rows: Int
  /// C, H, W of one input.
  package var channels: Int
  package var height: Int
  package var width: Int
  /// F, OH, OW of one output.
  package var filters: Int
  package var outHeight: Int
  package var outWidth: Int
  /// kh × kw, sh × sw.
  package var kernelHeight: Int
  package var kernelWidth: Int
  package var strideHeight: Int
  package var strideWidth: Int
  /// Zero rows above / columns left of the image, and below / right of it.
  package var top: Int
  package var left: Int
  package var bottom: Int
  package var right: Int
  /// Whether the forward adds, and backward weights computes, a bias.
  package var bias: Bool
  /// Whether the forward applies ReLU as a post-op.
  package var relu: Bool
  package var layout: ConvolutionLayout
  package var pass: ConvolutionPass

  /// The key of `geometry` with `filters` on `rows` samples.
  init(
    _ geometry: ConvGeometry, filters: Int, rows: Int, bias: Bool, relu: Bool, layout: ConvolutionLayout,
    pass: ConvolutionPass
  ) {
    self.rows = rows
    channels = geometry.channels
    height = geometry.height
    width = geometry.width
    self.filters = filters
    outHeight = geometry.outHeight
    outWidth = geometry.outWidth
    kernelHeight = geometry.kernelHeight
    kernelWidth = geometry.kernelWidth
    strideHeight = geometry.strideHeight
    strideWidth = geometry.strideWidth
    top = geometry.top
    left = geometry.left
    bottom = geometry.paddedHeight - geometry.height - geometry.top
    right = geometry.paddedWidth - geometry.width - geometry.left
    self.bias = bias
    self.relu = relu && pass == .forward
    self.layout = layout
    self.pass = pass
  }
}

/// One argument of a convolution: the caller's plain buffer, and a blocked copy when the primitive wants one.
private struct ConvolutionPort {
  let argument: Int32
  let isOutput: Bool
  /// Bound to the caller's pointer on each call.
  let user: dnnl_memory_t
  /// The primitive's own layout, with its buffer and the reorder to or from `user`; nil when plain.
  let internalMemory: dnnl_memory_t?
  let reorder: dnnl_primitive_t?
  /// The reorder's FROM and TO arguments (plain to blocked for inputs, back for outputs).
  let reorderArguments: [dnnl_exec_arg_t]
}

/// One oneDNN convolution primitive for one key, with its scratchpad and reorders.
final class DNNLConvolution {
  let key: ConvolutionKey
  /// The implementation oneDNN picked, such as `jit:avx512_core` or `gemm:jit`.
  let implementation: String
  private let primitive: dnnl_primitive_t
  private let ports: [ConvolutionPort]
  private var memories: [dnnl_memory_t] = []
  private var primitives: [dnnl_primitive_t] = []
  /// The blocked copies and the scratchpad, at these byte offsets of the worker's arena.
  private var placed: [(memory: dnnl_memory_t, offset: Int)] = []
  /// Bytes of arena the primitive needs (64-byte aligned pieces).
  let arenaBytes: Int
  private let stream: DNNLStream
  private var arguments: [dnnl_exec_arg_t]
  /// The blocked copy of dZ (backward passes), placed at arena offset 0; nil when dZ is read in place.
  private let blockedDiffDst: dnnl_memory_t?
  /// Calls that read the blocked dZ an earlier pass left instead of reordering it again.
  private(set) var reusedDiffDstCount = 0

  /// Creates the primitive on the calling thread (after setting its OpenMP threads to one).
  init(_ key: ConvolutionKey) throws(DNNLFailure) {
    if omp_get_max_threads() != 1 { omp_set_num_threads(1) }
    self.key = key
    let engine = DNNLEngine.shared.engine
    let what =
      "creating a \(key.layout.rawValue) \(key.pass.rawValue) convolution of \(key.rows)×\(key.channels)×\(key.height)×\(key.width) by \(key.filters)×\(key.kernelHeight)×\(key.kernelWidth)"
    stream = try DNNLStream()
    let tag = key.layout == .plain ? dnnl_nchw : dnnl_format_tag_any
    let weightsTag = key.layout == .plain ? dnnl_oihw : dnnl_format_tag_any
    var src = dnnl_memory_desc_t()
    var weights = dnnl_memory_desc_t()
    var dst = dnnl_memory_desc_t()
    var bias = dnnl_memory_desc_t()
    let (n, c, f) = (Int64(key.rows), Int64(key.channels), Int64(key.filters))
    try check(
      nnb_dnnl_md_4d(&src, n, c, Int64(key.height), Int64(key.width), tag), "dnnl_memory_desc_init_by_tag",
      what)
    try check(
      nnb_dnnl_md_4d(&weights, f, c, Int64(key.kernelHeight), Int64(key.kernelWidth), weightsTag),
      "dnnl_memory_desc_init_by_tag", what)
    try check(
      nnb_dnnl_md_4d(&dst, n, f, Int64(key.outHeight), Int64(key.outWidth), tag),
      "dnnl_memory_desc_init_by_tag",
      what)
    try check(nnb_dnnl_md_1d(&bias, f), "dnnl_memory_desc_init_by_tag", what)

    func descriptor(_ pass: ConvolutionPass) throws(DNNLFailure) -> dnnl_convolution_desc_t {
      var made = dnnl_convolution_desc_t()
      let status = withUnsafePointer(to: &bias) { biasPointer in
        nnb_dnnl_convolution_desc(
          &made, pass.code, &src, &weights, key.bias && pass != .backwardData ? biasPointer : nil, &dst,
          Int64(key.strideHeight), Int64(key.strideWidth), Int64(key.top), Int64(key.left), Int64(key.bottom),
          Int64(key.right))
      }
      try check(status, "dnnl_convolution_desc_init", what)
      return made
    }

    var attributes: dnnl_primitive_attr_t?
    try check(dnnl_primitive_attr_create(&attributes), "dnnl_primitive_attr_create", what)
    defer { released(dnnl_primitive_attr_destroy(attributes), "dnnl_primitive_attr_destroy") }
    try check(
      dnnl_primitive_attr_set_fpmath_mode(attributes, dnnl_fpmath_mode_strict),
      "dnnl_primitive_attr_set_fpmath_mode", what)
    try check(
      dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user),
      "dnnl_primitive_attr_set_scratchpad_mode", what)

    func primitiveDescriptor(
      _ pass: ConvolutionPass, attributes: dnnl_primitive_attr_t?, hint: dnnl_primitive_desc_t?
    ) throws(DNNLFailure) -> dnnl_primitive_desc_t {
      var desc = try descriptor(pass)
      var made: dnnl_primitive_desc_t?
      let status = withUnsafePointer(to: &desc) { pointer in
        dnnl_primitive_desc_create(&made, UnsafeRawPointer(pointer), attributes, engine, hint)
      }
      try check(status, "dnnl_primitive_desc_create", what)
      guard let made else {
        throw DNNLFailure(function: "dnnl_primitive_desc_create", status: dnnl_runtime_error, purpose: what)
      }
      return made
    }

    // The forward, also the hint every backward primitive needs.
    var forwardAttributes: dnnl_primitive_attr_t?
    try check(dnnl_primitive_attr_clone(&forwardAttributes, attributes), "dnnl_primitive_attr_clone", what)
    defer { released(dnnl_primitive_attr_destroy(forwardAttributes), "dnnl_primitive_attr_destroy") }
    if key.relu {
      var postOps: dnnl_post_ops_t?
      try check(dnnl_post_ops_create(&postOps), "dnnl_post_ops_create", what)
      defer { released(dnnl_post_ops_destroy(postOps), "dnnl_post_ops_destroy") }
      try check(
        dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "dnnl_post_ops_append_eltwise",
        what)
      try check(
        dnnl_primitive_attr_set_post_ops(forwardAttributes, postOps), "dnnl_primitive_attr_set_post_ops", what
      )
    }
    let forward = try primitiveDescriptor(.forward, attributes: forwardAttributes, hint: nil)
    defer { released(dnnl_primitive_desc_destroy(forward), "dnnl_primitive_desc_destroy") }
    let chosen: dnnl_primitive_desc_t
    if key.pass == .forward {
      chosen = forward
    } else {
      chosen = try primitiveDescriptor(key.pass, attributes: attributes, hint: forward)
    }
    defer {
      if key.pass != .forward { released(dnnl_primitive_desc_destroy(chosen), "dnnl_primitive_desc_destroy") }
    }

    var name: UnsafePointer<CChar>?
    try check(
      dnnl_primitive_desc_query(chosen, dnnl_query_impl_info_str, 0, &name), "dnnl_primitive_desc_query", what
    )
    implementation = name.map { String(cString: $0) } ?? "unknown"

    var created: dnnl_primitive_t?
    try check(dnnl_primitive_create(&created, chosen), "dnnl_primitive_create", what)
    guard let created else {
      throw DNNLFailure(function: "dnnl_primitive_create", status: dnnl_runtime_error, purpose: what)
    }
    primitive = created

    // The arguments, each with the plain descriptor the caller's buffer has.
    let plainTag = { (md: inout dnnl_memory_desc_t, d: [Int64], t: dnnl_format_tag_t) throws(DNNLFailure) in
      try check(nnb_dnnl_md_4d(&md, d[0], d[1], d[2], d[3], t), "dnnl_memory_desc_init_by_tag", what)
    }
    var plainSrc = dnnl_memory_desc_t()
    var plainWeights = dnnl_memory_desc_t()
    var plainDst = dnnl_memory_desc_t()
    try plainTag(&plainSrc, [n, c, Int64(key.height), Int64(key.width)], dnnl_nchw)
    try plainTag(&plainWeights, [f, c, Int64(key.kernelHeight), Int64(key.kernelWidth)], dnnl_oihw)
    try plainTag(&plainDst, [n, f, Int64(key.outHeight), Int64(key.outWidth)], dnnl_nchw)
    var wanted: [(Int32, dnnl_memory_desc_t, Bool)]
    switch key.pass {
    case .forward:
      wanted = [
        (nnb_dnnl_arg_src(), plainSrc, false), (nnb_dnnl_arg_weights(), plainWeights, false),
        (nnb_dnnl_arg_dst(), plainDst, true),
      ]
      if key.bias { wanted.append((nnb_dnnl_arg_bias(), bias, false)) }
    case .backwardData:
      wanted = [
        (nnb_dnnl_arg_diff_dst(), plainDst, false), (nnb_dnnl_arg_weights(), plainWeights, false),
        (nnb_dnnl_arg_diff_src(), plainSrc, true),
      ]
    case .backwardWeights:
      wanted = [
        (nnb_dnnl_arg_src(), plainSrc, false), (nnb_dnnl_arg_diff_dst(), plainDst, false),
        (nnb_dnnl_arg_diff_weights(), plainWeights, true),
      ]
      if key.bias { wanted.append((nnb_dnnl_arg_diff_bias(), bias, true)) }
    }

    var made: [ConvolutionPort] = []
    var ownedMemories: [dnnl_memory_t] = []
    var ownedPrimitives: [dnnl_primitive_t] = []
    var ownedPlaces: [(memory: dnnl_memory_t, offset: Int)] = []
    var arena = 0
    func cleanUp() {
      for p in ownedPrimitives { released(dnnl_primitive_destroy(p), "dnnl_primitive_destroy") }
      for m in ownedMemories { released(dnnl_memory_destroy(m), "dnnl_memory_destroy") }
      released(dnnl_primitive_destroy(created), "dnnl_primitive_destroy")
    }
    func memory(_ md: dnnl_memory_desc_t, buffer: Bool) throws(DNNLFailure) -> dnnl_memory_t {
      var copy = md
      var memory: dnnl_memory_t?
      let status = dnnl_memory_create(&memory, &copy, engine, nil)
      guard status == dnnl_success, let memory else {
        throw DNNLFailure(function: "dnnl_memory_create", status: status, purpose: what)
      }
      ownedMemories.append(memory)
      if buffer {
        ownedPlaces.append((memory, arena))
        arena += (dnnl_memory_desc_get_size(&copy) + 63) / 64 * 64
      }
      return memory
    }
    // dZ's blocked copy goes first in the arena (offset 0), for `sharesDiffDst(with:)`.
    let diffDst = nnb_dnnl_arg_diff_dst()
    let placementOrder =
      wanted.indices.filter { wanted[$0].0 == diffDst } + wanted.indices.filter { wanted[$0].0 != diffDst }
    var placedPorts = [ConvolutionPort?](repeating: nil, count: wanted.count)
    var diffDstCopy: dnnl_memory_t?
    do throws(DNNLFailure) {
      for position in placementOrder {
        let (argument, plain, isOutput) = wanted[position]
        guard let inner = dnnl_primitive_desc_query_md(chosen, dnnl_query_exec_arg_md, argument) else {
          throw DNNLFailure(
            function: "dnnl_primitive_desc_query_md", status: dnnl_runtime_error, purpose: what)
        }
        var plainCopy = plain
        let user = try memory(plain, buffer: false)
        if dnnl_memory_desc_equal(inner, &plainCopy) != 0 {
          placedPorts[position] = ConvolutionPort(
            argument: argument, isOutput: isOutput, user: user, internalMemory: nil, reorder: nil,
            reorderArguments: [])
          continue
        }
        let internalMemory = try memory(inner.pointee, buffer: true)
        if argument == diffDst { diffDstCopy = internalMemory }
        var reorderPD: dnnl_primitive_desc_t?
        var innerCopy = inner.pointee
        let status =
          isOutput
          ? dnnl_reorder_primitive_desc_create(&reorderPD, &innerCopy, engine, &plainCopy, engine, nil)
          : dnnl_reorder_primitive_desc_create(&reorderPD, &plainCopy, engine, &innerCopy, engine, nil)
        try check(status, "dnnl_reorder_primitive_desc_create", what)
        defer { released(dnnl_primitive_desc_destroy(reorderPD), "dnnl_primitive_desc_destroy") }
        var reorder: dnnl_primitive_t?
        try check(dnnl_primitive_create(&reorder, reorderPD), "dnnl_primitive_create", what)
        guard let reorder else {
          throw DNNLFailure(function: "dnnl_primitive_create", status: dnnl_runtime_error, purpose: what)
        }
        ownedPrimitives.append(reorder)
        placedPorts[position] = ConvolutionPort(
          argument: argument, isOutput: isOutput, user: user, internalMemory: internalMemory,
          reorder: reorder,
          reorderArguments: [
            dnnl_exec_arg_t(arg: nnb_dnnl_arg_from(), memory: isOutput ? internalMemory : user),
            dnnl_exec_arg_t(arg: nnb_dnnl_arg_to(), memory: isOutput ? user : internalMemory),
          ])
      }
      made = placedPorts.compactMap { $0 }
      var arguments = made.map {
        dnnl_exec_arg_t(arg: $0.argument, memory: $0.internalMemory ?? $0.user)
      }
      guard let scratchMD = dnnl_primitive_desc_query_md(chosen, dnnl_query_scratchpad_md, 0) else {
        throw DNNLFailure(function: "dnnl_primitive_desc_query_md", status: dnnl_runtime_error, purpose: what)
      }
      var scratchCopy = scratchMD.pointee
      if dnnl_memory_desc_get_size(&scratchCopy) > 0 {
        arguments.append(
          dnnl_exec_arg_t(arg: nnb_dnnl_arg_scratchpad(), memory: try memory(scratchCopy, buffer: true)))
      }
      self.arguments = arguments
    } catch {
      cleanUp()
      throw error
    }
    ports = made
    blockedDiffDst = diffDstCopy
    memories = ownedMemories
    primitives = ownedPrimitives
    placed = ownedPlaces
    arenaBytes = arena
  }

  deinit {
    for p in primitives { released(dnnl_primitive_destroy(p), "dnnl_primitive_destroy") }
    for m in memories { released(dnnl_memory_destroy(m), "dnnl_memory_destroy") }
    released(dnnl_primitive_destroy(primitive), "dnnl_primitive_destroy")
  }

  /// Runs the pass on the caller's plain buffers, in the pass's argument order; outputs are overwritten.
  ///
  /// forward: X, W, Z, b; backward data: dZ, W, dX; backward weights: X, dZ, dW, db
  /// (b and db only with a bias, else nil). Allocates nothing.
  ///
  /// `arena` holds `arenaBytes` bytes, 64-byte aligned, for the blocked copies and the scratchpad.
  /// With `diffDstReady`, the arena already holds this dZ's blocked copy (a pass that
  /// `sharesDiffDst(with:)` this one ran just before on the same dZ): it is not reordered again.
  func run(
    _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ third: UnsafeRawPointer,
    _ fourth: UnsafeRawPointer?, arena: UnsafeMutableRawPointer, diffDstReady: Bool = false
  ) throws(DNNLFailure) {
    if omp_get_max_threads() != 1 { omp_set_num_threads(1) }
    for (memory, offset) in placed {
      try check(
        dnnl_memory_set_data_handle(memory, arena + offset), "dnnl_memory_set_data_handle",
        "binding a convolution's workspace")
    }
    for (index, port) in ports.enumerated() {
      let pointer: UnsafeRawPointer?
      switch index {
      case 0: pointer = first
      case 1: pointer = second
      case 2: pointer = third
      default: pointer = fourth
      }
      try check(
        dnnl_memory_set_data_handle(port.user, UnsafeMutableRawPointer(mutating: pointer)),
        "dnnl_memory_set_data_handle", "binding a convolution argument")
    }
    let diffDst = nnb_dnnl_arg_diff_dst()
    for port in ports where !port.isOutput && port.reorder != nil {
      if diffDstReady && port.argument == diffDst {
        reusedDiffDstCount += 1
        continue
      }
      try reorder(port)
    }
    let count = Int32(arguments.count)
    try arguments.withUnsafeBufferPointer { (args) throws(DNNLFailure) in
      try check(
        dnnl_primitive_execute(primitive, stream.handle, count, args.baseAddress), "dnnl_primitive_execute",
        "running a \(key.pass.rawValue) convolution")
    }
    for port in ports where port.isOutput && port.reorder != nil { try reorder(port) }
    try check(dnnl_stream_wait(stream.handle), "dnnl_stream_wait", "waiting for a convolution")
  }

  /// Whether `earlier` leaves at arena offset 0 the blocked dZ this pass reads there: both
  /// place a blocked copy of dZ, in the same layout.
  func sharesDiffDst(with earlier: DNNLConvolution) -> Bool {
    guard let mine = blockedDiffDst, let theirs = earlier.blockedDiffDst else { return false }
    var a: UnsafePointer<dnnl_memory_desc_t>?
    var b: UnsafePointer<dnnl_memory_desc_t>?
    guard dnnl_memory_get_memory_desc(mine, &a) == dnnl_success,
      dnnl_memory_get_memory_desc(theirs, &b) == dnnl_success, let a, let b
    else { return false }
    return dnnl_memory_desc_equal(a, b) != 0
  }

  private func reorder(_ port: ConvolutionPort) throws(DNNLFailure) {
    guard let reorder = port.reorder else { return }
    try port.reorderArguments.withUnsafeBufferPointer { (pointer) throws(DNNLFailure) in
      try check(
        dnnl_primitive_execute(reorder, stream.handle, 2, pointer.baseAddress), "dnnl_primitive_execute",
        "reordering a convolution argument")
    }
  }
}
