import SwiftProtobuf

/// TensorBoard `Event` messages, serialized (frame them with `EventRecord`).
///
/// Scalars are `Summary.Value.simple_value` (float32): both of TensorBoard's
/// readers accept them (the plugin reader migrates them to scalar tensors).
public enum TensorBoardEvent {
  /// The first event of every file: `file_version = "brain.Event:2"`.
  ///
  /// Version 2 tells TensorBoard to purge on `SessionLog.START` rather than
  /// on steps that go backwards.
  public static func fileVersion(wallTime: Double) throws -> [UInt8] {
    var event = Tensorboard_Event()
    event.wallTime = wallTime
    event.fileVersion = "brain.Event:2"
    return try event.serializedBytes()
  }

  /// A `SessionLog` START at `step`: TensorBoard drops the steps ≥ `step` it
  /// read before it (a restarted run supersedes what its predecessor logged).
  ///
  /// The plugin reader (the one TensorBoard's server uses) ignores a run's
  /// first START and purges on each later one; its older `EventAccumulator`
  /// purges on every START. So every run writes one, at the first step it logs.
  public static func sessionStart(step: Int, wallTime: Double) throws -> [UInt8] {
    var event = Tensorboard_Event()
    event.wallTime = wallTime
    event.step = Int64(step)
    event.sessionLog.status = .start
    return try event.serializedBytes()
  }

  /// One event holding `values` as scalars at `step` (as float32).
  public static func scalars(_ values: [(tag: String, value: Double)], step: Int, wallTime: Double) throws
    -> [UInt8]
  {
    var event = Tensorboard_Event()
    event.wallTime = wallTime
    event.step = Int64(step)
    event.summary.value = values.map { tag, value in
      var summaryValue = Tensorboard_Summary.Value()
      summaryValue.tag = tag
      summaryValue.simpleValue = Float(value)
      return summaryValue
    }
    return try event.serializedBytes()
  }

  /// What tests check in an event: its step, wall time and contents.
  package struct Decoded: Equatable {
    /// `Event.step`.
    package var step: Int
    /// `Event.wall_time`, seconds since 1970.
    package var wallTime: Double
    /// `Event.file_version`, when set.
    package var fileVersion: String?
    /// Whether it is a `SessionLog` START.
    package var sessionStart: Bool
    /// Its summary's simple values, in order.
    package var scalars: [String: Float]
  }

  /// Parses one serialized event (for tests).
  package static func decode(_ bytes: [UInt8]) throws -> Decoded {
    let event = try Tensorboard_Event(serializedBytes: bytes)
    var scalars: [String: Float] = [:]
    for value in event.summary.value { scalars[value.tag] = value.simpleValue }
    return Decoded(
      step: Int(event.step), wallTime: event.wallTime,
      fileVersion: event.fileVersion.isEmpty ? nil : event.fileVersion,
      sessionStart: event.sessionLog.status == .start, scalars: scalars)
  }
}
