import ArgumentParser
import CMalloc
import Foundation
import NNBatch
import NNBatchCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The `nnbatch` command line; `train` is the default subcommand.
///
/// Each subcommand is a nested type in its own file under `Commands/`; options
/// that several commands share are `@OptionGroup`s under `Options/`.
@main
struct NNBatchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nnbatch",
    abstract: "Trains dense, convolutional and residual neural networks on CPUs.",
    discussion: """
      Layers: dense, conv2d, pooling, batch_norm, dropout, and graphs of them joined
      by add or concatenate (residual blocks). Training runs data-parallel on
      threads, and across processes under mpirun; a run saves HDF5 checkpoints it
      can resume from bit for bit. A checkpoint (or a run's folder) predicts,
      evaluates, and exports to ONNX or Keras.

      Examples:
        nnbatch --config configs/xor.json              train the tutorial's network
        nnbatch --config configs/big.json --threads 8  the throughput run
        nnbatch train --config configs/big.json --resume
        nnbatch inspect checkpoints/xor/step-000001500.h5
        nnbatch plot checkpoints/xor/step-000001500.h5 -o loss.svg
        nnbatch export checkpoints/xor/step-000001500.h5 --format onnx

      Exit codes: 0 done; 1 training or I/O failure; 2 usage, config or data error;
      130/143/129 stopped by SIGINT/SIGTERM/SIGHUP (after writing a checkpoint once
      training has begun; during setup at once, with nothing written).
      """,
    version: nnbatchVersion,
    subcommands: [
      Train.self, Inspect.self, Predict.self, Evaluate.self, Plot.self, Export.self, BenchmarkCheckpoint.self,
      BenchmarkLayers.self, BenchmarkConvolutions.self, BenchmarkDecode.self,
    ],
    defaultSubcommand: Train.self)

  /// Runs the command and maps every failure to the documented exit codes.
  static func main() {
    // A file-size limit should fail a write with EFBIG, not kill the process.
    _ = signal(SIGXFSZ, SIG_IGN)
    // `nnbatch ... | head -1`: a closed stdout fails writes with EPIPE (the
    // progress lines are lost) instead of killing the run before its final checkpoint.
    _ = signal(SIGPIPE, SIG_IGN)
    // Checkpoint saves allocate and free tens of MB; reusing heap memory
    // instead of fresh mmaps saves thousands of page faults per save.
    _ = nnb_keep_large_allocations()
    refuseArgumentsThatAreNotUTF8()
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch let error as NNBatchError {
      for line in error.lines { writeMessageToStandardError("error: \(line)\n") }
      Glibc.exit(exitStatus(for: error))
    } catch let error as ExitCode {
      Glibc.exit(exitStatus(for: error))
    } catch {
      let message = fullMessage(for: error)
      if exitStatus(for: error) == 0 {
        // Help, version or a completion script.
        print(adjustingBashCompletion(message))
      } else {
        writeToStandardError(message + "\n")
      }
      Glibc.exit(exitStatus(for: error))
    }
  }

  /// Exits 2 with one line when an argument's bytes are not valid UTF-8.
  ///
  /// The argument parser (and JSON) carry text: such bytes would become
  /// U+FFFD, and `--checkpoint-dir $'\xff'` would write to a folder named
  /// "\u{FFFD}", the same one as `$'\xfe'`. The raw bytes are checked
  /// before the parser sees them, so every path reaches the system as given.
  static func refuseArgumentsThatAreNotUTF8() {
    for index in 1..<Int(CommandLine.argc) {
      guard let raw = CommandLine.unsafeArgv[index], String(validatingCString: raw) == nil else { continue }
      let bytes = UnsafeRawBufferPointer(start: raw, count: strlen(raw))
      let shown = bytes.map { byte in
        (0x20..<0x7F).contains(byte) && byte != UInt8(ascii: "\\")
          ? String(UnicodeScalar(byte)) : "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
      }.joined()
      writeToStandardError(
        "error: argument \(index) (\"\(shown)\"): expected text in UTF-8, found other bytes; nnbatch takes paths and values as UTF-8 text (rename the file or folder)\n"
      )
      Glibc.exit(NNBatchError.Kind.usage.rawValue)
    }
  }

  /// The documented exit status for `error`: 1 or 2 as its kind says for nnbatch's
  /// own errors, the given code for `ExitCode` (130/143 after a signal), 0 for help
  /// and version, 2 for every usage error the parser reports (its own 64), and 1
  /// for anything else (an I/O error that no command turned into its own error).
  static func exitStatus(for error: any Error) -> Int32 {
    switch error {
    case let error as NNBatchError: return error.kind.rawValue
    case let error as ExitCode: return error.rawValue
    default:
      let code = exitCode(for: error)
      if code == .success { return 0 }
      return code == .validationFailure
        ? NNBatchError.Kind.usage.rawValue : NNBatchError.Kind.failure.rawValue
    }
  }
}
