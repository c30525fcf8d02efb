"""The shipped synthesis network's Flax model (`synthesis_net` runs it in fixed point) and its training.

    params = train(inputs, corrections, config)   # inputs (n, synthesis_net.FEATURES) float32, corrections (n, 3)

inputs are the fixed-point features of pixels divided by 2**ACT_BITS (exactly what the decoder's
fixed-point network reads); corrections are what each pixel's YCbCr lacks, in steps; the loss is the
squared error left, in RGB (what PSNR measures).
"""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from ..pyramid import YCBCR_TO_RGB
from ..synthesis_net import LAYERS
from . import batches
from .batches import TrainConfig


class SynthesisMLP(nn.Module):
    """(n, FEATURES) features -> (n, 3) YCbCr corrections in steps: dense layers `LAYERS`, ReLU between
    them, the last one zero at the start (the network starts as no correction)."""
    width: int  # units of each hidden layer

    @nn.compact
    def __call__(self, x):
        for name in LAYERS[:-1]:
            x = nn.relu(nn.Dense(self.width, name=name)(x))
        return nn.Dense(3, name=LAYERS[-1], kernel_init=nn.initializers.zeros)(x)


def rgb_error(model: SynthesisMLP, params, x, y):
    """Mean squared RGB error (in steps) left of YCbCr corrections y (n, 3) by the model's of features x."""
    return jnp.mean(((model.apply(params, x) - y) @ jnp.asarray(YCBCR_TO_RGB.T, jnp.float32)) ** 2)


def train(inputs: np.ndarray, corrections: np.ndarray, config: TrainConfig, log=print):
    """Flax parameters of a SynthesisMLP trained by Adam on random batches of the pixels."""
    return batches.train(SynthesisMLP(config.width), rgb_error, inputs, corrections, config, log)
