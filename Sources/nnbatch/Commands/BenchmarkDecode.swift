import ArgumentParser
import Foundation
import NNBatchCore
import NNBatchData

extension NNBatchCommand {
  /// Hidden helper of `tools/bench-decode`: image decoding throughput on one thread, as JSON.
  struct BenchmarkDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "benchmark-decode", abstract: "Time PNG and JPEG decoding (for tools/bench-decode).",
      shouldDisplay: false)

    @Argument(help: "Image files, read into memory first so that only decoding is timed.")
    var files: [String]

    @Option(name: .long, help: "Passes over the files.")
    var repeats = 5

    func run() throws {
      let images = try files.map { path in [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
      // Decoding alone (libspng or TurboJPEG into 8- or 16-bit pixels), and the whole
      // path training takes: decode, then channels-first floats in [0, 1] at the same size.
      func seconds(floats: Bool) throws -> Double {
        var scratch: [Float] = []
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<repeats {
          for (bytes, path) in zip(images, files) {
            let image = try DecodedImage.decode(bytes, path: path)
            guard floats else { continue }
            let count = image.channels * image.height * image.width
            if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
            scratch.withUnsafeMutableBufferPointer { buffer in
              guard let output = buffer.baseAddress else { return }
              image.write(channels: image.channels, height: image.height, width: image.width, into: output)
            }
          }
        }
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
      }
      _ = try seconds(floats: true)  // warm-up: page in the libraries and the allocator
      let decode = try seconds(floats: false)
      let whole = try seconds(floats: true)
      let count = Double(images.count * repeats)
      let object: [String: Any] = [
        "images": images.count * repeats, "decode_per_s": count / decode, "floats_per_s": count / whole,
      ]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }
}
