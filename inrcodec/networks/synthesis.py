"""The synthesis network's Flax model (`synthesis_net` runs it in fixed point) and its meta-training: the
base is learned for the adaptation every file makes, the least squares of its gains.

    params = train(inputs, corrections, config, heads)   # inputs (photos, n, FEATURES), corrections (photos, n, 3)
    params = normalise_heads(params, heads, inputs, corrections)

inputs are the fixed-point features of pixels divided by 2**ACT_BITS (exactly what the decoder's
fixed-point network reads); corrections are what each pixel's YCbCr lacks, in steps. Each step takes a few
pixels of a few photos (`TrainConfig.group` a photo); the inner loop fits each photo's gains in closed form
on half of its pixels, as the encoder fits a file's (`synthesis_net.gain_equations`), and the outer loss is
the squared RGB error (what PSNR measures) they leave on the other half, differentiated through the solve.
"""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from ..synthesis_net import LAYERS, RGB_METRIC, gain_equations
from . import batches
from .batches import TrainConfig

RIDGE = 1e-3  # ridge of the inner least squares, relative to its Gram matrix's mean diagonal


class SynthesisMLP(nn.Module):
    """(..., FEATURES) features -> (..., 3 * heads) YCbCr corrections in steps, channel-major: dense layers
    `LAYERS`, ReLU between them."""
    width: int  # units of each hidden layer
    heads: int  # corrections of each channel, combined by a file's gains

    @nn.compact
    def __call__(self, x):
        for name in LAYERS[:-1]:
            x = nn.relu(nn.Dense(self.width, name=name)(x))
        return nn.Dense(3 * self.heads, name=LAYERS[-1])(x)


def fitted_gains(corrections, errors, xp=jnp):
    """(photos, 3, K) gains of (photos, n, 3, K) corrections that leave the least squared RGB error of
    (photos, n, 3) errors, under the ridge RIDGE."""
    gram, right = gain_equations(corrections, errors, xp)
    size = gram.shape[-1]
    ridge = (RIDGE * xp.trace(gram, axis1=-2, axis2=-1)[:, None, None] / size + 1e-9) * xp.eye(size)
    return xp.linalg.solve(gram + ridge, right[..., None])[..., 0].reshape(len(gram), 3, -1)


def adapted_error(model: SynthesisMLP, params, x, y):
    """Mean squared RGB error (in steps) left on the second half of each photo's pixels by its gains fitted
    on the first half: features x (photos, n, FEATURES), YCbCr corrections y (photos, n, 3)."""
    c = model.apply(params, x).reshape(*x.shape[:2], 3, model.heads)
    half = x.shape[1] // 2
    gains = fitted_gains(c[:, :half], y[:, :half])
    left = y[:, half:] - jnp.einsum("pnck,pck->pnc", c[:, half:], gains)
    return jnp.mean(jnp.einsum("pnc,cd,pnd->pn", left, jnp.asarray(RGB_METRIC, jnp.float32), left))


def train(inputs: np.ndarray, corrections: np.ndarray, config: TrainConfig, heads: int, log=print):
    """Flax parameters of a SynthesisMLP meta-trained by Adam on batches of config.group pixels of photos."""
    return batches.train(SynthesisMLP(config.width, heads), adapted_error, inputs, corrections, config, log)


def normalise_heads(params, heads: int, inputs: np.ndarray, corrections: np.ndarray):
    """params with each correction rescaled so that the median |gain| the photos fit it is 1/2 (a file's
    stored gains then mostly take a byte each): inputs (photos, n, FEATURES), corrections (photos, n, 3)."""
    model = SynthesisMLP(params["params"][LAYERS[0]]["kernel"].shape[1], heads)
    c = np.asarray(model.apply(params, inputs), np.float64).reshape(*inputs.shape[:2], 3, heads)
    scale = 2 * np.median(np.abs(fitted_gains(c, corrections.astype(np.float64), np)), axis=0).ravel()
    last = dict(params["params"][LAYERS[-1]])
    last = {"kernel": last["kernel"] * scale, "bias": last["bias"] * scale}
    return {"params": {**params["params"], LAYERS[-1]: last}}
