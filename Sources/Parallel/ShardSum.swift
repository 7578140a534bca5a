/// The reducer's kernel, shared by every engine so that all of them add the same way.
package enum ShardSum {
  /// sources[0][offset ..< offset + n] = scale · Σ_s sources[s][offset ..< offset + n] (s in order); returns Σ v².
  ///
  /// `sources` holds one base pointer per shard (`shards` of them), so a
  /// shard's slice may sit in its own gradient buffer or in a receive buffer.
  /// One pass with explicit 16-lane vectors counted from `offset`: the adds
  /// happen in shard order element by element, and the squares go into
  /// sixteen fixed partial sums, so the bits depend only on the data and on
  /// where the chunk begins. A NaN or infinite entry makes the sum of squares
  /// non-finite, which is how a chunk is flagged.
  @inline(__always)
  package static func reduce(
    sources: UnsafePointer<UnsafeMutablePointer<Float>>, shards: Int, offset: Int, count n: Int,
    scale: Float
  ) -> Double {
    let total = UnsafeMutableRawPointer(sources[0] + offset)
    var lanes = SIMD16<Float>()
    let vectorScale = SIMD16<Float>(repeating: scale)
    var i = 0
    while i + 16 <= n {
      let byteOffset = i * 4
      var v = total.loadUnaligned(fromByteOffset: byteOffset, as: SIMD16<Float>.self)
      for p in 1..<max(shards, 1) {
        v += UnsafeRawPointer(sources[p] + offset).loadUnaligned(
          fromByteOffset: byteOffset, as: SIMD16<Float>.self)
      }
      v *= vectorScale
      total.storeBytes(of: v, toByteOffset: byteOffset, as: SIMD16<Float>.self)
      lanes += v * v
      i += 16
    }
    var squares = Double(lanes.sum())
    let totalFloats = total.assumingMemoryBound(to: Float.self)
    while i < n {
      var v = totalFloats[i]
      for p in 1..<max(shards, 1) { v += sources[p][offset + i] }
      v *= scale
      totalFloats[i] = v
      squares += Double(v) * Double(v)
      i += 1
    }
    return squares
  }
}
