"""The `meta` method: per-signal latent grids on a shipped meta-learned base, L0-gated by a budget.

Plan: from the byte budget, the resolution the latents describe (the signal, or for images it
downscaled 2, 4 or 8 times when the budget cannot carry every level densely: the decoder renders
the coarser function at full size), which latent levels the file carries (the finest are dropped
when their masks would cost more than they bring) and the density d of non-zero latents it can
afford; then the fit (`networks.latents`). Layout: the base's 8-byte identity | first level carried
| downscale; tensors: one masked grid per carried level, per set of latents (one set per channel of
the signal when the base has one output channel, else one). A file of n bytes keeps the values and
rendering work of `tensors.check_cost`; a decode holds one render chunk of RENDER_CHUNK samples.
"""

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from .. import bitstream
from ..errors import InrError
from ..networks import gates, latents, modulated
from ..networks.bases import HASH_BYTES, Base, load_base
from ..networks.constrained import DualConfig
from ..networks.fit import FitConfig, GateConfig
from ..tiles import describe
from . import Budget, Geometry, tensors

RENDER_CHUNK = 1 << 16  # samples per compiled render call
BASES = {"image": "image", "audio": "speech", "shape": "shape"}  # modality -> its shipped base


@dataclass(frozen=True)
class LatentConfig:
    # Adam on the latents, 16384 random pixels per image per step; the learning rate is relative:
    # each level of each image moves at learning_rate x its rms after the meta-learned start: small
    # enough to keep that start
    fit: FitConfig = field(default_factory=lambda: FitConfig(steps=1200, batch=16384, learning_rate=0.1))
    start_steps: int = 3  # meta-SGD steps of the meta-learned start (as in meta-training)
    # gate learning rate and the density constraint's dual ascent: faster than `sparse`'s, since the
    # latents start fitted and closing a gate costs at once: with sparse's settings the density stayed
    # far above its target
    gate: GateConfig = field(
        default_factory=lambda: GateConfig(learning_rate=0.2, dual=DualConfig(step=0.5, penalty=20.0)))
    # planned coded bits per surviving latent (sets the plan and the rounding step): 4 did best of 3, 4
    # and 5
    bits_per_value: float = 4.0
    initial_density: float = 0.95  # P(gate open) at the start of the gated phase
    finish_fraction: float = 0.5  # share of the steps (or seconds) spent on the kept latents after pruning
    # the latents describe the image downscaled by the smallest of DOWNSCALES whose plan carries every
    # level at least this dense: the base leans on every level, and a dense coarser description beat a
    # sparse full-size one by far
    min_density: float = 0.5


# audio and shapes: 16384 samples a step; few steps, since tripling them gained at most 0.7 dB for
# about twice the time on speech
SIGNAL_FIT = FitConfig(steps=300, batch=16384, learning_rate=0.1)
DEFAULTS = {"image": LatentConfig(), "audio": LatentConfig(fit=SIGNAL_FIT), "shape": LatentConfig(fit=SIGNAL_FIT)}
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
    shapes = modulated.grid_shapes(extent, base.config)
    best = None
    for first in range(len(shapes)):
        n = sum(math.prod(s) for s in shapes[first:])
        available = (budget - header_bytes(len(shapes) - first)) * 8

        def cost(d):
            return n * (gates.binary_entropy(d) + d * config.bits_per_value)

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


@dataclass(frozen=True)
class Grids:
    """The layout of a `meta` body."""
    identity: bytes  # identity of the base network the latents are for
    first_level: int  # index of the finest latent level carried; finer levels are all zero
    downscale: int  # the latents describe the signal with its axes divided by this (one of DOWNSCALES)


def _latent_sets(channels: int, base: Base) -> int:
    """How many sets of latent grids a body of `channels` channels holds: one per channel with a
    base of one output channel, else one."""
    return channels if base.config.out_channels == 1 else 1


def _check_cost(geometry: Geometry, layout: Grids, base: Base, n_bytes: int) -> None:
    sets = _latent_sets(geometry.channels, base)
    shapes = modulated.grid_shapes(coded_size(geometry.extent, layout.downscale), base.config)
    values = sets * sum(math.prod(s) for s in shapes[layout.first_level:])
    macs = sets * math.prod(geometry.extent) * modulated.macs_per_sample(base.config)
    tensors.check_cost("meta", geometry, values, macs, n_bytes)


def encode_batch(values: np.ndarray, geometry: Geometry, budget: Budget, config: LatentConfig, quiet: bool,
                 stats: dict | None, resize=None) -> list[bytes]:
    """Bodies of (B, *extent, C) centred signals of one size, each within the budget, fitted together.

    With a base of one output channel, each of the C channels has its own latents (and a C-th of
    the budget to plan with). `resize(values, extent)` resamples a batch of signals to a coarser
    extent; None: the latents always describe the signal at its own resolution.
    """
    count, *extent, channels = values.shape
    extent = tuple(extent)
    base = load_base(BASES[geometry.modality])
    sets = _latent_sets(channels, base)
    downscales = DOWNSCALES if resize else (1,)
    downscale = choose_downscale(budget.cap // sets, extent, base, config, downscales)
    _check_cost(geometry, Grids(base.identity, 0, downscale), base, budget.cap)  # before fitting
    coded = coded_size(extent, downscale)
    if downscale > 1:
        values = resize(values, coded)
    if sets > 1:  # (B, *extent, C) -> (B * C, *extent, 1): channel c of signal b is signal b * C + c
        values = np.moveaxis(values, -1, 1).reshape(count * sets, *coded, 1)
    first, density = plan(budget.cap // sets, coded, base, config)
    grids, masks, fit_stats = latents.fit_batch(values, first, density, base, config, quiet)
    if stats is not None:
        stats.update(downscale=downscale, first_level=first, density_target=density, **fit_stats)
    fields = base.identity + bitstream.varints(first, downscale)
    bodies = []
    for b in range(count):
        signals = range(b * sets, (b + 1) * sets)
        arrays = [np.asarray(g[k], np.float64) for k in signals for g in grids]
        signal_masks = [m[k] for k in signals for m in masks]
        bodies.append(tensors.largest_body(fields, arrays, signal_masks, budget))
    return bodies


def encode(values: np.ndarray, geometry: Geometry, budget: Budget, config: LatentConfig, quiet: bool,
           stats: dict | None) -> bytes:
    """The body of one (*extent, C) centred signal within the budget, its latents at its own resolution."""
    return encode_batch(values[None], geometry, budget, config, quiet, stats)[0]


def read_layout(reader: bitstream.Reader, geometry: Geometry, n_bytes: int) -> tensors.Body:
    """The layout (checked against the installed base) and tensor records of a body, validated."""
    identity = reader.raw(HASH_BYTES)
    first_level = reader.varint(255, "first level")
    base = load_base(BASES[geometry.modality])
    if identity != base.identity:
        raise InrError(f"this file was made with base network {identity.hex()}, but the installed "
                       f"base is {base.identity.hex()}: decode it with the inrcodec version that made it")
    if first_level >= len(base.config.strides):
        raise InrError(f"corrupt file: first level {first_level} of {len(base.config.strides)}")
    downscale = reader.varint(DOWNSCALES[-1], "downscale")
    if downscale not in DOWNSCALES:
        raise InrError(f"corrupt file: downscale {downscale}")
    layout = Grids(identity, first_level, downscale)
    _check_cost(geometry, layout, base, n_bytes)
    shapes = modulated.grid_shapes(coded_size(geometry.extent, downscale), base.config)
    records = [(s, True) for _ in range(_latent_sets(geometry.channels, base)) for s in shapes[first_level:]]
    return tensors.read_tensors(reader, layout, records)


_render_samples = jax.jit(modulated.render, static_argnums=(3,))


def _latent_grids(body: tensors.Body, geometry: Geometry):
    """(base, per set of latents the list of its grids, all levels, zeros below the first carried)."""
    base, layout = load_base(BASES[geometry.modality]), body.layout
    shapes = modulated.grid_shapes(coded_size(geometry.extent, layout.downscale), base.config)
    arrays = iter(tensors.decode_tensors(body))
    return base, [[jnp.zeros(s) for s in shapes[:layout.first_level]] + [jnp.asarray(next(arrays)) for _ in
                                                                          shapes[layout.first_level:]]
                  for _ in range(_latent_sets(geometry.channels, base))]


def _samples(base: Base, grid_sets: list, geometry: Geometry, points: np.ndarray) -> np.ndarray:
    """(N, C) float32 values at (N, dims) float32 points in samples of the coded resolution."""
    values = np.concatenate([np.asarray(_render_samples(base.params, grids, points, base.config))
                             for grids in grid_sets], axis=-1)
    return values.mean(axis=-1, keepdims=True) if geometry.channels < values.shape[-1] else values


def render(body: tensors.Body, geometry: Geometry, scales: tuple[float, ...], box) -> np.ndarray:
    """(*sizes, C) centred values of a body rendered at `scales` (per axis, any) over box = (starts,
    sizes) in output samples per axis; InrError if any is not finite."""
    coded = coded_size(geometry.extent, body.layout.downscale)
    base, grid_sets = _latent_grids(body, geometry)
    starts, sizes = box
    out = np.empty((math.prod(sizes), geometry.channels), np.float32)
    chunk = min(RENDER_CHUNK, 1 << (len(out) - 1).bit_length())
    for first in range(0, len(out), chunk):
        index = np.unravel_index(np.minimum(np.arange(first, first + chunk), len(out) - 1), sizes)
        points = np.stack([(start + i + 0.5) / scale * (c / e) for start, i, scale, c, e
                           in zip(starts, index, scales, coded, geometry.extent)], axis=-1).astype(np.float32)
        out[first:first + chunk] = _samples(base, grid_sets, geometry, points)[:len(out) - first]
    return tensors.finite(out.reshape(*sizes, geometry.channels))


def render_points(body: tensors.Body, geometry: Geometry, index: np.ndarray) -> np.ndarray:
    """(N, C) float32 centred values at (N, dims) sample indices (floats: any point; sample i of an
    axis at index i)."""
    coded = coded_size(geometry.extent, body.layout.downscale)
    points = ((np.asarray(index, np.float64) + 0.5) * (np.array(coded) / np.array(geometry.extent))).astype(np.float32)
    base, grid_sets = _latent_grids(body, geometry)
    parts = [_samples(base, grid_sets, geometry, points[part]) for part in tensors.chunks(len(points), RENDER_CHUNK)]
    return tensors.finite(np.concatenate(parts)[:len(points)])
