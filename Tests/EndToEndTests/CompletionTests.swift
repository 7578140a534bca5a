import Foundation
import TestSupport
import XCTest

/// The bash completion script of the built executable, loaded in a real `bash`.
///
/// Each case sets `COMP_WORDS` and `COMP_CWORD` as readline would for the line
/// typed so far, calls the function that the script registered with `complete`,
/// and reads `COMPREPLY`, in a folder holding a few configs, checkpoints and
/// other files.
final class CompletionTests: XCTestCase {
  private var folder = TemporaryDirectory()
  private var script = ""

  override func setUpWithError() throws {
    try XCTSkipIf(tool("bash") == nil, "bash is not installed")
    folder = TemporaryDirectory()
    let generated = try nnbatch(["--generate-completion-script", "bash"])
    XCTAssertEqual(generated.status, 0, generated.stderr)
    script = folder.write("nnbatch.bash", generated.stdout)
    for name in [
      "configs/flowers.json", "configs/flat.json", "configs/floor.txt", "configs/xor.json",
      "ck/step-000000010.h5", "run.h5", "notes.txt",
    ] {
      let path = folder.file("work/\(name)")
      try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()), path)
    }
  }

  /// The completions bash offers for `line`, where the cursor is at the end of its last word.
  private func complete(_ line: String...) throws -> Set<String> {
    let bash = try XCTUnwrap(tool("bash"))
    let driver = """
      source "$0" || exit 3
      registered=$(complete -p nnbatch) || exit 4
      function=$(sed -E 's/.* -F ([^ ]+) .*/\\1/' <<< "${registered}")
      COMP_WORDS=(nnbatch "$@")
      COMP_CWORD=$#
      COMP_LINE="${COMP_WORDS[*]}"
      COMP_POINT=${#COMP_LINE}
      COMPREPLY=()
      "${function}" nnbatch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
      printf '%s\\n' "${COMPREPLY[@]}"
      """
    let result = try runProcess(
      bash, ["--norc", "--noprofile", "-c", driver, script] + line, in: folder.file("work"))
    XCTAssertEqual(result.status, 0, "nnbatch \(line): \(result.stderr)")
    XCTAssertEqual(result.stderr, "", "nnbatch \(line)")
    return Set(result.stdout.split(separator: "\n").map(String.init))
  }

  func testTheScriptRegistersOneFunctionForNNBatch() throws {
    let bash = try XCTUnwrap(tool("bash"))
    let result = try runProcess(
      bash, ["--norc", "--noprofile", "-c", "source \"$0\"; complete -p nnbatch", script])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertEqual(result.stdout, "complete -o filenames -F __nnbatch_complete nnbatch\n")
  }

  func testConfigFilesCompleteWithAndWithoutTheDefaultSubcommand() throws {
    let configs: Set = ["configs/flowers.json", "configs/flat.json"]
    XCTAssertEqual(try complete("--config", "configs/fl"), configs, "train is the default subcommand")
    XCTAssertEqual(try complete("train", "--config", "configs/fl"), configs)
    XCTAssertEqual(try complete("--threads", "2", "--config", "configs/fl"), configs)
    XCTAssertEqual(
      try complete("benchmark-checkpoint", "--config", "configs/fl"), [], "hidden: not completed")
    // Folders are offered so that one can walk into them; other extensions are not.
    XCTAssertEqual(try complete("--config", "co"), ["configs"])
    XCTAssertEqual(
      try complete("--config", "configs/"), ["configs/flowers.json", "configs/flat.json", "configs/xor.json"])
  }

  func testCheckpointsFoldersAndFilesCompleteByKind() throws {
    let checkpoints: Set = ["run.h5", "ck", "configs"]
    XCTAssertEqual(try complete("inspect", ""), checkpoints)
    XCTAssertEqual(try complete("plot", ""), checkpoints)
    XCTAssertEqual(try complete("inspect", "ck/"), ["ck/step-000000010.h5"])
    XCTAssertEqual(try complete("predict", "--checkpoint", ""), checkpoints)
    XCTAssertEqual(try complete("evaluate", "--checkpoint", "r"), ["run.h5"])
    XCTAssertEqual(try complete("--config", "configs/xor.json", "--init-from", ""), checkpoints)
    XCTAssertEqual(try complete("--config", "configs/xor.json", "--resume", ""), checkpoints)
    XCTAssertEqual(try complete("--config", "configs/xor.json", "--checkpoint-dir", ""), ["ck", "configs"])
    XCTAssertEqual(try complete("predict", "--input", "n"), ["notes.txt"])
    XCTAssertEqual(try complete("plot", "run.h5", "-o", "n"), ["notes.txt"])
    XCTAssertEqual(
      try complete("evaluate", "--data", "configs/flo"), ["configs/flowers.json", "configs/floor.txt"])
  }

  func testEnumeratedValuesOptionsAndSubcommandsComplete() throws {
    XCTAssertEqual(try complete("--config", "configs/xor.json", "--log-format", ""), ["text", "json"])
    XCTAssertEqual(try complete("predict", "--header", ""), ["true", "false"])
    XCTAssertEqual(try complete("--c"), ["--config", "--checkpoint-dir"])
    XCTAssertEqual(try complete("train", "--log-"), ["--log-format", "--log-every", "--log-csv"])
    XCTAssertEqual(
      Set(try complete("inspect", "run.h5", "--")),
      ["--config", "--threads", "--json", "--version", "--help"])
    let root = try complete("")
    XCTAssertTrue(
      ["train", "inspect", "predict", "evaluate", "plot", "help"].allSatisfy(root.contains), "\(root)")
    XCTAssertFalse(root.contains("benchmark-checkpoint"), "\(root)")
  }

  func testABareResumeTakesNoValueInCompletionAsInParsing() throws {
    XCTAssertEqual(try complete("--config", "configs/xor.json", "--resume", "--ep"), ["--epochs"])
    XCTAssertEqual(
      try complete("--config", "configs/xor.json", "--resume", "--epochs", "3", "--q"), ["--quiet"])
    XCTAssertEqual(try complete("train", "--resume", "--log-format", "j"), ["json"])
    XCTAssertEqual(
      try complete("--resume=run.h5", "--config", "configs/fl"),
      ["configs/flowers.json", "configs/flat.json"])
  }
}
