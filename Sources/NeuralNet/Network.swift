// Forward and backward passes of a dense network on a batch of rows.
//
// Notation (per layer l): B rows (samples), I_l inputs, U_l units.
//   X_l [B, I_l]  input (X_0 = data, X_l = A_{l−1})
//   W_l [I_l, U_l] weights, b_l [U_l] biases
//   Z_l = X_l · W_l + b_l,  A_l = f_l(Z_l)            [B, U_l]
// Backward, from dZ_L given by the loss:
//   dW_l = X_lᵀ · dZ_l   [I_l, U_l]   (gemm TN)
//   db_l = Σ_rows dZ_l   [U_l]
//   dA_{l−1} = dZ_l · W_lᵀ [B, I_l]   (gemm NT), dZ_{l−1} = dA_{l−1} ⊙ f'(A_{l−1})
// Gradients are of the *sum* of per-sample losses over the rows (see Loss).

/// A dense network's shape and loss: runs forward and backward on rows.
public struct Network: Sendable, Hashable {
  /// Layers and parameter layout.
  public let architecture: Architecture
  /// The training loss.
  public let loss: Loss

  /// A network of `architecture` trained on `loss`.
  public init(architecture: Architecture, loss: Loss) {
    self.architecture = architecture
    self.loss = loss
  }

  /// Forward pass of `rows` rows of `input` ([rows, inputs]); returns A_L [rows, outputs].
  ///
  /// The result points into `workspace` and is valid until its next use.
  @discardableResult
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, rows: Int,
    workspace: Workspace
  ) -> UnsafePointer<Float> {
    precondition(rows <= workspace.capacity, "more rows than the workspace holds")
    var x = input
    for (l, layer) in architecture.layout.enumerated() {
      let a = workspace.activations[l].pointer
      // Z = X · W, then + b on every row.
      gemm(
        .none, .none, m: rows, n: layer.units, k: layer.inputs, alpha: 1, a: x,
        lda: layer.inputs, b: parameters + layer.weightOffset, ldb: layer.units,
        beta: 0, c: a, ldc: layer.units)
      if let biasOffset = layer.biasOffset {
        let b = parameters + biasOffset
        for r in 0..<rows {
          let row = a + r * layer.units
          for j in 0..<layer.units { row[j] += b[j] }
        }
      }
      layer.activation.forward(a, rows: rows, columns: layer.units)
      x = UnsafePointer(a)
    }
    return x
  }

  /// Forward and backward on `rows` rows: returns Σ ℓ and writes ∂(Σ ℓ)/∂θ into `gradient`.
  ///
  /// `gradient` has the parameter layout; it is overwritten, not added to.
  public func lossAndGradient(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>,
    targets: UnsafePointer<Float>, targetColumns: Int, rows: Int,
    workspace: Workspace, gradient: UnsafeMutablePointer<Float>
  ) -> Double {
    let output = forward(parameters: parameters, input: input, rows: rows, workspace: workspace)
    let layout = architecture.layout
    let last = layout.count - 1
    var dZ = workspace.delta.pointer
    var dA = workspace.spare.pointer
    let lossSum = loss.sumAndGradient(
      output: output, targets: targets, targetColumns: targetColumns, rows: rows,
      outputs: layout[last].units, activation: layout[last].activation, gradient: dZ)

    for l in stride(from: last, through: 0, by: -1) {
      let layer = layout[l]
      let x = l == 0 ? input : UnsafePointer(workspace.activations[l - 1].pointer)
      // dW = Xᵀ · dZ
      gemm(
        .transposed, .none, m: layer.inputs, n: layer.units, k: rows, alpha: 1, a: x,
        lda: layer.inputs, b: dZ, ldb: layer.units, beta: 0,
        c: gradient + layer.weightOffset, ldc: layer.units)
      if let biasOffset = layer.biasOffset {
        // db = column sums of dZ
        let db = gradient + biasOffset
        db.update(repeating: 0, count: layer.units)
        for r in 0..<rows {
          let row = dZ + r * layer.units
          for j in 0..<layer.units { db[j] += row[j] }
        }
      }
      guard l > 0 else { break }
      // dA_{l−1} = dZ · Wᵀ, then dZ_{l−1} = dA_{l−1} ⊙ f'(A_{l−1})
      gemm(
        .none, .transposed, m: rows, n: layer.inputs, k: layer.units, alpha: 1, a: dZ,
        lda: layer.units, b: parameters + layer.weightOffset, ldb: layer.units, beta: 0,
        c: dA, ldc: layer.inputs)
      layout[l - 1].activation.backward(
        output: workspace.activations[l - 1].pointer, gradient: dA, rows: rows,
        columns: layer.inputs)
      swap(&dZ, &dA)
    }
    return lossSum
  }

  /// Predictions for every row of `inputs` ([N, inputs]) into a new [N, outputs] matrix.
  ///
  /// Runs in blocks of the workspace's capacity on the calling thread.
  public func predict(parameters: FloatBuffer, inputs: Matrix, blockRows: Int = 256) -> Matrix {
    precondition(inputs.columns == architecture.inputs, "predict: input width mismatch")
    let outputs = Matrix(rows: inputs.rows, columns: architecture.outputs)
    let capacity = max(1, min(blockRows, inputs.rows))
    let workspace = Workspace(architecture: architecture, capacity: capacity, targetColumns: 1)
    var start = 0
    while start < inputs.rows {
      let rows = min(capacity, inputs.rows - start)
      let result = forward(
        parameters: parameters.pointer, input: inputs.row(start), rows: rows,
        workspace: workspace)
      outputs.row(start).update(from: result, count: rows * architecture.outputs)
      start += rows
    }
    return outputs
  }
}
