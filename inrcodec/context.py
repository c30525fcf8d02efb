"""The context entropy model of latent pyramids: a Laplace per integer, predicted from decoded context.

Levels are coded coarsest first, channels in order, each grid channel (a plane) in three phases:
the cells at (even row, even col), then (odd, odd), then the rest. Every integer y of phase f gets
a quantized Laplace(mu, b) from the six numbers a = a[f]:

    log b = a0 + a1 * log(1 + |p|) + a2 * log(1 + p_abs) + a3 * log(1 + n_abs)
    mu    = a4 * n_mean + a5 * p

where p is the parent level's same channel cubic-interpolated to this cell and p_abs the mean
magnitude of the parent's 3 x 3 cells around, interpolated likewise (both 0 at the coarsest level
or where the parent lacks the channel); n_mean and n_abs are the mean and mean magnitude of the
already-decoded cells among the cell's 8 neighbours (the diagonal ones in phase 1, the 4 nearest in
phase 2, none in phase 0, whose a3 and a4 are therefore 0 and not stored). The encoder fits each
plane's numbers to the grids' code length and stores them as multiples of 1 / PARAM_RESOLUTION;
both sides compute every mu and b from the stored numbers and the integers in float64 NumPy with
the same elementwise operations. log b is clipped to [LOG_SCALE_MIN, LOG_SCALE_MAX].

Most integers of the finer levels are 0 at low rates, so a phase's cells, in coding order, are cut
into runs of RUN cells, and only the runs declared active are coded: the phase first codes whether
all its runs are (one bit) and, if not and it has several, how many are (uniform over 0..runs - 1),
then, unless that is none, a flag per run (Bernoulli, p = active / runs), then the integers of the
active runs. The encoder declares active the runs holding a nonzero integer, or all runs where the
flags would cost more than the zeros they spare (a busy level, whose zeros the context already
predicts). The decoder computes mu and b only at the active runs' cells, so a mostly-zero level
costs little time to decode.
"""

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import constriction
import numpy as np

from .errors import InrError
from .pyramid import cell_positions, cubic_weights, interpolate_axis

PHASES = 3  # coding phases of a plane
PHASE_PARAMS = 6  # a0..a5 per phase
STORED = [(0, 1, 2, 5), tuple(range(PHASE_PARAMS)), tuple(range(PHASE_PARAMS))]  # which a each phase stores
N_PARAMS = sum(len(kept) for kept in STORED)  # stored parameters per plane
PARAM_RESOLUTION = 16  # stored parameters are integers / 16
MAX_PARAM = 16.0  # largest |a| a file may store
LOG_SCALE_MIN, LOG_SCALE_MAX = -3.0, 8.0  # clip of log b
PHASE_LATTICES = [((0, 0),), ((1, 1),), ((0, 1), (1, 0))]  # (row, col) parities of each phase's cells
DIAGONAL, NEAREST = ((-1, -1), (-1, 1), (1, -1), (1, 1)), ((-1, 0), (0, -1), (0, 1), (1, 0))
PHASE_NEIGHBOURS = [(), DIAGONAL, NEAREST]  # offsets of each phase's neighbours decoded before it (all earlier phases)
# (2, 4) taps of even cells (3/4 past a parent cell), odd (1/4)
PARENT_WEIGHTS = np.stack(cubic_weights(np.array([0.75, 0.25])), axis=1)
RUN = 64  # cells of a phase, consecutive in coding order, flagged together as holding a nonzero integer or not
IDLE_RUN_BITS = 0.5  # bits the encoder would pay to skip an idle run rather than code its zeros (decoding time)


def parent_sources(parent: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """(2, rows, cols) float64 parent values and their mean magnitude over each parent cell's 3 x 3
    neighbourhood (edges extended), at the parent's resolution; zeros of a level's `shape` where there
    is no parent."""
    if parent is None:
        return np.zeros((2, *shape))
    rows, cols = parent.shape
    padded = np.pad(np.abs(parent.astype(np.float64)), 1, mode="edge")
    columns = padded[:-2] + padded[1:-1] + padded[2:]  # sums of integers: exact, so the 3 x 3 sum may be separable
    activity = (columns[:, :-2] + columns[:, 1:-1] + columns[:, 2:]) / 9.0
    return np.stack([parent.astype(np.float64), activity])


def parent_context(parent: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """(2, rows, cols) float64 p and p_abs of every cell of a level of `shape` from its parent plane
    (half resolution): the encoder's whole-plane route to what `cell_features` gives at chosen cells
    (equal up to rounding)."""
    out = []
    for values in parent_sources(parent, shape):
        if parent is not None:
            values = interpolate_axis(values, cell_positions(0, shape[0], 2.0, 1), 0)
            values = interpolate_axis(values, cell_positions(0, shape[1], 2.0, 1), 1)
        out.append(values)
    out[1] = np.maximum(out[1], 0.0)  # the cubic's overshoot must not make a magnitude negative
    return np.stack(out)


def unpack_params(stored: np.ndarray) -> np.ndarray:
    """(PHASES, PHASE_PARAMS) float parameters of a plane from its (N_PARAMS,) stored integers."""
    full = np.zeros((PHASES, PHASE_PARAMS))
    values = iter(np.asarray(stored, np.float64) / PARAM_RESOLUTION)
    for phase, kept in enumerate(STORED):
        for index in kept:
            full[phase, index] = next(values)
    return full


def coded_phases(shape: tuple[int, int]) -> list[int]:
    """The phases that have cells in a plane of `shape` (a one-row plane has none of phase 1)."""
    return [phase for phase, lattices in enumerate(PHASE_LATTICES)
            if any(row < shape[0] and col < shape[1] for row, col in lattices)]


def phase_of(shape: tuple[int, int]) -> np.ndarray:
    """(rows, cols) int: the coding phase of every cell (0, 1 or 2)."""
    rows, cols = np.arange(shape[0])[:, None] % 2, np.arange(shape[1])[None] % 2
    return np.where(rows == cols, rows, 2)


def laplace(xp, a, features):
    """(mu, b) of cells from their phase's parameters a (..., 6) and `phase_features` (5, ...)."""
    log_b = a[..., 0] + a[..., 1] * features[0] + a[..., 2] * features[1] + a[..., 3] * features[2]
    return a[..., 4] * features[3] + a[..., 5] * features[4], xp.exp(xp.clip(log_b, LOG_SCALE_MIN, LOG_SCALE_MAX))


def phase_features(plane: np.ndarray, parent: np.ndarray, phase: int) -> np.ndarray:
    """(5, n) float64 features of the n cells of `phase` in row-major order: log(1 + |p|),
    log(1 + p_abs), log(1 + n_abs), n_mean, p.

    plane: (rows, cols) integers, only its cells of earlier phases are read; parent: (2, rows, cols)
    from `parent_context`. Each of the phase's lattices (cells 2 apart) is summed over its decoded
    neighbours by strided slices.
    """
    height, width = plane.shape
    pad = 1 if height > 1 else 0  # one row (audio): no rows above or below to pad, nor neighbours there
    values = np.pad(plane.astype(np.float64), ((pad, pad), (1, 1)))
    # in the plane, value, magnitude
    sources = (np.pad(np.ones((height, width)), ((pad, pad), (1, 1))), values, np.abs(values))
    lattices = []
    for row, col in PHASE_LATTICES[phase]:
        if row >= height:
            continue
        p, p_abs = parent[:, row::2, col::2]
        count, total, magnitude = (np.zeros(p.shape),) * 3
        for dy, dx in PHASE_NEIGHBOURS[phase]:  # sums of integers: exact in any order
            if pad or dy == 0:
                cells = (slice(pad + row + dy, pad + dy + height, 2), slice(1 + col + dx, 1 + dx + width, 2))
                count, total, magnitude = (s + source[cells] for s, source in zip((count, total, magnitude), sources))
        count = np.maximum(count, 1.0)
        lattices.append(np.stack([np.log1p(np.abs(p)), np.log1p(p_abs), np.log1p(magnitude / count), total / count, p]))
    if len(lattices) < 2:
        return lattices[0].reshape(5, -1) if lattices else np.zeros((5, 0))
    first, second = lattices  # rows alternate between the two lattices, the first's first
    rows = second.shape[1]
    paired = np.concatenate([first[:, :rows], second], axis=2).reshape(5, -1)
    return np.concatenate([paired, first[:, rows:].reshape(5, -1)], axis=1)


def phase_laplace(plane: np.ndarray, parent: np.ndarray, phase: int,
                  params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 (mu, b) of the cells of `phase` (as for `phase_features`); params: the plane's
    (N_PARAMS,) stored integers."""
    return laplace(np, unpack_params(params)[phase], phase_features(plane, parent, phase))


@lru_cache(maxsize=32)
def phase_cells(shape: tuple[int, int], phase: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) int indices of the cells of `phase` in a plane of `shape`, in coding order
    (row-major); read-only, as they are cached."""
    cells = np.nonzero(phase_of(shape) == phase)
    for index in cells:
        index.flags.writeable = False
    return cells


def phase_runs(shape: tuple[int, int], phase: int) -> int:
    """How many runs of RUN cells the cells of `phase` in a plane of `shape` make."""
    return -(-len(phase_cells(shape, phase)[0]) // RUN)


def _axis_taps(index: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, taps) parent indices and cubic weights of cells `index` along an axis whose parent has
    `size` cells: cell i sits at parent position i / 2 - 1/4 (4 taps, edges extended), or on the
    parent's only cell (1 tap of weight 1)."""
    if size == 1:
        return np.zeros((len(index), 1), np.int64), np.ones((len(index), 1))
    taps = (index[:, None] - 1) // 2 + np.arange(-1, 3)
    return np.minimum(np.maximum(taps, 0), size - 1), PARENT_WEIGHTS[index % 2]


def cell_parent(sources: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(2, n) float64 p and p_abs of the n cells (rows, cols) of a plane whose `parent_sources` are
    `sources`, computed at those cells alone (as `parent_context` gives for the whole plane)."""
    row_taps, row_weights = _axis_taps(rows, sources.shape[1])
    col_taps, col_weights = _axis_taps(cols, sources.shape[2])
    flat, parent = sources.reshape(2, -1), 0.0
    for a in range(row_taps.shape[1]):
        taps = row_taps[:, a:a + 1] * sources.shape[2] + col_taps if sources.shape[1] > 1 else col_taps
        line = sum(np.take(flat, taps[:, b], axis=1) * col_weights[:, b] for b in range(col_taps.shape[1]))
        parent = parent + line * row_weights[:, a]
    return np.stack([parent[0], np.maximum(parent[1], 0.0)])


def cell_features(plane: np.ndarray, sources: np.ndarray, phase: int, rows: np.ndarray,
                  cols: np.ndarray) -> np.ndarray:
    """(5, n) float64 `phase_features` of the n cells (rows, cols) of `phase`, computed at those cells
    alone; sources: the plane's `parent_sources`. Both coder sides use this route."""
    p, p_abs = cell_parent(sources, rows, cols)
    height, width = plane.shape
    values, count, total, magnitude = plane.ravel(), *(np.zeros(len(rows)),) * 3
    for dy, dx in PHASE_NEIGHBOURS[phase]:  # sums of integers: exact in any order
        if (dy and height == 1) or (dx and width == 1):
            continue  # no cell of the plane there
        row, col = rows + dy, cols + dx
        inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
        value = np.where(inside, values[np.where(inside, row * width + col, 0)], 0).astype(np.float64)
        count, total, magnitude = count + inside, total + value, magnitude + np.abs(value)
    count = np.maximum(count, 1.0)
    return np.stack([np.log1p(np.abs(p)), np.log1p(p_abs), np.log1p(magnitude / count), total / count, p])


def active_runs(values: np.ndarray) -> np.ndarray:
    """(ceil(n / RUN),) bool: which runs of a phase's n integers (in coding order) hold a nonzero one."""
    padded = np.zeros(-(-len(values) // RUN) * RUN, bool)
    padded[:len(values)] = values != 0
    return padded.reshape(-1, RUN).any(axis=1)


def run_cells(active: np.ndarray, cells: int) -> np.ndarray:
    """(cells,) bool: which of a phase's cells lie in its `active` runs."""
    return np.repeat(active, RUN)[:cells]


def coded_runs(symbols: np.ndarray, mu: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(runs,) bool: the runs of a phase's integers (coding order) the encoder declares active: those
    holding a nonzero integer, or all of them where the flags cost more than the zeros they spare
    under Laplaces (mu, b), plus IDLE_RUN_BITS an idle run."""
    active = active_runs(symbols)
    if active.all() or not active.any():
        return active
    share = active.mean()
    flags = -len(active) * (share * math.log2(share) + (1 - share) * math.log2(1 - share))
    idle = ~run_cells(active, len(symbols))
    spared = laplace_bits(np, symbols[idle], mu[idle], b[idle]).sum() + IDLE_RUN_BITS * (len(active) - active.sum())
    return active if flags < spared else np.ones_like(active)


class PlaneParent:
    """A plane being coded and its parent's context, by both routes: `whole` (`parent_context`) for a
    phase coding every cell, `sources` (for `cell_parent`) for the cells of some runs. The entropy
    models' plane objects (`PlaneContext`, `context_net.PlaneNetwork`) build on it."""

    def __init__(self, plane: np.ndarray, parent: np.ndarray | None):
        self.plane, self.parent = plane, parent  # plane: (rows, cols) integers, filled phase by phase

    @cached_property
    def whole(self) -> np.ndarray:
        return parent_context(self.parent, self.plane.shape)

    @cached_property
    def sources(self) -> np.ndarray:
        return parent_sources(self.parent, self.plane.shape)


class PlaneContext(PlaneParent):
    """Where both coder sides get the Laplaces of a plane's cells under its fitted parameters, phase
    by phase: a phase of a plane of several rows coding every cell takes them from the whole-plane
    route (`phase_laplace`, separable), any other phase from `cell_features` at the cells of its
    active runs (cheaper where few are, and on one row)."""

    def __init__(self, plane: np.ndarray, parent: np.ndarray | None, params: np.ndarray):
        super().__init__(plane, parent)
        self.params = params  # the plane's (N_PARAMS,) stored integers

    def laplace(self, phase: int, active: np.ndarray) -> tuple[np.ndarray, ...]:
        """(rows, cols, mu, b) of the cells of `phase` in `active` runs, in coding order."""
        rows, cols = phase_cells(self.plane.shape, phase)
        if active.all() and self.plane.shape[0] > 1:
            return rows, cols, *phase_laplace(self.plane, self.whole, phase, self.params)
        cells = run_cells(active, len(rows))
        rows, cols = rows[cells], cols[cells]
        return rows, cols, *laplace(np, unpack_params(self.params)[phase],
                                    cell_features(self.plane, self.sources, phase, rows, cols))


@dataclass(frozen=True)
class Fitted:
    """The entropy model of a `pyramid` file: fitted parameters per grid channel. An entropy model
    is anything whose `plane` gives, for channel c of level k of grids being coded or decoded (the
    index-th plane in coding order), an object whose `laplace(phase, active)` is `PlaneContext`'s."""
    params: np.ndarray  # (planes in coding order, N_PARAMS) stored integers

    def plane(self, grids: list[np.ndarray], k: int, c: int, index: int) -> PlaneContext:
        return PlaneContext(grids[k][..., c], parent_plane(grids, k, c), self.params[index])


def laplace_bits(xp, y, mu, b):
    """Ideal bits of integers y under a Laplace(mu, b) integrated over [y - 1/2, y + 1/2] (xp: numpy or jax.numpy)."""
    d = xp.abs(y - mu)
    far, near = xp.maximum(d, 0.5), xp.minimum(d, 0.5)
    log_far = -(far - 0.5) / b + xp.log(-xp.expm1(-1.0 / b)) + math.log(0.5)
    log_near = xp.log(xp.maximum(1 - 0.5 * xp.exp(-(0.5 - near) / b) - 0.5 * xp.exp(-(0.5 + near) / b), 1e-12))
    return -xp.maximum(xp.where(d >= 0.5, log_far, log_near), math.log(1e-9)) / math.log(2)


def parent_plane(grids: list, k: int, c: int) -> np.ndarray | None:
    """Channel c of the level above level k (its parent), or None at the coarsest level or where
    that level lacks the channel. Only grids[k + 1] is read: finer levels may still be missing."""
    return grids[k + 1][..., c] if k + 1 < len(grids) and c < grids[k + 1].shape[-1] else None


def plane_order(grids: list[np.ndarray]) -> list[tuple[int, int]]:
    """(level, channel) of every grid channel, in coding order (coarsest level first)."""
    return [(k, c) for k in reversed(range(len(grids))) for c in range(grids[k].shape[-1])]


def channel_planes(grids: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(plane, its `parent_plane`) of every grid channel, in coding order (coarsest level first)."""
    return [(grids[k][..., c], parent_plane(grids, k, c)) for k, c in plane_order(grids)]


def encode(grids: list[np.ndarray], model, bounds: list[int]) -> bytes:
    """ANS-code the grids' integers under an entropy model (`Fitted`'s kind); bounds: max |value| per plane."""
    coded = []  # (symbols, model, model parameters...) in decoding order
    for index, ((k, c), bound) in enumerate(zip(plane_order(grids), bounds)):
        if bound == 0:
            continue
        context, family = model.plane(grids, k, c, index), constriction.stream.model.QuantizedLaplace(-bound, bound)
        plane = context.plane
        for phase in coded_phases(plane.shape):
            runs = phase_runs(plane.shape, phase)
            rows, cols, mu, b = context.laplace(phase, np.ones(runs, bool))
            active = coded_runs(plane[rows, cols], mu, b)
            count = int(active.sum())
            coded.append((np.array([count == runs], np.int32), constriction.stream.model.Uniform(2)))
            if count < runs > 1:  # one run: not all active is none
                coded.append((np.array([count], np.int32), constriction.stream.model.Uniform(runs)))
            if 0 < count < runs:
                coded.append((active.astype(np.int32),
                              constriction.stream.model.Bernoulli(count / runs, perfect=False)))
            if count < runs:
                rows, cols, mu, b = context.laplace(phase, active)
            if count:
                coded.append((plane[rows, cols].astype(np.int32), family, mu, b))
    coder = constriction.stream.stack.AnsCoder()
    for symbols, *model in reversed(coded):
        coder.encode_reverse(symbols, *model)
    return coder.get_compressed().tobytes()


def decode(data: bytes, shapes: list[tuple[int, int, int]], model, bounds: list[int]):
    """Inverse of `encode`: yields (level index, int32 grid of shapes[k]) coarsest first, each as soon
    as it is decoded. The payload must be used up exactly."""
    if len(data) % 4:
        raise InrError("corrupt file: entropy-coded payload is not a whole number of words")
    grids = [np.zeros(s, np.int32) for s in shapes]
    planes = iter(enumerate(bounds))
    try:
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, np.uint32).copy())
        for k in reversed(range(len(shapes))):
            for c in range(shapes[k][-1]):
                index, bound = next(planes)
                if bound == 0:
                    continue
                context = model.plane(grids, k, c, index)
                family = constriction.stream.model.QuantizedLaplace(-bound, bound)
                for phase in coded_phases(context.plane.shape):
                    runs = phase_runs(context.plane.shape, phase)
                    every = coder.decode(constriction.stream.model.Uniform(2), 1)[0]
                    count = (runs if every else 0 if runs == 1 else
                             int(coder.decode(constriction.stream.model.Uniform(runs), 1)[0]))
                    active = (coder.decode(constriction.stream.model.Bernoulli(count / runs, perfect=False),
                                           runs).astype(bool)
                              if 0 < count < runs else np.full(runs, count == runs))
                    if count:
                        rows, cols, mu, b = context.laplace(phase, active)
                        context.plane[rows, cols] = coder.decode(family, mu, b)
            if k == 0 and not coder.is_empty():
                raise InrError("corrupt file: the payload holds more data than its grids use")
            yield k, grids[k]
    except (ValueError, RuntimeError, AssertionError) as err:
        raise InrError(f"corrupt file: entropy decoding failed ({err})") from None
