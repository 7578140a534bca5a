import NeuralNet

/// Which kernels computed a run's products: the library and the CPU instruction set they used.
///
/// Recorded in every checkpoint (root attributes `kernel_library` and
/// `kernel_cpu`, optional: files written before them have none). A run
/// resumed under different kernels is still deterministic from then on, but
/// its bits may differ from those the original machine would have produced.
public struct KernelProvenance: Sendable, Hashable, CustomStringConvertible {
  /// The library and its version, such as `oneDNN 2.6.3`.
  public var library: String
  /// The instruction set its kernels dispatch to, such as `avx512_core_bf16` or `avx2`.
  public var cpu: String

  /// Provenance with both fields given.
  public init(library: String, cpu: String) {
    self.library = library
    self.cpu = cpu
  }

  /// The kernels this process runs.
  public static var current: KernelProvenance {
    KernelProvenance(library: KernelLibrary.version, cpu: KernelLibrary.cpuFeatures)
  }

  /// `oneDNN 2.6.3 on avx2`.
  public var description: String { "\(library) on \(cpu)" }
}
