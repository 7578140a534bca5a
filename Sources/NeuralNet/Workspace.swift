/// Scratch buffers for running the network on up to `capacity` rows.
///
/// One per worker, allocated when a run is set up and reused every step.
/// Shapes: `input` [capacity, inputs], `targets` [capacity, targetColumns],
/// `activations[l]` [capacity, output elements of layer l] (empty for a
/// layer that shares its input: its output is the buffer below), `delta` and
/// `spare` [capacity, maxWidth], `scratch[l]` what layer l asks for;
/// for a layer graph (not a chain) that back-propagates also `layerGradients[l]`
/// [capacity, output elements of layer l].
public final class Workspace: @unchecked Sendable {
  /// Most rows the buffers hold.
  public let capacity: Int
  /// Gathered input rows of the current shard.
  public let input: FloatBuffer
  /// Gathered target rows of the current shard.
  public let targets: FloatBuffer
  /// Outputs A_l of each layer for the current rows.
  public let activations: [FloatBuffer]
  /// Each layer's own scratch (`Layer.scratchCount(rows:)` for `capacity` rows).
  public let scratch: [FloatBuffer]
  /// This worker's matmul primitives and bf16 buffers, reused every step.
  public let kernels: MatmulKernels
  /// dZ of the layer being back-propagated.
  let delta: FloatBuffer
  /// dA of the layer below, written from `delta` (ping-pong partner); a graph's adding buffer.
  let spare: FloatBuffer
  /// A graph's dA_l (then dZ_l) per layer; empty for a chain, which ping-pongs `delta` and
  /// `spare`, and for a forward-only workspace.
  let layerGradients: [FloatBuffer]

  /// Buffers for `architecture` on up to `capacity` rows with `targetColumns` targets;
  /// `backward: false` leaves out what only back-propagation uses (for prediction).
  public init(architecture: Architecture, capacity: Int, targetColumns: Int, backward: Bool = true) {
    precondition(capacity > 0, "workspace capacity must be positive")
    self.capacity = capacity
    input = FloatBuffer(count: capacity * architecture.inputs)
    targets = FloatBuffer(count: capacity * targetColumns)
    activations = architecture.layers.map {
      FloatBuffer(count: $0.sharesInput ? 0 : capacity * $0.outputShape.elements)
    }
    scratch = architecture.layers.map { FloatBuffer(count: $0.scratchCount(rows: capacity)) }
    delta = FloatBuffer(count: capacity * architecture.maxWidth)
    spare = FloatBuffer(count: capacity * architecture.maxWidth)
    layerGradients =
      architecture.isChain || !backward
      ? [] : architecture.layers.map { FloatBuffer(count: capacity * $0.outputShape.elements) }
    kernels = MatmulKernels()
  }
}
