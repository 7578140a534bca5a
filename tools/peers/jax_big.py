"""JAX side of tools/bench-precision: big's MLP for one epoch in f32.

    python jax_big.py SAMPLES      (run it under `taskset -c 0` or `-c 0-1` to bound its threads)

784-1024-1024-10 (ReLU, ReLU, softmax + cross-entropy), SGD lr 0.01 momentum 0.9,
batch 256, one jitted step; prints one JSON line: samples_per_second, loss.
"""
import json
import sys
import time

import jax
import jax.numpy as jnp

samples = int(sys.argv[1])
batch = 256
key = jax.random.PRNGKey(1)
kx, ky, k1, k2, k3 = jax.random.split(key, 5)
x = jax.random.uniform(kx, (samples, 784), jnp.float32)
y = jax.random.randint(ky, (samples,), 0, 10)


def dense(k, fan_in, fan_out):
    bound = (6.0 / fan_in) ** 0.5
    return {"w": jax.random.uniform(k, (fan_in, fan_out), jnp.float32, -bound, bound),
            "b": jnp.zeros((fan_out,), jnp.float32)}


params = [dense(k1, 784, 1024), dense(k2, 1024, 1024), dense(k3, 1024, 10)]
velocity = jax.tree_util.tree_map(jnp.zeros_like, params)


def loss_fn(params, xb, yb):
    h = xb
    for layer in params[:-1]:
        h = jax.nn.relu(h @ layer["w"] + layer["b"])
    logits = h @ params[-1]["w"] + params[-1]["b"]
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], axis=1))


@jax.jit
def step(params, velocity, xb, yb):
    loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
    velocity = jax.tree_util.tree_map(lambda v, g: 0.9 * v + g, velocity, grads)
    params = jax.tree_util.tree_map(lambda p, v: p - 0.01 * v, params, velocity)
    return params, velocity, loss


params, velocity, loss = step(params, velocity, x[:batch], y[:batch])  # compile
loss.block_until_ready()
order = jax.random.permutation(key, samples)
start = time.perf_counter()
for i in range(0, samples - batch + 1, batch):
    index = order[i:i + batch]
    params, velocity, loss = step(params, velocity, x[index], y[index])
loss.block_until_ready()
seconds = time.perf_counter() - start
print(json.dumps({"samples_per_second": (samples // batch * batch) / seconds, "loss": float(loss),
                  "version": jax.__version__}))
