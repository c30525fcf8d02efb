"""A modulated SIREN over multi-resolution latent grids: the network of the `meta` method.

One base SIREN is shared by every image. An image is a stack of latent grids, one per level, each
level's cells `stride` pixels apart. At a pixel the grids are read by bilinear interpolation and
concatenated into a feature vector f (one value per level and channel); a linear map turns f into
shift modulations (COIN++), one per sine layer, added to that layer's pre-activation:

    h_0 = periodic(y, x),   h_k = sin(omega0 * (h_{k-1} W_k + b_k + f M_k)),   value = h_depth W_out + b_out

The SIREN's coordinate input is periodic (sine and cosine of 2 pi y / period and 2 pi x / period),
so the base sees the same inputs wherever a patch sits in an image: it is trained on crops from
anywhere in large photos and applied to images of any size. Only the grids are per image; the base
(SIREN weights and the map M) ships with the package.
Positions are in pixels of the encoded image (pixel (i, j) has its centre at (i + 0.5, j + 0.5)),
so a decoder can read the same function at any resolution or over any crop.
"""

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from . import siren


@dataclass(frozen=True)
class BaseConfig:
    width: int = 32  # neurons per sine layer
    depth: int = 3  # sine layers, each shifted by a modulation
    strides: tuple[int, ...] = (4, 8, 16, 32)  # pixels between latent cells, one level each, finest first
    channels: int = 4  # latent channels per level
    period: float = 32.0  # pixels per period of the SIREN's periodic coordinate input
    out_channels: int = 3  # values per pixel (RGB)

    @property
    def features(self) -> int:
        """Length of the interpolated feature vector f: levels x channels."""
        return len(self.strides) * self.channels


def grid_shapes(height: int, width: int, config: BaseConfig) -> list[tuple[int, int, int]]:
    """(rows, cols, channels) of each level's latent grid for a height x width image."""
    return [(math.ceil(height / s), math.ceil(width / s), config.channels) for s in config.strides]


def init_base(key: jax.Array, config: BaseConfig) -> dict:
    """A fresh base: {"siren": SIREN layers (4 -> out_channels), "modulation": (features, depth*width)}."""
    k_siren, k_map = jax.random.split(key)
    net = siren.init_siren(k_siren, 4, config.width, config.depth, config.out_channels)
    shape = (config.features, config.depth * config.width)
    return {"siren": net, "modulation": 0.05 * jax.random.normal(k_map, shape) / math.sqrt(config.features)}


def sample_level(grid: jax.Array, ys: jax.Array, xs: jax.Array, stride: int) -> jax.Array:
    """Bilinear read of one level. grid: (rows, cols, c); ys, xs: (N,) positions in pixels -> (N, c).

    Cell (r, q) sits at pixel position ((r + 0.5) * stride, (q + 0.5) * stride); beyond the outer
    cells the grid is extended by its edge values.
    """
    def axis(pos, n):
        g = jnp.clip(pos / stride - 0.5, 0.0, n - 1.0)
        low = jnp.minimum(jnp.floor(g).astype(jnp.int32), n - 1)
        return low, jnp.minimum(low + 1, n - 1), g - low

    y0, y1, fy = axis(ys, grid.shape[0])
    x0, x1, fx = axis(xs, grid.shape[1])
    cols = grid.shape[1]
    corners = jnp.stack([y0 * cols + x0, y0 * cols + x1, y1 * cols + x0, y1 * cols + x1], axis=-1)
    weights = jnp.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx], axis=-1)
    return jnp.einsum("nk,nkc->nc", weights, grid.reshape(-1, grid.shape[-1])[corners])


def render(base: dict, latents: list[jax.Array], ys: jax.Array, xs: jax.Array, config: BaseConfig) -> jax.Array:
    """Values at pixel positions ys, xs (N,) of the image the latent grids describe: (N, out_channels).

    Values are centred: 0 is mid-grey, so a pixel in [0, 1] is value + 0.5.
    """
    features = jnp.concatenate([sample_level(g, ys, xs, s) for g, s in zip(latents, config.strides)], axis=-1)
    shifts = jnp.split(features @ base["modulation"], config.depth, axis=-1)
    return siren.siren_apply(base["siren"], periodic(ys, xs, config.period), shifts)


def periodic(ys: jax.Array, xs: jax.Array, period: float) -> jax.Array:
    """(N, 4) coordinate input: sin and cos of 2 pi y / period and of 2 pi x / period."""
    angles = jnp.stack([ys, xs], axis=-1) * (2 * jnp.pi / period)
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def macs_per_pixel(config: BaseConfig) -> int:
    """Multiply-accumulates to render one pixel: interpolation, modulation map and SIREN."""
    net = siren.count_macs(4, config.width, config.depth, config.out_channels)
    return 4 * config.features + config.features * config.depth * config.width + net
