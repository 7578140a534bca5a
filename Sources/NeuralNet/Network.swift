// Forward and backward passes of a network on a batch of rows, layer by layer.
//
// Notation (per layer l): B rows (samples).
//   X_l  input of layer l (X_0 = data, X_l = A_{l−1})
//   Z_l  its output before the activation f_l,  A_l = f_l(Z_l)
// Backward, from dZ_L given by the loss (which fuses the last activation):
//   layer l turns dZ_l into its parameter gradients and dX_l = dA_{l−1};
//   then dZ_{l−1} = dA_{l−1} ⊙ f'_{l−1}(A_{l−1}).
// Gradients are of the *sum* of per-sample losses over the rows (see Loss).

/// A network's layers and loss: runs forward and backward on rows.
public struct Network: Sendable, Hashable {
  /// Layers and parameter layout.
  public let architecture: Architecture
  /// The training loss.
  public let loss: Loss
  /// Per-class weights of the training loss (`training.class_weight`), if any.
  public let classWeights: ClassWeights?

  /// A network of `architecture` trained on `loss`, its rows weighted by `classWeights` when given.
  public init(architecture: Architecture, loss: Loss, classWeights: ClassWeights? = nil) {
    self.architecture = architecture
    self.loss = loss
    self.classWeights = classWeights
  }

  /// Forward pass of `rows` rows of `input` ([rows, inputs]); returns A_L [rows, outputs].
  ///
  /// The result points into `workspace` (or is `input` itself when every
  /// layer shares its input) and is valid until the workspace's next use.
  /// `context` says whether this is training (dropout active) and where the
  /// rows sit in the epoch; inference by default.
  @discardableResult
  public func forward(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, rows: Int,
    workspace: Workspace, context: PassContext = .inference
  ) -> UnsafePointer<Float> {
    precondition(rows <= workspace.capacity, "more rows than the workspace holds")
    let context = context.with(kernels: workspace.kernels)
    let layers = architecture.layers
    for (l, layer) in layers.enumerated() where !layer.sharesInput {
      let a = workspace.activations[l].pointer
      let producers = architecture.layerInputs[l]
      // A chain has no merges: no cast on its path.
      if !architecture.isChain, let merge = layer as? any MergeLayer {
        for (slot, producer) in producers.enumerated() {
          merge.merge(
            slot: slot, input: output(ofLayer: producer, input: input, workspace: workspace), output: a,
            rows: rows)
        }
        merge.activation.forward(a, rows: rows, columns: architecture.outputWidths[l])
      } else {
        layer.forward(
          parameters: parameters, input: output(ofLayer: producers[0], input: input, workspace: workspace),
          output: a, rows: rows, scratch: workspace.scratch[l].pointer, context: context.forLayer(l))
      }
    }
    return output(ofLayer: layers.count - 1, input: input, workspace: workspace)
  }

  /// A_l [rows, outputs of layer l] of the last forward: its own buffer, its input's for a shared
  /// input; the network's input for l = −1.
  private func output(
    ofLayer l: Int, input: UnsafePointer<Float>, workspace: Workspace
  ) -> UnsafePointer<Float> {
    guard l >= 0 else { return input }
    let source = architecture.outputSource[l]
    return source < 0 ? input : UnsafePointer(workspace.activations[source].pointer)
  }

  /// Forward and backward on `rows` rows: returns Σ ℓ (Σ w ℓ with class weights) and writes ∂(Σ ℓ)/∂θ into `gradient`.
  ///
  /// `gradient` has the parameter layout; it is overwritten, not added to.
  /// Pass a training `context` to make dropout active (the engine does);
  /// inference by default, where the loss is that of `forward` as predicted.
  /// `layerDone(l)` is called as soon as layer l's part of `gradient` is
  /// final, from the last layer down (the MPI engine starts sending it then).
  public func lossAndGradient(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>,
    targets: UnsafePointer<Float>, targetColumns: Int, rows: Int,
    workspace: Workspace, gradient: UnsafeMutablePointer<Float>, context: PassContext = .inference,
    layerDone: (Int) -> Void = { _ in }
  ) -> Double {
    let output = forward(
      parameters: parameters, input: input, rows: rows, workspace: workspace, context: context)
    guard architecture.isChain else {
      return graphLossAndGradient(
        parameters: parameters, input: input, output: output, targets: targets, targetColumns: targetColumns,
        rows: rows, workspace: workspace, gradient: gradient, context: context, layerDone: layerDone)
    }
    let layers = architecture.layers
    let last = layers.count - 1
    // dZ [rows, outputs of layer l] and dA [rows, inputs of layer l] ping-pong.
    var dZ = workspace.delta.pointer
    var dA = workspace.spare.pointer
    let context = context.with(kernels: workspace.kernels)
    let lossSum = loss.sumAndGradient(
      output: output, targets: targets, targetColumns: targetColumns, rows: rows,
      outputs: architecture.outputs, activation: layers[last].activation, gradient: dZ,
      classWeights: classWeights)

    for l in stride(from: last, through: 0, by: -1) {
      let layer = layers[l]
      let below = l == 0 ? nil : self.output(ofLayer: l - 1, input: input, workspace: workspace)
      if !layer.sharesInput {
        layer.backward(
          parameters: parameters, input: below ?? input,
          output: self.output(ofLayer: l, input: input, workspace: workspace), outputGradient: dZ,
          rows: rows, gradient: gradient, inputGradient: below == nil ? nil : dA,
          scratch: workspace.scratch[l].pointer, context: context.forLayer(l))
      }
      layerDone(l)
      guard let below else { break }
      // A layer sharing its input passes dZ down as the dA below it, in place.
      if !layer.sharesInput { swap(&dZ, &dA) }
      layers[l - 1].activation.backward(
        output: below, gradient: dZ, rows: rows, columns: architecture.outputWidths[l - 1])
    }
    return lossSum
  }

  /// Backward over a layer graph, after the forward: like the chain's, with one dA buffer per layer.
  ///
  /// Layers run from the last down (list order is a forward order, so every
  /// consumer of an output runs before its producer). The first gradient to
  /// reach an output overwrites its buffer; later ones add to it (branches
  /// sum), through `spare` for layers whose backward overwrites. Once all
  /// have arrived, dA_l becomes dZ_l in place (the last layer's dZ comes
  /// from the loss).
  private func graphLossAndGradient(
    parameters: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    targets: UnsafePointer<Float>, targetColumns: Int, rows: Int,
    workspace: Workspace, gradient: UnsafeMutablePointer<Float>, context: PassContext,
    layerDone: (Int) -> Void
  ) -> Double {
    let layers = architecture.layers
    let last = layers.count - 1
    // gradients[l]: dA_l, then dZ_l [rows, outputs of layer l].
    let gradients = workspace.layerGradients
    precondition(
      gradients.count == layers.count, "a graph's backward pass needs a workspace made with backward: true")
    let context = context.with(kernels: workspace.kernels)
    let lossSum = loss.sumAndGradient(
      output: output, targets: targets, targetColumns: targetColumns, rows: rows,
      outputs: architecture.outputs, activation: layers[last].activation, gradient: gradients[last].pointer,
      classWeights: classWeights)
    for l in stride(from: last, through: 0, by: -1) {
      // Every path below finishes layer l's parameter gradient (merges and shared inputs have none).
      defer { layerDone(l) }
      let layer = layers[l]
      let a = self.output(ofLayer: l, input: input, workspace: workspace)
      let dZ = gradients[l].pointer
      if l != last {
        layer.activation.backward(output: a, gradient: dZ, rows: rows, columns: architecture.outputWidths[l])
      }
      let producers = architecture.layerInputs[l]
      let firsts = architecture.firstContribution[l]
      if let merge = layer as? any MergeLayer {
        for (slot, producer) in producers.enumerated() where producer >= 0 {
          merge.split(
            slot: slot, outputGradient: dZ, inputGradient: gradients[producer].pointer, rows: rows,
            accumulate: !firsts[slot])
        }
        continue
      }
      let producer = producers[0]
      let count = rows * layer.inputShape.elements
      if layer.sharesInput {
        if producer >= 0 {
          copyOrAdd(dZ, into: gradients[producer].pointer, count: count, accumulate: !firsts[0])
        }
        continue
      }
      let target: UnsafeMutablePointer<Float>? =
        producer < 0 ? nil : firsts[0] ? gradients[producer].pointer : workspace.spare.pointer
      layer.backward(
        parameters: parameters, input: self.output(ofLayer: producer, input: input, workspace: workspace),
        output: a, outputGradient: dZ, rows: rows, gradient: gradient, inputGradient: target,
        scratch: workspace.scratch[l].pointer, context: context.forLayer(l))
      if producer >= 0 && !firsts[0] {
        copyOrAdd(workspace.spare.pointer, into: gradients[producer].pointer, count: count, accumulate: true)
      }
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
    let workspace = Workspace(
      architecture: architecture, capacity: capacity, targetColumns: 1, backward: false)
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
