"""A pyramid of latent grids: the image as a sum of cubic-interpolated integer grids at strides 1..64.

Level k is a (ceil(H / s), ceil(W / s), c) grid of integers at stride s = STRIDES[k]; cell (i, j)
sits at the centre of the s x s block of pixels it covers. The image, in centred YCbCr, is at any
point (y, x) in pixels the sum over levels of step_k times the level's Keys-cubic interpolation
there (edges extended), then converted to RGB: a continuous function of the coordinates, so it
renders at any scale. Colour images carry luma alone at full resolution and YCbCr at the coarser
levels; grayscale images carry luma at every level.

Every level's step is the one global step G over the L2 norm of one interpolated cell at its stride
(equal slope: a unit change costs the same squared error at every level). The encoder analyses
greedily, coarsest first: each level is the rounded area average of what the coarser levels leave.
"""

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

STRIDES = (1, 2, 4, 8, 16, 32, 64)  # pixels between grid cells, finest level first
RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR)
KEYS_A = -0.5  # the Keys cubic's free parameter (Catmull-Rom)
RENDER_THREADS = 2  # levels rendered side by side
MACS_PER_PIXEL = 2 * 4 * 3 * len(STRIDES) + 9  # rendering work per output pixel: 4 taps x 2 axes per level and channel


def level_channels(channels: int) -> tuple[int, ...]:
    """Channels carried per level, finest first, for an image of `channels` (1 or 3)."""
    return tuple(1 if channels == 1 or stride == 1 else 3 for stride in STRIDES)


def grid_shapes(height: int, width: int, channels: int) -> list[tuple[int, int, int]]:
    """(rows, cols, channels) of every level, finest first."""
    return [(-(-height // s), -(-width // s), c) for s, c in zip(STRIDES, level_channels(channels))]


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
    weights = cubic_weights(positions - start)
    start = start.astype(np.int64)
    period = _period(positions)
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
    """`interpolate_axis` where the taps repeat every `period` outputs one cell further on: each of
    the period's phases is a weighted sum of four shifted slices of the edge-extended values."""
    below, above = max(0, 1 - int(start.min())), max(0, int(start.max()) + 2 - (values.shape[axis] - 1))
    padding = [(0, 0)] * values.ndim
    padding[axis] = (below, above)
    padded = np.pad(values, padding, mode="edge")
    count = len(start)
    out = np.empty(values.shape[:axis] + (count,) + values.shape[axis + 1:], values.dtype)
    for phase in range(period):
        outputs = len(range(phase, count, period))
        total = None
        for offset, weight in zip(range(-1, 3), weights):
            first = start[phase] + offset + below
            term = padded[(slice(None),) * axis + (slice(first, first + outputs),)] * values.dtype.type(weight[phase])
            total = term if total is None else total + term
        out[(slice(None),) * axis + (slice(phase, None, period),)] = total
    return out


def cell_positions(first: int, count: int, scale: float, stride: int) -> np.ndarray:
    """Positions, in cells of a level at `stride`, of output pixels first..first+count-1 at `scale`."""
    return (np.arange(first, first + count) + 0.5) / (scale * stride) - 0.5


def basis_norm(stride: int) -> float:
    """L2 norm over pixels of one interior cell of a level at `stride`, interpolated at scale 1."""
    cells = 9
    unit = np.zeros(cells)
    unit[cells // 2] = 1.0
    line = interpolate_axis(unit, cell_positions(0, cells * stride, 1.0, stride), 0)
    return float(np.sum(line**2))  # squared norm along one axis = norm of the separable 2-D cell


def level_steps(step: float) -> list[float]:
    """Quantization step of every level, finest first, for the global step `step`."""
    return [step / basis_norm(s) for s in STRIDES]


def level_values(grid: np.ndarray, stride: int, level_step: float, scale: float,
                 box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, c) float32 contribution of one integer grid at `stride` rendered at `scale` over `box`.

    box: (top, left, h, w) in output pixels.
    """
    top, left, height, width = box
    rows = interpolate_axis(grid.astype(np.float32), cell_positions(top, height, scale, stride), 0)
    return interpolate_axis(rows, cell_positions(left, width, scale, stride), 1) * np.float32(level_step)


def render_ycbcr(levels, step: float, scale: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, 3) float32 centred YCbCr of integer grids at `scale` over `box`.

    levels: (level index, grid) pairs in any order, for example as an entropy decoder produces them;
    each is rendered, on a worker thread, as soon as it arrives. Channels a level lacks are zero
    (a grayscale image's chroma is zero everywhere).
    """
    out = np.zeros((box[2], box[3], 3), np.float32)
    steps = level_steps(step)
    pending = deque()  # at most RENDER_THREADS levels' values held at once, added in arrival order

    def add_oldest():
        values = pending.popleft().result()
        out[..., :values.shape[-1]] += values

    with ThreadPoolExecutor(RENDER_THREADS) as pool:  # NumPy's loops release the GIL
        for k, grid in levels:
            pending.append(pool.submit(level_values, grid, STRIDES[k], steps[k], scale, box))
            if len(pending) > RENDER_THREADS:
                add_oldest()
        while pending:
            add_oldest()
    return out


def to_ycbcr(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 pixels as (H, W, C) float32 centred YCbCr (a grayscale image: its luma)."""
    centred = pixels.astype(np.float32) / 255.0 - 0.5
    return centred @ RGB_TO_YCBCR.T.astype(np.float32) if pixels.shape[-1] == 3 else centred


def to_rgb(ycbcr: np.ndarray, channels: int) -> np.ndarray:
    """Centred YCbCr (h, w, 3) to centred RGB (h, w, channels), float32, in place where possible."""
    if channels == 1:
        return ycbcr[..., :1]
    return ycbcr @ YCBCR_TO_RGB.T.astype(np.float32)


def area_average(values: np.ndarray, stride: int) -> np.ndarray:
    """(ceil(H/s), ceil(W/s), c) means of s x s blocks of (H, W, c) values, edges extended."""
    height, width, c = values.shape
    rows, cols = -(-height // stride), -(-width // stride)
    padded = np.pad(values, ((0, rows * stride - height), (0, cols * stride - width), (0, 0)), mode="edge")
    return padded.reshape(rows, stride, cols, stride, c).mean(axis=(1, 3))


def analyse(pixels: np.ndarray, step: float, rounder=None) -> list[np.ndarray]:
    """Integer grids (int32, finest first) of (H, W, C) uint8 pixels at the global step `step`.

    Each level, coarsest first, is the area average of what the coarser levels leave, in its steps,
    rounded by `rounder(k, values, grids)` (grids: the list being filled, coarser levels done) or,
    without one, to the nearest integer.
    """
    height, width, channels = pixels.shape
    residual = to_ycbcr(pixels)
    grids = [None] * len(STRIDES)
    for k, (stride, c, level_step) in reversed(list(enumerate(zip(STRIDES, level_channels(channels),
                                                                   level_steps(step))))):
        values = area_average(residual[..., :c], stride) / level_step
        grids[k] = (np.round(values) if rounder is None else rounder(k, values, grids)).astype(np.int32)
        residual[..., :c] -= level_values(grids[k], stride, level_step, 1.0, (0, 0, height, width))
    return grids


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
