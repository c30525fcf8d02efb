"""The `coin` method: a dense SIREN per tile of a signal (COIN, Dupont et al. 2021), sized from the budget.

Layout: tile side | depth | width; tensors: w then b of every layer, each with a leading tile axis
(`sparse` adds a mask on each w). A file of n bytes may hold at most one tile a byte, a tile side of
at most TILE_FLOOR or twice the signal's longest axis, and the values and rendering work of
`tensors.check_cost`. A decode holds the network, its output and one render chunk of at most
RENDER_FLOATS activations.
"""

import itertools
import math
from dataclasses import dataclass, field

import jax
import numpy as np

from .. import bitstream, tiles
from ..errors import InrError
from ..networks import siren
from ..networks.fit import FitConfig, fit_tiles
from . import Budget, Geometry, tensors

MIN_WIDTH = 6  # narrowest network the architecture search accepts
MAX_DEPTH = 32  # most sine layers a file may declare
TILE_FLOOR = 1024  # a tile side may be up to this or twice the signal's longest axis, whichever is larger
MAX_WIDTH = 1024  # widest network a file may declare
RENDER_FLOATS = 1 << 22  # activations of one compiled render call (16 MB a layer)


@dataclass(frozen=True)
class CoinConfig:
    # tile side in samples along each axis (pixels of an image): each tile is fitted by its own SIREN
    # (doubled if the budget is small); a file's tile is at most max(TILE_FLOOR, 2 x the longest axis)
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


AUDIO_TILE = 1024  # samples a tile of audio spans (the best of the sizes tried)
# audio: the fit samples every sample of every tile each step, steps set for about 20 s on a 3-4 s clip
AUDIO_FIT = FitConfig(steps=450, batch=AUDIO_TILE, learning_rate=2e-3)
SHAPE_TILE = 48  # one tile over a shape's whole lattice (`modalities.shape.NETWORK_LATTICE` samples)
SHAPE_FIT = FitConfig(steps=1200, batch=8192, learning_rate=1e-3)  # shapes: the fit of the squashed SDF
DEFAULTS = {  # modality -> configuration
    "image": CoinConfig(),
    "audio": CoinConfig(tile=AUDIO_TILE, depth=3, fit=AUDIO_FIT),
    "shape": CoinConfig(tile=SHAPE_TILE, depth=3, fit=SHAPE_FIT),
}


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
    """Size and fit the network for (*extent, C) centred values: returns (architecture, params,
    masks=None, stats={})."""
    *extent, channels = values.shape
    arch = choose_architecture(budget, tuple(extent), channels, config)
    tiled, valid = tiles.split(values, arch.tile)
    params = init_params(arch, len(tiled), len(extent), channels, config.fit.seed)
    params = fit_tiles(params, tiled, valid, arch.tile, config.bits_per_value, config.fit, quiet=quiet)
    return arch, params, None, {}


def encode(values: np.ndarray, geometry: Geometry, budget: Budget, config: CoinConfig, quiet: bool,
           stats: dict | None, fit_signal=fit_signal) -> bytes:
    """The largest body of a tiled SIREN fitted to (*extent, C) centred values (by `fit_signal`:
    this method's, or `sparse`'s) whose file is within the budget."""
    arch, params, weight_masks, method_stats = fit_signal(values, budget.cap, config, quiet)
    if stats is not None:
        stats.update(tile=arch.tile, depth=arch.depth, width=arch.width, **method_stats)
    arrays, masks = [], []
    for index, layer in enumerate(params):
        arrays += [np.asarray(layer["w"], np.float64), np.asarray(layer["b"], np.float64)]
        masks += [None if weight_masks is None else np.asarray(weight_masks[index], bool), None]
    fields = bitstream.varints(arch.tile, arch.depth, arch.width)
    return tensors.largest_body(fields, arrays, masks, budget)


def read_layout(reader: bitstream.Reader, geometry: Geometry, n_bytes: int, masked: bool = False) -> tensors.Body:
    """The architecture and tensor records of a body, validated; `masked`: each w carries a mask (`sparse`)."""
    tile = reader.varint(1 << 16, "tile side")
    depth = reader.varint(MAX_DEPTH, "depth")
    width = reader.varint(MAX_WIDTH, "width")
    if tile < 1 or depth < 1 or width < 1:
        raise InrError("corrupt file: empty network")
    extent = geometry.extent
    if tile > max(TILE_FLOOR, 2 * max(extent)):
        raise InrError(f"corrupt file: a {tile}-sample tile for {tiles.describe(extent)}")
    network = (len(extent), width, depth, geometry.channels)
    n_tiles = math.prod(tiles.grid(extent, tile))
    if n_tiles > n_bytes:  # a legitimate tile's network takes tens of bytes at least
        raise InrError(f"{n_bytes} bytes are too few for {n_tiles} tiles (at most one a byte)")
    tensors.check_cost("sparse" if masked else "coin", geometry, n_tiles * siren.count_params(*network),
                       math.prod(extent) * siren.count_macs(*network), n_bytes)
    shapes = [s for fan_in, fan_out in siren.layer_sizes(*network) for s in ((fan_in, fan_out), (fan_out,))]
    layout = [((n_tiles, *s), masked and index % 2 == 0) for index, s in enumerate(shapes)]
    return tensors.read_tensors(reader, Architecture(tile, depth, width), layout)


@jax.jit
def _render_tiles(params, coords):
    """Evaluate tiles at their own coords (tiles, N, dims): (tiles, N, C) centred values."""
    return siren.tiled_apply(params, coords)


def _axis_tiles(start: int, size: int, scale: float, tile: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Along one axis, the output samples start..start+size-1 at `scale`, grouped by the tile their
    centres fall in: [(tile index, output offsets from `start`, in-tile coordinates in [-1, 1])].

    Output sample j's centre lies at (j + 0.5) / scale input samples; at scale 1 the coordinates
    are exactly those the fit used (`tiles.sample_centres`).
    """
    centres = (np.arange(start, start + size) + 0.5) / scale
    index = np.floor(centres / tile).astype(np.int64)  # non-decreasing along the axis
    coords = -1.0 + 2.0 * (centres - index * tile) / tile
    cuts = np.flatnonzero(np.diff(index)) + 1
    return [(int(index[part[0]]), part, coords[part]) for part in np.split(np.arange(size), cuts)]


def render(body: tensors.Body, geometry: Geometry, scales: tuple[float, ...], box) -> np.ndarray:
    """(*sizes, C) centred values of a tiled SIREN body rendered at `scales` (per axis, any) over box.

    box: (starts, sizes) in output samples per axis; only the box's samples are rendered. Tiles whose
    parts in the box have as many samples along every axis are rendered together, each at its own
    coordinates.
    """
    arch = body.layout
    starts, sizes = box
    counts = tiles.grid(geometry.extent, arch.tile)
    arrays = tensors.decode_tensors(body)
    out = np.empty((*sizes, geometry.channels), np.float32)
    per_axis = [_axis_tiles(start, size, scale, arch.tile) for start, size, scale in zip(starts, sizes, scales)]
    groups = {}  # samples of a tile's part along each axis -> the parts' per-axis groups
    for combo in itertools.product(*per_axis):
        groups.setdefault(tuple(len(g[1]) for g in combo), []).append(combo)
    dims = len(sizes)
    for shape, combos in groups.items():
        coord_chunks = tensors.chunks(math.prod(shape), max(1, RENDER_FLOATS // arch.width))
        for group in tensors.chunks(len(combos), max(1, RENDER_FLOATS // (len(coord_chunks[0]) * arch.width))):
            chosen = [combos[k] for k in group]
            flat_tiles = np.ravel_multi_index(np.array([[g[0] for g in c] for c in chosen]).T, counts)
            params = [{"w": w[flat_tiles], "b": b[flat_tiles]} for w, b in zip(arrays[0::2], arrays[1::2])]
            offsets, coords = [], []
            for axis in range(dims):  # (tiles, samples of the part along the axis), broadcast over the others
                view = [len(chosen)] + [shape[a] if a == axis else 1 for a in range(dims)]
                offsets.append(np.stack([c[axis][1] for c in chosen]).reshape(view))
                coords.append(np.broadcast_to(np.stack([c[axis][2] for c in chosen]).reshape(view),
                                              (len(chosen), *shape)).reshape(len(chosen), -1))
            coords = np.stack(coords, axis=-1).astype(np.float32)
            offsets = [np.broadcast_to(o, (len(chosen), *shape)).reshape(len(chosen), -1) for o in offsets]
            for part in coord_chunks:
                rendered = np.asarray(_render_tiles(params, coords[:, part]))
                out[tuple(o[:, part] for o in offsets)] = rendered
    return tensors.finite(out)




def render_points(body: tensors.Body, geometry: Geometry, index: np.ndarray) -> np.ndarray:
    """(N, C) float32 centred values of a one-tile body at (N, dims) sample indices (floats: any
    point; sample i of an axis at index i)."""
    arch = body.layout
    if math.prod(tiles.grid(geometry.extent, arch.tile)) != 1:
        raise InrError("points can be read from a file of one tile only")
    arrays = tensors.decode_tensors(body)
    params = [{"w": w, "b": b} for w, b in zip(arrays[0::2], arrays[1::2])]
    coords = (-1.0 + (2.0 * np.asarray(index, np.float64) + 1.0) / arch.tile).astype(np.float32)
    parts = [np.asarray(_render_tiles(params, coords[None, part]))[0]
             for part in tensors.chunks(len(coords), max(1, RENDER_FLOATS // arch.width))]
    return tensors.finite(np.concatenate(parts)[:len(coords)])
