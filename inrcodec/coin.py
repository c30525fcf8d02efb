"""The `coin` method: a dense SIREN per tile of a signal (COIN, Dupont et al. 2021), sized from the budget."""

import math
from dataclasses import dataclass, field

import jax
import numpy as np

from . import bitstream, siren, tiles
from .errors import InrError
from .fit import FitConfig, fit_tiles

MIN_WIDTH = 6  # narrowest network the architecture search accepts


@dataclass(frozen=True)
class CoinConfig:
    # tile side in samples along each axis (pixels of an image): each tile is fitted by its own SIREN
    # (doubled if the budget is small); a file's tile is at most max(networks.TILE_FLOOR, 2 x the longest axis)
    tile: int = 256
    depth: int = 5  # sine layers per SIREN (reduced if the budget is small)
    bits_per_value: float = 9.5  # planned coded bits per weight: sets the network's size from the budget
    max_width: int = 96  # widest SIREN considered, bounding compute at large budgets
    fit: FitConfig = field(default_factory=FitConfig)  # optimisation settings


@dataclass(frozen=True)
class Architecture:
    tile: int  # tile side in samples along each axis
    depth: int  # sine layers per SIREN
    width: int  # units per sine layer


def header_bytes(depth: int, masked: bool) -> int:
    """Upper estimate of a file's bytes outside the payload, for a network of `depth` sine layers."""
    return bitstream.OVERHEAD + 16 + (6 * 2 + (3 if masked else 0)) * (depth + 1)


def choose_architecture(budget: int, extent: tuple[int, ...], channels: int, config: CoinConfig) -> Architecture:
    """The widest SIREN per tile whose weights fit the budget at `config.bits_per_value` bits each,
    for a signal of `extent` samples per axis. Tries the configured tile and depth first, then
    shallower networks, then larger tiles."""
    tile = config.tile
    while True:
        n_tiles = math.prod(tiles.grid(extent, tile))
        for depth in range(config.depth, 0, -1):
            per_tile = (budget - header_bytes(depth, False)) * 8 / config.bits_per_value / n_tiles
            fitting = [w for w in range(MIN_WIDTH, config.max_width + 1)
                       if siren.count_params(len(extent), w, depth, channels) <= per_tile]
            if fitting:
                return Architecture(tile, depth, fitting[-1])
        if tile >= max(extent):
            raise InrError(f"a budget of {budget} bytes is too small for {tiles.describe(extent)}")
        tile *= 2


def init_params(arch: Architecture, n_tiles: int, dims: int, channels: int, seed: int):
    """A freshly initialised tiled SIREN: n_tiles networks from `dims` coordinates to `channels` values."""
    return siren.init_tiled(jax.random.PRNGKey(seed), n_tiles, dims, arch.width, arch.depth, channels)


def fit_signal(values: np.ndarray, budget: int, config: CoinConfig, quiet: bool):
    """Size and fit the network for (*extent, C) centred values: returns (architecture, params, masks=None, stats={})."""
    *extent, channels = values.shape
    arch = choose_architecture(budget, tuple(extent), channels, config)
    tiled, valid = tiles.split(values, arch.tile)
    params = init_params(arch, len(tiled), len(extent), channels, config.fit.seed)
    params = fit_tiles(params, tiled, valid, arch.tile, config.bits_per_value, config.fit, quiet=quiet)
    return arch, params, None, {}
