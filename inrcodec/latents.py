"""The `meta` method: per-signal latent grids on a shipped meta-learned base, L0-gated by a budget.

Plan: from the byte budget, the resolution the latents describe (the signal, or for images it
downscaled 2, 4 or 8 times when the budget cannot carry every level densely: the decoder renders
the coarser function at full size), which latent levels the file carries (the finest are dropped when their
masks would cost more than they bring) and the density d of non-zero latents it can afford.
Fit, for a batch of same-size signals at once (one signal is a batch of one):
  0. the meta-learned start: from all-zero grids, a few steps of the inner loop the base was
     meta-trained with (meta-SGD with its learned rates, over every pixel);
  1. gated phase: Adam on the latents and their hard-concrete gates, minimising log MSE subject to
     expected density = d per image (the Lagrangian of `constrained`, one multiplier per image);
  2. keep the round(d * N) latents with the largest gate parameters of each image;
  3. finish: Adam on the kept latents, the last steps through rounding.
The file then holds each level's mask (Bernoulli-coded) and its surviving quantized values.
"""

import functools
import math
import time
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from . import bitstream, constrained, gates, quantize
from .bases import HASH_BYTES, Base
from .constrained import DualConfig
from .errors import InrError
from .fit import (
    FitConfig,
    GateConfig,
    adam_chunks,
    cosine_learning_rate,
    phase_config,
    run_chunks,
)
from .meta import adapt, positions
from .modulated import grid_shapes, render
from .sparse import binary_entropy, keep_top
from .tiles import describe


@dataclass(frozen=True)
class LatentConfig:
    # Adam on the latents, 16384 random pixels per image per step; the learning rate is relative:
    # each level of each image moves at learning_rate x its rms after the meta-learned start: small
    # enough to keep that start (experiments/FINDINGS.md, Images: meta's settings)
    fit: FitConfig = field(default_factory=lambda: FitConfig(steps=1200, batch=16384, learning_rate=0.1))
    start_steps: int = 3  # meta-SGD steps of the meta-learned start (as in meta-training)
    # gate learning rate and the density constraint's dual ascent: faster than `sparse`'s, since the
    # latents start fitted and closing a gate costs at once: with sparse's settings the density stayed
    # far above its target (experiments/FINDINGS.md, Images: meta's settings)
    gate: GateConfig = field(default_factory=lambda: GateConfig(learning_rate=0.2, dual=DualConfig(step=0.5, penalty=20.0)))
    # planned coded bits per surviving latent (sets the plan and the rounding step): 4 did best of 3, 4
    # and 5 (experiments/FINDINGS.md, Images: meta's settings)
    bits_per_value: float = 4.0
    initial_density: float = 0.95  # P(gate open) at the start of the gated phase
    finish_fraction: float = 0.5  # share of the steps (or seconds) spent on the kept latents after pruning
    # the latents describe the image downscaled by the smallest of DOWNSCALES whose plan carries every
    # level at least this dense: the base leans on every level, and a dense coarser description beat a
    # sparse full-size one by far (experiments/FINDINGS.md, Images: meta's settings)
    min_density: float = 0.5


DOWNSCALES = (1, 2, 4, 8)  # resolutions the latents may describe, as divisors of the image's sides


def coded_size(extent: tuple[int, ...], downscale: int) -> tuple[int, ...]:
    """Samples per axis of the signal the latents describe at a downscale factor."""
    return tuple(math.ceil(size / downscale) for size in extent)


def header_bytes(levels: int) -> int:
    """Upper estimate of a file's bytes outside the payload with `levels` latent levels."""
    return bitstream.OVERHEAD + 16 + HASH_BYTES + 12 * levels


def plan(budget: int, extent: tuple[int, ...], base: Base, config: LatentConfig) -> tuple[int, float]:
    """(first level carried, density target d) that fit `budget` bytes with the most surviving latents.

    Planned bits for levels first.. of N latents in all: N * H2(d) for the masks plus d * N *
    bits_per_value for the values. Levels before `first` (the finest) stay zero.
    """
    shapes = grid_shapes(extent, base.config)
    best = None
    for first in range(len(shapes)):
        n = sum(math.prod(s) for s in shapes[first:])
        available = (budget - header_bytes(len(shapes) - first)) * 8

        def cost(d):
            return n * (binary_entropy(d) + d * config.bits_per_value)

        low, high = (1.0, 1.0) if cost(1.0) <= available else (0.0, 1.0)
        for _ in range(40 if high > low else 0):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if cost(mid) <= available else (low, mid)
        if best is None or low * n > best[1] * best[2]:
            best = (first, low, n)
    first, density, n = best
    if density * n < 1:
        raise InrError(f"a budget of {budget} bytes is too small for {describe(extent)}")
    return first, density


def choose_downscale(budget: int, extent: tuple[int, ...], base: Base, config: LatentConfig,
                     downscales: tuple[int, ...] = DOWNSCALES) -> int:
    """The smallest factor of `downscales` whose plan carries every level at density >= min_density
    (the largest factor if none does)."""
    for downscale in downscales:
        try:
            first, density = plan(budget, coded_size(extent, downscale), base, config)
        except InrError:  # too small a budget here; coarser resolutions have fewer latents
            continue
        if first == 0 and density >= config.min_density:
            return downscale
    return downscales[-1]


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


def fit_batch(values: np.ndarray, budget: int, base: Base, config: LatentConfig, quiet: bool):
    """Fit latent grids to (B, *extent, C) centred float32 signals of one size, each within `budget`
    bytes. C is the base's out_channels, or 1 for a base of 3 (a grayscale image: its value on all three).

    Returns (first level, latents: per carried level (B, *cells, c) with pruned values at zero,
    masks: bool arrays alike, stats: density target and reached (mean over signals)).
    """
    images, *extent, channels = values.shape
    extent = tuple(extent)
    first, density = plan(budget, extent, base, config)
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

    gated_config = phase_config(fit, 1 - config.finish_fraction, 0.0, fit.seconds and fit.seconds * (1 - config.finish_fraction))
    step_chunk, adam_init = adam_chunks(gated_loss, gated_rates)
    x = (latents, log_alpha)
    carry = (x, adam_init(x), jax.random.PRNGKey(fit.seed + 2), constrained.init_multipliers(images, config.gate.dual))
    ((latents, log_alpha), _, _, _), _ = run_chunks(step_chunk, carry, data, gated_config, quiet=quiet, desc="fit gated")
    reached = float(jnp.mean(_signal_densities(log_alpha)))

    per_image = [keep_top([a[b] for a in log_alpha], density) for b in range(images)]
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
    return first, latents, masks, {"first_level": first, "density_target": density, "density_reached": reached}
