"""An SDF on a lattice as integers: coded coarse to fine by interpolative prediction, read by tricubic interpolation.

The integers are q = clip(round(sdf / step), -bound, bound): beyond `bound` steps from the surface
every value is the same, so far samples cost almost nothing. Coding order: the samples whose
indices are all multiples of S = 2^levels first, then for s = S/2, ..., 1 the samples at multiples
of s not yet coded, in phases by how many axes of index / s are odd (one, two, three). A sample is
predicted by the rounded mean m of its neighbours +-s along its odd axes (each coded before it;
those outside the lattice left out), and its integer minus the prediction is ANS-coded under a
Laplace of location a3 * (m - round(m)) and log scale a0 + a1 * log(1 + spread) + a2 * log2(s)
+ a4 * [spread = 0], spread: the neighbours' max minus min (the first samples: m = 0, spread
2 * bound). Far from the surface every neighbour is +-bound: spread 0, a small scale, and almost no
bits (a4 lets the few samples pulled off the clip between equal neighbours cost a few bits, not
tens). The parameters are fitted to the grid's code length and stored as integers / PARAM_RESOLUTION.

Reading: the field at lattice index u (floats, per axis) is step times the Keys-cubic (Catmull-Rom)
interpolation of the integers there, edges extended.
"""

import math

import constriction
import numpy as np

from .context import laplace_bits
from .errors import InrError
from .pyramid import cubic_weights, interpolate_axis

N_PARAMS = 5  # a0, a1, a2, a4 of the scale model, a3 of the location
PARAM_RESOLUTION = 16  # stored parameters are integers / 16
MAX_PARAM = 32.0  # largest |a| a file may store
LOG_SCALE_MIN, LOG_SCALE_MAX = -4.0, 10.0  # clip of the log scale
INITIAL_PARAMS = (-2.0, 0.5, 0.5, 1.0, -1.0)  # where the encoder's fit of the parameters starts


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


def _context(grid: np.ndarray, stride: int, odd, bound: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """(prediction (int64), offset of the mean from it (float64), spread (int64), cells) of a phase:
    arrays over the phase's samples and their index arrays (np.ix_), from the samples coded before it."""
    axes = _phase_cells(grid.shape, stride, odd)
    cells = np.ix_(*axes)
    shape = tuple(len(a) for a in axes)
    if not any(odd):
        return np.zeros(shape, np.int64), np.zeros(shape), np.full(shape, 2 * bound, np.int64), cells
    total, count = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    high, low = np.full(shape, -(1 << 40), np.int64), np.full(shape, 1 << 40, np.int64)
    for axis in np.flatnonzero(odd):
        for shift in (-stride, stride):
            moved = list(axes)
            moved[axis] = axes[axis] + shift
            present = moved[axis] < grid.shape[axis]
            moved[axis] = np.minimum(moved[axis], grid.shape[axis] - 1)
            values = grid[np.ix_(*moved)].astype(np.int64)
            view = [1, 1, 1]
            view[axis] = -1
            present = np.broadcast_to(present.reshape(view), shape)
            total += np.where(present, values, 0)
            count += present
            high = np.where(present, np.maximum(high, values), high)
            low = np.where(present, np.minimum(low, values), low)
    prediction = (2 * total + count) // (2 * count)
    return prediction, (total - prediction * count) / count, high - low, cells


def _laplace(params: np.ndarray, offset: np.ndarray, spread: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Laplace (locations, scales), float64, of a phase's residuals from the stored parameters."""
    a = np.asarray(params, np.float64) / PARAM_RESOLUTION
    log_b = a[0] + a[1] * np.log1p(spread.astype(np.float64)) + a[2] * math.log2(stride) + a[4] * (spread == 0)
    return a[3] * offset, np.exp(np.clip(log_b, LOG_SCALE_MIN, LOG_SCALE_MAX))


def residuals(grid: np.ndarray, bound: int) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(stride, residuals, offsets, spreads) of every phase of a grid, flat, in coding order."""
    out = []
    for stride, odd in phases(grid.shape):
        prediction, offset, spread, cells = _context(grid, stride, odd, bound)
        out.append((stride, (grid[cells] - prediction).ravel(), offset.ravel(), spread.ravel()))
    return out


def information_bits(coded, params: np.ndarray, counts=None) -> float:
    """Ideal code length of the residuals under (unrounded) parameters, in bits (each residual
    counted counts[phase][i] times, if given)."""
    counts = counts or [1] * len(coded)
    return float(sum(np.sum(laplace_bits(np, r, *_laplace(params, o, s, stride)) * n)
                     for (stride, r, o, s), n in zip(coded, counts)))


def fit_params(coded) -> np.ndarray:
    """(N_PARAMS,) stored parameters minimising the residuals' code length (Nelder-Mead from
    INITIAL_PARAMS), over the distinct (residual, offset, spread) of each stride with their counts."""
    from scipy.optimize import minimize

    distinct, counts = [], []
    for stride in sorted({c[0] for c in coded}):
        rows = np.concatenate([np.stack([r, o, s], axis=1) for c, r, o, s in coded if c == stride])
        unique, count = np.unique(rows, axis=0, return_counts=True)
        distinct.append((stride, unique[:, 0], unique[:, 1], unique[:, 2]))
        counts.append(count)
    found = minimize(lambda a: information_bits(distinct, a, counts), np.array(INITIAL_PARAMS) * PARAM_RESOLUTION,
                     method="Nelder-Mead", options={"xatol": 0.5, "fatol": 1.0, "maxiter": 400}).x
    limit = MAX_PARAM * PARAM_RESOLUTION
    return np.clip(np.round(np.nan_to_num(found)), -limit, limit).astype(np.int64)


def encode(grid: np.ndarray, bound: int, params: np.ndarray) -> bytes:
    """ANS-code an int grid of values in [-bound, bound] under the parameters."""
    family = constriction.stream.model.QuantizedLaplace(-2 * bound, 2 * bound)
    coder = constriction.stream.stack.AnsCoder()
    for stride, residual, offset, spread in reversed(residuals(grid, bound)):
        coder.encode_reverse(residual.astype(np.int32), family, *_laplace(params, offset, spread, stride))
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
            prediction, offset, spread, cells = _context(grid, stride, odd, bound)
            residual = coder.decode(family, *_laplace(params, offset.ravel(), spread.ravel(), stride))
            values = prediction + residual.reshape(prediction.shape)
            if np.abs(values).max() > bound:
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
