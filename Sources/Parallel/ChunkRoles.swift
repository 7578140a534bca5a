import NeuralNet

/// Each chunk of a network with layer state, cut into trainable runs and parts of state tensors.
///
/// Reduce and apply go through the pieces of a chunk in order: a trainable
/// run is reduced with the batch scale and counted in the gradient's norm,
/// then stepped by the optimizer; a part of a state tensor is summed
/// unscaled, counted only for finiteness, then merged by its layer's
/// `updateState`. The pieces depend on the layout and `ChunkPlan` alone, so
/// every engine and rank cuts a chunk alike and gets the same bits.
/// Networks without state have no `ChunkRoles` (engines keep their
/// whole-chunk loops).
package struct ChunkRoles: Sendable {
  /// One piece of a chunk.
  package enum Piece: Sendable {
    /// Parameters the optimizer steps.
    case trainable(Range<Int>)
    /// Elements `range` of `tensor`, a state tensor of layer `layer` (flat indices).
    case state(layer: Int, tensor: ParameterTensor, range: Range<Int>)
  }

  /// The layers, for their `updateState`.
  private let layers: [any Layer]
  /// Per chunk, its pieces in layout order.
  private let pieces: [[Piece]]

  /// The pieces of every chunk of `chunks` for `architecture`; nil when it has no state.
  package init?(architecture: Architecture, chunks: ChunkPlan) {
    let states = architecture.stateTensors
    guard !states.isEmpty else { return nil }
    var whole: [Piece] = architecture.trainableRanges.map { .trainable($0) }
    whole += states.map { .state(layer: $0.layer, tensor: $0.tensor, range: $0.tensor.range) }
    whole.sort { $0.range.lowerBound < $1.range.lowerBound }
    layers = architecture.layers
    pieces = (0..<chunks.count).map { chunk in
      let bounds = chunks.range(ofChunk: chunk)
      return whole.compactMap { piece in
        let part = piece.range.clamped(to: bounds)
        guard !part.isEmpty else { return nil }
        switch piece {
        case .trainable: return .trainable(part)
        case .state(let layer, let tensor, _): return .state(layer: layer, tensor: tensor, range: part)
        }
      }
    }
  }

  /// The pieces of chunk `chunk`.
  package func pieces(ofChunk chunk: Int) -> [Piece] { pieces[chunk] }

  /// `ShardSum.reduce` of chunk `chunk` piece by piece; returns Σ g² of its trainable runs.
  ///
  /// `sources` hold the shards' slices from flat index `base` on (0 for whole
  /// buffers). State sums are not scaled and stay out of the sum of squares,
  /// unless one is not finite: then a NaN is added, so the chunk is flagged.
  package func reduce(
    chunk: Int, sources: UnsafePointer<UnsafeMutablePointer<Float>>, shards: Int, base: Int, scale: Float
  ) -> Double {
    var squares = 0.0
    for piece in pieces[chunk] {
      switch piece {
      case .trainable(let range):
        squares += ShardSum.reduce(
          sources: sources, shards: shards, offset: range.lowerBound - base, count: range.count, scale: scale)
      case .state(_, _, let range):
        let stateSquares = ShardSum.reduce(
          sources: sources, shards: shards, offset: range.lowerBound - base, count: range.count, scale: 1)
        // Squares overflow from 1.8e19 on; only a sum that is itself not finite flags the chunk.
        if !stateSquares.isFinite {
          let sums = UnsafeBufferPointer(start: sources[0] + (range.lowerBound - base), count: range.count)
          if !sums.allSatisfy(\.isFinite) { squares += .nan }
        }
      }
    }
    return squares
  }

  /// Apply for chunk `chunk`: the optimizer on its trainable runs, the layers' rules on its state.
  ///
  /// `parameters` and `gradient` (reduced) point at flat index `base`, as does
  /// the layout of `optimizer`'s slots; the optimizer's slots of state
  /// elements are never touched.
  package func apply(
    chunk: Int, parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, base: Int,
    optimizer: OptimizerState, coefficients: StepConstants, batch: StateBatch
  ) {
    for piece in pieces[chunk] {
      switch piece {
      case .trainable(let range):
        optimizer.update(
          parameters: parameters, gradient: gradient,
          range: (range.lowerBound - base)..<(range.upperBound - base), coefficients: coefficients)
      case .state(let layer, let tensor, let range):
        layers[layer].updateState(
          tensor, elements: (range.lowerBound - tensor.offset)..<(range.upperBound - tensor.offset),
          state: parameters + (range.lowerBound - base), statistics: gradient + (range.lowerBound - base),
          batch: batch)
      }
    }
  }
}

extension ChunkRoles.Piece {
  /// Its flat indices.
  fileprivate var range: Range<Int> {
    switch self {
    case .trainable(let range): return range
    case .state(_, _, let range): return range
    }
  }
}
