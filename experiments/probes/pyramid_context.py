"""Probe for issue 13: what a context entropy model saves on multi-resolution latent grids.

Not a codec. Builds, for each image, a greedy coarse-to-fine pyramid of bilinearly upsampled grids
at strides 1..64 in YCbCr (luma only at stride 1), every level quantized to integers with
equal-slope gains (step G / basis norm), G chosen so that a per-channel Laplace without context
prices the grids at `--bpp`. Then fits, by Adam on the ideal code length, a context model: each
integer's Laplace scale from its parent level's magnitude, plus (checkerboard second half) its four
already-decoded neighbours' magnitudes and mean. Reports PSNR of the rounded pyramid and bits per
pixel without and with context. Findings from this probe and the failed attempts to refine such
grids by gradient descent are in experiments/results/probes/pyramid_context.json.

    python experiments/probes/pyramid_context.py ../shared/data/kodak/kodim05.png --bpp 0.54
"""

import argparse
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from PIL import Image

STRIDES = (1, 2, 4, 8, 16, 32, 64)  # pixels between cells, finest first
CHANNELS = (1, 3, 3, 3, 3, 3, 3)  # YCbCr channels carried per level (luma only at full resolution)
RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                        np.float32)
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR).astype(np.float32)


def upsample(grid, stride: int, height: int, width: int):
    """Bilinear (half-pixel centres, edges extended) upsampling of (h, w, c) by `stride`, cropped."""
    if stride == 1:
        return grid[:height, :width]
    h, w, c = grid.shape
    return jax.image.resize(grid, (h * stride, w * stride, c), "linear")[:height, :width]


def area_downsample(x: np.ndarray, stride: int) -> np.ndarray:
    height, width, c = x.shape
    h, w = -(-height // stride), -(-width // stride)
    x = np.pad(x, ((0, h * stride - height), (0, w * stride - width), (0, 0)), mode="edge")
    return x.reshape(h, stride, w, stride, c).mean(axis=(1, 3))


def basis_norms() -> list[float]:
    """L2 norm of one upsampled unit cell at each stride."""
    norms = []
    for s in STRIDES:
        n = 8
        cell = np.zeros((n, n, 1), np.float32)
        cell[n // 2, n // 2] = 1
        norms.append(float(np.linalg.norm(np.asarray(upsample(jnp.asarray(cell), s, n * s, n * s)))))
    return norms


def greedy_pyramid(ycbcr: np.ndarray, gains: list[float]) -> list[np.ndarray]:
    """Integer grids, coarsest level first fitted to the residual of the coarser ones."""
    height, width, _ = ycbcr.shape
    residual, grids = ycbcr.copy(), [None] * len(STRIDES)
    for k in reversed(range(len(STRIDES))):
        c = CHANNELS[k]
        grids[k] = np.round(area_downsample(residual[..., :c], STRIDES[k]) / gains[k])
        residual[..., :c] -= np.asarray(upsample(jnp.asarray(grids[k] * gains[k], jnp.float32), STRIDES[k],
                                                 height, width))
    return grids


def synthesize(grids, gains, height: int, width: int) -> np.ndarray:
    out = np.zeros((height, width, 3), np.float32)
    for g, s, gain, c in zip(grids, STRIDES, gains, CHANNELS):
        out[..., :c] += np.asarray(upsample(jnp.asarray(g * gain, jnp.float32), s, height, width))
    return out @ YCBCR_TO_RGB.T


def laplace_bits(y, mu, b):
    """Ideal bits of integers y under a Laplace(mu, b) integrated over [y - 1/2, y + 1/2]."""
    d = jnp.abs(y - mu)
    far, near = jnp.maximum(d, 0.5), jnp.minimum(d, 0.5)
    log_far = -(far - 0.5) / b + jnp.log(-jnp.expm1(-1.0 / b)) + math.log(0.5)
    log_near = jnp.log(jnp.maximum(1 - 0.5 * jnp.exp(-(0.5 - near) / b) - 0.5 * jnp.exp(-(0.5 + near) / b), 1e-12))
    return -jnp.maximum(jnp.where(d >= 0.5, log_far, log_near), math.log(1e-9)) / math.log(2)


def plain_bits(grids) -> float:
    """Bits with one Laplace per level and channel, scale = mean |value|."""
    total = 0.0
    for g in grids:
        for c in range(g.shape[-1]):
            total += float(jnp.sum(laplace_bits(g[..., c], 0.0, max(np.mean(np.abs(g[..., c])), 0.05))))
    return total


def context_bits(grids, params) -> jax.Array:
    """Bits with the checkerboard context model; params: per level (channels, 6)."""
    total = 0.0
    for k, g in enumerate(grids):
        h, w, c = g.shape
        if k + 1 < len(grids):
            parent = grids[k + 1][..., :c]
            parent = jax.image.resize(parent, (parent.shape[0] * 2, parent.shape[1] * 2, c), "linear")[:h, :w]
        else:
            parent = jnp.zeros_like(g)
        padded = jnp.pad(g, ((1, 1), (1, 1), (0, 0)), mode="edge")
        neighbours = jnp.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
        first_half = ((np.arange(h)[:, None] + np.arange(w)[None]) % 2 == 0)[..., None]
        a = params[k]
        log_parent, log_neighbours = jnp.log1p(jnp.abs(parent)), jnp.log1p(jnp.mean(jnp.abs(neighbours), axis=0))
        log_b = jnp.where(first_half, a[:, 0] + a[:, 1] * log_parent,
                          a[:, 2] + a[:, 3] * log_parent + a[:, 4] * log_neighbours)
        mu = jnp.where(first_half, 0.0, a[:, 5] * jnp.mean(neighbours, axis=0))
        total = total + jnp.sum(laplace_bits(g, mu, jnp.exp(jnp.clip(log_b, -3, 8))))
    return total


def probe(path: str, bpp: float) -> dict:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    height, width, _ = pixels.shape
    ycbcr = (pixels.astype(np.float32) / 255 - 0.5) @ RGB_TO_YCBCR.T
    norms = basis_norms()
    low, high = 1e-3, 1.0
    for _ in range(14):  # G for `bpp` under the plain model
        step = math.sqrt(low * high)
        grids = greedy_pyramid(ycbcr, [step / n for n in norms])
        low, high = (step, high) if plain_bits(grids) / (height * width) > bpp else (low, step)
    gains = [step / n for n in norms]
    decoded = np.clip(np.round((synthesize(grids, gains, height, width) + 0.5) * 255), 0, 255)
    psnr = 10 * math.log10(255 ** 2 / np.mean((decoded - pixels) ** 2))
    grids = [jnp.asarray(g, jnp.float32) for g in grids]
    params = [jnp.tile(jnp.array([0.5, 0.5, 0.0, 0.5, 0.5, 0.0]), (c, 1)) for c in CHANNELS]
    adam = optax.adam(0.05)
    state = adam.init(params)
    step_fn = jax.jit(jax.value_and_grad(lambda p: context_bits(grids, p)))
    for _ in range(300):
        bits, grads = step_fn(params)
        updates, state = adam.update(grads, state)
        params = optax.apply_updates(params, updates)
    return {"image": Path(path).name, "psnr": round(psnr, 2), "step_G_in_255ths": round(step * 255, 1),
            "bpp_plain_laplace": round(plain_bits(grids) / (height * width), 4),
            "bpp_context": round(float(context_bits(grids, params)) / (height * width), 4)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--bpp", type=float, default=0.54, help="bpp of the grids under the plain model")
    args = parser.parse_args()
    for path in args.images:
        print(json.dumps(probe(path, args.bpp)), flush=True)
