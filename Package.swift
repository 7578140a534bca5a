// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "nnbatch",
  products: [
    .library(name: "NeuralNet", targets: ["NeuralNet"]),
    .library(name: "Parallel", targets: ["Parallel"]),
    .library(name: "HDF5Store", targets: ["HDF5Store"]),
    .library(name: "Checkpoints", targets: ["Checkpoints"]),
    .executable(name: "nnbatch", targets: ["nnbatch"]),
  ],
  dependencies: [
    .package(
      url: "https://github.com/apple/swift-argument-parser", from: "1.8.0")
  ],
  targets: [
    // MARK: - System libraries (C shims; nothing else includes C headers)

    .systemLibrary(
      name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
    .systemLibrary(
      name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
      providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
    .systemLibrary(
      name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
      providers: [.apt(["zlib1g-dev"])]),

    // MARK: - Public modules

    .target(name: "NeuralNet", dependencies: ["CDNNL"]),
    .target(name: "Parallel", dependencies: ["NeuralNet"]),
    .target(name: "HDF5Store", dependencies: ["CHDF5"]),
    .target(name: "Checkpoints", dependencies: ["NeuralNet", "HDF5Store"]),
    .target(
      name: "NNBatch",
      dependencies: ["NeuralNet", "Parallel", "HDF5Store", "Checkpoints", "CZlib"]),

    // MARK: - Executable

    .executableTarget(
      name: "nnbatch",
      dependencies: [
        "NNBatch", "CMalloc",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    // MARK: - Tests

    .target(name: "TestSupport", path: "Tests/TestSupport"),
    .testTarget(
      name: "NeuralNetTests", dependencies: ["NeuralNet", "TestSupport"]),
    .testTarget(
      name: "ParallelTests",
      dependencies: ["Parallel", "NeuralNet", "TestSupport"]),
    .testTarget(
      name: "HDF5StoreTests", dependencies: ["HDF5Store", "TestSupport"]),
    .testTarget(
      name: "CheckpointsTests",
      dependencies: ["Checkpoints", "HDF5Store", "NeuralNet", "TestSupport"]),
    .testTarget(
      name: "NNBatchTests",
      dependencies: ["NNBatch", "Checkpoints", "HDF5Store", "NeuralNet", "TestSupport"]),
    .testTarget(
      name: "EndToEndTests",
      dependencies: ["nnbatch", "NNBatch", "Checkpoints", "HDF5Store", "NeuralNet", "TestSupport"]),
  ]
)

// MARK: - Fuzz targets (tools/fuzz only)

// libFuzzer entry points, declared only when NNBATCH_FUZZ=1 so that a plain
// `swift build` / `swift test` neither builds nor links them (they need
// `--sanitize=fuzzer`, which supplies `main`). tools/fuzz builds them in their
// own scratch path, .build-fuzz.
if Context.environment["NNBATCH_FUZZ"] == "1" {
  package.targets.append(
    .target(name: "FuzzSupport", dependencies: ["NNBatch", "CZlib"], path: "Sources/Fuzz/FuzzSupport"))
  for (name, dependencies) in [
    ("ConfigFuzz", ["NNBatch"]), ("CSVFuzz", ["NNBatch", "NeuralNet"]), ("IDXFuzz", ["NNBatch"]),
    ("CheckpointFuzz", ["Checkpoints", "HDF5Store"]),
  ] as [(String, [Target.Dependency])] {
    package.targets.append(
      .executableTarget(
        name: name, dependencies: dependencies + ["FuzzSupport"], path: "Sources/Fuzz/\(name)"))
    package.products.append(.executable(name: name, targets: [name]))
  }
}
