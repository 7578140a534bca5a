import NNBatch
