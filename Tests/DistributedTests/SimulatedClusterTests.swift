import Checkpoints
import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `tools/cluster`: training across simulated hosts (network namespaces on a bridge), and nothing left behind.
///
/// Each rank runs in a host of its own, reached over TCP through the bridge;
/// rank 0 writes the checkpoints to the shared file system. Where namespaces
/// cannot be made (not root, no iproute2, no mpirun) the tests skip with the
/// reason, except under CI=true, where that is a failure.
final class SimulatedClusterTests: XCTestCase {
  private var directory = TemporaryDirectory("nnbatch-cluster")

  private static let script = "\(repositoryRoot)/tools/cluster"

  /// Why simulated hosts cannot run here (`tools/cluster check`, asked once), or nil.
  private static let unavailable: String? = {
    guard tool("mpirun") != nil, tool("orted") != nil else { return "mpirun not installed (openmpi-bin)" }
    guard let check = try? runProcess(script, ["check"]) else { return "\(script) cannot be run" }
    return check.status == 0 ? nil : "tools/cluster check: " + (check.stdout + check.stderr)
  }()

  /// The hosts can be made, or a skip (an error under CI=true).
  private func requireCluster() throws {
    guard let reason = Self.unavailable else { return }
    if ProcessInfo.processInfo.environment["CI"] == "true" {
      throw ClusterUnavailable(message: "CI=true but \(reason)")
    }
    throw XCTSkip(reason)
  }

  /// A prefix for this test's namespaces, unique on the machine (the test process's id).
  private func prefix(_ name: String) -> String { "nnbt\(getpid())-\(name)" }

  /// A failed test may leave a cluster up (an assertion between steps, a SIGKILLed script).
  override func tearDownWithError() throws {
    guard Self.unavailable == nil else { return }
    // Namespaces are PREFIX-hK and PREFIX-br: the prefix is all before the last '-'.
    let left = Set(
      try namespaces("nnbt\(getpid())").compactMap { name in
        name.range(of: "-", options: .backwards).map { String(name[..<$0.lowerBound]) }
      })
    for cluster in left.sorted() {
      let down = try runProcess("/usr/bin/timeout", ["60", Self.script, "down", cluster])
      XCTAssertEqual(down.status, 0, down.stderr)
    }
  }

  /// 16,963 parameters in two chunks (so the ranks own different parameter ranges), Adam with clipping.
  private func mlpConfig(_ name: String, epochs: Int) -> String {
    directory.write(
      "\(name).json",
      """
      { "name": "\(name)", "seed": 5,
        "data": { "source": "synthetic", "samples": 120, "features": 16, "classes": 3, "seed": 2,
                  "validation": { "source": "synthetic", "samples": 30, "features": 16, "classes": 3, "seed": 9 } },
        "model": { "layers": [ { "units": 512, "activation": "relu" }, { "units": 16, "activation": "relu" },
                               { "units": 3, "activation": "softmax" } ], "init": "he_uniform", "bias": true },
        "loss": "cross_entropy", "optimizer": { "kind": "adam", "learning_rate": 0.01, "clip_norm": 0.5 },
        "training": { "epochs": \(epochs), "batch_size": 50, "shard_size": 8, "shuffle": true },
        "checkpoint": { "dir": "\(directory.file(name))", "every_epochs": 1, "keep": 100 } }
      """)
  }

  /// `tools/cluster run` arguments: `hosts` hosts, one rank each with one thread.
  private func clusterArguments(
    hosts: Int, prefix: String, rate: String? = nil, _ config: String, dir: String, extra: [String] = []
  ) -> [String] {
    ["run", "\(hosts)", "--prefix", prefix] + (rate.map { ["--rate", $0] } ?? []) + ["--", nnbatchExecutable]
      + ["--config", config, "--checkpoint-dir", dir, "--threads", "1", "--quiet"] + extra
  }

  /// Every checkpoint of `dir` equals `reference`'s of the same step, bit for bit (and there are as many).
  private func assertSameRun(_ dir: String, as reference: String, line: UInt = #line) throws {
    let expected = try CheckpointStore(directory: reference).checkpointFiles()
    let found = try CheckpointStore(directory: dir).checkpointFiles()
    XCTAssertFalse(expected.isEmpty, "no reference checkpoints", line: line)
    XCTAssertEqual(found.map(\.step), expected.map(\.step), dir, line: line)
    for (a, b) in zip(expected, found) where a.step == b.step {
      let differences = try Checkpoint.read(from: b.path).bitwiseDifferences(
        from: Checkpoint.read(from: a.path))
      XCTAssertEqual(differences, [], "\(b.path) differs from \(a.path)", line: line)
    }
  }

  /// The names of the network namespaces of `prefix` that exist now.
  private func namespaces(_ prefix: String) throws -> [String] {
    let list = try runProcess(try XCTUnwrap(tool("ip")), ["netns", "list"])
    return list.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
      .filter { $0.hasPrefix("\(prefix)-") }
  }

  /// Processes (other than this one) whose command line contains `fragment`, as `pgrep -f` finds them.
  private func processes(containing fragment: String) -> [String] {
    let own = "\(getpid())"
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { $0 != own && Int($0) != nil }.compactMap { pid in
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else {
        return nil
      }
      let command = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
      return command.contains(fragment) ? "\(pid) \(command)" : nil
    }
  }

  /// No namespace, file or process of the cluster `prefix` and no process of `config` is left.
  private func assertNothingLeft(_ prefix: String, config: String, line: UInt = #line) throws {
    XCTAssertEqual(try namespaces(prefix), [], line: line)
    let state = "\(ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")/\(prefix)"
    XCTAssertFalse(FileManager.default.fileExists(atPath: state), state, line: line)
    XCTAssertEqual(processes(containing: config), [], line: line)
    XCTAssertEqual(processes(containing: prefix), [], line: line)
  }

  func testTwoAndThreeHostsMatchOneProcess() throws {
    try requireCluster()
    let config = mlpConfig("hosts", epochs: 2)
    let one = try nnbatch(["--config", config, "--checkpoint-dir", directory.file("one"), "--threads", "2"])
    XCTAssertEqual(one.status, 0, one.stderr)
    // Two hosts behind a 10 Gbit/s token bucket each, three without a limit.
    for (hosts, rate) in [(2, "10gbit"), (3, nil)] {
      let dir = directory.file("hosts\(hosts)")
      let name = prefix("h\(hosts)")
      let run = try cluster(clusterArguments(hosts: hosts, prefix: name, rate: rate, config, dir: dir))
      XCTAssertEqual(run.status, 0, run.stderr)
      XCTAssertTrue(run.stderr.contains("\(name): \(hosts) hosts on 10."), run.stderr)
      try assertSameRun(dir, as: directory.file("one"))
      try assertNothingLeft(name, config: config)
    }
  }

  /// Runs `tools/cluster` with `arguments`, output to files; `action(script's PID)` once `checkpointIn` has a checkpoint.
  ///
  /// Never waits without bound: the script gets `--timeout` (it stops mpirun
  /// itself), and a script still running `limit` s after the start (or the
  /// action) is sent SIGTERM, which tears the cluster down, and then SIGKILL;
  /// that is a test failure, with the process tree in the message.
  private func cluster(
    _ arguments: [String], limit: Double = 60, checkpointIn dir: String? = nil,
    line: UInt = #line, _ action: (Int32) throws -> Void = { _ in }
  ) throws -> (status: Int32, stdout: String, stderr: String, seconds: Double) {
    var arguments = arguments
    if arguments.first == "run", let dash = arguments.firstIndex(of: "--") {
      arguments.insert(contentsOf: ["--timeout", "\(Int(limit) - 10)"], at: dash)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.script)
    process.arguments = arguments
    let tag = UUID().uuidString
    let outputs = (directory.write("out-\(tag)", ""), directory.write("err-\(tag)", ""))
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputs.0))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: outputs.1))
    process.standardInput = FileHandle.nullDevice
    try process.run()
    var deadline = Date().addingTimeInterval(limit)
    if let dir {
      while try CheckpointStore(directory: dir).checkpointFiles().isEmpty && Date() < deadline
        && process.isRunning
      {
        usleep(50_000)
      }
    }
    let acted = Date()
    try action(process.processIdentifier)
    deadline = max(deadline, acted.addingTimeInterval(limit))
    while process.isRunning && Date() < deadline { usleep(50_000) }
    if process.isRunning {
      let tree = (try? runProcess("/bin/ps", ["-eo", "pid,ppid,stat,etime,args", "--forest"]).stdout) ?? ""
      kill(process.processIdentifier, SIGTERM)
      let grace = Date().addingTimeInterval(20)
      while process.isRunning && Date() < grace { usleep(50_000) }
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      XCTFail(
        "tools/cluster \(arguments.joined(separator: " ")) still running after \(limit) s:\n\(tree)",
        line: line)
    }
    let seconds = Date().timeIntervalSince(acted)
    let stdout = (try? String(contentsOfFile: outputs.0, encoding: .utf8)) ?? ""
    let stderr = (try? String(contentsOfFile: outputs.1, encoding: .utf8)) ?? ""
    let status =
      process.isRunning
      ? -1
      : process.terminationReason == .uncaughtSignal
        ? 128 + process.terminationStatus : process.terminationStatus
    return (status, stdout, stderr, seconds)
  }

  /// The PIDs of `nnbatch` processes in network namespace `namespace`.
  private func ranks(in namespace: String) throws -> [Int32] {
    let pids = try runProcess(try XCTUnwrap(tool("ip")), ["netns", "pids", namespace])
    return pids.stdout.split(separator: "\n").compactMap { Int32($0) }.filter { pid in
      let name = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
      return name.trimmingCharacters(in: .whitespacesAndNewlines) == "nnbatch"
    }
  }

  func testInterruptedRunAndDownLeaveNothingBehind() throws {
    try requireCluster()
    let config = mlpConfig("stray", epochs: 4000)
    // SIGINT to the script: passed on to mpirun, which stops the ranks cleanly (status 1); then all is removed.
    let name = prefix("int")
    let stopped = try cluster(
      clusterArguments(hosts: 3, prefix: name, config, dir: directory.file("int")),
      checkpointIn: directory.file("int")
    ) { script in
      XCTAssertEqual(try namespaces(name).sorted(), ["br", "h0", "h1", "h2"].map { "\(name)-\($0)" })
      XCTAssertEqual(try ranks(in: "\(name)-h2").count, 1)
      kill(script, SIGINT)
    }
    XCTAssertEqual(stopped.status, 1, stopped.stderr)
    XCTAssertTrue(stopped.stdout.contains("stopped by signal at step"), stopped.stdout + stopped.stderr)
    XCTAssertLessThan(stopped.seconds, 15, stopped.stderr)
    try assertNothingLeft(name, config: config)
    // `up` leaves the hosts in place until `down`.
    let killedName = prefix("up")
    let up = try cluster(["up", "2", "--prefix", killedName])
    XCTAssertEqual(up.status, 0, up.stderr)
    XCTAssertEqual(try namespaces(killedName).count, 3)
    let down = try cluster(["down", killedName])
    XCTAssertEqual(down.status, 0, down.stderr)
    try assertNothingLeft(killedName, config: config)
    let again = try cluster(["down", killedName])
    XCTAssertEqual(again.status, 2)
    XCTAssertTrue(again.stderr.contains("no cluster with prefix \(killedName)"), again.stderr)
  }

  func testKilledRemoteRankThenResumeOnOneHostMatchesAnUninterruptedRun() throws {
    try requireCluster()
    let config = mlpConfig("remote", epochs: 4000)
    let dir = directory.file("remote")
    let name = prefix("rank")
    let killed = try cluster(clusterArguments(hosts: 3, prefix: name, config, dir: dir), checkpointIn: dir) {
      _ in
      let victims = try ranks(in: "\(name)-h1")
      XCTAssertEqual(victims.count, 1)
      for rank in victims { kill(rank, SIGKILL) }
    }
    XCTAssertNotEqual(killed.status, 0)
    XCTAssertLessThan(killed.seconds, 15, killed.stderr)
    XCTAssertTrue(killed.stderr.contains("rank 1"), killed.stderr)
    try assertNothingLeft(name, config: config)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }, [])
    try assertResumeMatches(config, dir: dir, hosts: 1)
  }

  /// `--resume` on `hosts` hosts to two epochs past `dir`'s newest checkpoint equals one process's run to there.
  ///
  /// (Both stop early, with the same `--epochs`, to keep the test short; an epoch is 3 steps.)
  private func assertResumeMatches(_ config: String, dir: String, hosts: Int, line: UInt = #line) throws {
    let newest = try XCTUnwrap(try CheckpointStore(directory: dir).checkpointFiles().last, line: line)
    let epochs = "\(newest.step / 3 + 2)"
    let name = prefix("resume\(hosts)")
    let resumed = try cluster(
      clusterArguments(
        hosts: hosts, prefix: name, config, dir: dir, extra: ["--resume", "--epochs", epochs]),
      line: line)
    XCTAssertEqual(resumed.status, 0, resumed.stderr, line: line)
    try assertNothingLeft(name, config: config, line: line)
    let one = directory.file("one-\(epochs)")
    let reference = try nnbatch([
      "--config", config, "--checkpoint-dir", one, "--threads", "2", "--quiet", "--epochs", epochs,
    ])
    XCTAssertEqual(reference.status, 0, reference.stderr, line: line)
    let last = try XCTUnwrap(try CheckpointStore(directory: one).checkpointFiles().last, line: line)
    XCTAssertEqual(
      try Checkpoint.read(from: "\(dir)/\(CheckpointStore.fileName(step: last.step))")
        .bitwiseDifferences(from: Checkpoint.read(from: last.path)), [], line: line)
  }

  /// The keepalives of the README's launch line: a host lost for 15 s or more ends the job.
  static let keepalives = [
    "--mca", "oob_tcp_keepalive_time", "10", "--mca", "oob_tcp_keepalive_intvl", "5",
    "--mca", "oob_tcp_keepalive_probes", "3",
  ]

  /// A rank that hangs (SIGSTOP) on a reachable host: the others give up at the deadline, naming it.
  func testStoppedRemoteRankMeetsTheDeadline() throws {
    try requireCluster()
    let config = mlpConfig("hung", epochs: 4000)
    let text = try String(contentsOfFile: config, encoding: .utf8)
    try text.replacingOccurrences(
      of: "\"keep\": 100 }", with: "\"keep\": 100 }, \"distributed\": { \"timeout_s\": 3 }"
    )
    .write(toFile: config, atomically: true, encoding: .utf8)
    let dir = directory.file("hung")
    let name = prefix("hung")
    let hung = try cluster(clusterArguments(hosts: 3, prefix: name, config, dir: dir), checkpointIn: dir) {
      _ in
      let victims = try ranks(in: "\(name)-h1")
      XCTAssertEqual(victims.count, 1)
      for rank in victims { kill(rank, SIGSTOP) }
    }
    XCTAssertNotEqual(hung.status, 0)
    // The whole job: the deadline, 2 s of pings to name the silent rank, mpirun's abort and the teardown.
    XCTAssertLessThan(hung.seconds, 15, hung.stderr)
    for rank in [0, 2] {
      XCTAssertTrue(
        hung.stderr.contains(
          "error: rank \(rank) on host \(name)-h\(rank): no answer from rank 1 on host \(name)-h1 within 3 s (distributed.timeout_s)"
        ), hung.stderr)
    }
    try assertNothingLeft(name, config: config)
  }

  func testThreeSecondOutageWithTheReadmeKeepalivesPasses() throws {
    try requireCluster()
    let config = mlpConfig("outage", epochs: 4000)
    let dir = directory.file("outage")
    let name = prefix("outage")
    var arguments = clusterArguments(hosts: 2, prefix: name, config, dir: dir)
    arguments.insert(contentsOf: Self.keepalives, at: try XCTUnwrap(arguments.firstIndex(of: "--")) + 1)
    let stopped = try cluster(arguments, limit: 60, checkpointIn: dir) { script in
      let ip = try XCTUnwrap(tool("ip"))
      XCTAssertEqual(try runProcess(ip, ["-n", "\(name)-h1", "link", "set", "eth0", "down"]).status, 0)
      sleep(3)
      XCTAssertEqual(try runProcess(ip, ["-n", "\(name)-h1", "link", "set", "eth0", "up"]).status, 0)
      // Training goes on: new checkpoints after the outage, and both ranks still there.
      let before = try CheckpointStore(directory: dir).checkpointFiles().last?.step ?? 0
      let deadline = Date().addingTimeInterval(25)
      while (try CheckpointStore(directory: dir).checkpointFiles().last?.step ?? 0) < before + 30
        && Date() < deadline
      {
        usleep(100_000)
      }
      XCTAssertGreaterThanOrEqual(
        try CheckpointStore(directory: dir).checkpointFiles().last?.step ?? 0, before + 30)
      XCTAssertEqual(try ranks(in: "\(name)-h1").count, 1)
      kill(script, SIGINT)
    }
    XCTAssertEqual(stopped.status, 1, stopped.stderr)
    XCTAssertTrue(stopped.stdout.contains("stopped by signal at step"), stopped.stdout + stopped.stderr)
    XCTAssertFalse(stopped.stderr.contains("no answer"), stopped.stderr)
    try assertNothingLeft(name, config: config)
  }

  func testCutLinkOfARemoteHostThenResumeOnTheOtherTwoMatchesAnUninterruptedRun() throws {
    try requireCluster()
    let config = mlpConfig("cut", epochs: 4000)
    let dir = directory.file("cut")
    let name = prefix("cut")
    // The README's keepalives: mpirun notices the lost host 15-25 s after the cut (a 3 s outage
    // passes), before the 30 s deadline; the others, stopped while waiting, name the host first.
    var arguments = clusterArguments(hosts: 3, prefix: name, config, dir: dir)
    arguments.insert(contentsOf: Self.keepalives, at: try XCTUnwrap(arguments.firstIndex(of: "--")) + 1)
    let cut = try cluster(arguments, limit: 90, checkpointIn: dir) { _ in
      let ip = try XCTUnwrap(tool("ip"))
      let down = try runProcess(ip, ["-n", "\(name)-h1", "link", "set", "eth0", "down"])
      XCTAssertEqual(down.status, 0, down.stderr)
    }
    XCTAssertNotEqual(cut.status, 0)
    // The whole job within the deadline plus 30 s.
    XCTAssertLessThan(cut.seconds, 60, cut.stderr)
    XCTAssertTrue(cut.stderr.contains("lost communication"), cut.stderr)
    for rank in [0, 2] {
      XCTAssertTrue(
        cut.stderr.contains(
          "error: rank \(rank) on host \(name)-h\(rank): no answer from rank 1 on host \(name)-h1"),
        cut.stderr)
    }
    try assertNothingLeft(name, config: config)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }, [])
    try assertResumeMatches(config, dir: dir, hosts: 2)
  }
}

/// CI must run the simulated-cluster tests: a machine that cannot make namespaces fails there instead of skipping.
struct ClusterUnavailable: Error, CustomStringConvertible {
  /// What is missing.
  var message: String
  /// The message.
  var description: String { message }
}
