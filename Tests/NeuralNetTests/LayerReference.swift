import Foundation
import NeuralNet
import XCTest

/// Independent Double references of the layer kinds, written from their documented math, and a gradient check.
///
/// The references read sizes from the specs and the shapes, and tensors by
/// name, shape and offset: they share no code with the layers, only the
/// documented conventions (OIHW kernel, TensorFlow's `same` split, first
/// maximum wins, dropout keyed by `PassContext`).
enum LayerReference {
  /// (output size, padding before) along one axis, from the documented rules.
  static func axis(_ size: Int, kernel: Int, stride: Int, padding: Padding) -> (out: Int, before: Int) {
    switch padding {
    case .valid:
      return ((size - kernel) / stride + 1, 0)
    case .same:
      let out = (size + stride - 1) / stride
      return (out, max((out - 1) * stride + kernel - size, 0) / 2)
    }
  }

  /// A layer's outputs A for `rows` samples of `x`, in Double; `theta` is the flat parameter vector.
  static func forward(
    _ layer: any Layer, theta: [Double], x: [Double], rows: Int, context: PassContext = .inference
  ) -> [Double] {
    switch layer {
    case let conv as Conv2D: return convolution(conv, theta: theta, x: x, rows: rows)
    case let pool as MaxPool2D:
      return pooling(pool.inputShape, size: pool.spec.size, stride: pool.spec.stride, x: x, rows: rows) {
        $0.max() ?? .nan
      }
    case let pool as AvgPool2D:
      return pooling(pool.inputShape, size: pool.spec.size, stride: pool.spec.stride, x: x, rows: rows) {
        $0.reduce(0, +) / Double($0.count)
      }
    case let pool as GlobalAvgPool2D:
      return global(pool.inputShape, x: x, rows: rows) { $0.reduce(0, +) / Double($0.count) }
    case let pool as GlobalMaxPool2D:
      return global(pool.inputShape, x: x, rows: rows) { $0.max() ?? .nan }
    case is Flatten: return x
    case let dropout as Dropout: return self.dropout(dropout, x: x, rows: rows, context: context)
    case let dense as Dense: return self.dense(dense, theta: theta, x: x, rows: rows)
    case let norm as BatchNorm: return batchNorm(norm, theta: theta, x: x, rows: rows, context: context)
    default:
      XCTFail("no reference for \(layer.kind)")
      return []
    }
  }

  /// Z = b + Σ W[f][c][i][j] · X[c][oh·sh + i − top][ow·sw + j − left], then the activation.
  static func convolution(_ layer: Conv2D, theta: [Double], x: [Double], rows: Int) -> [Double] {
    let spec = layer.spec
    let (c, h, w) = (
      layer.inputShape.dimensions[0], layer.inputShape.dimensions[1], layer.inputShape.dimensions[2]
    )
    let (kh, kw) = (spec.kernel.height, spec.kernel.width)
    let (oh, top) = axis(h, kernel: kh, stride: spec.stride.height, padding: spec.padding)
    let (ow, left) = axis(w, kernel: kw, stride: spec.stride.width, padding: spec.padding)
    let f = spec.filters
    XCTAssertEqual(layer.outputShape, [f, oh, ow])
    let tensors = Dictionary(uniqueKeysWithValues: layer.parameters.map { ($0.name, $0) })
    guard let kernel = tensors["kernel"] else { return [] }
    XCTAssertEqual(kernel.shape, [f, c, kh, kw], "kernel axis order OIHW")
    var out = [Double](repeating: 0, count: rows * f * oh * ow)
    for n in 0..<rows {
      var z = [Double](repeating: 0, count: f * oh * ow)
      for filter in 0..<f {
        for y in 0..<oh {
          for xo in 0..<ow {
            var sum = tensors["biases"].map { theta[$0.offset + filter] } ?? 0
            for channel in 0..<c {
              for i in 0..<kh {
                for j in 0..<kw {
                  let ih = y * spec.stride.height + i - top
                  let iw = xo * spec.stride.width + j - left
                  guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                  sum +=
                    theta[kernel.offset + ((filter * c + channel) * kh + i) * kw + j]
                    * x[((n * c + channel) * h + ih) * w + iw]
                }
              }
            }
            z[(filter * oh + y) * ow + xo] = sum
          }
        }
      }
      let a = GradientCheckTests.activate(z, spec.activation)
      for i in 0..<a.count { out[n * a.count + i] = a[i] }
    }
    return out
  }

  /// Each window's `combine` over [C, H, W] samples (valid windows only).
  static func pooling(
    _ input: Shape, size: Size2D, stride: Size2D, x: [Double], rows: Int, combine: ([Double]) -> Double
  ) -> [Double] {
    let (c, h, w) = (input.dimensions[0], input.dimensions[1], input.dimensions[2])
    let oh = (h - size.height) / stride.height + 1
    let ow = (w - size.width) / stride.width + 1
    var out: [Double] = []
    for n in 0..<rows {
      for channel in 0..<c {
        for y in 0..<oh {
          for xo in 0..<ow {
            var window: [Double] = []
            for i in 0..<size.height {
              for j in 0..<size.width {
                window.append(x[((n * c + channel) * h + y * stride.height + i) * w + xo * stride.width + j])
              }
            }
            out.append(combine(window))
          }
        }
      }
    }
    return out
  }

  /// Each channel's `combine` over its whole plane: [C, H, W] samples to [C].
  static func global(_ input: Shape, x: [Double], rows: Int, combine: ([Double]) -> Double) -> [Double] {
    let (c, h, w) = (input.dimensions[0], input.dimensions[1], input.dimensions[2])
    var out: [Double] = []
    for n in 0..<rows {
      for channel in 0..<c {
        var plane: [Double] = []
        for y in 0..<h {
          for xo in 0..<w { plane.append(x[((n * c + channel) * h + y) * w + xo]) }
        }
        out.append(combine(plane))
      }
    }
    return out
  }

  /// Whether dropout keeps `unit` of row `row`: its documented key and threshold.
  static func keeps(_ layer: Dropout, row: Int, unit: Int, context: PassContext) -> Bool {
    PassContext.uniform(key: context.randomKey(row: row), unit: unit) >= Float(layer.spec.rate)
  }

  /// x · mask / (1 − rate) in training, x otherwise.
  static func dropout(_ layer: Dropout, x: [Double], rows: Int, context: PassContext) -> [Double] {
    guard context.isTraining else { return x }
    let width = layer.inputShape.elements
    let scale = 1 / (1 - layer.spec.rate)
    return x.indices.map { i in
      keeps(layer, row: i / width, unit: i % width, context: context) ? x[i] * scale : 0
    }
  }

  /// f(γ · (x − μ) / √(σ² + ε) + β) per channel: μ, σ² (biased) of the rows in training, the running ones otherwise.
  static func batchNorm(_ layer: BatchNorm, theta: [Double], x: [Double], rows: Int, context: PassContext)
    -> [Double]
  {
    let tensors = Dictionary(uniqueKeysWithValues: layer.parameters.map { ($0.name, $0) })
    guard let gamma = tensors["gamma"], let beta = tensors["beta"], let mean = tensors["running_mean"],
      let variance = tensors["running_var"]
    else { return [] }
    let c = layer.inputShape.dimensions[0]
    let s = layer.inputShape.elements / c
    let epsilon = Double(Float(layer.spec.epsilon))
    var z = x
    for channel in 0..<c {
      let indices = (0..<rows).flatMap { r in (0..<s).map { (r * c + channel) * s + $0 } }
      var mu = theta[mean.offset + channel]
      var sigma2 = theta[variance.offset + channel]
      if context.isTraining {
        mu = indices.map { x[$0] }.reduce(0, +) / Double(indices.count)
        sigma2 = indices.map { (x[$0] - mu) * (x[$0] - mu) }.reduce(0, +) / Double(indices.count)
      }
      for i in indices {
        z[i] =
          theta[gamma.offset + channel] * (x[i] - mu) / (sigma2 + epsilon).squareRoot()
          + theta[beta.offset + channel]
      }
    }
    let width = layer.inputShape.elements
    return (0..<rows).flatMap { r in
      GradientCheckTests.activate(Array(z[(r * width)..<((r + 1) * width)]), layer.activation)
    }
  }

  /// f(X · W + b).
  static func dense(_ layer: Dense, theta: [Double], x: [Double], rows: Int) -> [Double] {
    let tensors = Dictionary(uniqueKeysWithValues: layer.parameters.map { ($0.name, $0) })
    guard let weights = tensors["weights"] else { return [] }
    let (inputs, units) = (weights.shape.dimensions[0], weights.shape.dimensions[1])
    var out: [Double] = []
    for n in 0..<rows {
      var z = (0..<units).map { j in tensors["biases"].map { theta[$0.offset + j] } ?? 0 }
      for j in 0..<units {
        for i in 0..<inputs { z[j] += x[n * inputs + i] * theta[weights.offset + i * units + j] }
      }
      out += GradientCheckTests.activate(z, layer.activation)
    }
    return out
  }

  /// Runs `layer` forward and backward through the Layer API on `x` and checks both against the reference.
  ///
  /// L = Σ c ⊙ A with random c; the network's part (dZ = dA ⊙ f'(A)) is done
  /// here. The layer's tensors start inside a larger flat buffer whose other
  /// entries must survive. Central differences in Double, h = 1e-6. Returns
  /// the analytic input gradient. `parameters` replaces the random start
  /// (e.g. a positive running variance); `statistics` receives the gradient
  /// buffer, whose state ranges hold the layer's statistics.
  @discardableResult
  static func checkGradients(
    _ layer: any Layer, rows: Int, x: [Float]? = nil, seed: UInt64, context: PassContext = .inference,
    parameters start: [Float]? = nil, statistics: ((FloatBuffer, [Float]) -> Void)? = nil,
    what: String, file: StaticString = #filePath, line: UInt = #line
  ) -> [Float] {
    var g = SeededGenerator(seed: seed)
    let offset = 5
    let inputs = layer.inputShape.elements
    let outputs = layer.outputShape.elements
    let total = offset + layer.parameterCount + 3
    let parameters = FloatBuffer(count: total)
    for i in 0..<total { parameters[i] = g.nextFloat() - 0.5 }
    if let start { for i in 0..<total { parameters[i] = start[i] } }
    let x = x ?? (0..<(rows * inputs)).map { _ in g.nextFloat() * 2 - 1 }
    let c = (0..<(rows * outputs)).map { _ in Double(g.nextFloat() * 2 - 1) }

    let output = FloatBuffer(count: rows * outputs)
    let dZ = FloatBuffer(c.map(Float.init))
    let gradient = FloatBuffer(count: total)
    for i in 0..<total { gradient[i] = 99 }
    let dX = FloatBuffer(count: rows * inputs)
    let scratch = FloatBuffer(count: layer.scratchCount(rows: rows))
    let input = FloatBuffer(x)
    layer.forward(
      parameters: parameters.pointer, input: input.pointer, output: output.pointer, rows: rows,
      scratch: scratch.pointer, context: context)
    layer.activation.backward(output: output.pointer, gradient: dZ.pointer, rows: rows, columns: outputs)
    layer.backward(
      parameters: parameters.pointer, input: input.pointer, output: output.pointer,
      outputGradient: dZ.pointer,
      rows: rows, gradient: gradient.pointer, inputGradient: dX.pointer, scratch: scratch.pointer,
      context: context)

    statistics?(gradient, x)
    var theta = parameters.array.map(Double.init)
    var xd = x.map(Double.init)
    func loss() -> Double {
      zip(forward(layer, theta: theta, x: xd, rows: rows, context: context), c).map { $0 * $1 }.reduce(0, +)
    }
    let reference = forward(layer, theta: theta, x: xd, rows: rows, context: context)
    var worstForward = 0.0
    for i in 0..<(rows * outputs) { worstForward = max(worstForward, abs(Double(output[i]) - reference[i])) }
    XCTAssertLessThan(worstForward, 1e-5, "\(what): forward against the reference", file: file, line: line)

    let h = 1e-6
    var failures = 0
    func check(_ analytic: Float, _ numeric: Double, _ name: String) {
      let error = abs(numeric - Double(analytic)) / max(1e-2, abs(numeric) + abs(Double(analytic)))
      if error >= 2e-3 && failures < 5 {
        failures += 1
        XCTFail("\(what) \(name): analytic \(analytic), numeric \(numeric)", file: file, line: line)
      }
    }
    for p in 0..<total {
      // A state tensor's range holds its statistic, not a derivative: the caller checks it.
      if layer.parameters.contains(where: { $0.isState && $0.range.contains(p) }) { continue }
      guard layer.parameters.contains(where: { $0.range.contains(p) }) else {
        XCTAssertEqual(gradient[p], 99, "\(what): parameter \(p) is not the layer's", file: file, line: line)
        continue
      }
      let saved = theta[p]
      theta[p] = saved + h
      let up = loss()
      theta[p] = saved - h
      let down = loss()
      theta[p] = saved
      check(gradient[p], (up - down) / (2 * h), "parameter \(p)")
    }
    for i in 0..<xd.count {
      let saved = xd[i]
      xd[i] = saved + h
      let up = loss()
      xd[i] = saved - h
      let down = loss()
      xd[i] = saved
      check(dX[i], (up - down) / (2 * h), "input \(i)")
    }
    return dX.array
  }
  /// The summed cross-entropy of the Double reference network on class labels `t` (one per row).
  static func crossEntropyLoss(
    _ architecture: Architecture, theta: [Double], x: [Float], t: [Float], rows: Int
  ) -> Double {
    var a = x.map(Double.init)
    for layer in architecture.layers { a = forward(layer, theta: theta, x: a, rows: rows) }
    let classes = architecture.outputs
    return (0..<rows).map { -log(a[$0 * classes + Int(t[$0])]) }.reduce(0, +)
  }

  /// Checks every entry of a whole network's `analytic` gradient against central differences of
  /// `loss` at `theta` (step 1e-6; relative error below 2e-3, with a floor of 1e-2 on the
  /// denominator), reporting at most five failures.
  static func checkNetworkGradient(
    _ analytic: FloatBuffer, at start: [Double], loss: ([Double]) -> Double, what: String,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    var theta = start
    let h = 1e-6
    var failures = 0
    for p in 0..<theta.count {
      let saved = theta[p]
      theta[p] = saved + h
      let up = loss(theta)
      theta[p] = saved - h
      let down = loss(theta)
      theta[p] = saved
      let numeric = (up - down) / (2 * h)
      let error = abs(numeric - Double(analytic[p])) / max(1e-2, abs(numeric) + abs(Double(analytic[p])))
      if error >= 2e-3 && failures < 5 {
        failures += 1
        XCTFail("\(what) parameter \(p): analytic \(analytic[p]), numeric \(numeric)", file: file, line: line)
      }
    }
  }
}
