import Foundation
import HDF5Store
import NNBatch
import NNBatchCore

/// A file format `nnbatch export` writes.
public enum ExportFormat: String, Sendable, CaseIterable {
  /// An ONNX model (opset 17) for onnxruntime and other ONNX runtimes.
  case onnx
  /// A Keras 3 `.keras` archive for `keras.saving.load_model`.
  case keras

  /// The file name extension, with its dot.
  public var fileExtension: String { ".\(rawValue)" }
}

/// `nnbatch export`: a checkpoint's model as an ONNX or Keras 3 file.
public enum ModelExport {
  /// The default output path: the checkpoint's path with `format`'s extension instead of its own.
  public static func defaultOutput(for checkpoint: String, format: ExportFormat) -> String {
    let url = URL(fileURLWithPath: checkpoint)
    let base =
      url.pathExtension.isEmpty ? checkpoint : String(checkpoint.dropLast(url.pathExtension.count + 1))
    return base + format.fileExtension
  }

  /// The file contents of `model` in `format`; throws (exit 2) when the format cannot express it.
  public static func encode(_ model: SavedModel, format: ExportFormat) throws(NNBatchError) -> [UInt8] {
    try encode(ExportPlan(model, format: format), format: format, path: model.path)
  }

  /// The file contents of `plan` in `format`; `path` names the model in errors.
  package static func encode(_ plan: ExportPlan, format: ExportFormat, path: String) throws(NNBatchError)
    -> [UInt8]
  {
    switch format {
    case .onnx: return try ONNXExport.encode(plan, path: path)
    case .keras: return try KerasExport.encode(plan, path: path)
    }
  }

  /// Loads `checkpoint` (a file, or a folder's newest valid file), exports it in `format` to `output` (default beside the file used) and returns the path written.
  ///
  /// `output` is written by the rule for output paths (`FileSystem.openOutput`):
  /// a file goes to an unpredictable temporary name in its folder, is fsynced
  /// and renamed, so an interrupted export leaves no half-written model behind;
  /// a device or FIFO is written through; a directory is refused (exit 2).
  public static func run(checkpoint: String, format: ExportFormat, output: String?) throws(NNBatchError)
    -> String
  {
    // A folder's newest valid checkpoint is the file used, and the default output derives from it.
    let model = try SavedModel.load(checkpoint)
    let target = output ?? defaultOutput(for: model.path, format: format)
    let resolved = { (path: String) in
      URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
    guard resolved(target) != resolved(model.path) else {
      throw NNBatchError(
        .usage,
        "\(target): expected an output file other than the checkpoint itself, found the checkpoint's path")
    }
    let bytes = try encode(model, format: format)
    do {
      try FileSystem.writeOutput(target, bytes: bytes)
    } catch  where error.isUsageError {
      throw NNBatchError(.usage, "\(error)")
    } catch {
      throw NNBatchError(.failure, "\(target): cannot write the \(format.rawValue) export: \(error)")
    }
    return target
  }
}
