import NNBatchCore
import NeuralNet

/// What rank 0 sends the other ranks after the statistics pass over a streamed file, which it alone runs.
///
/// One status byte (1: the pass's results follow, 2: rank 0 failed and
/// reports its own error), then the fingerprint, the feature and target
/// scalings and the targets [N, C] before their scaling. Numbers are
/// little-endian: 8-byte counts, 4-byte float bit patterns.
struct StreamPassMessage {
  /// The data fingerprint (training and validation data, labels).
  var fingerprint: String
  /// The feature scaling (fitted by the pass, or the checkpoint's).
  var scaler: AffineScaler
  /// The target scaling.
  var targetScaler: AffineScaler
  /// Every sample's targets, not yet scaled [N, C].
  var targets: Matrix

  /// Rank 0's failure: the others leave without a message of their own.
  static let failed: [UInt8] = [2]

  /// The message as bytes.
  func encoded() -> [UInt8] {
    var bytes: [UInt8] = [1]
    func count(_ n: Int) { withUnsafeBytes(of: UInt64(n).littleEndian) { bytes.append(contentsOf: $0) } }
    func floats(_ pointer: UnsafePointer<Float>, _ n: Int) {
      count(n)
      bytes.reserveCapacity(bytes.count + 4 * n)
      for i in 0..<n {
        withUnsafeBytes(of: pointer[i].bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
      }
    }
    let text = Array(fingerprint.utf8)
    count(text.count)
    bytes += text
    for s in [scaler, targetScaler] {
      let kind = Array(s.kind.rawValue.utf8)
      count(kind.count)
      bytes += kind
      s.shift.withUnsafeBufferPointer {
        if let base = $0.baseAddress { floats(base, $0.count) } else { count(0) }
      }
      s.factor.withUnsafeBufferPointer {
        if let base = $0.baseAddress { floats(base, $0.count) } else { count(0) }
      }
    }
    count(targets.rows)
    count(targets.columns)
    floats(targets.storage.pointer, targets.rows * targets.columns)
    return bytes
  }

  /// Decodes rank 0's message on rank `rank`; the targets must be [rows, columns] as this rank's source says.
  static func decode(_ bytes: [UInt8], rank: Int, rows: Int, columns: Int) throws(NNBatchError)
    -> StreamPassMessage
  {
    guard let status = bytes.first else {
      throw NNBatchError(.failure, "rank \(rank): empty message from rank 0")
    }
    guard status == 1 else {
      // Rank 0 reports its own error; this rank only leaves with the same kind.
      throw NNBatchError(.usage, "rank \(rank): rank 0 could not read the training data (see its error)")
    }
    var at = 1
    let damaged = NNBatchError(.failure, "rank \(rank): damaged statistics message from rank 0")
    func count() throws(NNBatchError) -> Int {
      guard at + 8 <= bytes.count else { throw damaged }
      var n: UInt64 = 0
      for i in 0..<8 { n |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
      at += 8
      guard n <= UInt64(Int.max / 8) else { throw damaged }
      return Int(n)
    }
    func text() throws(NNBatchError) -> String {
      let n = try count()
      guard at + n <= bytes.count else { throw damaged }
      defer { at += n }
      return String(decoding: bytes[at..<(at + n)], as: UTF8.self)
    }
    func floats(into pointer: UnsafeMutablePointer<Float>?, expected: Int?) throws(NNBatchError) -> [Float] {
      let n = try count()
      guard at + 4 * n <= bytes.count, expected.map({ $0 == n }) ?? true else { throw damaged }
      var values = [Float](repeating: 0, count: pointer == nil ? n : 0)
      for i in 0..<n {
        var bits: UInt32 = 0
        for b in 0..<4 { bits |= UInt32(bytes[at + 4 * i + b]) << (8 * UInt32(b)) }
        if let pointer { pointer[i] = Float(bitPattern: bits) } else { values[i] = Float(bitPattern: bits) }
      }
      at += 4 * n
      return values
    }
    let fingerprint = try text()
    var scalers: [AffineScaler] = []
    for _ in 0..<2 {
      guard let kind = Scaling(rawValue: try text()) else { throw damaged }
      let shift = try floats(into: nil, expected: nil)
      let factor = try floats(into: nil, expected: shift.count)
      scalers.append(AffineScaler(kind: kind, shift: shift, factor: factor))
    }
    guard try count() == rows, try count() == columns else { throw damaged }
    let targets = Matrix(rows: rows, columns: columns)  // [N, C]
    _ = try floats(into: targets.storage.pointer, expected: rows * columns)
    guard at == bytes.count else { throw damaged }
    return StreamPassMessage(
      fingerprint: fingerprint, scaler: scalers[0], targetScaler: scalers[1], targets: targets)
  }
}
