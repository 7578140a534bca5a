// Helpers shared by the test targets: temporary folders, running the CLI,
// h5dump, and file damage.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary directory, removed when the object is released.
public final class TemporaryDirectory {
  /// The directory's path.
  public let path: String

  /// Creates a new directory under the system temporary folder.
  public init(_ prefix: String = "nnbatch-test") {
    let base = FileManager.default.temporaryDirectory.path
    path = "\(base)/\(prefix)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit {
    try? FileManager.default.removeItem(atPath: path)
  }

  /// `name` inside the directory.
  public func file(_ name: String) -> String { "\(path)/\(name)" }

  /// Writes `text` to `name` and returns its path.
  @discardableResult
  public func write(_ name: String, _ text: String) -> String {
    let target = file(name)
    FileManager.default.createFile(atPath: target, contents: Data(text.utf8))
    return target
  }
}

/// The result of running a process.
public struct ProcessResult {
  /// Exit status (or 128 + signal).
  public var status: Int32
  /// Standard output.
  public var stdout: String
  /// Standard error.
  public var stderr: String
}

/// The repository root (the folder holding Package.swift).
public let repositoryRoot: String = {
  var url = URL(fileURLWithPath: #filePath)
  while url.path != "/" {
    url.deleteLastPathComponent()
    if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
      return url.path
    }
  }
  return FileManager.default.currentDirectoryPath
}()

/// The built `nnbatch` executable next to the test bundle.
public let nnbatchExecutable: String = {
  var candidates: [String] = []
  var url = Bundle.main.bundleURL
  for _ in 0..<3 {
    candidates.append(url.appendingPathComponent("nnbatch").path)
    url.deleteLastPathComponent()
  }
  candidates.append("\(repositoryRoot)/.build/debug/nnbatch")
  return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
}()

/// Runs `executable` with `arguments` in `directory`; waits and captures output.
@discardableResult
public func runProcess(
  _ executable: String, _ arguments: [String], in directory: String? = nil,
  environment: [String: String]? = nil
) throws -> ProcessResult {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
  if let environment { process.environment = environment }
  let out = Pipe()
  // stderr goes to a file so that neither pipe can fill up and block the child.
  let errPath = FileManager.default.temporaryDirectory.appendingPathComponent(
    "nnbatch-stderr-\(UUID().uuidString)"
  ).path
  FileManager.default.createFile(atPath: errPath, contents: nil)
  defer { try? FileManager.default.removeItem(atPath: errPath) }
  let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
  process.standardOutput = out
  process.standardError = errHandle
  try process.run()
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  try? errHandle.close()
  let errData = FileManager.default.contents(atPath: errPath) ?? Data()
  let status =
    process.terminationReason == .uncaughtSignal
    ? 128 + process.terminationStatus : process.terminationStatus
  return ProcessResult(
    status: status, stdout: String(decoding: outData, as: UTF8.self),
    stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs the nnbatch CLI.
@discardableResult
public func nnbatch(_ arguments: [String], in directory: String? = nil) throws -> ProcessResult {
  try runProcess(nnbatchExecutable, arguments, in: directory)
}

/// Path of a system tool, or nil when it is not installed.
public func tool(_ name: String) -> String? {
  for dir in ["/usr/bin", "/usr/local/bin", "/bin"]
  where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
    return "\(dir)/\(name)"
  }
  return nil
}

/// Parses the numbers of an `h5dump -d` DATA block.
public func h5dumpValues(_ output: String) -> [Double] {
  guard let start = output.range(of: "DATA {") else { return [] }
  let body = output[start.upperBound...]
  var values: [Double] = []
  for line in body.split(separator: "\n") {
    guard let colon = line.firstIndex(of: ":") else { continue }
    for token in line[line.index(after: colon)...].split(whereSeparator: { $0 == "," || $0 == " " }) {
      if let v = Double(token) { values.append(v) }
    }
  }
  return values
}

/// Flips bit `bit` of byte `offset` of the file at `path`.
public func flipBit(_ path: String, offset: Int, bit: Int = 0) throws {
  let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
  defer { try? handle.close() }
  try handle.seek(toOffset: UInt64(offset))
  guard var byte = try handle.read(upToCount: 1)?.first else { return }
  byte ^= UInt8(1 << bit)
  try handle.seek(toOffset: UInt64(offset))
  try handle.write(contentsOf: Data([byte]))
}

/// Overwrites `count` bytes at `offset` with zeros.
public func zeroBlock(_ path: String, offset: Int, count: Int) throws {
  let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
  defer { try? handle.close() }
  try handle.seek(toOffset: UInt64(offset))
  try handle.write(contentsOf: Data(repeating: 0, count: count))
}

/// Cuts the file at `path` to `length` bytes.
public func truncate(_ path: String, to length: Int) throws {
  let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
  defer { try? handle.close() }
  try handle.truncate(atOffset: UInt64(length))
}

/// The size of a file in bytes.
public func fileSize(_ path: String) -> Int {
  ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
}

/// Makes a FIFO at `path` (mkfifo) and starts reading it on a background thread.
///
/// Call the result once the writer is done (or failed) to get every byte
/// written; `nil` when the FIFO could not be made.
public func readingNewFIFO(_ path: String) -> (() -> [UInt8])? {
  guard mkfifo(path, 0o600) == 0 else { return nil }
  final class Received: @unchecked Sendable {
    var bytes: [UInt8] = []
    let done = DispatchSemaphore(value: 0)
  }
  let received = Received()
  Thread.detachNewThread {
    // Blocks until a writer opens the FIFO, then reads to its end.
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
      var buffer = [UInt8](repeating: 0, count: 65536)
      while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        received.bytes += buffer.prefix(n)
      }
      close(fd)
    }
    received.done.signal()
  }
  return {
    // A writer that never came (a failed run) would leave the reader blocked in open: be one.
    let unblock = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
    if unblock >= 0 { close(unblock) }
    // Bounded: a regression that renames a file over the FIFO leaves the reader blocked on the
    // old FIFO for good, and the test then fails on the missing bytes instead of hanging.
    guard received.done.wait(timeout: .now() + 30) == .success else { return [] }
    return received.bytes
  }
}

/// The file type bits of `path` itself (S_IFLNK for a symlink), or nil when nothing is there.
public func fileType(_ path: String) -> mode_t? {
  var info = stat()
  guard lstat(path, &info) == 0 else { return nil }
  return info.st_mode & S_IFMT
}
