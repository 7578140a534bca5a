import NNBatchCore

/// An IDX header: the shape, and where the unsigned-byte data starts; parsed once for both readers.
///
///     bytes 0-3   00 00 08 <rank>        (0x08: unsigned bytes)
///     then        rank big-endian UInt32 dimensions
///     then        the data, product(dimensions) bytes, to the end of the file
///
/// `IDXSource` reads a whole (possibly gzipped) file and `IDXRows` streams
/// an uncompressed one; both check the header here, against the file's size.
struct IDXHeader {
  /// The dimensions, first the sample count.
  let shape: [Int]
  /// Where the data starts.
  let dataOffset: Int

  /// Parses the header of a file of `size` bytes whose bytes `read(offset, count)` gives (fewer at the end).
  static func parse(
    _ path: String, size: Int, expectedRank: Int?, read: (Int, Int) throws(NNBatchError) -> [UInt8]
  ) throws(NNBatchError) -> IDXHeader {
    let magic = try read(0, 4)
    guard magic.count == 4 else {
      throw NNBatchError(.usage, "\(path): expected an IDX header of at least 4 bytes, found \(size) bytes")
    }
    guard magic[0] == 0, magic[1] == 0, magic[2] == 0x08 else {
      let text = magic.map { String($0, radix: 16) }.joined(separator: " ")
      throw NNBatchError(
        .usage, "\(path): wrong IDX magic number: expected 00 00 08 <rank> (unsigned bytes), found \(text)")
    }
    let rank = Int(magic[3])
    if let expectedRank, rank != expectedRank {
      throw NNBatchError(.usage, "\(path): expected an IDX file of rank \(expectedRank), found rank \(rank)")
    }
    let dims = rank >= 1 ? try read(4, 4 * rank) : []
    guard rank >= 1, dims.count == 4 * rank else {
      throw NNBatchError(.usage, "\(path): IDX header truncated (rank \(rank), \(size) bytes)")
    }
    var shape: [Int] = []
    for d in 0..<rank {
      let o = 4 * d
      shape.append(Int(dims[o]) << 24 | Int(dims[o + 1]) << 16 | Int(dims[o + 2]) << 8 | Int(dims[o + 3]))
    }
    let start = 4 + 4 * rank
    // A hostile header's dimensions can overflow when multiplied (rank 255).
    guard let expected = checkedProduct(shape) else {
      throw NNBatchError(
        .usage,
        "\(path): byte 4: IDX shape \(shape) needs more data bytes than any file holds (the product overflows), found \(size - start)"
      )
    }
    guard size - start == expected else {
      throw NNBatchError(
        .usage,
        "\(path): byte \(start): IDX shape \(shape) needs \(expected) data bytes, found \(size - start)")
    }
    return IDXHeader(shape: shape, dataOffset: start)
  }
}
