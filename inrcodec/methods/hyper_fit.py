"""The `hyper` method's encoder (JAX): the learned start, the meta-learned refinement and the level search.

The shipped base's arrays become `networks.hyperprior.Codec` parameters (its fixed-point networks
dequantised); every byte count comes from the base's integer model (`HyperBase.stream`, or
`HyperBase.information` where a pack's images share one stream).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import hyperbase
from ..errors import InrError
from ..fixed import ACT_BITS, WEIGHT_BITS
from ..hyperbase import GRID, MEAN_BITS, SYMBOL_BOUND
from ..networks import hyperprior
from ..networks.hyperprior import Codec


@functools.lru_cache(maxsize=1)
def model() -> tuple[Codec, dict]:
    """The Flax model of the shipped base and its parameters."""
    arrays = hyperbase.load().arrays
    params = {}
    for name, array in arrays.items():
        parts = name.split(".")
        if len(parts) == 3:
            scale = 1.0
            if parts[0] in ("hs", "gs"):
                scale = 2.0 ** -(WEIGHT_BITS + (ACT_BITS if parts[2] == "bias" else 0))
            params.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = jnp.asarray(array * scale, jnp.float32)
        elif name in ("log_lr", "log_gy", "log_gz", "z_logscale"):
            params[name] = jnp.asarray(array)
    codec = Codec(n=params["ga"]["Conv_0"]["kernel"].shape[-1], n2=params["gs"]["Conv_4"]["kernel"].shape[2],
                  m=params["gs"]["Conv_0"]["kernel"].shape[2], mz=params["hs"]["c0"]["kernel"].shape[2])
    return codec, {"params": params}


@functools.partial(jax.jit, static_argnums=0)
def _start(codec: Codec, params: dict, x: jax.Array, level: jax.Array):
    """The learned start (ys, zs) of images x (B, H, W, 3) in [0, 1] at (B,) levels."""
    return codec.apply(params, x - 0.5, level, method=Codec.encode)


@functools.partial(jax.jit, static_argnums=0)
def _refined(codec: Codec, params: dict, x: jax.Array, level: jax.Array):
    """Each image's best (ys, zs) by rounded rate-distortion cost along the meta-learned refinement."""
    path = hyperprior.inner_loop(codec, params, x, level, jax.random.PRNGKey(0))
    costs = jnp.stack([hyperprior.rd_loss(codec, params, latents, x, level, None)[1] for latents in path])
    best, images = jnp.argmin(costs, axis=0), jnp.arange(x.shape[0])
    return tuple(jnp.stack([latents[k] for latents in path])[best, images] for k in range(2))


def _padded(values: np.ndarray) -> np.ndarray:
    """(B, H, W, C) centred values -> (B, H', W', 3) pixels in [0, 1], sides padded to multiples of
    GRID by repeating the edges, grayscale repeated to RGB."""
    _, height, width, _ = values.shape
    pad = [(0, 0), (0, -height % GRID), (0, -width % GRID), (0, 0)]
    x = np.pad(values + 0.5, pad, mode="edge")
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def _symbols(base, latents, indices: np.ndarray):
    """Integer z, y and y's scale indices of float latents (ys, zs) at per-image level indices."""
    ys, zs = (np.asarray(v, np.float64) for v in latents)
    z = np.clip(np.round(zs), -SYMBOL_BOUND, SYMBOL_BOUND).astype(np.int64)
    means, y_indices = base.context(z, indices)
    y = np.clip(np.round(ys - means / 2.0 ** MEAN_BITS), -SYMBOL_BOUND, SYMBOL_BOUND).astype(np.int64)
    return z, y, y_indices


def _level(indices: np.ndarray) -> jax.Array:
    """(B,) level indices -> their fractional rate levels."""
    return jnp.asarray(hyperbase.level_of(indices), jnp.float32)


def _images(base, encoder, x: jax.Array, indices: np.ndarray) -> list:
    """Each image's (z, y, y's scale indices, level index) by `encoder` at per-image level indices."""
    codec, params = model()
    z, y, y_indices = _symbols(base, encoder(codec, params, x, _level(indices)), indices)
    return [(z[i], y[i], y_indices[i], int(indices[i])) for i in range(len(indices))]


def images_at(values: np.ndarray, base, indices: np.ndarray, config) -> list:
    """Each image's (z, y, y's scale indices, level index) at per-image level `indices`, from (B, H, W, C)
    centred values, `config.batch` at a time."""
    encoder = _refined if config.refine else _start
    return [image for start in range(0, len(values), config.batch)
            for image in _images(base, encoder, jnp.asarray(_padded(values[start:start + config.batch]), jnp.float32),
                                 indices[start:start + config.batch])]


def fit_chunk(values: np.ndarray, sizes, cap: float, config, stats: dict | None) -> list:
    """Each image's (z, y, y's scale indices, level index) of (B, H, W, C) centred values of one size,
    `sizes(images)` (bytes each) within `cap` (see `hyper`)."""
    base = hyperbase.load()
    x = jnp.asarray(_padded(values), jnp.float32)
    count = len(values)
    low, high = np.zeros(count, np.int64), np.full(count, base.levels - 1)
    while np.any(low < high):  # the highest level whose start fits, by estimate
        middle = (low + high + 1) // 2
        fits = base.information(_images(base, _start, x, middle)) + config.margin <= cap
        low, high = np.where(fits, middle, low), np.where(fits, high, middle - 1)
    indices, chosen = low, [None] * count
    encoder = _refined if config.refine else _start
    while any(image is None for image in chosen):  # a level lower where an image is over its cap
        images = _images(base, encoder, x, indices)
        pending = [i for i in range(count) if chosen[i] is None]
        for i, size in zip(pending, sizes([images[i] for i in pending])):
            if size > cap and indices[i] == 0:  # the lowest level: y's residuals all zero
                z, y, y_indices, _ = images[i]
                images[i] = (z, np.zeros_like(y), y_indices, 0)
                size = sizes(images[i:i + 1])[0]
            if size <= cap:
                chosen[i] = images[i]
            elif indices[i] == 0:
                raise InrError(f"a cap of {cap:g} bytes an image is too small for `hyper` at this size")
            else:
                indices[i] -= 1
    steps = np.full(count, config.climb)  # levels to try above each image's coded one
    for _ in range(config.climbs):  # higher while it still fits: galloping, the step halved on a miss
        trial = np.minimum(indices + steps, base.levels - 1)
        climbing = trial > indices
        if not climbing.any():
            break
        images = _images(base, encoder, x, trial)
        pending = np.flatnonzero(climbing)
        for i, size in zip(pending, sizes([images[i] for i in pending])):
            if size <= cap:
                chosen[i], indices[i] = images[i], trial[i]
            else:
                steps[i] //= 2
    if stats is not None:
        stats.update(method="hyper", mean_level=float(np.mean(hyperbase.level_of(indices))),
                     zero_fraction=float(np.mean([np.mean(image[1] == 0) for image in chosen])))
    return chosen
