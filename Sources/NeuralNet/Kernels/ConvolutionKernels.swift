// Which kernel computes a conv2d layer: a rule on the shapes and the instruction set,
// from the measurements in docs/convolution-kernels.md (`tools/bench-conv`), never a
// timing taken at run time (that would make the bits depend on the machine's load).
//
// The choice is made once per run, before the first step: by this rule for a new run,
// from the checkpoint's kernel provenance for a resumed one (files written before the
// choice existed used im2col), and under MPI every rank takes rank 0's. Every worker of
// every rank then runs the same kernel on the same shard shapes, one OpenMP thread
// each, so the bits never depend on --threads, ranks or resume.

/// The kernel that computes a convolution layer's passes.
public enum ConvolutionKernel: String, Sendable, Hashable, CaseIterable {
  /// im2col / col2im into the matmul facade (`Conv2D.swift`).
  case im2col
  /// oneDNN's convolution primitives on blocked layouts, reordered from and to NCHW / OIHW (`DNNLConvolution.swift`).
  case onednn

  /// One row of the rule: on CPUs whose oneDNN ISA starts with `isa`, square kernels of
  /// these sizes on at least `minimumChannels` input channels use `kernel`.
  struct Rule {
    let isa: String
    let sizes: Set<Int>
    let minimumChannels: Int
    let kernel: ConvolutionKernel
  }

  /// The committed rule table, from docs/convolution-kernels.md (AMD EPYC Zen 4, oneDNN 2.6.3).
  ///
  /// On AVX-512, oneDNN's blocked `jit:avx512_core` and `jit_1x1:avx512_core` beat im2col
  /// on every measured 1×1, 3×3 and 5×5 shape (stride 1 and 2), by 10 % to 2.5× per layer.
  /// On AVX2 (oneDNN held to it with ONEDNN_MAX_CPU_ISA=AVX2), `jit:avx2` wins 3×3 layers
  /// of 16 and 32 input channels by 1.3–1.7× per layer (its three passes), but loses a one-channel first layer's
  /// backward-weights by 2.5× and ties or loses 5×5 and 1×1, so only those 3×3 layers move.
  /// Other kernel sizes, and channel counts below a row's minimum, keep im2col; layers wider
  /// than the measured ones follow their row (an extrapolation: 16 and 32 channels were measured).
  static let rules: [Rule] = [
    Rule(isa: "avx512_core", sizes: [1, 3, 5], minimumChannels: 1, kernel: .onednn),
    Rule(isa: "avx2", sizes: [3], minimumChannels: 16, kernel: .onednn),
  ]

  /// The kernel the rule gives a kh × kw convolution of `channels` input channels on a CPU whose oneDNN ISA is `isa`.
  public static func rule(kernelHeight: Int, kernelWidth: Int, channels: Int, isa: String)
    -> ConvolutionKernel
  {
    for rule in rules
    where isa.hasPrefix(rule.isa) && kernelHeight == kernelWidth && rule.sizes.contains(kernelHeight)
      && channels >= rule.minimumChannels
    {
      return rule.kernel
    }
    return .im2col
  }

  /// The kernel the rule gives a kh × kw convolution of `channels` input channels on this CPU.
  public static func rule(kernelHeight: Int, kernelWidth: Int, channels: Int) -> ConvolutionKernel {
    rule(
      kernelHeight: kernelHeight, kernelWidth: kernelWidth, channels: channels, isa: KernelLibrary.cpuFeatures
    )
  }
}

extension MatmulKernels {
  /// This worker's primitive for `key`, created on first use (the first step, or the first short last batch).
  func convolution(_ key: ConvolutionKey) -> DNNLConvolution {
    if let existing = convolutions[key] { return existing }
    do {
      let made = try DNNLConvolution(key)
      convolutions[key] = made
      return made
    } catch {
      // f32 convolutions with these shapes exist on every x86-64 CPU oneDNN
      // supports; a failure is a broken installation, not a user error.
      fatalError("\(error)")
    }
  }

  /// Runs `key`'s primitive on the caller's buffers (see `DNNLConvolution.run`), its copies in this worker's arena.
  ///
  /// The arena grows only when a new primitive needs more: on the first steps, never after.
  package func runConvolution(
    _ key: ConvolutionKey, _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ third: UnsafeRawPointer,
    _ fourth: UnsafeRawPointer?
  ) {
    let convolution = convolution(key)
    let arena = UnsafeMutableRawPointer(floatBuffer(slot: -6, count: (convolution.arenaBytes + 3) / 4))
    do {
      try convolution.run(first, second, third, fourth, arena: arena)
    } catch {
      fatalError("\(error)")
    }
  }

  /// A layer's backward on oneDNN: dW (and db) from X and dZ, then dX from dZ and W when
  /// `inputGradient` is given, dZ reordered to the blocked layout once for both when the
  /// two primitives want the same layout (the bits are those of two separate calls).
  func runConvolutionBackward(
    weights weightsKey: ConvolutionKey, data dataKey: ConvolutionKey, input: UnsafeRawPointer,
    outputGradient: UnsafeRawPointer, kernel: UnsafeRawPointer, gradient: UnsafeRawPointer,
    biasGradient: UnsafeRawPointer?, inputGradient: UnsafeRawPointer?
  ) {
    let weights = convolution(weightsKey)
    let data = inputGradient.map { _ in convolution(dataKey) }
    // Sized for both before the first runs: growing it between them would lose dZ's copy.
    let bytes = max(weights.arenaBytes, data?.arenaBytes ?? 0)
    let arena = UnsafeMutableRawPointer(floatBuffer(slot: -6, count: (bytes + 3) / 4))
    do {
      try weights.run(input, outputGradient, gradient, biasGradient, arena: arena)
      if let data, let inputGradient {
        try data.run(
          outputGradient, kernel, inputGradient, nil, arena: arena,
          diffDstReady: data.sharesDiffDst(with: weights))
      }
    } catch {
      fatalError("\(error)")
    }
  }

  /// Backward-data calls that read the blocked dZ their backward-weights pass left, skipping a reorder (tests check it happens).
  package var sharedDiffDstCount: Int { convolutions.values.reduce(0) { $0 + $1.reusedDiffDstCount } }

  /// The oneDNN implementations this worker's convolutions run, such as `jit:avx512_core`.
  package var convolutionImplementations: Set<String> { Set(convolutions.values.map(\.implementation)) }

  /// Number of convolution primitives created so far (tests check that steps reuse them).
  package var convolutionCount: Int { convolutions.count }
}
