"""A modulated SIREN over multi-resolution latent grids: the network of the `meta` method.

One base SIREN is shared by every signal of a kind (images, or speech). A signal over a lattice of
`dims` axes (2 for an image, 1 for a clip) is a stack of latent grids, one per level, each level's
cells `stride` samples apart along every axis. At a sample the grids are read by multilinear
interpolation and concatenated into a feature vector f (one value per level and channel); a linear
map turns f into shift modulations (COIN++), one per sine layer, added to that layer's pre-activation:

    h_0 = periodic(position),   h_k = sin(omega0 * (h_{k-1} W_k + b_k + f M_k)),   value = h_depth W_out + b_out

The inner loop (`adapt`) fits the grids of a signal from zero in a few meta-SGD steps with the
base's learned rates: the meta-learned start of encoding, and what meta-training trains through.
The SIREN's coordinate input is periodic (sine and cosine of 2 pi p / period along each axis), so
the base sees the same inputs wherever a patch sits in a signal: it is trained on crops from
anywhere in long signals and applied to signals of any size. Only the grids are per signal; the
base (SIREN weights and the map M) ships with the package.
Positions are in samples of the encoded signal (pixel (i, j) has its centre at (i + 0.5, j + 0.5)),
so a decoder can read the same function at any resolution or over any crop.
"""

import itertools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import siren


@dataclass(frozen=True)
class BaseConfig:
    width: int = 32  # neurons per sine layer
    depth: int = 3  # sine layers, each shifted by a modulation
    strides: tuple[int, ...] = (4, 8, 16, 32)  # pixels between latent cells, one level each, finest first
    channels: int = 4  # latent channels per level
    period: float = 32.0  # samples (pixels) per period of the SIREN's periodic coordinate input
    out_channels: int = 3  # values per sample (3: RGB); a base of 1 codes each channel of a signal apart
    dims: int = 2  # axes of the lattice: 2 for images, 1 for audio

    @property
    def features(self) -> int:
        """Length of the interpolated feature vector f: levels x channels."""
        return len(self.strides) * self.channels


def grid_shapes(extent: tuple[int, ...], config: BaseConfig) -> list[tuple[int, ...]]:
    """(*cells per axis, channels) of each level's latent grid for a signal of `extent` samples per axis."""
    return [(*(math.ceil(size / s) for size in extent), config.channels) for s in config.strides]


def init_base(key: jax.Array, config: BaseConfig) -> dict:
    """A fresh base: {"siren": SIREN layers (2 dims -> out_channels), "modulation": (features, depth*width)}."""
    k_siren, k_map = jax.random.split(key)
    net = siren.init_siren(k_siren, 2 * config.dims, config.width, config.depth, config.out_channels)
    shape = (config.features, config.depth * config.width)
    return {"siren": net, "modulation": 0.05 * jax.random.normal(k_map, shape) / math.sqrt(config.features)}


def sample_level(grid: jax.Array, positions: jax.Array, stride: int) -> jax.Array:
    """Multilinear read of one level. grid: (*cells, c); positions: (N, dims) in samples -> (N, c).

    Cell (r, q, ...) sits at position ((r + 0.5) * stride, (q + 0.5) * stride, ...); beyond the outer
    cells the grid is extended by its edge values.
    """
    lows, highs, fractions = [], [], []
    for axis in range(positions.shape[1]):
        n = grid.shape[axis]
        g = jnp.clip(positions[:, axis] / stride - 0.5, 0.0, n - 1.0)
        low = jnp.minimum(jnp.floor(g).astype(jnp.int32), n - 1)
        lows.append(low)
        highs.append(jnp.minimum(low + 1, n - 1))
        fractions.append(g - low)
    indices, weights = [], []
    for corner in itertools.product((0, 1), repeat=positions.shape[1]):  # (0, 0), (0, 1), (1, 0), (1, 1) in 2-d
        index, weight = 0, 1.0
        for axis, high in enumerate(corner):
            index = index * grid.shape[axis] + (highs if high else lows)[axis]
            weight = weight * (fractions[axis] if high else 1 - fractions[axis])
        indices.append(index)
        weights.append(weight)
    flat = grid.reshape(-1, grid.shape[-1])
    return jnp.einsum("nk,nkc->nc", jnp.stack(weights, axis=-1), flat[jnp.stack(indices, axis=-1)])


def render(base: dict, latents: list[jax.Array], positions: jax.Array, config: BaseConfig) -> jax.Array:
    """Values at positions (N, dims) of the signal the latent grids describe: (N, out_channels).

    Values are centred: 0 is mid-range (mid-grey), so a pixel in [0, 1] is value + 0.5.
    """
    features = jnp.concatenate([sample_level(g, positions, s) for g, s in zip(latents, config.strides)], axis=-1)
    shifts = jnp.split(features @ base["modulation"], config.depth, axis=-1)
    return siren.siren_apply(base["siren"], periodic(positions, config.period), shifts)


def periodic(positions: jax.Array, period: float) -> jax.Array:
    """(N, 2 dims) coordinate input: sin, then cos, of 2 pi p / period along each axis."""
    angles = positions * (2 * jnp.pi / period)
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def macs_per_sample(config: BaseConfig) -> int:
    """Multiply-accumulates to render one sample: interpolation, modulation map and SIREN."""
    net = siren.count_macs(2 * config.dims, config.width, config.depth, config.out_channels)
    return 2 ** config.dims * config.features + config.features * config.depth * config.width + net


def positions(extent: tuple[int, ...]) -> jax.Array:
    """(prod(extent), dims) centres of every sample in row-major order, in samples."""
    mesh = np.meshgrid(*[np.arange(size) + 0.5 for size in extent], indexing="ij")
    return jnp.asarray(np.stack([m.ravel() for m in mesh], axis=-1), jnp.float32)


def signal_loss(base, latents, points, target, config: BaseConfig):
    """Inner loss: squared error summed over samples, averaged over channels (so a cell's gradient
    does not depend on the signal's size). target: (N, out_channels) centred values at points (N, dims)."""
    return jnp.sum(jnp.mean(jnp.square(render(base, latents, points, config) - target), axis=-1))


def adapt(base, log_lrs, points, target, shapes, steps: int, config: BaseConfig, first_order: bool = False,
          first_level=0):
    """The inner loop: `steps` meta-SGD steps on zero-initialised grids of `shapes`. Returns the grids.

    Levels finer than `first_level` (an int or traced scalar) stay at zero, as in a file that
    does not carry them.
    """
    def one_step(latents, _):
        grads = jax.grad(signal_loss, argnums=1)(base, latents, points, target, config)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        return [z - jnp.where(level >= first_level, jnp.exp(lr), 0.0) * g
                for level, (z, lr, g) in enumerate(zip(latents, log_lrs, grads))], None

    latents, _ = jax.lax.scan(one_step, [jnp.zeros(s) for s in shapes], None, length=steps)
    return latents
