"""Entropy coding of integer tensors with constriction's ANS coder and per-tensor parametric models.

Each tensor's symbols are modelled by a zero-mean quantized Gaussian or Laplace whose scale (in
quantization steps) is stored as float16 and whose support [-bound, bound] is stored as a varint;
a 0/1 mask is modelled by a Bernoulli whose probability is its stored count of ones over its size.
Encoder and decoder build every model from exactly these stored numbers, in float64 NumPy. A
tensor whose model leaves one possible value (bound 0, or a mask of all zeros or all ones) costs
no bits.
"""

import math
from dataclasses import dataclass

import constriction
import numpy as np

from .bitstream import Reader, Writer
from .errors import InrError

GAUSSIAN, LAPLACE = 0, 1  # model families
MIN_SCALE = 0.05  # smallest stored scale (in quantization steps), keeps the model proper
MAX_BOUND = 1 << 20  # largest |symbol| a file may declare


@dataclass(frozen=True)
class SymbolModel:
    family: int  # GAUSSIAN or LAPLACE
    scale: float  # Gaussian std or Laplace diversity, in quantization steps (a float16 value)
    bound: int  # symbols lie in [-bound, bound]; 0 means an all-zero tensor, coded with no bits

    def probabilities(self) -> np.ndarray:
        """Float64 probabilities of the symbols -bound..bound (clipped and renormalised density)."""
        edges = np.arange(-self.bound, self.bound + 2, dtype=np.float64) - 0.5
        if self.family == GAUSSIAN:
            cdf = 0.5 * (1.0 + np.array([math.erf(e / (self.scale * math.sqrt(2.0))) for e in edges]))
        else:
            cdf = np.where(edges < 0, 0.5 * np.exp(edges / self.scale), 1.0 - 0.5 * np.exp(-edges / self.scale))
        mass = np.diff(cdf)
        return np.maximum(mass / mass.sum(), 1e-12)

    @property
    def constant(self) -> int | None:
        """The only possible symbol, if the model leaves just one."""
        return 0 if self.bound == 0 else None

    def information_bits(self, symbols: np.ndarray) -> float:
        """Ideal code length of `symbols` under this model, in bits."""
        if self.bound == 0:
            return 0.0
        table = -np.log2(self.probabilities())
        return float(table[np.asarray(symbols).ravel() + self.bound].sum())

    def constriction_model(self):
        if self.family == GAUSSIAN:
            return constriction.stream.model.QuantizedGaussian(-self.bound, self.bound, 0.0, self.scale)
        return constriction.stream.model.QuantizedLaplace(-self.bound, self.bound, 0.0, self.scale)


@dataclass(frozen=True)
class MaskModel:
    count: int  # number of ones in the mask
    size: int  # number of entries in the mask

    @property
    def constant(self) -> int | None:
        return 0 if self.count == 0 else 1 if self.count == self.size else None

    def information_bits(self, mask: np.ndarray) -> float:
        """Ideal code length of the mask, in bits: size * H2(count / size)."""
        if self.constant is not None:
            return 0.0
        p = self.count / self.size
        return -self.count * math.log2(p) - (self.size - self.count) * math.log2(1.0 - p)

    def constriction_model(self):
        return constriction.stream.model.Bernoulli(self.count / self.size, perfect=False)


def _rounded_scale(value: float) -> float:
    return float(np.float16(max(value, MIN_SCALE)))


def choose_model(symbols: np.ndarray) -> SymbolModel:
    """The cheaper of a Gaussian and a Laplace fitted to zero-mean `symbols` by maximum likelihood."""
    values = np.asarray(symbols, np.float64).ravel()
    bound = int(np.abs(values).max(initial=0))
    if bound == 0:
        return SymbolModel(GAUSSIAN, _rounded_scale(1.0), 0)
    candidates = [SymbolModel(GAUSSIAN, _rounded_scale(np.sqrt(np.mean(values**2))), bound),
                  SymbolModel(LAPLACE, _rounded_scale(np.mean(np.abs(values))), bound)]
    return min(candidates, key=lambda m: m.information_bits(symbols))


def write_model(writer: Writer, model: SymbolModel) -> None:
    writer.f16(model.scale)
    writer.varint(2 * model.bound + model.family)


def read_model(reader: Reader) -> SymbolModel:
    scale = reader.f16()
    code = reader.varint(2 * MAX_BOUND + 1, "symbol range")
    if not (MIN_SCALE <= scale < 65504):
        raise InrError(f"corrupt file: entropy model scale {scale} is invalid")
    return SymbolModel(code & 1, scale, code >> 1)


def encode(arrays: list[np.ndarray], models: list) -> bytes:
    """ANS-code integer arrays, each under its model (SymbolModel or MaskModel), into one stream."""
    coder = constriction.stream.stack.AnsCoder()
    for symbols, model in reversed(list(zip(arrays, models))):
        if model.constant is None:
            coder.encode_reverse(np.asarray(symbols, np.int32).ravel(), model.constriction_model())
    return coder.get_compressed().tobytes()


def decode(data: bytes, models: list, sizes: list[int]) -> list[np.ndarray]:
    """Inverse of `encode`: flat int32 arrays of the given sizes, in the order they were encoded.

    The stream must be used up exactly: a payload longer than its arrays need is refused.
    """
    if len(data) % 4:
        raise InrError("corrupt file: entropy-coded payload is not a whole number of words")
    out = []
    try:
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, np.uint32).copy())
        for model, size in zip(models, sizes):
            if model.constant is None:
                out.append(np.asarray(coder.decode(model.constriction_model(), size), np.int32))
            else:
                out.append(np.full(size, model.constant, np.int32))
    except (ValueError, RuntimeError, AssertionError) as err:
        raise InrError(f"corrupt file: entropy decoding failed ({err})") from None
    if not coder.is_empty():
        raise InrError("corrupt file: the payload holds more data than its tensors use")
    return out
