"""Per-tensor uniform scalar quantization: steps from a target rate, straight-through rounding.

A tensor with root-mean-square value s quantized with step delta = s / r costs about
log2(r * sqrt(2*pi*e)) bits per value under a Gaussian model (high-rate approximation), so a
target number of bits per value fixes r, and a single global r sets every tensor's step.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

GAUSSIAN_ENTROPY_OFFSET = 0.5 * math.log2(2 * math.pi * math.e)  # bits of N(0,1) quantized at step 1, minus log2(1)


def ratio_for_bits(bits_per_value: float) -> float:
    """rms/step ratio r at which a Gaussian tensor costs about `bits_per_value` bits per value."""
    return 2.0 ** (bits_per_value - GAUSSIAN_ENTROPY_OFFSET)


def rms(x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Root-mean-square of a tensor's entries (those where mask is 1, if given): a positive scalar."""
    count = x.size if mask is None else jnp.maximum(jnp.sum(mask), 1.0)
    return jnp.sqrt(jnp.sum(jnp.square(x)) / count + 1e-20)


def steps_for_ratio(params, ratio: float, masks=None):
    """Per-tensor quantization steps rms(x) / ratio (over unmasked entries), a pytree like `params`."""
    if masks is None:
        return jax.tree.map(lambda x: jax.lax.stop_gradient(rms(x)) / ratio, params)
    return jax.tree.map(lambda x, m: jax.lax.stop_gradient(rms(x, m)) / ratio, params, masks)


def fake_quantize(params, steps):
    """Round every tensor to its step in the forward pass; identity gradient (straight-through)."""
    def one(x, step):
        return x + jax.lax.stop_gradient(jnp.round(x / step) * step - x)
    return jax.tree.map(one, params, steps)


def to_integers(x: np.ndarray, step: float) -> np.ndarray:
    """Quantize a float array with `step` to int32 symbols."""
    return np.round(np.asarray(x, np.float64) / step).astype(np.int32)


def from_integers(q: np.ndarray, step: float) -> np.ndarray:
    """Dequantize int symbols back to float32 values."""
    return (q.astype(np.float64) * step).astype(np.float32)
