"""The shipped context network's Flax model (`context_net` runs it in fixed point) and its training.

    params = train(inputs, symbols, config)   # inputs (n, context_net.FEATURES) float32, symbols (n,)

inputs are the fixed-point features of cells divided by 2**ACT_BITS (exactly what the decoder's
fixed-point network reads); the loss is their integers' ideal bits under the predicted Laplaces.
"""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from ..context import LOG_SCALE_MAX, LOG_SCALE_MIN, laplace_bits
from ..context_net import LAYERS
from . import batches
from .batches import TrainConfig


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


def mean_bits(model: ContextMLP, params, x, y):
    """Mean ideal bits of integers y (n,) under the Laplaces the model gives cells of features x."""
    mu, b = model.apply(params, x)
    return jnp.mean(laplace_bits(jnp, y, mu, b))


def train(inputs: np.ndarray, symbols: np.ndarray, config: TrainConfig, log=print):
    """Flax parameters of a ContextMLP trained by Adam on random batches of the cells (loss: bits a cell)."""
    return batches.train(ContextMLP(config.width), mean_bits, inputs, symbols, config, log)
