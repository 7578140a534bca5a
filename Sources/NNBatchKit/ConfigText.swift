import NNBatchCore

// The typed builders become nnbatch's config JSON (NNBatchCore's `JSONText`), which the
// same parser as the command line's validates: one set of rules and messages, and
// checkpoints keep the text as always.

extension JSONText {
  /// `rows` as an array of arrays of numbers.
  static func matrix(_ rows: [[Float]]) -> JSONText {
    .array(rows.map { row in .array(row.map { .decimal(Double($0)) }) })
  }
}
