/// The nnbatch version written into checkpoints and printed by `--version`.
public let nnbatchVersion = "0.1.0"
