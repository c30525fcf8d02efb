"""An SDF on a lattice as integers: coded coarse to fine by interpolative prediction, read by tricubic interpolation.

The integers are q in [-bound, bound] (the SDF over a step, clipped: far from the surface every
value is the same, so far samples cost almost nothing). Coding order: the samples whose indices
are all multiples of S = 2^levels first, then for s = S/2, ..., 1 the samples at multiples of s
not yet coded, in phases by how many axes of index / s are odd (one, two, three). A sample is
predicted from samples coded before it along its odd axes (`_context`: Catmull-Rom midpoints,
averaged over the axes, rounded: the prediction p), and its integer minus p is ANS-coded under a
Laplace of
    location  a3 * offset + a5 * pull * [spread > 0]
    log scale a0 + a1 * log(1 + spread) + a2 * log2(s) + a4 * [spread = 0] + a6 * |pull|
              + a7 * [|p| >= FAR_FRACTION * bound]
offset: the unrounded estimate minus p; spread: the nearest neighbours' max minus min; pull: how
many of them sit at +bound less how many at -bound, over their count (the first samples: p = 0,
spread 2 * bound). The parameters are fitted to the grid's code length by the encoder and stored
as integers / PARAM_RESOLUTION.

Reading: the field at lattice index u (floats, per axis) is step times the Keys-cubic (Catmull-Rom)
interpolation of the integers there, edges extended.
"""

import math

import constriction
import numpy as np

from .context import laplace_bits
from .errors import InrError
from .pyramid import cubic_weights, interpolate_axis

N_PARAMS = 8  # a0, a1, a2, a4, a6, a7 of the scale model, a3, a5 of the location
PARAM_RESOLUTION = 16  # stored parameters are integers / 16
MAX_PARAM = 32.0  # largest |a| a file may store
LOG_SCALE_MIN, LOG_SCALE_MAX = -4.0, 10.0  # clip of the log scale
# a prediction this share of the bound or more is far from the surface: a scale of its own (the encoder
# keeps such samples' predictions, `quantize`)
FAR_FRACTION = 0.8
FIT_ITERATIONS = 300  # Nelder-Mead iterations of the parameter fit at most
INITIAL_PARAMS = (-2.0, 0.2, 0.6, 1.0, -1.0, 0.5, -0.5, -1.0)  # where the encoder's fit of the parameters starts


def top_stride(extent: tuple[int, ...]) -> int:
    """S: the largest power of two below the longest axis (at least 1)."""
    return 1 << max(0, (max(extent) - 1).bit_length() - 1)


def phases(extent: tuple[int, ...]) -> list[tuple[int, tuple[int, ...]]]:
    """(stride, odd axes per axis as 0/1) of every coding phase, in coding order; the first is (S, (0, 0, 0))."""
    order = sorted([(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)][1:], key=sum)
    out = [(top_stride(extent), (0, 0, 0))]
    stride = top_stride(extent) // 2
    while stride >= 1:
        out += [(stride, odd) for odd in order]
        stride //= 2
    return out


def _phase_cells(extent, stride: int, odd) -> list[np.ndarray]:
    """Per axis, the indices of a phase's samples (their outer product)."""
    step = stride if odd == (0, 0, 0) else 2 * stride
    return [np.arange(stride if o else 0, n, step) for n, o in zip(extent, odd)]


def _taps(grid: np.ndarray, axes: list[np.ndarray], axis: int, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """(values (int64), present (bool)) of the samples `shift` along `axis` from a phase's samples."""
    moved = list(axes)
    moved[axis] = axes[axis] + shift
    present = (moved[axis] >= 0) & (moved[axis] < grid.shape[axis])
    moved[axis] = np.clip(moved[axis], 0, grid.shape[axis] - 1)
    view = [1, 1, 1]
    view[axis] = -1
    shape = tuple(len(a) for a in axes)
    return grid[np.ix_(*moved)].astype(np.int64), np.broadcast_to(present.reshape(view), shape)


def _context(grid: np.ndarray, stride: int, odd,
             bound: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple]:
    """(prediction (int64), offset of the estimate from it, spread (int64), pull, cells) of a phase:
    arrays over the phase's samples (float64 but the first and third) and their index arrays
    (np.ix_), from the samples coded before it.

    Along each odd axis the estimate is the Catmull-Rom midpoint (-1, 9, 9, -1) / 16 of the samples
    at -3s, -s, +s, +3s, or the mean of those at -s and +s where a far one lies outside the lattice,
    or the one at -s at the far edge; the estimate is the mean over the odd axes, in sixteenths
    (integers, so both sides compute it exactly); the prediction is it rounded, clipped to the bound.
    Spread: the near samples' max minus min; pull: how many near samples sit at +bound less how many
    at -bound, over their count.
    """
    axes = _phase_cells(grid.shape, stride, odd)
    cells = np.ix_(*axes)
    shape = tuple(len(a) for a in axes)
    if not any(odd):
        zero = np.zeros(shape)
        return np.zeros(shape, np.int64), zero, np.full(shape, 2 * bound, np.int64), zero, cells
    sixteenths, count, pull = np.zeros(shape, np.int64), 0, np.zeros(shape, np.int64)
    high, low = np.full(shape, -(1 << 40), np.int64), np.full(shape, 1 << 40, np.int64)
    for axis in np.flatnonzero(odd):
        before, _ = _taps(grid, axes, axis, -stride)
        after, has_after = _taps(grid, axes, axis, stride)
        far_before, has_far_before = _taps(grid, axes, axis, -3 * stride)
        far_after, has_far_after = _taps(grid, axes, axis, 3 * stride)
        after = np.where(has_after, after, before)
        cubic = has_far_before & has_far_after & has_after
        sixteenths += np.where(cubic, 9 * (before + after) - far_before - far_after, 8 * (before + after))
        count += 1
        for near in (before, after):
            high, low = np.maximum(high, near), np.minimum(low, near)
            pull += (near == bound).astype(np.int64) - (near == -bound)
    prediction = np.clip((2 * sixteenths + 16 * count) // (32 * count), -bound, bound)  # cubics overshoot
    return prediction, sixteenths / (16 * count) - prediction, high - low, pull / (2 * count), cells


def laplace(params: np.ndarray, prediction: np.ndarray, offset: np.ndarray, spread: np.ndarray, pull: np.ndarray,
             stride: int, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """Laplace (locations, scales), float64, of a phase's residuals from the stored parameters."""
    a = np.asarray(params, np.float64) / PARAM_RESOLUTION
    inside = spread > 0
    log_b = (a[0] + a[1] * np.log1p(spread.astype(np.float64)) + a[2] * math.log2(stride) + a[4] * ~inside
             + a[6] * np.abs(pull) + a[7] * (np.abs(prediction) >= FAR_FRACTION * bound))
    return a[3] * offset + a[5] * pull * inside, np.exp(np.clip(log_b, LOG_SCALE_MIN, LOG_SCALE_MAX))


def quantize(values: np.ndarray, step: float, bound: int, near: float, tolerance: float) -> np.ndarray:
    """The int64 grid coding (nx, ny, nz) float values (in the SDF's units) at `step`, clipped to
    [-bound, bound], built in coding order: a sample within `near` of the surface is rounded; one
    farther keeps its prediction where that lies within `tolerance` of its value (no bits, and its
    sign is kept since tolerance < near), else is rounded. Far samples weigh little in the
    interpolated surface, and a residual of zero is the cheapest symbol."""
    exact = values / step
    grid = np.zeros(values.shape, np.int64)
    for stride, odd in phases(values.shape):
        prediction, _, _, _, cells = _context(grid, stride, odd, bound)
        target = exact[cells]
        keep = (np.abs(target) * step > near) & (np.abs(target - prediction) * step <= tolerance)
        grid[cells] = np.clip(np.where(keep, prediction, np.round(target)), -bound, bound)
    return grid


def residuals(grid: np.ndarray, bound: int) -> list[tuple]:
    """(stride, residuals, then the context: predictions, offsets, spreads, pulls) of every phase of
    a grid, flat, in coding order."""
    out = []
    for stride, odd in phases(grid.shape):
        prediction, offset, spread, pull, cells = _context(grid, stride, odd, bound)
        out.append((stride, (grid[cells] - prediction).ravel(), prediction.ravel(), offset.ravel(), spread.ravel(),
                    pull.ravel()))
    return out


def information_bits(coded, params: np.ndarray, bound: int, counts=None) -> float:
    """Ideal code length of the residuals under (unrounded) parameters, in bits (each residual
    counted counts[phase][i] times, if given)."""
    counts = counts or [1] * len(coded)
    return float(sum(np.sum(laplace_bits(np, r, *laplace(params, *context, stride, bound)) * n)
                     for (stride, r, *context), n in zip(coded, counts)))


def fit_params(coded, bound: int) -> np.ndarray:
    """(N_PARAMS,) stored parameters minimising the residuals' code length (Nelder-Mead from
    INITIAL_PARAMS), over the distinct (residual, context) of each stride with their counts."""
    from scipy.optimize import minimize

    distinct, counts = [], []
    for stride in sorted({c[0] for c in coded}):
        rows = np.concatenate([np.stack(c[1:], axis=1) for c in coded if c[0] == stride])
        unique, count = np.unique(rows, axis=0, return_counts=True)
        distinct.append((stride, *unique.T))
        counts.append(count)
    found = minimize(lambda a: information_bits(distinct, a, bound, counts),
                     np.array(INITIAL_PARAMS) * PARAM_RESOLUTION,
                     method="Nelder-Mead", options={"xatol": 0.5, "fatol": 1.0, "maxiter": FIT_ITERATIONS}).x
    limit = MAX_PARAM * PARAM_RESOLUTION
    return np.clip(np.round(np.nan_to_num(found)), -limit, limit).astype(np.int64)


def encode(grid: np.ndarray, bound: int, params: np.ndarray) -> bytes:
    """ANS-code an int grid of values in [-bound, bound] under the parameters."""
    family = constriction.stream.model.QuantizedLaplace(-2 * bound, 2 * bound)
    coder = constriction.stream.stack.AnsCoder()
    for stride, residual, *context in reversed(residuals(grid, bound)):
        coder.encode_reverse(residual.astype(np.int32), family, *laplace(params, *context, stride, bound))
    return coder.get_compressed().tobytes()


def decode(data: bytes, extent: tuple[int, int, int], bound: int, params: np.ndarray) -> np.ndarray:
    """Inverse of `encode`: the int32 grid of `extent`; the payload must be used up exactly and every
    value must lie in [-bound, bound]."""
    if len(data) % 4:
        raise InrError("corrupt file: entropy-coded payload is not a whole number of words")
    grid = np.zeros(extent, np.int32)
    family = constriction.stream.model.QuantizedLaplace(-2 * bound, 2 * bound)
    try:
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, np.uint32).copy())
        for stride, odd in phases(extent):
            *context, cells = _context(grid, stride, odd, bound)
            prediction = context[0]
            residual = coder.decode(family, *laplace(params, *[c.ravel() for c in context], stride, bound))
            values = prediction + residual.reshape(prediction.shape)
            if np.any(np.abs(values) > bound):
                raise InrError(f"corrupt file: an SDF value outside [-{bound}, {bound}]")
            grid[cells] = values
    except (ValueError, RuntimeError, AssertionError) as err:
        raise InrError(f"corrupt file: entropy decoding failed ({err})") from None
    if not coder.is_empty():
        raise InrError("corrupt file: the payload holds more data than its grid uses")
    return grid


def render(grid: np.ndarray, step: float, positions: list[np.ndarray]) -> np.ndarray:
    """(len(p0), len(p1), len(p2)) float32 field on the outer product of per-axis lattice positions."""
    values = grid.astype(np.float32)
    for axis, position in enumerate(positions):
        values = interpolate_axis(values, position, axis)
    return values * np.float32(step)


def evaluate(grid: np.ndarray, step: float, index: np.ndarray) -> np.ndarray:
    """(N,) float64 field at (N, 3) lattice indices (floats; edges extended beyond the lattice)."""
    start = np.floor(index)
    weights = [np.stack(cubic_weights(index[:, a] - start[:, a]), axis=1) for a in range(3)]  # (N, 4) per axis
    start = start.astype(np.int64)
    total = np.zeros(len(index))
    for i in range(4):
        for j in range(4):
            for k in range(4):
                taps = [np.clip(start[:, a] + o - 1, 0, grid.shape[a] - 1) for a, o in enumerate((i, j, k))]
                total += grid[tuple(taps)] * weights[0][:, i] * weights[1][:, j] * weights[2][:, k]
    return total * step
