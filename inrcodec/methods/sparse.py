"""The `sparse` method: an over-parameterised SIREN per tile whose weights carry hard-concrete L0
gates, trained under "expected density = target" by a Lagrangian (L0onie; Gallego-Posada et al.
2022), the target derived from the byte budget. Gates start nearly open and the constraint prunes
them. The fit ends by keeping the `target` fraction of weights with the largest gate parameters
and training them (the final steps through rounding); the file then holds each weight matrix's
mask (Bernoulli-coded) and its surviving values.
"""

import dataclasses
import math
import time
from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np

from .. import bitstream, tiles
from ..errors import InrError
from ..networks import gates, siren
from ..networks.fit import GateConfig, fit_gated_tiles, fit_tiles, phase_config
from . import Budget, Geometry, coin, tensors
from .coin import (
    AUDIO_FIT,
    AUDIO_TILE,
    SHAPE_FIT,
    SHAPE_TILE,
    Architecture,
    CoinConfig,
    choose_architecture,
    header_bytes,
    init_params,
)


@dataclass(frozen=True)
class SparseConfig:
    # tiling, depth, bits per surviving weight, fitting: coin's, its 5000 steps included (with 4250, for
    # coin's time, sparse trailed coin by 0.05 dB on the shipped samples at 0.3 bpp; with 5000 it leads
    # by 0.04, for 15% more time)
    dense: CoinConfig = field(default_factory=CoinConfig)
    # gated weights per weight of the dense network the same budget would buy; None: from the rate
    # (`overparam_for`)
    overparam: float | None = None
    gate: GateConfig = field(default_factory=GateConfig)  # gate learning rate and dual ascent
    initial_density: float = 0.95  # P(gate open) at the start: train nearly dense, let the constraint prune
    # steps of the constrained phase, which chooses the mask (at most half the steps, and half the
    # seconds when timed); the rest of the steps or seconds train the kept weights. A step count, not a
    # time share: a few hundred steps suffice to choose a mask worth more than a random one, and longer
    # gating cost at equal time
    gated_steps: int = 500


DEFAULTS = {  # modality -> configuration
    "image": SparseConfig(),
    "audio": SparseConfig(dense=CoinConfig(tile=AUDIO_TILE, depth=3, fit=AUDIO_FIT), gated_steps=100),
    "shape": SparseConfig(dense=CoinConfig(tile=SHAPE_TILE, depth=3, fit=SHAPE_FIT), gated_steps=200),
}


def overparam_for(bpp: float) -> float:
    """Over-parameterisation for a rate in bits per sample (pixel): 1.25 up to 0.3 bpp, 1.1 from 0.6 bpp,
    linear in log(bpp) between: choosing the mask pays at low rates, while at 0.6 bpp, where the dense
    network is already large, the mask's bits outweigh it."""
    share = min(1.0, max(0.0, math.log(bpp / 0.3) / math.log(2.0)))
    return 1.25 - 0.15 * share


def plan(budget: int, extent: tuple[int, ...], channels: int, config: SparseConfig) -> tuple[Architecture, float]:
    """The gated architecture and the density target its weights must meet to fit the budget, for a
    signal of `extent` samples per axis.

    Planned bits: masks at H2(d) per gated weight, surviving weights and all biases at
    `bits_per_value` each. Returns (architecture, d) with d in (0, 1].
    """
    dense = choose_architecture(budget, extent, channels, config.dense)
    overparam = overparam_for(budget * 8 / math.prod(extent)) if config.overparam is None else config.overparam
    arch = dataclasses.replace(dense, width=max(dense.width, round(dense.width * math.sqrt(overparam))))
    n_tiles = math.prod(tiles.grid(extent, arch.tile))
    sizes = siren.layer_sizes(len(extent), arch.width, arch.depth, channels)
    n_weights = n_tiles * sum(i * o for i, o in sizes)
    n_biases = n_tiles * sum(o for _, o in sizes)
    available = (budget - header_bytes(arch.depth, True)) * 8
    bits = config.dense.bits_per_value

    def cost(d):
        return n_weights * gates.binary_entropy(d) + (d * n_weights + n_biases) * bits

    if cost(1.0) <= available:
        return arch, 1.0
    low, high = 0.0, 1.0
    for _ in range(40):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if cost(mid) <= available else (low, mid)
    if low * n_weights < 1:
        raise InrError(f"a budget of {budget} bytes is too small for {tiles.describe(extent)}")
    return arch, low


def fit_signal(values: np.ndarray, budget: int, config: SparseConfig, quiet: bool):
    """Plan, fit under the density constraint, then finish the kept weights through rounding.

    values: (*extent, C) centred.

    Returns (architecture, params with pruned weights at zero, masks: one bool array per layer's
    w, stats: the density target, the expected density the constrained phase reached, and the
    final multiplier).
    """
    *extent, channels = values.shape
    arch, density = plan(budget, tuple(extent), channels, config)
    values, valid = tiles.split(values, arch.tile)
    params = init_params(arch, len(values), len(extent), channels, config.dense.fit.seed)
    fit_config = config.dense.fit
    start = time.perf_counter()

    seconds = fit_config.seconds
    gated = min(config.gated_steps, fit_config.steps // 2) / fit_config.steps  # the gated phase's share of the steps
    gated_config = phase_config(fit_config, gated, 0.0, None if seconds is None else seconds / 2)
    log_alpha = [gates.init_log_alpha(layer["w"].shape, max(density, config.initial_density)) for layer in params]
    params, log_alpha, multipliers = fit_gated_tiles(params, log_alpha, values, valid, arch.tile, density,
                                                     gated_config, config.gate, quiet=quiet)
    stats = {"density_target": density, "density_reached": float(gates.expected_density(log_alpha)),
             "multiplier": float(multipliers[0])}
    masks = gates.keep_top(log_alpha, density)
    left = None if seconds is None else max(1.0, seconds - (time.perf_counter() - start))  # all the time left
    finish_config = phase_config(fit_config, 1 - gated, min(1.0, fit_config.qat_fraction / (1 - gated)), left)
    mask_tree = [{"w": jnp.asarray(m, jnp.float32), "b": jnp.ones_like(layer["b"])} for m, layer in zip(masks, params)]
    params = [{"w": layer["w"] * gates.deterministic(a), "b": layer["b"]} for layer, a in zip(params, log_alpha)]
    params = fit_tiles(params, values, valid, arch.tile, config.dense.bits_per_value, finish_config,
                       mask=mask_tree, quiet=quiet)
    return arch, params, masks, stats


def encode(values: np.ndarray, geometry: Geometry, budget: Budget, config: SparseConfig, quiet: bool,
           stats: dict | None) -> bytes:
    """The largest body of the gated SIREN fitted to (*extent, C) centred values within the budget."""
    return coin.encode(values, geometry, budget, config, quiet, stats, fit_signal)


def read_layout(reader: bitstream.Reader, geometry: Geometry, n_bytes: int) -> tensors.Body:
    """The architecture and tensor records of a body, validated (a mask on each w)."""
    return coin.read_layout(reader, geometry, n_bytes, masked=True)


render, render_points = coin.render, coin.render_points  # a sparse body renders as a coin body
