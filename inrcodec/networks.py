"""The network methods of every modality: fitting, the file body, its limits and rendering.

`coin` and `sparse` store a tiled SIREN (layout: tile side | depth | width; tensors: w then b of
every layer): `coin` every weight, `sparse` a mask on each weight matrix and the surviving weights.
`meta` stores latent grids for the modality's shipped base (layout: the base's 8-byte identity |
first level carried | downscale; tensors: one masked grid per carried level, per channel of the
signal when the base has one output channel). Rate control bisects one global rms/step ratio for
the largest file under the cap.

A signal here is (*extent, C) centred values (0 is mid-range) over a lattice of len(extent) axes:
(H, W, C) for an image, (N, C) for a clip. Each modality writes its own head (modality, method,
extent, channels, ...) and hands it in; after it, the body is:

    layout | per tensor: [count of kept values, if masked] step, entropy model
    | payload: one ANS stream; per tensor [its 0/1 mask, if masked] then its (kept) integers

Limits a file of n bytes must keep (the decoder refuses a file that breaks one before allocating
anything; the encoder refuses a cap it could only meet by breaking one):
- a tile side is at most TILE_FLOOR or twice the signal's longest axis, whichever is larger, and
  there is at most one tile per byte;
- it declares at most MAX_VALUES_PER_BYTE * n values (network weights or latents) in all;
- rendering it at scale 1 takes at most MAX_MACS_PER_BYTE * n multiply-adds (output samples x the
  network's multiply-adds per sample), so decoding time grows with the file, not with what it claims;
- every dequantized value is at most MAX_ABS_VALUE in magnitude, so rendering stays finite.
A decode holds the network, its output as float32 and one render chunk (of at most RENDER_FLOATS
activations for a tiled network, RENDER_CHUNK samples for latents).
"""

import itertools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import (
    bitstream,
    coin,
    entropy,
    latents,
    modulated,
    quantize,
    ratecontrol,
    siren,
    sparse,
    tiles,
)
from .bases import HASH_BYTES, load_base
from .bitstream import MAX_ABS_VALUE, MAX_MACS_PER_BYTE
from .coin import Architecture
from .errors import InrError

MAX_DEPTH = 32  # most sine layers a file may declare
TILE_FLOOR = 1024  # a tile side may be up to this or twice the signal's longest axis, whichever is larger
MAX_WIDTH = 1024  # widest network a file may declare
MIN_RATIO, MAX_RATIO = 0.25, 4096.0  # search range of the rms/step ratio of every tensor
# Values per byte of file at most (legitimate files: about 1 for coin, 3 for sparse, 1 / bpp for
# meta); their multiply-adds per byte (bitstream.MAX_MACS_PER_BYTE) are about 0.84 x tile^2 for
# coin (55k at 256 px tiles) and 31k / bpp for meta.
MAX_VALUES_PER_BYTE = 256
RENDER_FLOATS = 1 << 22  # activations of one compiled render call (16 MB a layer)
RENDER_CHUNK = 1 << 16  # samples per compiled render call of a `meta` file


@dataclass(frozen=True)
class Grids:
    """The layout of a `meta` file."""
    identity: bytes  # identity of the base network the latents are for
    first_level: int  # index of the finest latent level carried; finer levels are all zero
    downscale: int  # the latents describe the signal with its axes divided by this (one of latents.DOWNSCALES)


@dataclass(frozen=True)
class Header:
    """What a network file says about itself before its payload."""
    method: str  # "coin", "sparse" or "meta"
    extent: tuple[int, ...]  # samples per axis of the signal ((H, W) of an image, (N,) of a clip)
    channels: int  # values per sample
    base: str  # name of the modality's shipped base (`meta`)
    architecture: Architecture | Grids  # tiled SIREN shape (coin, sparse) or latent layout (meta)
    counts: list  # per tensor: number of kept values if masked, else None
    models: list  # entropy model of each tensor's values
    steps: list  # quantization step of each tensor
    payload: bytes  # the ANS stream


def layout_fields(layout) -> bytes:
    """A network file's layout fields: the base identity, first level and downscale, or tile, depth and width."""
    writer = bitstream.Writer()
    if isinstance(layout, Grids):
        writer.raw(layout.identity)
        writer.varint(layout.first_level)
        writer.varint(layout.downscale)
    else:
        for value in (layout.tile, layout.depth, layout.width):
            writer.varint(value)
    return bytes(writer.buffer)


def _write_file(fields: bytes, tensors: list[np.ndarray], masks: list, ratio: float) -> bytes:
    """The whole file: `fields`, then these tensors (masks aligned, None where unmasked) at rms/step = ratio."""
    writer = bitstream.Writer()
    writer.raw(fields)
    symbols, models = [], []
    for tensor, mask in zip(tensors, masks):
        kept = tensor.ravel() if mask is None else tensor[mask]
        if not np.all(np.abs(kept) <= MAX_ABS_VALUE / 4):  # also false for NaN; rounding adds < 3x
            raise InrError("the fit diverged: a fitted value is not finite or out of range (try another --seed)")
        if mask is not None:
            writer.varint(int(mask.sum()))
            symbols.append(mask.ravel().astype(np.int32))
            models.append(entropy.MaskModel(int(mask.sum()), mask.size))
        step = writer.log_step(float(np.sqrt(np.mean(kept**2)) if kept.size else 1.0) / ratio + 1e-30)
        q = quantize.to_integers(kept, step)
        models.append(entropy.choose_model(q))
        entropy.write_model(writer, models[-1])
        symbols.append(q)
    writer.raw(entropy.encode(symbols, models))
    return bitstream.pack(bytes(writer.buffer))


def _largest_file(fields: bytes, tensors: list, masks: list, budget: int) -> bytes:
    """The largest file of these tensors within `budget` bytes, over the rms/step ratio."""
    _, data = ratecontrol.largest_fitting(lambda ratio: _write_file(fields, tensors, masks, ratio), budget,
                                          MIN_RATIO, MAX_RATIO)
    return data


def encode_tiled(values: np.ndarray, head: bytes, budget: int, method: str, config, quiet: bool,
                 stats: dict | None) -> bytes:
    """A `coin` or `sparse` file of (*extent, C) centred values within `budget` bytes, after `head`."""
    fit_signal = sparse.fit_signal if method == "sparse" else coin.fit_signal
    arch, params, weight_masks, method_stats = fit_signal(values, budget, config, quiet)
    if stats is not None:
        stats.update(tile=arch.tile, depth=arch.depth, width=arch.width, **method_stats)
    tensors, masks = [], []
    for index, layer in enumerate(params):
        tensors += [np.asarray(layer["w"], np.float64), np.asarray(layer["b"], np.float64)]
        masks += [None if weight_masks is None else np.asarray(weight_masks[index], bool), None]
    return _largest_file(head + layout_fields(arch), tensors, masks, budget)


def encode_latents(values: np.ndarray, head: bytes, budget: int, base_name: str, config, quiet: bool,
                   stats: dict | None, resize=None) -> list[bytes]:
    """`meta` files of (B, *extent, C) centred signals of one size, each within `budget` bytes, after `head`.

    With a base of one output channel, each of the C channels has its own latents (and a C-th of
    the budget to plan with). `resize(values, extent)` resamples a batch of signals to a coarser
    extent; None: the latents always describe the signal at its own resolution.
    """
    count, *extent, channels = values.shape
    extent = tuple(extent)
    base = load_base(base_name)
    sets = channels if base.config.out_channels == 1 else 1
    downscales = latents.DOWNSCALES if resize else (1,)
    downscale = latents.choose_downscale(budget // sets, extent, base, config, downscales)
    check_cost("meta", extent, channels, Grids(base.identity, 0, downscale), budget, base_name)  # before fitting
    coded = latents.coded_size(extent, downscale)
    if downscale > 1:
        values = resize(values, coded)
    if sets > 1:  # (B, *extent, C) -> (B * C, *extent, 1): channel c of signal b is signal b * C + c
        values = np.moveaxis(values, -1, 1).reshape(count * sets, *coded, 1)
    first, grids, masks, fit_stats = latents.fit_batch(values, budget // sets, base, config, quiet)
    if stats is not None:
        stats.update(downscale=downscale, **fit_stats)
    fields = head + layout_fields(Grids(base.identity, first, downscale))
    files = []
    for b in range(count):
        signals = range(b * sets, (b + 1) * sets)
        tensors = [np.asarray(g[k], np.float64) for k in signals for g in grids]
        signal_masks = [m[k] for k in signals for m in masks]
        files.append(_largest_file(fields, tensors, signal_masks, budget))
    return files


def _read_layout(reader: bitstream.Reader, method: str, extent: tuple[int, ...], base_name: str):
    """The method's layout fields, validated (and for `meta`, checked against the installed base)."""
    if method == "meta":
        identity = reader.raw(HASH_BYTES)
        first_level = reader.varint(255, "first level")
        base = load_base(base_name)
        if identity != base.identity:
            raise InrError(f"this file was made with base network {identity.hex()}, but the installed "
                           f"base is {base.identity.hex()}: decode it with the inrcodec version that made it")
        if first_level >= len(base.config.strides):
            raise InrError(f"corrupt file: first level {first_level} of {len(base.config.strides)}")
        downscale = reader.varint(latents.DOWNSCALES[-1], "downscale")
        if downscale not in latents.DOWNSCALES:
            raise InrError(f"corrupt file: downscale {downscale}")
        return Grids(identity, first_level, downscale)
    tile = reader.varint(1 << 16, "tile side")
    depth = reader.varint(MAX_DEPTH, "depth")
    net_width = reader.varint(MAX_WIDTH, "width")
    if tile < 1 or depth < 1 or net_width < 1:
        raise InrError("corrupt file: empty network")
    if tile > max(TILE_FLOOR, 2 * max(extent)):
        raise InrError(f"corrupt file: a {tile}-sample tile for {tiles.describe(extent)}")
    return Architecture(tile, depth, net_width)


def _latent_sets(channels: int, base_name: str) -> int:
    """How many sets of latent grids a `meta` file of `channels` channels holds: one per channel
    with a base of one output channel, else one."""
    return channels if load_base(base_name).config.out_channels == 1 else 1


def check_cost(method: str, extent: tuple[int, ...], channels: int, layout, n_bytes: int, base_name: str) -> None:
    """Refuse a file of `n_bytes` whose values or rendering work exceed the per-byte limits."""
    if method == "meta":
        base_config = load_base(base_name).config
        sets = _latent_sets(channels, base_name)
        shapes = modulated.grid_shapes(latents.coded_size(extent, layout.downscale), base_config)
        values = sets * sum(math.prod(s) for s in shapes[layout.first_level:])
        macs = sets * math.prod(extent) * modulated.macs_per_sample(base_config)
    else:
        network = (len(extent), layout.width, layout.depth, channels)
        n_tiles = math.prod(tiles.grid(extent, layout.tile))
        if n_tiles > n_bytes:  # a legitimate tile's network takes tens of bytes at least
            raise InrError(f"{n_bytes} bytes are too few for {n_tiles} tiles (at most one a byte)")
        values = n_tiles * siren.count_params(*network)
        macs = math.prod(extent) * siren.count_macs(*network)
    if values > MAX_VALUES_PER_BYTE * n_bytes or macs > MAX_MACS_PER_BYTE * n_bytes:
        raise InrError(f"{n_bytes} bytes are too few for {tiles.describe(extent)} coded by {method} with {values} "
                       f"values and {macs:.3g} multiply-adds to render (at most {MAX_VALUES_PER_BYTE} values and "
                       f"{MAX_MACS_PER_BYTE:.3g} multiply-adds per byte)")


def tensor_layout(method: str, extent: tuple[int, ...], channels: int, layout, base_name: str) -> list[tuple[tuple, bool]]:
    """(shape, masked) of every tensor of a file, in file order.

    Tiled SIREN: [w0, b0, w1, b1, ...] with a leading tile axis, masks on the w of `sparse`.
    Latent grids: per set of latents, one (*cells, channels) grid per carried level, all masked.
    """
    if isinstance(layout, Grids):
        base_config = load_base(base_name).config
        shapes = modulated.grid_shapes(latents.coded_size(extent, layout.downscale), base_config)
        return [(s, True) for _ in range(_latent_sets(channels, base_name)) for s in shapes[layout.first_level:]]
    n_tiles = math.prod(tiles.grid(extent, layout.tile))
    shapes = [s for fan_in, fan_out in siren.layer_sizes(len(extent), layout.width, layout.depth, channels)
              for s in ((fan_in, fan_out), (fan_out,))]
    return [((n_tiles, *s), method == "sparse" and index % 2 == 0) for index, s in enumerate(shapes)]


def read_body(reader: bitstream.Reader, n_bytes: int, method: str, extent: tuple[int, ...], channels: int,
              base_name: str) -> Header:
    """The body of a network file after its modality's head, validated up to the payload."""
    layout = _read_layout(reader, method, extent, base_name)
    check_cost(method, extent, channels, layout, n_bytes, base_name)
    counts, models, steps = [], [], []
    for shape, masked in tensor_layout(method, extent, channels, layout, base_name):
        counts.append(reader.varint(math.prod(shape), "kept values") if masked else None)
        steps.append(reader.log_step())
        models.append(entropy.read_model(reader))
        if models[-1].bound * steps[-1] > MAX_ABS_VALUE:
            raise InrError(f"corrupt file: values up to {models[-1].bound * steps[-1]:.3g} exceed {MAX_ABS_VALUE:g}")
    return Header(method, extent, channels, base_name, layout, counts, models, steps, reader.rest())


def _shapes(header: Header) -> list[tuple]:
    """Full shapes of the header's tensors, in file order."""
    return [shape for shape, _ in tensor_layout(header.method, header.extent, header.channels, header.architecture,
                                                header.base)]


def payload_models(header: Header) -> tuple[list, list[int]]:
    """The entropy models and symbol counts of the payload's arrays, in coding order."""
    models, sizes = [], []
    for shape, count, model in zip(_shapes(header), header.counts, header.models):
        size = math.prod(shape)
        if count is not None:
            models.append(entropy.MaskModel(count, size))
            sizes.append(size)
        models.append(model)
        sizes.append(size if count is None else count)
    return models, sizes


def _tensors_from_header(header: Header) -> list[np.ndarray]:
    """Entropy-decode and dequantize every tensor a header describes, at its full shape (float32)."""
    models, sizes = payload_models(header)
    flat = iter(entropy.decode(header.payload, models, sizes))
    arrays = []
    for shape, count, step in zip(_shapes(header), header.counts, header.steps):
        if count is None:
            arrays.append(quantize.from_integers(next(flat), step).reshape(shape))
        else:
            mask = next(flat).astype(bool)
            if int(mask.sum()) != count:
                raise InrError("corrupt file: a mask does not match its declared count")
            full = np.zeros(mask.size, np.float32)
            full[mask] = quantize.from_integers(next(flat), step)
            arrays.append(full.reshape(shape))
    return arrays


@jax.jit
def _render_tiles(params, coords):
    """Evaluate tiles at their own coords (tiles, N, dims): (tiles, N, C) centred values."""
    return siren.tiled_apply(params, coords)


def _chunks(count: int, limit: int) -> list[np.ndarray]:
    """Indices 0..count-1 in chunks of one power-of-two length (at most `limit`, unless 1), the last
    padded by repeating its final index: few distinct shapes, so few compiled renders, serve any file."""
    size = min(1 << max(0, limit.bit_length() - 1), 1 << (count - 1).bit_length())
    return [np.minimum(np.arange(start, start + size), count - 1) for start in range(0, count, size)]


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


def _render_tiled(header: Header, scales: tuple[float, ...], box) -> np.ndarray:
    """(*sizes, C) centred values of a tiled SIREN file rendered at `scales` (per axis, any) over box.

    box: (starts, sizes) in output samples per axis; only the box's samples are rendered. Tiles whose
    parts in the box have as many samples along every axis are rendered together, each at its own
    coordinates.
    """
    arch = header.architecture
    starts, sizes = box
    counts = tiles.grid(header.extent, arch.tile)
    arrays = _tensors_from_header(header)
    out = np.empty((*sizes, header.channels), np.float32)
    per_axis = [_axis_tiles(start, size, scale, arch.tile) for start, size, scale in zip(starts, sizes, scales)]
    groups = {}  # samples of a tile's part along each axis -> the parts' per-axis groups
    for combo in itertools.product(*per_axis):
        groups.setdefault(tuple(len(g[1]) for g in combo), []).append(combo)
    dims = len(sizes)
    for shape, combos in groups.items():
        coord_chunks = _chunks(math.prod(shape), max(1, RENDER_FLOATS // arch.width))
        for group in _chunks(len(combos), max(1, RENDER_FLOATS // (len(coord_chunks[0]) * arch.width))):
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
    return out


def render_points(header: Header, index: np.ndarray) -> np.ndarray:
    """(N, C) float32 centred values of a `meta` file or a one-tile SIREN file (`coin`, `sparse`)
    at (N, dims) sample indices (floats: any point; sample i of an axis at index i)."""
    index = np.asarray(index, np.float64)
    if header.method == "meta":
        coded = latents.coded_size(header.extent, header.architecture.downscale)
        points = ((index + 0.5) * (np.array(coded) / np.array(header.extent))).astype(np.float32)
        base, grid_sets = _latent_grids(header)
        parts = [np.concatenate([np.asarray(_render_samples(base.params, grids, points[part], base.config))
                                 for grids in grid_sets], axis=-1)
                 for part in _chunks(len(points), RENDER_CHUNK)]
        values = np.concatenate(parts)[:len(points)]
        return values.mean(axis=-1, keepdims=True) if header.channels < values.shape[-1] else values
    if math.prod(tiles.grid(header.extent, header.architecture.tile)) != 1:
        raise InrError("points can be read from a file of one tile only")
    arrays = _tensors_from_header(header)
    params = [{"w": w, "b": b} for w, b in zip(arrays[0::2], arrays[1::2])]
    coords = (-1.0 + (2.0 * np.asarray(index, np.float64) + 1.0) / header.architecture.tile).astype(np.float32)
    parts = [np.asarray(_render_tiles(params, coords[None, part]))[0]
             for part in _chunks(len(coords), max(1, RENDER_FLOATS // header.architecture.width))]
    return np.concatenate(parts)[:len(coords)]


_render_samples = jax.jit(modulated.render, static_argnums=(3,))


def _latent_grids(header: Header):
    """(base, per set of latents the list of its grids, all levels, zeros below the first carried) of a `meta` file."""
    base, layout = load_base(header.base), header.architecture
    shapes = modulated.grid_shapes(latents.coded_size(header.extent, layout.downscale), base.config)
    arrays = iter(_tensors_from_header(header))
    return base, [[jnp.zeros(s) for s in shapes[:layout.first_level]] + [jnp.asarray(next(arrays)) for _ in
                                                                          shapes[layout.first_level:]]
                  for _ in range(_latent_sets(header.channels, header.base))]


def _render_grids(header: Header, scales: tuple[float, ...], box) -> np.ndarray:
    """(*sizes, C) centred values of a `meta` file rendered at `scales` (per axis, any) over box.

    box: (starts, sizes) in output samples per axis.
    """
    coded = latents.coded_size(header.extent, header.architecture.downscale)
    base, grid_sets = _latent_grids(header)
    starts, sizes = box
    out = np.empty((math.prod(sizes), header.channels), np.float32)
    chunk = min(RENDER_CHUNK, 1 << (len(out) - 1).bit_length())
    for first in range(0, len(out), chunk):
        index = np.unravel_index(np.minimum(np.arange(first, first + chunk), len(out) - 1), sizes)
        points = np.stack([(start + i + 0.5) / scale * (c / e) for start, i, scale, c, e
                           in zip(starts, index, scales, coded, header.extent)], axis=-1).astype(np.float32)
        values = np.concatenate([np.asarray(_render_samples(base.params, grids, points, base.config))
                                 for grids in grid_sets], axis=-1)[:len(out) - first]
        out[first:first + chunk] = values.mean(axis=-1, keepdims=True) if header.channels < values.shape[-1] else values
    return out.reshape(*sizes, header.channels)


def render(header: Header, scales: tuple[float, ...], box) -> np.ndarray:
    """(*sizes, C) centred float32 values of a network file at `scales` (output samples per input
    sample, per axis) over box = (starts, sizes) in output samples; InrError if any is not finite."""
    values = (_render_grids if header.method == "meta" else _render_tiled)(header, scales, box)
    if not np.all(np.isfinite(values)):
        raise InrError("corrupt file: it renders to values that are not finite")
    return values
