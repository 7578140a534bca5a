import Foundation
import HDF5Store
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Files nnbatch creates: unpredictable names, nameless copies, and the one rule for output paths.
final class FileSystemTests: XCTestCase {
  private func text(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

  func testUniqueFilesHaveUnpredictableNamesAndRemoveThemselvesOnFailure() throws {
    let dir = TemporaryDirectory()
    var names: Set<String> = []
    for _ in 0..<20 {
      let path = try FileSystem.writeUniqueFile(
        in: dir.path, prefix: ".step-000000010.h5.", suffix: ".tmp", bytes: [1])
      names.insert((path as NSString).lastPathComponent)
    }
    XCTAssertEqual(names.count, 20)
    for name in names {
      XCTAssertNotNil(
        name.range(of: #"^\.step-000000010\.h5\.[0-9a-f]{16}\.tmp$"#, options: .regularExpression), name)
      XCTAssertFalse(name.contains(String(getpid())), name)
    }
    // A folder that does not exist: an error naming the file, nothing created.
    XCTAssertThrowsError(
      try FileSystem.writeUniqueFile(in: dir.file("missing"), prefix: ".x.", suffix: ".tmp", bytes: [1])
    ) { XCTAssertTrue("\($0)".contains("cannot create: No such file or directory"), "\($0)") }
  }

  func testListingReadsEachNameUpToItsEndAtEveryLength() throws {
    // Names of every length up to NAME_MAX, packed into readdir's buffer: each
    // name is read to its own NUL, never with bytes of the next record or beyond.
    let dir = TemporaryDirectory()
    var expected = (1...255).map { String(repeating: "n", count: $0 - 1) + String($0 % 10) }
    expected.append("é-ü-名前.csv")
    for name in expected { _ = dir.write(name, "") }
    XCTAssertEqual(try FileSystem.list(dir.path), expected.sorted())
  }

  func testRegularFilesAndMissingPathsAreReplacedAtomicallyKeepingPermissions() throws {
    let dir = TemporaryDirectory()
    let path = dir.write("out.csv", "old")
    XCTAssertEqual(chmod(path, 0o600), 0)
    var before = stat()
    XCTAssertEqual(stat(path, &before), 0)
    XCTAssertEqual(try FileSystem.writeOutput(path, bytes: Array("new".utf8)), path)
    XCTAssertEqual(text(path), "new")
    var after = stat()
    XCTAssertEqual(stat(path, &after), 0)
    XCTAssertNotEqual(before.st_ino, after.st_ino, "renamed over, not rewritten in place")
    XCTAssertEqual(after.st_mode & 0o777, 0o600)
    XCTAssertEqual(
      try FileSystem.writeOutput(dir.file("fresh.csv"), bytes: Array("x".utf8)), dir.file("fresh.csv"))
    XCTAssertEqual(try FileSystem.list(dir.path), ["fresh.csv", "out.csv"], "no temporary file is left")
    // A relative name without a folder is written in the working directory's folder.
    let cwd = FileManager.default.currentDirectoryPath
    XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir.path))
    defer { _ = FileManager.default.changeCurrentDirectoryPath(cwd) }
    XCTAssertEqual(try FileSystem.writeOutput("f", bytes: Array("one letter".utf8)), "f")
    XCTAssertEqual(text(dir.file("f")), "one letter")
  }

  func testSymlinksAreFollowedAndTheirTargetsReplaced() throws {
    let dir = TemporaryDirectory()
    try FileManager.default.createDirectory(atPath: dir.file("real"), withIntermediateDirectories: false)
    let victim = dir.write("real/target.txt", "before")
    // A chain: link -> sub/link2 -> ../real/target.txt (relative targets, each from its own folder).
    try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: false)
    XCTAssertEqual(symlink("../real/target.txt", dir.file("sub/link2")), 0)
    XCTAssertEqual(symlink("sub/link2", dir.file("link")), 0)
    XCTAssertEqual(
      try FileSystem.writeOutput(dir.file("link"), bytes: Array("after".utf8)),
      dir.file("sub/../real/target.txt"))
    XCTAssertEqual(text(victim), "after")
    XCTAssertEqual(fileType(dir.file("link")), S_IFLNK, "the link stays a link")
    XCTAssertEqual(fileType(dir.file("sub/link2")), S_IFLNK)
    XCTAssertEqual(
      try FileSystem.list(dir.file("real")), ["target.txt"], "the temporary file was in the target's folder")
    XCTAssertEqual(try FileSystem.list(dir.path), ["link", "real", "sub"])
    // A dangling link: its target is created.
    XCTAssertEqual(symlink("real/new.txt", dir.file("dangling")), 0)
    try FileSystem.writeOutput(dir.file("dangling"), bytes: Array("created".utf8))
    XCTAssertEqual(text(dir.file("real/new.txt")), "created")
    XCTAssertEqual(fileType(dir.file("dangling")), S_IFLNK)
    // A loop is refused as a usage error.
    XCTAssertEqual(symlink("loop", dir.file("loop")), 0)
    XCTAssertThrowsError(try FileSystem.writeOutput(dir.file("loop"), bytes: [1])) { error in
      XCTAssertTrue((error as? FileSystemError)?.isUsageError == true, "\(error)")
      XCTAssertTrue("\(error)".contains("symlinks in a row"), "\(error)")
    }
  }

  func testDirectoriesAndEmptyPathsAreRefusedBeforeAnythingIsCreated() throws {
    let dir = TemporaryDirectory()
    try FileManager.default.createDirectory(atPath: dir.file("ck"), withIntermediateDirectories: false)
    XCTAssertEqual(symlink("ck", dir.file("to-dir")), 0)
    for (path, found) in [
      (dir.file("ck"), "found a directory"), (dir.file("to-dir"), "found a symlink to directory"),
      (dir.file("new/"), "found a folder path"), ("", "found an empty string"),
    ] {
      XCTAssertThrowsError(try FileSystem.writeOutput(path, bytes: [1]), path) { error in
        XCTAssertTrue((error as? FileSystemError)?.isUsageError == true, "\(error)")
        XCTAssertTrue("\(error)".contains(found), "\(error)")
      }
    }
    XCTAssertEqual(try FileSystem.list(dir.path), ["ck", "to-dir"])
    XCTAssertEqual(try FileSystem.list(dir.file("ck")), [])
  }

  func testFIFOsAndDevicesAreWrittenThrough() throws {
    let dir = TemporaryDirectory()
    let fifo = dir.file("pipe")
    let received = try XCTUnwrap(readingNewFIFO(fifo))
    XCTAssertEqual(try FileSystem.writeOutput(fifo, bytes: Array("through the pipe\n".utf8)), fifo)
    XCTAssertEqual(String(decoding: received(), as: UTF8.self), "through the pipe\n")
    XCTAssertEqual(fileType(fifo), S_IFIFO, "the FIFO is still a FIFO")
    XCTAssertEqual(try FileSystem.list(dir.path), ["pipe"], "no temporary file, no rename")
    // A symlink to a FIFO: written through as well.
    let linked = try XCTUnwrap(readingNewFIFO(dir.file("pipe2")))
    XCTAssertEqual(symlink("pipe2", dir.file("to-pipe")), 0)
    try FileSystem.writeOutput(dir.file("to-pipe"), bytes: Array("linked".utf8))
    XCTAssertEqual(String(decoding: linked(), as: UTF8.self), "linked")
    XCTAssertEqual(fileType(dir.file("to-pipe")), S_IFLNK)
    // The one character device a test may write, and only once the rule is known to hold:
    // a regression must not replace the system's /dev/null. It stays a character device.
    guard try FileSystem.outputTarget("/dev/null") == .stream("/dev/null") else {
      return XCTFail("/dev/null is not classified as a device: not writing it")
    }
    try FileSystem.writeOutput("/dev/null", bytes: Array("discarded".utf8))
    XCTAssertEqual(fileType("/dev/null"), S_IFCHR)
  }

  func testAnOpenOutputAppendsAfterItsFirstBytes() throws {
    let dir = TemporaryDirectory()
    let path = dir.write("log.csv", "old rows\n")
    let output = try FileSystem.openOutput(path, writing: Array("header\n".utf8))
    try FileSystem.writeAll(to: output.descriptor, Array("row\n".utf8), path: output.path)
    try FileSystem.closeOutput(output)
    XCTAssertEqual(text(path), "header\nrow\n")
  }

  func testAnonymousFilesHaveNoNameAndReadBackThroughTheirDescriptor() throws {
    let dir = TemporaryDirectory()
    let image = try { () throws -> [UInt8] in
      let file = try HDF5File.createInMemory(name: "x.h5")
      try file.root().write([Float(1), 2, 3], shape: [3], name: "x")
      let bytes = try file.image()
      try file.close()
      return bytes
    }()
    let fd = try FileSystem.createAnonymousFile(in: dir.path, fallbackPrefix: ".test-")
    defer { close(fd) }
    XCTAssertEqual(try FileSystem.list(dir.path), [], "nameless from the start")
    try FileSystem.writeAll(to: fd, image, path: "copy")
    let path = FileSystem.descriptorPath(fd)
    XCTAssertTrue(FileSystem.isDescriptorPath(path))
    XCTAssertEqual(FileManager.default.contents(atPath: path).map { [UInt8]($0) }, image)
    // libhdf5 opens it too, though realpath cannot resolve the link of a nameless file.
    let file = try HDF5File.openForReading(path: path)
    XCTAssertEqual(try file.root().read(Float.self, name: "x").values, [1, 2, 3])
    try file.close()
  }

  func testTemporaryDirectoryComesFromTMPDIRAsText() throws {
    let saved = getenv("TMPDIR").map { String(cString: $0) }
    defer {
      if let saved { setenv("TMPDIR", saved, 1) } else { unsetenv("TMPDIR") }
    }
    setenv("TMPDIR", "/var/tmp", 1)
    XCTAssertEqual(try FileSystem.temporaryDirectory(), "/var/tmp")
    unsetenv("TMPDIR")
    XCTAssertEqual(try FileSystem.temporaryDirectory(), "/tmp")
    setenv("TMPDIR", "/tmp/\u{FF}", 1)  // valid UTF-8: used as given
    XCTAssertEqual(try FileSystem.temporaryDirectory(), "/tmp/\u{FF}")
    let invalid: [CChar] = [0x2F, 0x74, CChar(bitPattern: 0xFF), 0]
    setenv("TMPDIR", invalid, 1)
    XCTAssertThrowsError(try FileSystem.temporaryDirectory()) { error in
      XCTAssertTrue((error as? FileSystemError)?.isUsageError == true, "\(error)")
      XCTAssertTrue("\(error)".contains("expected a folder name in UTF-8"), "\(error)")
    }
  }
}
