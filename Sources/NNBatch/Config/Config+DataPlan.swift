import NNBatchData

/// The training config is what the data module reads a run's data by.
extension Config: DataPlan {}
