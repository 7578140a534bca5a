import ArgumentParser
import NNBatch

/// The value of `train --resume [FILE|DIR]`, the one option whose value is optional.
///
/// It is declared with the parser's `defaultAsFlag:` and the `.next` strategy, so the
/// parser alone decides (README, "Training options"):
///
/// - `--resume` last, or followed by another option or by `--`: ``newest``, the newest
///   checkpoint of the run's folder that verifies (a fresh start when there is none);
/// - `--resume FILE`, `--resume DIR`, `--resume=FILE`: that file, or the newest valid
///   file in that folder;
/// - an empty value (`--resume "$DIR"` with `DIR` empty) is the same as a bare `--resume`;
/// - a word that starts with `-` is never taken as the value (it is parsed as an
///   option, and an unknown one is a usage error); write `--resume=-x.h5` or
///   `--resume ./-x.h5` for such a path.
enum ResumeTarget: ExpressibleByArgument, Equatable, CustomStringConvertible {
  /// Bare `--resume`.
  case newest
  /// `--resume FILE` or `--resume DIR`.
  case path(String)

  init(argument: String) { self = argument.isEmpty ? .newest : .path(argument) }

  /// What `--help` shows as the value of a bare `--resume`.
  var description: String {
    switch self {
    case .newest: "the newest valid checkpoint of the run's folder"
    case .path(let path): path
    }
  }

  /// Where training starts.
  var startPoint: StartPoint {
    switch self {
    case .newest: .resumeLatest
    case .path(let path): .resume(path)
    }
  }
}
