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
  /// The kernel of each conv2d layer in layer order (root attribute `kernel_convolutions`,
  /// such as `onednn,onednn`); nil for networks without one and for files written before
  /// the choice existed, which all computed their convolutions by im2col.
  public var convolutions: [ConvolutionKernel]?

  /// Provenance with the library and CPU given, and the conv2d layers' kernels when there are some.
  public init(library: String, cpu: String, convolutions: [ConvolutionKernel]? = nil) {
    self.library = library
    self.cpu = cpu
    self.convolutions = convolutions
  }

  /// The kernels this process runs for `architecture`: the library, CPU and its conv2d layers' kernels.
  public static func current(for architecture: Architecture) -> KernelProvenance {
    let kernels = architecture.convolutionKernels
    return KernelProvenance(
      library: KernelLibrary.version, cpu: KernelLibrary.cpuFeatures,
      convolutions: kernels.isEmpty ? nil : kernels)
  }

  /// Whether the library and CPU are the same (the conv2d kernels a resumed run takes from the file).
  public func sameLibrary(as other: KernelProvenance) -> Bool { library == other.library && cpu == other.cpu }

  /// `im2col,onednn`: the conv2d kernels as the checkpoint stores them.
  public var convolutionsText: String? { convolutions.map { $0.map(\.rawValue).joined(separator: ",") } }

  /// The kernels this process runs.
  public static var current: KernelProvenance {
    KernelProvenance(library: KernelLibrary.version, cpu: KernelLibrary.cpuFeatures)
  }

  /// `oneDNN 2.6.3 on avx2`, then `, conv2d by onednn,im2col` when conv2d kernels are recorded.
  public var description: String {
    "\(library) on \(cpu)" + (convolutionsText.map { ", conv2d by \($0)" } ?? "")
  }
}
