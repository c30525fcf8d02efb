"""A pyramid of latent grids: a signal as a sum of cubic-interpolated integer grids at strides 1..64.

A signal is a (H, W, C) field of samples: an image's centred YCbCr pixels, or an audio clip as one
row of W samples. Level k is a (ceil(H / r), ceil(W / s), c) grid of integers at strides (r, s),
s = STRIDES[k] and r = s for images (`Geometry.dims` 2), r = 1 for audio (dims 1); cell (i, j)
sits at the centre of the r x s block of samples it covers. The field at any point (y, x), in
samples, is the sum over levels of step_k times the level's Keys-cubic interpolation there (edges
extended): a continuous function of the coordinates, so it renders at any scale. Colour images
carry luma alone at full resolution and YCbCr at the coarser levels; grayscale images carry luma at
every level (`image_geometry`).

Every level's step is the one global step G over the L2 norm of one interpolated cell at its
strides (equal slope: a unit change costs the same squared error at every level). The encoder
analyses greedily, coarsest first: each level is the rounded area average of what the coarser
levels leave.
"""

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg

STRIDES = (1, 2, 4, 8, 16, 32, 64)  # pixels between grid cells, finest level first
RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR)
KEYS_A = -0.5  # the Keys cubic's free parameter (Catmull-Rom)
RENDER_THREADS = 2  # levels rendered side by side
# output values (samples x channels) from which levels are rendered on worker threads: below, the
# threads' start costs more than they save (a 1.4 s clip at 48 kHz: 44 ms of 76)
THREADED_RENDER = 1 << 20
PHASE_BATCH = 1 << 16  # output values of one upsampling computed in one go (several phases of a small level)
MACS_PER_PIXEL = 2 * 4 * 3 * len(STRIDES) + 9  # rendering work per output pixel: 4 taps x 2 axes per level and channel


@dataclass(frozen=True)
class Geometry:
    """Where a signal's samples lie and what each level of its pyramid carries."""
    height: int  # rows of samples (an audio clip: 1)
    width: int  # columns of samples (an audio clip: its samples)
    channels: tuple[int, ...]  # channels carried by each level, finest first (one per STRIDES)
    dims: int = 2  # 2: levels subsample rows and columns (images); 1: columns only (audio)

    def strides(self, k: int) -> tuple[int, int]:
        """(row, column) stride of level k, in samples."""
        return (STRIDES[k] if self.dims == 2 else 1), STRIDES[k]

    def shapes(self) -> list[tuple[int, int, int]]:
        """(rows, cols, channels) of every level, finest first."""
        return [(-(-self.height // self.strides(k)[0]), -(-self.width // self.strides(k)[1]), c)
                for k, c in enumerate(self.channels)]

    def steps(self, step: float) -> list[float]:
        """Quantization step of every level, finest first, for the global step `step`."""
        return [step / basis_norm(s) ** (self.dims / 2) for s in STRIDES]


def image_geometry(height: int, width: int, channels: int) -> Geometry:
    """The pyramid of a (height, width, channels) image, channels 1 (luma) or 3 (YCbCr)."""
    return Geometry(height, width, tuple(1 if channels == 1 or stride == 1 else 3 for stride in STRIDES))


def cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """Keys cubic weights of the taps at offsets -1, 0, 1, 2 for fractional positions t in [0, 1)."""
    a, t2, t3 = KEYS_A, t * t, t * t * t
    return [a * (t3 - 2 * t2 + t), (a + 2) * t3 - (a + 3) * t2 + 1, -(a + 2) * t3 + (2 * a + 3) * t2 - a * t,
            -a * t3 + a * t2]


def interpolate_axis(values: np.ndarray, positions: np.ndarray, axis: int) -> np.ndarray:
    """Cubic interpolation of `values` along `axis` at `positions` (in cells, cell i centred at i).

    Beyond the edges the edge cells are repeated. Elementwise arithmetic only, in a fixed order, so
    equal inputs give bit-equal outputs, whichever of the three routes below computes them.
    """
    start = np.floor(positions)
    last = values.shape[axis] - 1
    if np.all(positions == start):  # every position on a cell centre: the cells themselves
        return np.take(values, np.clip(start.astype(np.int64), 0, last), axis=axis)
    period = _period(positions)
    distinct = period or len(positions)  # positions whose weights differ
    weights = cubic_weights(positions[:distinct] - start[:distinct])
    start = start.astype(np.int64)
    if period:
        return _interpolate_periodic(values, start, weights, period, axis)
    shape = [1] * values.ndim
    shape[axis] = len(positions)
    out = None
    for offset, weight in zip(range(-1, 3), weights):
        term = np.take(values, np.clip(start + offset, 0, last), axis=axis) * weight.reshape(shape).astype(values.dtype)
        out = term if out is None else out + term
    return out


def _period(positions: np.ndarray) -> int:
    """m with positions[j + m] == positions[j] + 1 exactly for every j (an upsampling by m), or 0."""
    if len(positions) < 3:
        return 0
    period = round(1 / (positions[1] - positions[0]))
    if not 1 <= period < len(positions) or not np.array_equal(positions[period:], positions[:-period] + 1):
        return 0
    return period


def _interpolate_periodic(values: np.ndarray, start: np.ndarray, weights: list[np.ndarray], period: int,
                          axis: int) -> np.ndarray:
    """`interpolate_axis` where the taps repeat every `period` outputs one cell further on (weights:
    the first period's): output j * period + phase weighs the four edge-extended values from cell
    start[phase] + j - 1 on. Phases share at most two starts; each start's phases are the outer
    product of the shifted values and their weights."""
    count, groups = len(start), -(-len(start) // period)  # the last group's outputs past `count` are cropped
    below = max(0, 1 - int(start[0]))  # starts ascend: the first output reaches furthest back
    padding = [(0, 0)] * values.ndim
    padding[axis] = below, max(0, groups + int(start[period - 1]) + 2 - values.shape[axis])
    padded = np.pad(values, padding, mode="edge")
    out = np.empty(values.shape[:axis] + (groups, period) + values.shape[axis + 1:], values.dtype)
    by_phase = np.moveaxis(out, axis + 1, 0)  # a view: (period, ..., groups, ...)
    per_batch = max(1, PHASE_BATCH // (out.size // period))  # phases computed together
    for first in np.unique(start[:period]):
        same = np.flatnonzero(start[:period] == first)  # consecutive phases
        for phases in np.array_split(same, -(-len(same) // per_batch)):
            total = term = None
            for offset, weight in zip(range(-1, 3), weights):
                shift = first + offset + below
                shifted = padded[(slice(None),) * axis + (slice(shift, shift + groups),)]
                tap = weight[phases].astype(values.dtype).reshape((-1,) + (1,) * values.ndim)
                term = np.multiply(shifted[None], tap, out=term)
                if total is None:
                    total, term = term, None
                else:
                    total += term
            by_phase[phases[0]:phases[-1] + 1] = total
    out = out.reshape(values.shape[:axis] + (groups * period,) + values.shape[axis + 1:])
    return out[(slice(None),) * axis + (slice(0, count),)]


def cell_positions(first: int, count: int, scale: float, stride: int, origin: int = 0) -> np.ndarray:
    """Positions, in cells of a level at `stride` whose first cell starts at sample `origin`, of output
    pixels first..first+count-1 at `scale`."""
    return (np.arange(first, first + count) + 0.5) / (scale * stride) - 0.5 - origin / stride


@cache
def basis_norm(stride: int) -> float:
    """Squared L2 norm over samples of one interior cell of a level at `stride` along one axis,
    interpolated at scale 1 (the norm of a separable 2-D cell, the square of a 1-D cell's)."""
    cells = 9
    unit = np.zeros(cells)
    unit[cells // 2] = 1.0
    line = interpolate_axis(unit, cell_positions(0, cells * stride, 1.0, stride), 0)
    return float(np.sum(line**2))


def level_values(grid: np.ndarray, strides: tuple[int, int], level_step: float, scales: tuple[float, float],
                 box: tuple[int, int, int, int], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(h, w, c) float32 contribution of one integer grid at (row, column) `strides` rendered at
    (row, column) `scales` over `box` = (top, left, h, w) in output samples; the grid's first cell
    starts at sample `origin` (row, column) of the signal."""
    top, left, height, width = box
    rows = interpolate_axis(grid.astype(np.float32), cell_positions(top, height, scales[0], strides[0], origin[0]), 0)
    columns = cell_positions(left, width, scales[1], strides[1], origin[1])
    values = interpolate_axis(rows, columns, 1)
    values *= np.float32(level_step)
    return values


def render(levels, geometry: Geometry, step: float, scales: tuple[float, float],
           box: tuple[int, int, int, int], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(h, w, max(geometry.channels)) float32 field of integer grids at (row, column) `scales` over
    `box` = (top, left, h, w) in output samples; the grids' first cells start at sample `origin` (a
    region's corner in the signal, `methods.regions`).

    levels: (level index, grid) pairs in any order, for example as an entropy decoder produces them;
    each is rendered, on a worker thread, as soon as it arrives. Channels a level lacks are zero
    there (a grayscale image's chroma is zero everywhere).
    """
    out = np.zeros((box[2], box[3], max(geometry.channels)), np.float32)
    steps = geometry.steps(step)
    pending = deque()  # at most RENDER_THREADS levels' values held at once, added in arrival order

    def add_oldest():
        values = pending.popleft().result()
        out[..., :values.shape[-1]] += values

    levels = ((k, grid) for k, grid in levels if grid.any())  # an all-zero level (the finest at low rates) adds nothing
    if out.size < THREADED_RENDER:  # starting threads would cost more than they save
        for k, grid in levels:
            values = level_values(grid, geometry.strides(k), steps[k], scales, box, origin)
            out[..., :values.shape[-1]] += values
        return out
    with ThreadPoolExecutor(RENDER_THREADS) as pool:  # NumPy's loops release the GIL
        for k, grid in levels:
            pending.append(pool.submit(level_values, grid, geometry.strides(k), steps[k], scales, box, origin))
            if len(pending) > RENDER_THREADS:
                add_oldest()
        while pending:
            add_oldest()
    return out


def contributions(levels: list, geometry: Geometry, step: float, scales: tuple[float, float],
                  box: tuple[int, int, int, int], origin: tuple[int, int] = (0, 0)) -> list[np.ndarray]:
    """Every level's (h, w, c) float32 contribution over `box` (as `render`), finest first; levels:
    (level index, grid) pairs, those missing zero (all-zero grids are not interpolated, as in `render`)."""
    grids, steps = {k: grid for k, grid in levels if grid.any()}, geometry.steps(step)
    return [level_values(grids[k], geometry.strides(k), steps[k], scales, box, origin) if k in grids
            else np.zeros((box[2], box[3], c), np.float32) for k, c in enumerate(geometry.channels)]


def to_ycbcr(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 pixels as (H, W, C) float32 centred YCbCr (a grayscale image: its luma)."""
    centred = pixels.astype(np.float32) / 255.0 - 0.5
    return centred @ RGB_TO_YCBCR.T.astype(np.float32) if pixels.shape[-1] == 3 else centred


def to_rgb(ycbcr: np.ndarray, channels: int) -> np.ndarray:
    """Centred YCbCr (h, w, 3) to centred RGB (h, w, channels), float32, in place where possible."""
    if channels == 1:
        return ycbcr[..., :1]
    return ycbcr @ YCBCR_TO_RGB.T.astype(np.float32)


def area_average(values: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    """(ceil(H/r), ceil(W/s), c) means of r x s blocks of (H, W, c) values, edges extended."""
    height, width, c = values.shape
    (row_stride, col_stride), rows, cols = strides, -(-height // strides[0]), -(-width // strides[1])
    padded = np.pad(values, ((0, rows * row_stride - height), (0, cols * col_stride - width), (0, 0)), mode="edge")
    return padded.reshape(rows, row_stride, cols, col_stride, c).mean(axis=(1, 3))


@lru_cache(maxsize=64)  # sizes of recent signals' levels
def _interpolation(count: int, cells: int, stride: int) -> tuple[sparse.csr_matrix, object]:
    """The (count, cells) sparse matrix that interpolates `cells` cells at `stride` to `count` samples at
    scale 1 (edges extended, as `interpolate_axis`), and a solver of its (cells, cells) normal equations."""
    positions = cell_positions(0, count, 1.0, stride)
    start = np.floor(positions)
    weights = np.stack(cubic_weights(positions - start), axis=1)  # (count, 4 taps)
    taps = np.clip(start.astype(np.int64)[:, None] + np.arange(-1, 3), 0, cells - 1)
    matrix = sparse.csr_matrix((weights.ravel(), (np.repeat(np.arange(count), 4), taps.ravel())), (count, cells))
    return matrix, sparse_linalg.factorized((matrix.T @ matrix).tocsc())


def projection(values: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    """(ceil(H/r), ceil(W/s), c) float64 cells whose cubic interpolation at strides (r, s) comes closest
    to (H, W, c) `values` in squared error (the least squares; at stride 1 the values themselves)."""
    out = values.astype(np.float64)
    for axis, stride in enumerate(strides):
        if stride > 1:
            matrix, solve = _interpolation(out.shape[axis], -(-out.shape[axis] // stride), stride)
            moved = np.moveaxis(out, axis, 0)
            flat = solve(matrix.T @ moved.reshape(len(moved), -1))
            out = np.moveaxis(flat.reshape((-1,) + moved.shape[1:]), 0, axis)
    return out


def analyse(field: np.ndarray, geometry: Geometry, step: float, rounder=None) -> list[np.ndarray]:
    """Integer grids (int32, finest first) of a (H, W, C) float32 field at the global step `step`.

    Each level, coarsest first, is the area average of what the coarser levels leave, in its steps,
    rounded by `rounder(k, values, grids)` (grids: the list being filled, coarser levels done) or,
    without one, to the nearest integer.
    """
    residual = field.copy()
    grids = [None] * len(STRIDES)
    box = (0, 0, geometry.height, geometry.width)
    for k, (c, level_step) in reversed(list(enumerate(zip(geometry.channels, geometry.steps(step))))):
        values = area_average(residual[..., :c], geometry.strides(k)) / level_step
        grids[k] = (np.round(values) if rounder is None else rounder(k, values, grids)).astype(np.int32)
        residual[..., :c] -= level_values(grids[k], geometry.strides(k), level_step, (1.0, 1.0), box)
    return grids

