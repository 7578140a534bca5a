import ArgumentParser
import CMalloc
import Foundation
import NNBatch

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
    abstract: "A multi-threaded CPU trainer for dense neural networks, with HDF5 checkpoints.",
    discussion: """
      Examples:
        nnbatch --config configs/xor.json              train the tutorial's network
        nnbatch --config configs/big.json --threads 8  the throughput run
        nnbatch train --config configs/big.json --resume
        nnbatch inspect checkpoints/xor/step-000001500.h5
        nnbatch plot checkpoints/xor/step-000001500.h5 -o loss.svg

      Exit codes: 0 done; 1 training or I/O failure; 2 usage, config or data error;
      130/143 stopped by SIGINT/SIGTERM after writing a checkpoint.
      """,
    version: nnbatchVersion,
    subcommands: [
      Train.self, Inspect.self, Predict.self, Evaluate.self, Plot.self, BenchmarkCheckpoint.self,
    ],
    defaultSubcommand: Train.self)

  /// Runs the command and maps every failure to the documented exit codes.
  static func main() {
    // A file-size limit should fail a write with EFBIG, not kill the process.
    _ = signal(SIGXFSZ, SIG_IGN)
    // Checkpoint saves allocate and free tens of MB; reusing heap memory
    // instead of fresh mmaps saves thousands of page faults per save.
    _ = nnb_keep_large_allocations()
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch let error as NNBatchError {
      for line in error.lines { FileHandle.standardError.write(Data("error: \(line)\n".utf8)) }
      Glibc.exit(error.kind.rawValue)
    } catch let error as ExitCode {
      Glibc.exit(error.rawValue)
    } catch {
      let code = exitCode(for: error)
      let message = fullMessage(for: error)
      if code == .success {
        // Help, version or a completion script.
        print(adjustingBashCompletion(message))
        Glibc.exit(0)
      }
      FileHandle.standardError.write(Data((message + "\n").utf8))
      Glibc.exit(NNBatchError.Kind.usage.rawValue)
    }
  }
}
