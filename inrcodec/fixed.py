"""Fixed-point network layers that compute the same integers on every machine (the shipped bases'
decoders: `hyperbase`, `context_net`, `synthesis_net`).

Weights are integers times 2**WEIGHT_BITS, activations int64 times 2**ACT_BITS clipped to
+-ACT_LIMIT, biases times 2**(ACT_BITS + WEIGHT_BITS); products are summed as float64, exact whatever
order a BLAS adds them in (integer sums below 2**53 scaled by a power of two), and rounded half up.
GELU is read from a table of its values on the 2**-ACT_BITS grid over [-GELU_RANGE, GELU_RANGE),
stored with a base and extended to every activation when loaded; ReLU needs none.
"""

import functools
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InrError

ACT_BITS, WEIGHT_BITS = 10, 14  # fixed-point fraction bits of activations and weights
ACT_LIMIT = 1 << (ACT_BITS + 8)  # activations are clipped to +-256: every sum stays below 2**53
GELU_RANGE = 8  # the GELU table covers [-8, 8); above it GELU(x) = x, below it 0
THREADS = 2  # threads running a network's pieces side by side (`side_by_side`), from 2 * THREADS pieces


def gelu(x):
    """GELU, tanh approximation (as Flax's), float64."""
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def gelu_table() -> np.ndarray:
    """(2 * GELU_RANGE * 2**ACT_BITS,) int64 GELU of the grid's points, in fixed point: computed once
    by a base's export and stored with it, so that no decoder evaluates tanh."""
    grid = (np.arange(-GELU_RANGE << ACT_BITS, GELU_RANGE << ACT_BITS) + 0.0) / 2 ** ACT_BITS
    return np.round(gelu(grid) * 2 ** ACT_BITS).astype(np.int64)


def weights(kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A trained layer's float kernel and bias as stored: int32 and int64 in their fixed points."""
    kernel, bias = np.asarray(kernel, np.float64), np.asarray(bias, np.float64)
    return (np.round(kernel * 2 ** WEIGHT_BITS).astype(np.int32),
            np.round(bias * 2 ** (ACT_BITS + WEIGHT_BITS)).astype(np.int64))


def rescale(total: np.ndarray) -> np.ndarray:
    """Integer sums of products (2**(ACT_BITS + WEIGHT_BITS)) rounded back to activations, clipped."""
    return np.clip((total.astype(np.int64) + (1 << (WEIGHT_BITS - 1))) >> WEIGHT_BITS, -ACT_LIMIT, ACT_LIMIT)


def _product(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """x @ kernel; of a column-major x as (kernel.T @ x.T).T, which BLAS runs faster on long rows and which
    is column-major too, so that a network's later layers keep that order."""
    return (kernel.T @ x.T).T if x.flags.f_contiguous and not x.flags.c_contiguous else x @ kernel


def dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(..., I) integer-valued float64 activations by a layer as `DenseBase.layers` holds it, (I, O) kernel
    and (O,) bias in activation steps -> (..., O) integer-valued float64 activations, rounded half up and
    clipped: the same integers as `rescale` gives, without leaving float64."""
    total = _product(x, kernel)
    total += bias
    np.floor(total, out=total)
    return np.clip(total, -ACT_LIMIT, ACT_LIMIT, out=total)


def dense_relu(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """ReLU of `dense(x, kernel, bias)`, in fewer passes: clipping to [0, ACT_LIMIT] before the floor
    gives what the floor's clip to +-ACT_LIMIT and then ReLU give."""
    total = _product(x, kernel)
    total += bias
    np.clip(total, 0, ACT_LIMIT, out=total)
    return np.floor(total, out=total)


def extended_gelu(table: np.ndarray) -> np.ndarray:
    """(2 * ACT_LIMIT + 1,) GELU of every activation from -ACT_LIMIT to ACT_LIMIT, from the stored
    `gelu_table` (identity above its range, 0 below), of its dtype: one lookup an activation."""
    edge = GELU_RANGE << ACT_BITS
    return np.concatenate([np.zeros(ACT_LIMIT - edge, table.dtype), table,
                           np.arange(edge, ACT_LIMIT + 1).astype(table.dtype)])


def apply_gelu(x: np.ndarray, extended: np.ndarray) -> np.ndarray:
    """GELU of fixed-point activations within +-ACT_LIMIT (int64, or integer-valued float64) by an
    `extended_gelu` table of their dtype."""
    return extended[(x + ACT_LIMIT).astype(np.int64)]


def identity(arrays: dict, length: int) -> bytes:
    """The first `length` bytes of a hash of a base's arrays (names, shapes, dtypes and values): the
    identity its files carry, so that a file made with another base is refused."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(f"{name}{arrays[name].shape}{arrays[name].dtype}".encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.digest()[:length]


@dataclass(frozen=True)
class DenseBase:
    """A loaded base of dense layers (`load_layers`): its arrays as stored, the layers' names and its identity."""
    arrays: dict  # "<layer>.kernel" and "<layer>.bias" -> int array, as stored
    names: tuple[str, ...]  # the dense layers, first to last
    identity: bytes  # the first bytes of the arrays' hash (`identity`): how files name the base

    @functools.cached_property
    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(kernel, bias) of each layer in activation steps, float64: the stored integers times
        2**-WEIGHT_BITS, the bias with half a step added (the rounding). Products of integer activations
        and these kernels, and their sums, are exact in float64 (multiples of 2**-WEIGHT_BITS below 2**39,
        as the integer sums are below 2**53), so `dense` gives what `rescale` gives."""
        scale, half = 2.0 ** -WEIGHT_BITS, 1 << (WEIGHT_BITS - 1)
        return [(self.arrays[f"{name}.kernel"] * scale, (self.arrays[f"{name}.bias"] + half) * scale)
                for name in self.names]


def load_layers(path: Path, layers: tuple[str, ...], what: str, inputs: int, outputs: tuple[int, ...]) -> dict:
    """The arrays of a base of dense `layers` (`export_layers`); InrError, naming it `what`, if it is
    missing or unreadable, or if its first layer does not read `inputs` or its last gives none of `outputs`."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        for name in layers:
            arrays[f"{name}.kernel"], arrays[f"{name}.bias"]
    except (OSError, ValueError, KeyError) as error:
        raise InrError(f"the {what} base is missing or unreadable ({path}): {error}") from None
    found = arrays[f"{layers[0]}.kernel"].shape[0], arrays[f"{layers[-1]}.kernel"].shape[1]
    if found[0] != inputs or found[1] not in outputs:
        raise InrError(f"the {what} base ({path}) maps {found[0]} features to {found[1]}, not {inputs} to {outputs}")
    return arrays


def named(identity: bytes, shipped: tuple[str, ...], load, refusal: str):
    """The base, among the files `shipped` (each read by `load`), whose identity is a file's `identity`;
    InrError(refusal) if this version ships none."""
    for name in shipped:
        if load(name).identity == identity:
            return load(name)
    raise InrError(refusal)


def export_layers(params: dict, layers: tuple[str, ...], record: dict, path: Path, length: int) -> bytes:
    """Write the dense `layers` of trained Flax parameters (nested dict, under "params") as a base of
    integer weights, and `record` (its training) beside it as JSON; returns its `length`-byte identity."""
    arrays = {}
    for name in layers:
        layer = params["params"][name]
        arrays[f"{name}.kernel"], arrays[f"{name}.bias"] = weights(layer["kernel"], layer["bias"])
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    found = identity(arrays, length)
    path.with_suffix(".json").write_text(json.dumps({**record, "identity": found.hex()}, indent=1) + "\n")
    return found


def side_by_side(work, pieces) -> None:
    """work(piece) for every piece: on THREADS threads, each matrix product on one core, where there are
    at least 2 * THREADS pieces (NumPy releases Python's lock in its loops), else one after another."""
    pieces = list(pieces)
    if len(pieces) < 2 * THREADS:
        list(map(work, pieces))
        return
    with ThreadPoolExecutor(THREADS) as pool, blas_controller().limit(limits=1, user_api="blas"):
        list(pool.map(work, pieces))


@functools.cache
def blas_controller():
    """threadpoolctl's controller of the BLAS NumPy loaded (found once)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
