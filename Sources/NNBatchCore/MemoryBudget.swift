import Foundation

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// How much memory nnbatch may still reserve: checked before every large allocation.
///
/// The budget is the smallest of the kernel's MemAvailable, the cgroup's
/// limit less its current use (v2 `memory.max`, v1 `memory.limit_in_bytes`)
/// and RLIMIT_AS less the address space already mapped. A size from a file
/// header, an HDF5 dataspace or a config is compared with it before memory
/// is reserved, so a hostile or mistaken size ends in exit 2 naming the
/// sizes, never in a failed allocation (a trap) or the OOM killer.
package struct MemoryBudget: Sendable, CustomStringConvertible {
  /// Bytes that may still be reserved.
  package var bytes: Int
  /// Which limit sets it ("MemAvailable", "the cgroup's memory.max", "RLIMIT_AS").
  package var limit: String

  /// A smaller budget (bytes) for the checks run inside it: tests reach a limit without exhausting the machine.
  @TaskLocal package static var cap: Int?

  /// The budget now; unknown limits count as unlimited.
  package static func current() -> MemoryBudget {
    var budget = MemoryBudget(bytes: Int.max, limit: "no known limit")
    func consider(_ bytes: Int?, _ limit: String) {
      if let bytes, bytes < budget.bytes { budget = MemoryBudget(bytes: max(bytes, 0), limit: limit) }
    }
    consider(cap, "the cap set for this task")
    consider(memAvailable(), "MemAvailable")
    consider(cgroupRoom(), "the cgroup's memory limit")
    consider(addressSpaceRoom(), "RLIMIT_AS (ulimit -v)")
    return budget
  }

  /// "9.8 GB (MemAvailable)".
  package var description: String { "\(Self.format(bytes)) (\(limit))" }

  /// Throws a usage error naming `what` and both sizes when `bytes` do not fit.
  ///
  /// `bytes` nil means the size overflowed Int: it fits nowhere.
  package static func require(_ bytes: Int?, for what: String, in place: String) throws(NNBatchError) {
    let budget = current()
    guard let bytes else {
      throw NNBatchError(
        .usage, "\(place): \(what) needs more than \(format(Int.max)) bytes; nnbatch may use \(budget)")
    }
    guard bytes <= budget.bytes else {
      throw NNBatchError(
        .usage, "\(place): \(what) needs \(format(bytes)), more than nnbatch may use: \(budget)")
    }
  }

  /// Bytes in KB, MB or GB with one decimal.
  package static func format(_ bytes: Int) -> String {
    let value = Double(bytes)
    if value >= 1e9 { return String(format: "%.1f GB", value / 1e9) }
    if value >= 1e6 { return String(format: "%.1f MB", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1f KB", value / 1e3) }
    return "\(bytes) bytes"
  }

  // MARK: Sources

  /// A small kernel file's text, or nil when it is absent (no such limit here).
  private static func smallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 1 << 20 {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 { return nil }
      if n == 0 { break }
      bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  private static func memAvailable() -> Int? {
    guard let text = smallFile("/proc/meminfo") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
      let parts = line.split(separator: " ")
      if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
    }
    return nil
  }

  private static func number(_ path: String) -> Int? {
    guard let text = smallFile(path) else { return nil }
    return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }

  /// The least room (limit less use) of this process's cgroup and its ancestors, v2 or v1.
  ///
  /// The process's own cgroup comes from /proc/self/cgroup (a systemd unit's
  /// `MemoryMax` or a container without a cgroup namespace sits below the
  /// mount root); every level up to the root may hold a limit.
  private static func cgroupRoom() -> Int? {
    var v2Path: String?
    var v1Path: String?
    for line in (smallFile("/proc/self/cgroup") ?? "").split(separator: "\n") {
      let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard fields.count == 3 else { continue }
      if fields[0] == "0" && fields[1].isEmpty { v2Path = String(fields[2]) }
      if fields[1].split(separator: ",").contains("memory") { v1Path = String(fields[2]) }
    }
    // "max" (no limit) does not parse as a number; v1 says "no limit" with a huge number.
    if let room = leastRoom(
      mount: "/sys/fs/cgroup", path: v2Path, limit: "memory.max", usage: "memory.current")
    {
      return room
    }
    return leastRoom(
      mount: "/sys/fs/cgroup/memory", path: v1Path, limit: "memory.limit_in_bytes",
      usage: "memory.usage_in_bytes")
  }

  /// The least limit-less-usage over `mount/path` and its ancestors up to `mount`, or nil when none is limited.
  package static func leastRoom(mount: String, path: String?, limit: String, usage: String) -> Int? {
    var components = (path ?? "/").split(separator: "/").map(String.init)
    var least: Int?
    while true {
      let folder = ([mount] + components).joined(separator: "/")
      if let cap = number("\(folder)/\(limit)"), cap < 1 << 60 {
        let room = cap - (number("\(folder)/\(usage)") ?? 0)
        least = min(least ?? room, room)
      }
      guard !components.isEmpty else { return least }
      components.removeLast()
    }
  }

  /// RLIMIT_AS less the address space mapped now (/proc/self/statm, in pages).
  private static func addressSpaceRoom() -> Int? {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
      let cap = Int(exactly: limit.rlim_cur)
    else { return nil }
    var mapped = 0
    if let text = smallFile("/proc/self/statm"),
      let pages = text.split(separator: " ").first.flatMap({ Int($0) })
    {
      mapped = pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
    return cap - mapped
  }
}
