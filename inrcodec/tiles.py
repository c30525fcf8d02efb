"""Cutting a signal into tiles, one small network each, and finding which tiles a region touches.

A signal is an array (*extent, C) over a lattice of `dims` axes: (H, W, C) for an image, (N, C) for
a clip. A tile of side T covers T samples along every axis (T x T pixels, or T samples of a clip);
the grid is ceil(extent / T) tiles per axis, so edge tiles may reach past the signal. Inside a tile,
sample i along an axis sits at the coordinate -1 + (2i+1)/T.
"""

import itertools
import math

import numpy as np


def grid(extent: tuple[int, ...], tile: int) -> tuple[int, ...]:
    """Tiles along each axis of side `tile` covering a signal of `extent` samples per axis."""
    return tuple(math.ceil(size / tile) for size in extent)


def describe(extent: tuple[int, ...]) -> str:
    """A signal's extent in words, for messages: "a 768x512 image", "a 48000-sample clip"."""
    if len(extent) == 1:
        return f"a {extent[0]}-sample clip"
    if len(extent) == 2:
        return f"a {extent[1]}x{extent[0]} image"
    return f"a {'x'.join(map(str, extent))} grid"


def sample_centres(side: int, ranges: tuple) -> np.ndarray:
    """(prod(len(r)), dims) float32 coordinates in [-1, 1]^dims of the centres of the samples
    ranges[0] x ranges[1] x ... of a tile of `side` (a range per axis; None: the whole axis), row-major."""
    axes = [np.arange(side) if r is None else np.arange(r.start, r.stop) for r in ranges]
    mesh = np.meshgrid(*[-1.0 + (2.0 * a + 1.0) / side for a in axes], indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=-1).astype(np.float32)


def spans(start: int, length: int, side: int) -> dict[tuple[int, int], list[int]]:
    """The tiles of side `side` along one axis that samples start..start+length-1 touch, grouped by the
    part of the tile those samples cover: {(first, stop) sample range inside the tile: [tile indices]}."""
    groups = {}
    for index in range(start // side, -(-(start + length) // side)):
        origin = index * side
        part = (max(start, origin) - origin, min(start + length, origin + side) - origin)
        groups.setdefault(part, []).append(index)
    return groups


def split(values: np.ndarray, tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut (*extent, C) values into tiles.

    Returns tiles (n_tiles, T**dims, C), zero-padded past the signal, row-major over the tile grid,
    and valid (n_tiles, dims): how many samples of each tile along each axis lie inside the signal.
    """
    *extent, channels = values.shape
    counts = grid(extent, tile)
    padded = np.zeros([n * tile for n in counts] + [channels], values.dtype)
    padded[tuple(slice(0, size) for size in extent)] = values
    dims = len(extent)
    split_shape = [x for n in counts for x in (n, tile)] + [channels]
    order = [2 * k for k in range(dims)] + [2 * k + 1 for k in range(dims)] + [2 * dims]
    tiles = padded.reshape(split_shape).transpose(order).reshape(math.prod(counts), tile ** dims, channels)
    valid = np.array([[min(tile, size - index * tile) for size, index in zip(extent, position)]
                      for position in itertools.product(*[range(n) for n in counts])], dtype=np.int32)
    return tiles, valid.reshape(len(tiles), dims)
