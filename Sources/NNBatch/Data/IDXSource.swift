import NeuralNet

/// The `idx` data source: MNIST-format files, gzipped or not.
///
/// Layout: magic 0x0000_08TT (TT = element type, 0x08 = unsigned byte) with
/// the rank in its last byte, then one big-endian UInt32 per dimension, then
/// the elements. Images are flattened and scaled to [0, 1].
enum IDXSource {
  static func read(images: String, labels: String) throws(NNBatchError) -> RawData {
    let (imageShape, imageBytes) = try parse(images, expectedRank: nil)
    let (labelShape, labelSlice) = try parse(labels, expectedRank: 1)
    let labelBytes = Array(labelSlice)
    guard imageShape.count >= 2 else {
      throw NNBatchError(
        .usage, "\(images): expected images of rank ≥ 2 (count, rows, ...), found rank \(imageShape.count)")
    }
    let count = imageShape[0]
    guard labelShape[0] == count else {
      throw NNBatchError(
        .usage, "\(labels): expected \(count) labels (one per image in \(images)), found \(labelShape[0])")
    }
    let features = imageShape.dropFirst().reduce(1, *)
    let inputs = Matrix(rows: count, columns: features)
    let x = inputs.storage.pointer
    imageBytes.withUnsafeBufferPointer { source in
      for i in 0..<(count * features) { x[i] = Float(source[i]) / 255 }
    }
    let targets = Matrix(rows: count, columns: 1)
    var classes = 0
    for i in 0..<count {
      targets.storage.pointer[i] = Float(labelBytes[i])
      classes = max(classes, Int(labelBytes[i]) + 1)
    }
    return RawData(inputs: inputs, targets: targets, labels: [], classes: classes)
  }

  /// Reads an unsigned-byte IDX file: its shape and elements.
  static func parse(_ path: String, expectedRank: Int?) throws(NNBatchError) -> ([Int], ArraySlice<UInt8>) {
    let bytes = try readFileBytes(path)
    guard bytes.count >= 4 else {
      throw NNBatchError(
        .usage, "\(path): expected an IDX header of at least 4 bytes, found \(bytes.count) bytes")
    }
    guard bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08 else {
      let magic = bytes[0..<4].map { String($0, radix: 16) }.joined(separator: " ")
      throw NNBatchError(
        .usage, "\(path): wrong IDX magic number: expected 00 00 08 <rank> (unsigned bytes), found \(magic)")
    }
    let rank = Int(bytes[3])
    if let expectedRank, rank != expectedRank {
      throw NNBatchError(.usage, "\(path): expected an IDX file of rank \(expectedRank), found rank \(rank)")
    }
    guard rank >= 1, bytes.count >= 4 + 4 * rank else {
      throw NNBatchError(.usage, "\(path): IDX header truncated (rank \(rank), \(bytes.count) bytes)")
    }
    var shape: [Int] = []
    for d in 0..<rank {
      let o = 4 + 4 * d
      shape.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
    }
    let start = 4 + 4 * rank
    let expected = shape.reduce(1, *)
    guard bytes.count - start == expected else {
      throw NNBatchError(
        .usage,
        "\(path): IDX shape \(shape) needs \(expected) data bytes, found \(bytes.count - start)")
    }
    return (shape, bytes[start...])
  }
}
