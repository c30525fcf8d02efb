"""The shipped context network's Flax model (`context_net` runs it in fixed point) and its training.

    params = train(inputs, symbols, config)   # inputs (n, context_net.FEATURES) float32, symbols (n,)

inputs are the fixed-point features of cells divided by 2**ACT_BITS (exactly what the decoder's
fixed-point network reads); the loss is their integers' ideal bits under the predicted Laplaces.
"""

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..context import LOG_SCALE_MAX, LOG_SCALE_MIN, laplace_bits
from ..context_net import LAYERS


class ContextMLP(nn.Module):
    """(n, FEATURES) features -> (mu, b) of n Laplaces: dense layers `LAYERS`, ReLU between them (a
    GELU's table costs the fixed-point decoder twice the time, for 0.5% fewer bits)."""
    width: int  # units of each hidden layer

    @nn.compact
    def __call__(self, x):
        for name in LAYERS[:-1]:
            x = nn.relu(nn.Dense(self.width, name=name)(x))
        out = nn.Dense(2, name=LAYERS[-1])(x)
        return out[..., 0], jnp.exp(jnp.clip(out[..., 1], LOG_SCALE_MIN, LOG_SCALE_MAX))


@dataclass(frozen=True)
class TrainConfig:
    width: int = 32  # hidden units a layer
    steps: int = 20000  # Adam steps
    batch: int = 8192  # cells a step
    learning_rate: float = 2e-3  # Adam's, cosine-decayed to 0
    seed: int = 0  # of the initialisation and the batches
    log_every: int = 1000  # steps between progress lines


def mean_bits(model: ContextMLP, params, x, y):
    """Mean ideal bits of integers y (n,) under the Laplaces the model gives cells of features x."""
    mu, b = model.apply(params, x)
    return jnp.mean(laplace_bits(jnp, y, mu, b))


def train(inputs: np.ndarray, symbols: np.ndarray, config: TrainConfig, log=print):
    """Flax parameters of a ContextMLP trained by Adam on random batches of the cells."""
    model = ContextMLP(config.width)
    params = model.init(jax.random.PRNGKey(config.seed), jnp.zeros((1, inputs.shape[1])))
    adam = optax.adam(optax.cosine_decay_schedule(config.learning_rate, config.steps))
    state = adam.init(params)

    @jax.jit
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(lambda p: mean_bits(model, p, x, y))(params)
        updates, state = adam.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    rng = np.random.default_rng(config.seed)
    for i in range(config.steps):
        pick = rng.integers(0, len(inputs), config.batch)
        params, state, loss = step(params, state, inputs[pick], symbols[pick])
        if i % config.log_every == 0 or i == config.steps - 1:
            log(f"step {i}: {float(loss):.4f} bits a cell")
    return params
