// A copy of the dense weights with padded rows, kept by the training engine
// for the f32 products on CPUs whose sgemm slows down on rows 1 KiB apart.
//
// oneDNN 2.6's AVX2 sgemm runs 4–5× slower when B's rows are a multiple of
// 1 KiB apart (see `MatmulKernels.paddedB`). Without this mirror every
// worker copied W [I, U] into padded scratch before each forward product:
// two copies of `big`'s 7 MB of weights per step at one thread, one copy per
// worker at two, each worker streaming its own copy through the shared L3.
// The mirror is written once per step instead, by the optimizer's apply
// pass chunk by chunk while the chunk is in cache, and all workers read the
// same copy. The products read the same values at the same strides as the
// per-call copy did, so their bits are unchanged.

/// Padded-row copies of the Dense weights whose rows alias, in one buffer, refreshed range by range.
///
/// Layout: for each such W [I, U] (U a multiple of 256 floats), I rows of
/// U + 16 floats, one tensor after the other. Everything else (biases,
/// narrow layers) is read from the parameters themselves.
public final class PaddedWeights: @unchecked Sendable {
  /// One padded tensor: where it is in the parameters and in the mirror.
  private struct Segment {
    var offset: Int
    var rows: Int
    var columns: Int
    var mirrorOffset: Int
    var stride: Int
  }

  private let segments: [Segment]
  private let storage: UnsafeMutablePointer<Float>
  private let count: Int

  /// The mirror for `architecture`, or nil when this CPU's kernels need no padding or no layer qualifies.
  public static func make(for architecture: Architecture) -> PaddedWeights? {
    guard KernelLibrary.aliasesWideRows else { return nil }
    var segments: [Segment] = []
    var size = 0
    for layer in architecture.layers {
      guard let dense = layer as? Dense, dense.units % 256 == 0 else { continue }
      let stride = dense.units + 16
      segments.append(
        Segment(
          offset: dense.weights.offset, rows: dense.inputs, columns: dense.units, mirrorOffset: size,
          stride: stride))
      size += dense.inputs * stride
    }
    return segments.isEmpty ? nil : PaddedWeights(segments: segments, count: size)
  }

  private init(segments: [Segment], count: Int) {
    self.segments = segments
    self.count = count
    let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
    storage = raw.bindMemory(to: Float.self, capacity: count)
    storage.initialize(repeating: 0, count: count)
  }

  deinit { UnsafeMutableRawPointer(storage).deallocate() }

  /// Bytes the mirror holds.
  package var byteCount: Int { count * MemoryLayout<Float>.stride }

  /// Copies `parameters[range]` into the mirror wherever it holds those parameters.
  ///
  /// `range` is in the flat parameter layout (an apply chunk, or everything).
  public func refresh(from parameters: UnsafePointer<Float>, range: Range<Int>) {
    for segment in segments {
      let end = segment.offset + segment.rows * segment.columns
      let lower = max(range.lowerBound, segment.offset)
      let upper = min(range.upperBound, end)
      guard lower < upper else { continue }
      // Row by row: the first and last rows of the range may be partial.
      var index = lower
      while index < upper {
        let local = index - segment.offset
        let (row, column) = local.quotientAndRemainder(dividingBy: segment.columns)
        let n = min(segment.columns - column, upper - index)
        (storage + segment.mirrorOffset + row * segment.stride + column).update(
          from: parameters + index, count: n)
        index += n
      }
    }
  }

  /// The padded copy of the weight tensor starting at parameter `offset`, with its row stride; nil if not mirrored.
  public func weights(atOffset offset: Int) -> (pointer: UnsafePointer<Float>, stride: Int)? {
    for segment in segments where segment.offset == offset {
      return (UnsafePointer(storage + segment.mirrorOffset), segment.stride)
    }
    return nil
  }
}
