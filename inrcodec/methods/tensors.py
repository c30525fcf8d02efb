"""The body the network methods (`coin`, `sparse`, `meta`) share: quantized tensors, entropy-coded.

    layout (the method's own fields) | per tensor: [count of kept values, if masked] step, entropy model
    | payload: one ANS stream; per tensor [its 0/1 mask, if masked] then its (kept) integers

Rate control bisects one global rms/step ratio for the largest file under the cap. Every
dequantized value is at most MAX_ABS_VALUE in magnitude, so rendering stays finite; each method
bounds the values and rendering work a file may declare per byte of itself (`check_cost`).
"""

import math
from dataclasses import dataclass

import numpy as np

from .. import bitstream, entropy, quantize, ratecontrol
from ..bitstream import MAX_ABS_VALUE, MAX_MACS_PER_BYTE
from ..errors import InrError
from ..tiles import describe
from . import Budget, Geometry

MIN_RATIO, MAX_RATIO = 0.25, 4096.0  # search range of the rms/step ratio of every tensor
# Values per byte of file at most (legitimate files: about 1 for coin, 3 for sparse, 1 / bpp for
# meta); their multiply-adds per byte (bitstream.MAX_MACS_PER_BYTE) are about 0.84 x tile^2 for
# coin (55k at 256 px tiles) and 31k / bpp for meta.
MAX_VALUES_PER_BYTE = 256


@dataclass(frozen=True)
class Body:
    """What a network body says about itself before its payload."""
    layout: object  # the method's layout: a tiled SIREN's shape (coin, sparse) or latent grids' (meta)
    shapes: list  # per tensor: its full shape
    counts: list  # per tensor: number of kept values if masked, else None
    models: list  # entropy model of each tensor's values
    steps: list  # quantization step of each tensor
    payload: bytes  # the ANS stream


def _write(fields: bytes, tensors: list[np.ndarray], masks: list, ratio: float) -> bytes:
    """A body: `fields`, then these tensors (masks aligned, None where unmasked) at rms/step = ratio."""
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
    return bytes(writer.buffer)


def largest_body(fields: bytes, tensors: list, masks: list, budget: Budget) -> bytes:
    """The largest body of `fields` and these tensors whose file is within the budget, over the rms/step ratio."""
    _, data = ratecontrol.largest_fitting(lambda ratio: budget.file(_write(fields, tensors, masks, ratio)),
                                          budget.cap, MIN_RATIO, MAX_RATIO)
    return budget.body(data)


def check_cost(method: str, geometry: Geometry, values: int, macs: int, n_bytes: int) -> None:
    """Refuse a file of `n_bytes` whose `values` or rendering work `macs` exceed the per-byte limits."""
    if values > MAX_VALUES_PER_BYTE * n_bytes or macs > MAX_MACS_PER_BYTE * n_bytes:
        raise InrError(f"{n_bytes} bytes are too few for {describe(geometry.extent)} coded by {method} with {values} "
                       f"values and {macs:.3g} multiply-adds to render (at most {MAX_VALUES_PER_BYTE} values and "
                       f"{MAX_MACS_PER_BYTE:.3g} multiply-adds per byte)")


def read_tensors(reader: bitstream.Reader, layout, tensors: list[tuple[tuple, bool]]) -> Body:
    """The per-tensor records of a body whose `tensors` are (shape, masked) in file order, validated."""
    counts, models, steps = [], [], []
    for shape, masked in tensors:
        counts.append(reader.varint(math.prod(shape), "kept values") if masked else None)
        steps.append(reader.log_step())
        models.append(entropy.read_model(reader))
        if models[-1].bound * steps[-1] > MAX_ABS_VALUE:
            raise InrError(f"corrupt file: values up to {models[-1].bound * steps[-1]:.3g} exceed {MAX_ABS_VALUE:g}")
    return Body(layout, [shape for shape, _ in tensors], counts, models, steps, reader.rest())


def payload_models(body: Body) -> tuple[list, list[int]]:
    """The entropy models and symbol counts of the payload's arrays, in coding order."""
    models, sizes = [], []
    for shape, count, model in zip(body.shapes, body.counts, body.models):
        size = math.prod(shape)
        if count is not None:
            models.append(entropy.MaskModel(count, size))
            sizes.append(size)
        models.append(model)
        sizes.append(size if count is None else count)
    return models, sizes


def decode_tensors(body: Body) -> list[np.ndarray]:
    """Entropy-decode and dequantize every tensor of a body, at its full shape (float32)."""
    models, sizes = payload_models(body)
    flat = iter(entropy.decode(body.payload, models, sizes))
    arrays = []
    for shape, count, step in zip(body.shapes, body.counts, body.steps):
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


def chunks(count: int, limit: int) -> list[np.ndarray]:
    """Indices 0..count-1 in chunks of one power-of-two length (at most `limit`, unless 1), the last
    padded by repeating its final index: few distinct shapes, so few compiled renders, serve any file."""
    size = min(1 << max(0, limit.bit_length() - 1), 1 << (count - 1).bit_length())
    return [np.minimum(np.arange(start, start + size), count - 1) for start in range(0, count, size)]


def finite(values: np.ndarray) -> np.ndarray:
    """`values`, or InrError if any is not finite."""
    if not np.all(np.isfinite(values)):
        raise InrError("corrupt file: it renders to values that are not finite")
    return values
