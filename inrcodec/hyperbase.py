"""The `hyper` method's shipped base, NumPy only: loading it, its integer context model, and its synthesis.

The base (`inrcodec/bases/hyper.npz`, written by `export` from trained `networks.hyperprior`
parameters) holds the analysis networks in float16 (the encoder's start only) and everything a
decoder runs as integers or stored float64 numbers, so that the encoder and the decoder on any
machine compute the same entropy model, and decoders the same pixels, bit for bit:

- the hyper-synthesis (z -> each y latent's mean and log scale) and the synthesis (y -> pixels) in
  fixed point: weights times 2**WEIGHT_BITS, activations times 2**ACT_BITS, GELU by a stored
  table, products summed as integer-valued float64 (exact below 2**53, whatever order a BLAS adds
  them in), rescaled by integer shifts;
- per rate level (LEVEL_STEPS a unit, from LEVEL_MIN): the fixed-point gains and the z scale indices;
- SCALE_COUNT Laplace scales and their probability tables over -SYMBOL_BOUND..SYMBOL_BOUND.

Images are coded in one ANS stream (a file's, or a pack's for all its images), up to 3 trailing
zero bytes dropped (the decoder pads it back to whole 4-byte words). Decoded, it gives for each
image its rate level index (uniform), z's symbols grouped by the level's per-channel scale indices
and y's grouped by the scale indices the context model gives from z; and last the base's identity
(a 4-byte hash of every array): the coder's initial state, which costs no bits, checked once
everything else is decoded.
"""

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import constriction
import numpy as np

from . import fixed
from .errors import InrError
from .fixed import ACT_BITS, ACT_LIMIT

BASE_PATH = Path(__file__).parent / "bases" / "hyper.npz"
IDENTITY_BYTES = 4  # of the base's hash in each file: one word, the ANS coder's initial state
GAIN_BITS = 16  # fixed-point fraction bits of gains (those of activations and weights: `fixed`)
MEAN_BITS = ACT_BITS + GAIN_BITS  # fraction bits of y's means
LEVEL_STEPS, LEVEL_MIN = 8, -4  # rate levels are k / 8 + LEVEL_MIN (below 0 the gains extrapolate)
LEVEL_ABOVE = 2  # levels past the trained ones (their gains extrapolated too)
SCALE_COUNT = 64  # Laplace scales SCALE_MIN * exp(k * step), k < SCALE_COUNT
SYMBOL_BOUND = 255  # every latent lies in [-255, 255]
PROBABILITY_FLOOR = 2.0 ** -20  # every symbol stays codable by constriction's 24-bit categorical
INDEX_BITS = 24  # a scale index is round(fixed-point offset * its multiplier / 2**24)
HYPER_LAYERS = ("c0", "c1", "c2", "c3")  # the hyper-synthesis' convolutions
SYNTHESIS_LAYERS = ("Conv_0", "Conv_1", "Conv_2", "Conv_3", "Conv_4")  # the synthesis' convolutions
GRID = 8  # images are coded padded to multiples of this: z's cell, in pixels


def level_of(index):
    """The fractional rate level of a level index (an int or an array of them)."""
    return index / LEVEL_STEPS + LEVEL_MIN


def d2s(x: np.ndarray, r: int = 2) -> np.ndarray:
    """(B, H, W, r*r*C) -> (B, H*r, W*r, C): the pixel shuffle (NumPy or JAX arrays; the inverse of
    `networks.hyperprior.s2d`)."""
    b, h, w, c = x.shape
    return x.reshape(b, h, w, r, r, c // (r * r)).transpose(0, 1, 3, 2, 4, 5).reshape(b, h * r, w * r, c // (r * r))


def conv(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'Same' convolution of (B, H, W, C) by a (k, k, C, O) kernel, as one matrix product, no bias."""
    k = kernel.shape[0]
    if k == 1:
        return x @ kernel[0, 0]
    b, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    columns = np.concatenate([padded[:, i:i + h, j:j + w] for i in range(k) for j in range(k)], axis=-1)
    return columns @ kernel.reshape(k * k * c, -1)


@dataclass(frozen=True)
class HyperBase:
    """The loaded base. Shapes: m channels of y, mz of z, L = level count."""
    arrays: dict  # name -> array, as stored
    identity: bytes  # IDENTITY_BYTES of its hash
    m: int  # channels of y
    mz: int  # channels of z

    @property
    def levels(self) -> int:
        """Number of rate levels (indices 0..levels-1)."""
        return len(self.arrays["z_scale_index"])

    @functools.cached_property
    def models(self) -> list:
        """constriction's categorical model of each scale's probabilities (quantised as both sides do)."""
        return [constriction.stream.model.Categorical(row, perfect=False) for row in self.probabilities]

    @functools.cached_property
    def gelu(self) -> np.ndarray:
        """The stored GELU table extended to every activation (`fixed.extended_gelu`)."""
        return fixed.extended_gelu(self.arrays["gelu_table"])

    @functools.cached_property
    def probabilities(self) -> np.ndarray:
        """(SCALE_COUNT, 2 * SYMBOL_BOUND + 1) float64 probabilities of each scale's symbols, as stored."""
        return self.arrays["probabilities"]

    def context(self, z: np.ndarray, index) -> tuple[np.ndarray, np.ndarray]:
        """Integer z (B, h, w, mz) at level `index` (an int, or (B,) ints) -> y's means (B, 2h, 2w, m) in
        fixed point (int64, times 2**MEAN_BITS, in y's scaled domain) and scale indices (B, 2h, 2w, m)."""
        a = self.arrays
        shift = GAIN_BITS - ACT_BITS
        x = np.clip((z.astype(np.int64) * _rows(a["inv_gain_z"], index) + (1 << (shift - 1))) >> shift,
                    -ACT_LIMIT, ACT_LIMIT)
        x = self._network(x, "hs", HYPER_LAYERS, upsampled=(1,))
        mean, log_scale = x[..., :self.m], x[..., self.m:]
        offset = log_scale + _rows(a["log_scale_offset"], index)
        indices = (offset * int(a["index_multiplier"]) + (1 << (INDEX_BITS - 1))) >> INDEX_BITS
        return mean * _rows(a["gain_y"], index), np.clip(indices, 0, SCALE_COUNT - 1)

    def synthesis(self, y: np.ndarray, means: np.ndarray, index) -> np.ndarray:
        """Integer y (B, h, w, m) and its means from `context` at level `index` (an int, or (B,) ints) ->
        pixels (B, 4h, 4w, 3) in [0, 1], unclipped, float32 multiples of 2**-ACT_BITS."""
        shift = MEAN_BITS - ACT_BITS - 4  # to 2**(ACT_BITS + 4) first: the product stays below 2**63
        scaled = np.clip(((y.astype(np.int64) << MEAN_BITS) + means) >> shift, -1 << 40, 1 << 40)
        gain_shift = GAIN_BITS + 4
        x = (scaled * _rows(self.arrays["inv_gain_y"], index) + (1 << (gain_shift - 1))) >> gain_shift
        x = self._network(np.clip(x, -ACT_LIMIT, ACT_LIMIT), "gs", SYNTHESIS_LAYERS, upsampled=(1, 3))
        return (x / 2.0 ** ACT_BITS).astype(np.float32)

    def _network(self, x: np.ndarray, prefix: str, layers: tuple[str, ...], upsampled: tuple[int, ...]) -> np.ndarray:
        """Fixed-point convolutions `layers` of `prefix`, pixel-shuffled after those in `upsampled`, GELU
        between them."""
        a = self.arrays
        for k, name in enumerate(layers):
            kernel = a[f"{prefix}.{name}.kernel"].astype(np.float64)
            x = fixed.rescale(conv(x.astype(np.float64), kernel).astype(np.int64) + a[f"{prefix}.{name}.bias"])
            if k in upsampled:
                x = d2s(x)
            if k < len(layers) - 1:
                x = fixed.apply_gelu(x, self.gelu)
        return x

    def grids(self, extent: tuple[int, int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Shapes (1, h, w, c) of y and z for an image of `extent` (H, W)."""
        h, w = (math.ceil(size / GRID) for size in extent)
        return (1, 2 * h, 2 * w, self.m), (1, h, w, self.mz)

    def stream(self, images: list) -> bytes:
        """One ANS stream of images, each (z (h, w, mz), y (2h, 2w, m), y's scale indices (`context`),
        level index) of one size, in the order a decoder reads them."""
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(self.identity, np.uint32).copy(), seal=True)
        for z, y, y_indices, index in reversed(images):
            z_indices = np.broadcast_to(self.arrays["z_scale_index"][index], z.shape)
            for symbols, indices in ((y, y_indices), (z, z_indices)):  # reversed: the decoder reads z first
                for scale, group in reversed(_groups(indices)):
                    coder.encode_reverse((symbols.ravel()[group] + SYMBOL_BOUND).astype(np.int32), self.models[scale])
            coder.encode_reverse(np.array([index], np.int32), constriction.stream.model.Uniform(self.levels))
        words = coder.get_compressed().tobytes()
        zeros = min(3, len(words) - len(words.rstrip(b"\0")))  # at most 3: the decoder pads to whole words
        return words[:len(words) - zeros]

    def information(self, images: list) -> np.ndarray:
        """(B,) bytes that images (as for `stream`) add to a stream, ideally: their symbols' information
        under the model, the level's included."""
        def bits(symbols, scale_indices):
            return -np.log2(self.probabilities[scale_indices, symbols + SYMBOL_BOUND]).sum()

        return np.array([(bits(z, np.broadcast_to(self.arrays["z_scale_index"][index], z.shape))
                          + bits(y, y_indices) + np.log2(self.levels)) / 8 for z, y, y_indices, index in images])

    def decode_stream(self, data: bytes, extent: tuple[int, int], count: int) -> list[tuple]:
        """(level index, integer z, integer y) of each of `count` images of `extent` in a stream, or InrError."""
        y_shape, z_shape = self.grids(extent)
        images = []
        try:
            coder = _coder(data)
            for _ in range(count):
                index = int(coder.decode(constriction.stream.model.Uniform(self.levels)))
                z = self._decode(coder, np.broadcast_to(self.arrays["z_scale_index"][index], z_shape))
                images.append((index, z, self._decode(coder, self.context(z, index)[1])))
            rest = coder.get_compressed(unseal=True)
        except (ValueError, RuntimeError, AssertionError) as err:
            raise InrError(f"corrupt file: entropy decoding failed ({err})") from None
        if rest.tobytes() != self.identity:
            raise InrError("corrupt file, or one made with another `hyper` base than this version ships")
        return images

    def _decode(self, coder, indices: np.ndarray) -> np.ndarray:
        flat = np.empty(indices.size, np.int64)
        for scale, group in _groups(indices):
            flat[group] = coder.decode(self.models[scale], len(group))
        return (flat - SYMBOL_BOUND).reshape(indices.shape)


def _coder(body: bytes):
    """An ANS decoder of a body, its dropped zero bytes put back."""
    words = body + b"\0" * (-len(body) % 4)
    return constriction.stream.stack.AnsCoder(np.frombuffer(words, np.uint32).copy())


def _groups(indices: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(scale index, its positions in the flat array) of each scale index present, in increasing order."""
    flat = indices.ravel()
    order = np.argsort(flat, kind="stable")
    return [(int(flat[group[0]]), group) for group in np.split(order, np.flatnonzero(np.diff(flat[order])) + 1)]


def _rows(table: np.ndarray, index) -> np.ndarray:
    """Row `index` of a per-level table (L, c): (c,), or (B, 1, 1, c) for (B,) indices."""
    rows = table[index]
    return rows[:, None, None, :] if rows.ndim == 2 else rows


@functools.lru_cache(maxsize=1)
def load(path: Path = BASE_PATH) -> HyperBase:
    """The shipped base; InrError if it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        m = arrays["hs.c3.bias"].shape[0] // 2
        mz = arrays["hs.c0.kernel"].shape[2]
    except (OSError, ValueError, KeyError) as error:
        raise InrError(f"the hyper base is missing or unreadable ({path}): {error}") from None
    return HyperBase(arrays, fixed.identity(arrays, IDENTITY_BYTES), m, mz)


def export(params: dict, scale_min: float, scale_max: float, path: Path = BASE_PATH) -> bytes:
    """Write trained `networks.hyperprior.Codec` parameters (a nested dict of arrays, under "params")
    as a base; returns its identity. Run once by `experiments/cifar_network/export.py`."""
    p = {k: v for k, v in params["params"].items()}
    arrays = {}
    for module in ("ga", "ha"):
        for layer, weights in p[module].items():
            for kind in ("kernel", "bias"):
                arrays[f"{module}.{layer}.{kind}"] = np.asarray(weights[kind], np.float16)
    for module, layers in (("hs", HYPER_LAYERS), ("gs", SYNTHESIS_LAYERS)):
        for layer in layers:
            arrays[f"{module}.{layer}.kernel"], arrays[f"{module}.{layer}.bias"] = fixed.weights(
                p[module][layer]["kernel"], p[module][layer]["bias"])
    log_gy, log_gz = (np.asarray(p[name], np.float64) for name in ("log_gy", "log_gz"))
    count = (len(log_gy) - 1 + LEVEL_ABOVE - LEVEL_MIN) * LEVEL_STEPS + 1
    levels = level_of(np.arange(count))
    low = np.clip(np.floor(levels), 0, len(log_gy) - 2).astype(int)
    t = (levels - low)[:, None]
    gy = np.exp((1 - t) * log_gy[low] + t * log_gy[low + 1])
    gz = np.exp((1 - t) * log_gz[low] + t * log_gz[low + 1])
    step = np.log(scale_max / scale_min) / (SCALE_COUNT - 1)
    arrays["gain_y"] = np.round(gy * 2 ** GAIN_BITS).astype(np.int64)
    arrays["inv_gain_y"] = np.round(2 ** GAIN_BITS / gy).astype(np.int64)
    arrays["inv_gain_z"] = np.round(2 ** GAIN_BITS / gz).astype(np.int64)
    arrays["log_scale_offset"] = np.round((np.log(gy) - np.log(scale_min)) * 2 ** ACT_BITS).astype(np.int64)
    arrays["index_multiplier"] = np.array(round(2 ** INDEX_BITS / (step * 2 ** ACT_BITS)), np.int64)
    z_scales = np.exp(np.asarray(p["z_logscale"], np.float64)) * gz
    arrays["z_scale_index"] = np.clip(np.round(np.log(z_scales / scale_min) / step), 0, SCALE_COUNT - 1).astype(
        np.uint8)
    arrays["scales"] = scale_min * np.exp(np.arange(SCALE_COUNT) * step)
    edges = np.arange(-SYMBOL_BOUND, SYMBOL_BOUND + 2, dtype=np.float64) - 0.5
    scaled = edges[None] / arrays["scales"][:, None]
    cdf = np.where(scaled < 0, 0.5 * np.exp(np.minimum(scaled, 0)), 1 - 0.5 * np.exp(-np.maximum(scaled, 0)))
    mass = np.maximum(np.diff(cdf, axis=1), PROBABILITY_FLOOR)
    arrays["probabilities"] = mass / mass.sum(axis=1, keepdims=True)
    arrays["gelu_table"] = fixed.gelu_table()
    for name in ("log_lr", "log_gy", "log_gz", "z_logscale"):  # the encoder's refinement
        arrays[name] = np.asarray(p[name], np.float32)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    load.cache_clear()
    return fixed.identity(arrays, IDENTITY_BYTES)
