"""The shipped context network: one small MLP, trained once on photos, that gives every integer of an
image's latent grids its Laplace from what a decoder already has. It is the `network` method's
entropy model, in place of the 16 numbers per grid channel that `pyramid` fits and stores (`context`).

Coding order, phases and runs are `context`'s. A cell of channel c of level k in phase f gets
FEATURES numbers:

    one-hots of f (3), k (LEVELS) and c (CHANNELS);
    slog(p), log(1 + p_abs), p, p_abs: the parent's value and activity at the cell (`context.cell_parent`);
    slog of the plane's cells of earlier phases nearest to it in a 7 x 7 window (`NEIGHBOURS`, 0 outside);
    for chroma, slog of its level's luma over the 3 x 3 around it and, for Cr, of Cb at it (else 0);

with slog(v) = sign(v) log(1 + |v|) (integers' from a table, clipped to +-SLOG_LIMIT). They are rounded
to the fixed point of `fixed` and the network (`LAYERS`, ReLU between them, in fixed point; the one-hots
folded into the first layer's bias, the inputs that are always 0 left out) gives mu and log b times
2**ACT_BITS; b is exp(log b clipped to [LOG_SCALE_MIN, LOG_SCALE_MAX]), float64 on both coder sides. A
base (`bases/context*.npz`, written by `export`) holds integer weights; a file names it by its
IDENTITY_BYTES-byte hash and is refused if this version ships no base of that hash. SHIPPED lists them, the
encoder's first: round 3, trained on the grids of this encoder, then round 2's, kept so that its files decode.
Training: `networks.context`, `experiments/context_network/`.
"""

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import context, fixed
from .context import LOG_SCALE_MAX, LOG_SCALE_MIN
from .errors import InrError
from .fixed import ACT_BITS
from .pyramid import STRIDES

BASES = Path(__file__).parent / "bases"
SHIPPED = ("context_round3.npz", "context.npz")  # the bases files may name, the encoder's first
IDENTITY_BYTES = 4  # of the base's hash in each file
LEVELS, CHANNELS = len(STRIDES), 3  # grid levels and channels a cell's one-hots cover
ONE_HOTS = 3 + LEVELS + CHANNELS  # the network's first inputs: one-hots of the phase, level and channel
WINDOW = 3  # the neighbourhood's reach: a (2 * WINDOW + 1) square
NEAREST_COUNT = 16  # cells of earlier phases a cell reads from its plane
LAYERS = ("dense_0", "dense_1", "dense_2")  # the network's dense layers, in order
SQUARE = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))  # luma around a chroma cell
# the inputs after the one-hots: the parent's 4, the neighbours', luma's around, Cb's
PARENT, NEAR, LUMA, CB = 0, 4, 4 + NEAREST_COUNT, 4 + NEAREST_COUNT + len(SQUARE)
VARYING = CB + 1  # inputs after the one-hots
FEATURES = ONE_HOTS + VARYING  # the network's inputs
SLOG_LIMIT = 4096  # integers beyond +-this read as +-this
CHUNK = 8192  # cells whose network runs at once


def earlier_offsets(phase: int) -> tuple[tuple[int, int], ...]:
    """The NEAREST_COUNT offsets (dy, dx) nearest a cell of `phase` (fewest steps, then in order)
    within the window that hold cells of earlier phases; both lattices of phase 2 see the same."""
    row, col = context.PHASE_LATTICES[phase][0]
    phases = context.phase_of((4, 4))
    found = [(dy, dx) for dy in range(-WINDOW, WINDOW + 1) for dx in range(-WINDOW, WINDOW + 1)
             if phases[(row + dy) % 2, (col + dx) % 2] < phase]
    return tuple(sorted(found, key=lambda o: (abs(o[0]) + abs(o[1]), o))[:NEAREST_COUNT])


NEIGHBOURS = [earlier_offsets(phase) for phase in range(context.PHASES)]  # per phase, the cells it reads


def slog(v: np.ndarray) -> np.ndarray:
    """sign(v) log(1 + |v|), float64."""
    return np.sign(v) * np.log1p(np.abs(v))


SLOG_TABLE = np.round(slog(np.arange(-SLOG_LIMIT, SLOG_LIMIT + 1.0)) * 2 ** ACT_BITS)  # fixed-point slog of integers


def used(phase: int, c: int) -> np.ndarray:
    """Indices (among the VARYING inputs) of those that are not always 0 for cells of `phase` of channel c."""
    columns = list(range(PARENT, PARENT + 4)) + list(range(NEAR, NEAR + len(NEIGHBOURS[phase])))
    return np.array(columns + list(range(LUMA, LUMA + len(SQUARE))) * int(c > 0) + [CB] * int(c > 1))


def slog_plane(plane: np.ndarray) -> np.ndarray:
    """(rows + 2 WINDOW, cols + 2 WINDOW) fixed-point slog of a plane's integers, 0 around it: what
    `around` reads."""
    padded = np.clip(np.pad(plane, WINDOW), -SLOG_LIMIT, SLOG_LIMIT).astype(np.int64)
    return SLOG_TABLE[padded + SLOG_LIMIT]


def around(padded: np.ndarray, rows: np.ndarray, cols: np.ndarray, offsets) -> np.ndarray:
    """(n, len(offsets)) float64 values of a `slog_plane` at the n cells (rows, cols) of its plane
    shifted by each offset."""
    width = padded.shape[1]
    steps = np.array([dy * width + dx for dy, dx in offsets], np.int64)
    return padded.ravel()[((rows + WINDOW) * width + cols + WINDOW)[:, None] + steps[None]]


def spread(mask: np.ndarray, reach: int) -> np.ndarray:
    """(rows, cols) bool: whether a True cell of `mask` lies within `reach` cells of each cell (a square)."""
    rows = mask.copy()
    for shift in range(1, reach + 1):
        rows[shift:] |= mask[:-shift]
        rows[:-shift] |= mask[shift:]
    out = rows.copy()
    for shift in range(1, reach + 1):
        out[:, shift:] |= rows[:, :-shift]
        out[:, :-shift] |= rows[:, shift:]
    return out


def features(planes: list[np.ndarray], phase: int, rows: np.ndarray, cols: np.ndarray,
             parent: np.ndarray) -> np.ndarray:
    """(n, len(used(phase, c))) integer-valued float64 fixed-point inputs of the n cells (rows, cols) of
    `phase` of channel c = len(planes) - 1 of a level (those `used`); planes: the `slog_plane`s of the
    level's channels up to c, as decoded then (c's own may be None in phase 0, which reads none of it);
    parent: (2, n) the cells' p and p_abs (`context`)."""
    p, p_abs = parent
    parts = [np.stack([slog(p), np.log1p(p_abs), np.clip(p, -256, 256), np.minimum(p_abs, 256)], axis=1)
             * 2.0 ** ACT_BITS]
    np.rint(parts[0], out=parts[0])
    if NEIGHBOURS[phase]:
        parts.append(around(planes[-1], rows, cols, NEIGHBOURS[phase]))
    if len(planes) > 1:
        parts.append(around(planes[0], rows, cols, SQUARE))
    if len(planes) > 2:
        parts.append(around(planes[1], rows, cols, ((0, 0),)))
    return np.concatenate(parts, axis=1)


def one_hots(phase: int, k: int, c: int) -> np.ndarray:
    """(ONE_HOTS,) the first inputs of a cell of `phase` of channel c of level k, in fixed point."""
    out = np.zeros(ONE_HOTS)
    out[[phase, 3 + k, 3 + LEVELS + c]] = 2.0 ** ACT_BITS
    return out


def network_inputs(phase: int, k: int, c: int, x: np.ndarray) -> np.ndarray:
    """(n, FEATURES) fixed-point inputs of the network from `features` (n, len(used)) (training's route)."""
    out = np.zeros((len(x), FEATURES))
    out[:, :ONE_HOTS] = one_hots(phase, k, c)
    out[:, ONE_HOTS + used(phase, c)] = x
    return out


@dataclass(frozen=True)
class ContextBase(fixed.DenseBase):
    """The loaded base (`fixed.DenseBase`: its LAYERS, identity IDENTITY_BYTES of its hash)."""

    @functools.cached_property
    def first_layers(self) -> dict:
        """(phase, k, c) -> the first layer's kernel rows of the `used` inputs and its bias with the
        one-hots' rows added: the same sums as over all FEATURES inputs, in fewer products."""
        kernel, bias = self.layers[0]
        return {(phase, k, c): (kernel[ONE_HOTS + used(phase, c)], bias + one_hots(phase, k, c) @ kernel[:ONE_HOTS])
                for phase in range(context.PHASES) for k in range(LEVELS) for c in range(CHANNELS)}

    @functools.cached_property
    def at_zero(self) -> dict:
        """(phase, k, c) -> the network's (2,) fixed-point output for inputs `features` all 0 (a cell whose
        parent and neighbours are all 0: most of the finest level's at low rates)."""
        return {key: self.network(np.zeros((1, len(kernel))), *key)[0]
                for key, (kernel, _) in self.first_layers.items()}

    def network(self, x: np.ndarray, phase: int, k: int, c: int) -> np.ndarray:
        """(n, 2) fixed-point (times 2**ACT_BITS) mu and log b of cells of `phase` of channel c of level k from
        their (n, used) `features`, CHUNK cells at a time (their activations stay in the processor's cache)."""
        out = np.empty((len(x), 2))
        for first in range(0, len(x), CHUNK):
            y = fixed.dense_relu(x[first:first + CHUNK], *self.first_layers[phase, k, c])
            for kernel, bias in self.layers[1:-1]:
                y = fixed.dense_relu(y, kernel, bias)
            out[first:first + CHUNK] = fixed.dense(y, *self.layers[-1])
        return out

    def laplace(self, x: np.ndarray, phase: int, k: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Float64 (mu, b) of cells of `phase` of channel c of level k from their (n, used) `features`: the
        `network` runs on the cells with an input not 0, the rest take its output `at_zero` (each cell's
        output depends on its inputs alone, exactly: the same numbers)."""
        busy = x.any(axis=1)
        out = np.empty((len(x), 2))
        out[~busy] = self.at_zero[phase, k, c]
        out[busy] = self.network(x[busy], phase, k, c)
        return self.scaled(out)

    @staticmethod
    def scaled(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float64 (mu, b) of (..., 2) fixed-point network outputs (mu and log b)."""
        out = out * 2.0 ** -ACT_BITS
        return out[..., 0], np.exp(np.clip(out[..., 1], LOG_SCALE_MIN, LOG_SCALE_MAX))

    def plane(self, grids: list[np.ndarray], k: int, c: int, index: int) -> "PlaneNetwork":
        """The entropy model of channel c of level k (`context.Fitted.plane`'s kind)."""
        if k >= LEVELS or c >= CHANNELS:
            raise InrError(f"the context network codes {LEVELS} levels of {CHANNELS} channels, not level {k}, "
                           f"channel {c}")
        return PlaneNetwork(self, grids, k, c)


class PlaneNetwork(context.PlaneParent):
    """The Laplaces of a plane's cells under the network, phase by phase, at the cells of active runs.
    As `context.PlaneContext`, a phase coding every cell reads its cells' p and p_abs from the
    whole-plane route, any other phase from the cell-wise route: both coder sides take the same."""

    def __init__(self, base: ContextBase, grids: list[np.ndarray], k: int, c: int):
        super().__init__(grids[k][..., c], context.parent_plane(grids, k, c))
        self.base, self.grids, self.k, self.c = base, grids, k, c

    @functools.cached_property
    def earlier_planes(self) -> list[np.ndarray]:
        """The `slog_plane`s of the level's channels before this one (decoded before it)."""
        return [slog_plane(self.grids[self.k][..., c]) for c in range(self.c)]

    @functools.cached_property
    def stirred_around(self) -> np.ndarray:
        """(rows, cols) bool: the cells whose parent context (`context.cell_parent`, `context.parent_context`:
        cubic taps over the parent's values and 3 x 3 magnitudes, 3 parent cells at most either way) or whose
        earlier channels' inputs (luma's 3 x 3, Cb's cell) may not be 0: those near a nonzero integer there."""
        shape = self.plane.shape
        out = np.zeros(shape, bool)
        if self.parent is not None:
            near = spread(self.parent != 0, 3)
            out |= near[np.minimum(np.arange(shape[0]) // 2, near.shape[0] - 1)[:, None],
                        np.minimum(np.arange(shape[1]) // 2, near.shape[1] - 1)[None]]
        for c, reach in zip(range(self.c), (1, 0)):
            out |= spread(self.grids[self.k][..., c] != 0, reach)
        return out

    def laplace(self, phase: int, active: np.ndarray) -> tuple[np.ndarray, ...]:
        """(rows, cols, mu, b) of the cells of `phase` in `active` runs, in coding order. The network runs
        only at the cells near a nonzero integer (the plane's within the window, `stirred_around`), CHUNK
        cells at a time, features and network (their numbers stay in the processor's cache), side by side
        (`fixed.side_by_side`); the others' inputs are all 0 and share its output `at_zero`."""
        rows, cols = context.phase_cells(self.plane.shape, phase)
        every = active.all()
        if not every:
            cells = context.run_cells(active, len(rows))
            rows, cols = rows[cells], cols[cells]
        stirred = self.stirred_around
        if NEIGHBOURS[phase]:  # the plane's own cells are read from phase 1 on
            stirred = stirred | spread(self.plane != 0, WINDOW)
        stirred = np.flatnonzero(stirred[rows, cols])
        planes = [*self.earlier_planes, slog_plane(self.plane) if NEIGHBOURS[phase] else None]
        mu, b = np.empty(len(rows)), np.empty(len(rows))
        mu[:], b[:] = self.base.scaled(self.base.at_zero[phase, self.k, self.c])
        if every:
            whole = self.whole
            parent_at = lambda r, q: whole[:, r, q]  # noqa: E731
        else:
            sources = self.sources
            parent_at = lambda r, q: context.cell_parent(sources, r, q)  # noqa: E731

        def chunk(first: int) -> None:
            at = stirred[first:first + CHUNK]
            r, q = rows[at], cols[at]
            mu[at], b[at] = self.base.laplace(features(planes, phase, r, q, parent_at(r, q)), phase, self.k, self.c)

        fixed.side_by_side(chunk, range(0, len(stirred), CHUNK))
        return rows, cols, mu, b


@functools.lru_cache(maxsize=len(SHIPPED))
def load(name: str | Path = SHIPPED[0]) -> ContextBase:
    """A shipped base by its file name (or any base by its absolute path); InrError if it is missing,
    unreadable or not of this version's shapes."""
    arrays = fixed.load_layers(BASES / name, LAYERS, "context network", FEATURES, (2,))
    return ContextBase(arrays, LAYERS, fixed.identity(arrays, IDENTITY_BYTES))


def named(identity: bytes) -> ContextBase:
    """The shipped base of a file's `identity`; InrError if this version ships none."""
    return fixed.named(identity, SHIPPED, load, "corrupt file, or one made with another context network than this "
                       "version ships")


def export(params: dict, record: dict, path: Path) -> bytes:
    """Write a trained `networks.context.ContextMLP`'s parameters as a base, and `record` (its
    training) beside it as JSON (`fixed.export_layers`); returns its identity."""
    identity = fixed.export_layers(params, LAYERS, record, path, IDENTITY_BYTES)
    load.cache_clear()
    return identity
