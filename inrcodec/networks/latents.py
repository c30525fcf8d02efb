"""Fitting the `meta` method's latent grids on a shipped base, L0-gated to a density, a batch of
same-size signals at once (one signal is a batch of one):
  0. the meta-learned start: from all-zero grids, a few steps of the inner loop the base was
     meta-trained with (meta-SGD with its learned rates, over every pixel);
  1. gated phase: Adam on the latents and their hard-concrete gates, minimising log MSE subject to
     expected density = d per image (the Lagrangian of `constrained`, one multiplier per image);
  2. keep the round(d * N) latents with the largest gate parameters of each image;
  3. finish: Adam on the kept latents, the last steps through rounding.
"""

import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from .. import quantize
from . import constrained, gates
from .bases import Base
from .fit import (
    adam_chunks,
    cosine_learning_rate,
    phase_config,
    run_chunks,
)
from .modulated import adapt, grid_shapes, positions, render


def _per_signal(values: jax.Array, grid: jax.Array) -> jax.Array:
    """(B,) values shaped (B, 1, ...) to broadcast against a (B, *cells, c) grid."""
    return values.reshape((-1,) + (1,) * (grid.ndim - 1))


def _signal_steps(latents: list, masks: list, ratio: float) -> list:
    """Per signal and level, rms over the kept latents / ratio, shaped to broadcast over its grid."""
    return [_per_signal(jax.lax.stop_gradient(jax.vmap(quantize.rms)(z, m) / ratio), z)
            for z, m in zip(latents, masks)]


_signal_densities = jax.vmap(gates.expected_density)
"""Expected density of each signal's gates over all its levels: list of (B, ...) log_alpha -> (B,)."""


def batch_error(base_params, kept: list, key, targets: jax.Array, extent: tuple[int, ...], first: int, batch: int,
                config) -> jax.Array:
    """(B,) MSE of each signal on `batch` random samples shared by all (every sample if the signals
    have no more than `batch`).

    targets: (B, prod(extent), C) centred values; kept: levels first.. with a leading signal axis.
    """
    shapes = grid_shapes(extent, config)
    count, n_samples = targets.shape[:2]
    dropped = [jnp.zeros((count, *s)) for s in shapes[:first]]
    index = jnp.arange(n_samples) if batch >= n_samples else jax.random.randint(key, (batch,), 0, n_samples)
    axes, rest = [], index
    for size in reversed(extent):  # row-major: the last axis varies fastest
        axes.insert(0, (rest % size).astype(jnp.float32) + 0.5)
        rest = rest // size
    values = jax.vmap(render, in_axes=(None, 0, None, None))(base_params, dropped + list(kept),
                                                             jnp.stack(axes, axis=-1), config)
    return jnp.mean(jnp.square(values - targets[:, index]), axis=(1, 2))


@functools.partial(jax.jit, static_argnums=(3, 4, 5, 6))
def meta_start(base_params, log_lrs, targets: jax.Array, extent: tuple[int, ...], first: int, steps: int,
               config) -> list:
    """The meta-learned start: `steps` meta-SGD steps over all samples from zero grids.

    targets: (B, prod(extent), C) centred values. Returns the carried levels' grids, each (B, *cells, c).
    """
    shapes = grid_shapes(extent, config)
    points = positions(extent)
    return jax.vmap(lambda t: adapt(base_params, log_lrs, points, t, shapes, steps, config,
                                    first_level=first)[first:])(targets)


def fit_batch(values: np.ndarray, first: int, density: float, base: Base, config, quiet: bool):
    """Fit latent grids to (B, *extent, C) centred float32 signals of one size, carrying levels
    `first`.. at `density` non-zero latents (`methods.meta.plan`); `config` a `methods.meta.LatentConfig`.
    C is the base's out_channels, or 1 for a base of 3 (a grayscale image: its value on all three).

    Returns (latents: per carried level (B, *cells, c) with pruned values at zero, masks: bool
    arrays alike, stats: the density reached, the mean over signals).
    """
    images, *extent, channels = values.shape
    extent = tuple(extent)
    targets = jnp.asarray(values.reshape(images, math.prod(extent), channels), jnp.float32)
    if channels < base.config.out_channels:
        targets = jnp.repeat(targets, base.config.out_channels, axis=-1)
    fit = config.fit
    shapes = grid_shapes(extent, base.config)[first:]
    start = time.perf_counter()
    latents = list(meta_start(base.params, base.log_lrs, targets, extent, first, config.start_steps, base.config))
    # the signal's arrays, passed to the compiled steps as arguments (one compiled step per shape)
    data = {"base": base.params, "targets": targets, "density": jnp.float32(density),
            "rates": [fit.learning_rate * _per_signal(jax.vmap(quantize.rms)(z), z) + 1e-6 for z in latents]}
    log_alpha = [gates.init_log_alpha((images, *s), max(density, config.initial_density)) for s in shapes]

    def error(kept, key, data):
        return batch_error(data["base"], kept, key, data["targets"], extent, first, fit.batch, base.config)

    def gated_loss(x, key, step, total, multipliers, data):
        z, la = x
        keys = jax.random.split(key, len(la) + 1)
        mse = error([zi * gates.sample(k, a) for zi, a, k in zip(z, la, keys[1:])], keys[0], data)
        violations = _signal_densities(la) - data["density"]
        objective = constrained.lagrangian(jnp.sum(jnp.log(mse)), violations, multipliers, config.gate.dual)
        multipliers = constrained.dual_update(multipliers, jax.lax.stop_gradient(violations), config.gate.dual,
                                              equality=True)
        return objective, (jnp.mean(mse), multipliers)

    def gated_rates(step, total, data):
        return [cosine_learning_rate(r, step, total) for r in data["rates"]], [config.gate.learning_rate] * len(shapes)

    gated_config = phase_config(fit, 1 - config.finish_fraction, 0.0,
                                fit.seconds and fit.seconds * (1 - config.finish_fraction))
    step_chunk, adam_init = adam_chunks(gated_loss, gated_rates)
    x = (latents, log_alpha)
    carry = (x, adam_init(x), jax.random.PRNGKey(fit.seed + 2), constrained.init_multipliers(images, config.gate.dual))
    ((latents, log_alpha), _, _, _), _ = run_chunks(step_chunk, carry, data, gated_config, quiet=quiet,
                                                    desc="fit gated")
    reached = float(jnp.mean(_signal_densities(log_alpha)))

    per_image = [gates.keep_top([a[b] for a in log_alpha], density) for b in range(images)]
    masks = [np.stack([m[level] for m in per_image]) for level in range(len(shapes))]
    data["masks"] = [jnp.asarray(m, jnp.float32) for m in masks]
    latents = [z * gates.deterministic(a) for z, a in zip(latents, log_alpha)]
    ratio = quantize.ratio_for_bits(config.bits_per_value)
    left = fit.seconds and max(1.0, fit.seconds - (time.perf_counter() - start))
    finish_config = phase_config(fit, config.finish_fraction, min(1.0, fit.qat_fraction / config.finish_fraction), left)

    def finish_loss(z, key, step, total, aux, data):
        z = [zi * m for zi, m in zip(z, data["masks"])]
        quantized = quantize.fake_quantize(z, _signal_steps(z, data["masks"], ratio))
        qat = step >= total * (1.0 - finish_config.qat_fraction)
        mse = error([jnp.where(qat, q, zi) for q, zi in zip(quantized, z)], key, data)
        return jnp.sum(mse), (jnp.mean(mse), aux)

    def finish_rates(step, total, data):
        return [cosine_learning_rate(r, step, total) for r in data["rates"]]

    step_chunk, adam_init = adam_chunks(finish_loss, finish_rates)
    carry = (latents, adam_init(latents), jax.random.PRNGKey(fit.seed + 3), ())
    (latents, _, _, _), _ = run_chunks(step_chunk, carry, data, finish_config, quiet=quiet, desc="fit")
    latents = [np.asarray(z * m) for z, m in zip(latents, data["masks"])]
    return latents, masks, {"density_reached": reached}
