"""PyTorch side of tools/bench-precision: big's MLP for one epoch, f32 or bf16 autocast.

    python torch_big.py THREADS SAMPLES {f32|bf16}

784-1024-1024-10 (ReLU, ReLU, softmax + cross-entropy), SGD lr 0.01 momentum 0.9,
batch 256, synthetic uniform inputs; prints one JSON line: samples_per_second, loss.
bf16 is torch.autocast("cpu", torch.bfloat16): bf16 matmuls, f32 master weights.
"""
import json
import sys
import time

import torch
from torch import nn

threads, samples, precision = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
batch = 256
torch.set_num_threads(threads)
torch.manual_seed(1)
x = torch.rand(samples, 784, dtype=torch.float32)
y = torch.randint(0, 10, (samples,))
model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def step(xb, yb):
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss


step(x[:batch], y[:batch])  # warm-up: allocator and first-call dispatch
start = time.perf_counter()
order = torch.randperm(samples)
for i in range(0, samples, batch):
    index = order[i:i + batch]
    loss = step(x[index], y[index])
seconds = time.perf_counter() - start
print(json.dumps({"samples_per_second": samples / seconds, "loss": float(loss), "version": torch.__version__}))
