"""The shipped synthesis network: one small MLP, trained once on photos, that corrects what the
`network` method's grids render. It runs after the post-filter, pixel by pixel, on FEATURES numbers:

    the 19 level contributions of a colour image's pyramid (luma at stride 1, YCbCr at strides 2..64);
    the post-filtered YCbCr output v, and v(x + o) - v(x) for the OFFSETS o (8 neighbours, 4 at 2 pixels);
    all of them in units of the file's global step; and v itself times RAW_SCALE (where clipping is near);

and gives K corrections of each YCbCr channel in steps (a base's heads), which a file combines per channel by
its stored gains (K a channel, units of 1 / GAIN_RESOLUTION; the encoder's least squares, `gain_equations`)
before adding them. Inputs are rounded to the
fixed point of `fixed` and clipped to +-INPUT_LIMIT steps; the network (`LAYERS`, ReLU between them) runs
in fixed point, so that both sides compute the same integers. At another scale the offsets are multiplied
by the scale rounded to a whole number, as the post-filter's (below 0.5 neither runs).

A base (`bases/*.npz`, written by `export`) holds integer weights; a file names it by its IDENTITY_BYTES-byte
hash and is refused if this version ships no base of that hash. SHIPPED lists them, the encoder's first: the
meta-learned base of four heads (trained for the gains a file fits, `networks.synthesis`), then the first base
(one head, gains 0..MAX_GAIN), kept so that its files decode. Training: `experiments/synthesis_network/`.
"""

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import fixed, postfilter, pyramid
from .fixed import ACT_BITS

BASES = Path(__file__).parent / "bases"
SHIPPED = ("synthesis_meta.npz", "synthesis.npz")  # the bases files may name, the encoder's first
MAX_HEADS = 8  # most corrections a channel a base may give
IDENTITY_BYTES = 4  # of the base's hash in each file that uses it
LAYERS = ("dense_0", "dense_1", "dense_2")  # the network's dense layers, in order
CONTRIBUTIONS = 19  # level contributions of a colour image: luma at the finest level, YCbCr at six
OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1),
           (-2, 0), (2, 0), (0, -2), (0, 2))  # neighbours whose difference from a pixel the network reads
REACH = 2  # the farthest offset, in pixels
RAW_SCALE = 8.0  # the output's own values (about +-0.5) enter times this
FEATURES = CONTRIBUTIONS + 3 * (1 + len(OFFSETS)) + 3  # the network's inputs
INPUT_LIMIT = 256  # inputs beyond +-this many steps read as +-this
GAIN_RESOLUTION = 64  # stored gains are integers / 64
MAX_GAIN = 255  # largest stored |gain| (about 4); a base of one head has gains 0..MAX_GAIN only
RGB_METRIC = pyramid.YCBCR_TO_RGB.T @ pyramid.YCBCR_TO_RGB  # the squared RGB error of a YCbCr error e is e M e
BAND_PIXELS = 1 << 17  # about the pixels rendered, filtered and corrected at once (fewer, larger bands run faster)
CHUNK_PIXELS = 8192  # about the pixels whose features and network run at once (their numbers stay in cache)


def features(contributions: list[np.ndarray], output: np.ndarray, step: float, spacing: tuple[int, int]) -> np.ndarray:
    """(h * w, FEATURES) float64 inputs of the network, in units of 2**-ACT_BITS steps, rounded and
    clipped (computed in float32): contributions (h, w, c) of each level, finest first (19 channels in
    all); output (h + 2 R r, w + 2 R c, 3) the post-filtered YCbCr output with R = REACH times
    `spacing` (r, c) rows and columns around the h x w pixels."""
    height, width = contributions[0].shape[:2]
    rows, cols = (REACH * s for s in spacing)
    planes = np.ascontiguousarray(output.transpose(2, 0, 1))  # channel-major: every pass below is contiguous
    centre = planes[:, rows:rows + height, cols:cols + width]
    x = np.empty((FEATURES, height, width), np.float32)
    at = 0
    for part in contributions:
        x[at:at + part.shape[-1]] = part.transpose(2, 0, 1)
        at += part.shape[-1]
    x[at:at + 3] = centre
    at += 3
    for dy, dx in OFFSETS:
        top, left = rows + dy * spacing[0], cols + dx * spacing[1]
        np.subtract(planes[:, top:top + height, left:left + width], centre, out=x[at:at + 3])
        at += 3
    x[:at] *= np.float32(2.0 ** ACT_BITS / step)
    np.multiply(centre, np.float32(RAW_SCALE * 2.0 ** ACT_BITS), out=x[at:])
    np.rint(x, out=x)
    np.clip(x, -INPUT_LIMIT << ACT_BITS, INPUT_LIMIT << ACT_BITS, out=x)
    return x.reshape(FEATURES, height * width).astype(np.float64).T


@dataclass(frozen=True)
class SynthesisBase(fixed.DenseBase):
    """A loaded base (`fixed.DenseBase`: its LAYERS, identity IDENTITY_BYTES of its hash)."""

    @functools.cached_property
    def heads(self) -> int:
        """Corrections the base gives a channel."""
        return self.layers[-1][0].shape[1] // 3

    @property
    def signed(self) -> bool:
        """Whether its files' gains may be negative (every base but the first, of one head)."""
        return self.heads > 1

    @functools.cached_property
    def macs(self) -> int:
        """Multiply-adds of the network a pixel."""
        return sum(kernel.size for kernel, _ in self.layers)

    def correction(self, x: np.ndarray) -> np.ndarray:
        """(n, 3, heads) float64 YCbCr corrections, in steps, of pixels with `features` x (n, FEATURES)."""
        for kernel, bias in self.layers[:-1]:
            x = fixed.dense_relu(x, kernel, bias)
        return (fixed.dense(x, *self.layers[-1]) * 2.0 ** -ACT_BITS).reshape(len(x), 3, self.heads)


@dataclass(frozen=True)
class Synthesis:
    """The correction a file asks for: the base, its (3, heads) int gains as stored, and its global step."""
    base: SynthesisBase  # the shipped network
    gains: np.ndarray  # (3, heads) int gains of the corrections, per YCbCr channel, in 1 / GAIN_RESOLUTION
    step: float  # the file's global step
    reach: int = REACH  # pixels around a pixel whose output it reads

    def bands(self, levels: list, geometry: pyramid.Geometry, scales: tuple[float, float], region: tuple,
              origin: tuple[int, int], weights: np.ndarray, take) -> None:
        """Render (level index, grid) pairs over `region` = (top, left, h, w) in output samples (as
        `pyramid.render`), post-filter them by `weights` and run the network, band by band (about
        BAND_PIXELS each), bands side by side (`fixed.side_by_side`): `take(top, output, corrections)` gets
        each band's first row (in the region), its (rows, w, 3) float32 post-filtered output and (rows, w, 3,
        heads) float64 corrections in steps (not yet combined by the gains). Each band is rendered with the
        rows the filter and the network reach beyond it (edges extended only at the region's), so that bands
        join as one render of the region would."""
        spacing = tuple(round(scale) for scale in scales)
        reach, margin = REACH * spacing[0], (postfilter.RADIUS + REACH) * spacing[0]
        height, width = region[2], region[3]
        least = max(2 * margin, 1)  # a band's fewest rows: twice its margins
        bands = -(-height // max(BAND_PIXELS // width, least))
        if bands > 1:  # a multiple of the threads, two each at least, so that they run side by side
            bands = min(max(2 * fixed.THREADS, -(-bands // fixed.THREADS) * fixed.THREADS), max(1, height // least))
        rows = -(-height // bands)  # each band's rows (the last's fewer)

        def band(top: int) -> None:
            count = min(rows, height - top)
            first, last = max(0, top - margin), min(height, top + count + margin)
            parts = pyramid.contributions(levels, geometry, self.step, scales,
                                          (region[0] + first, region[1], last - first, width), origin)
            linear = np.zeros((last - first, width, 3), np.float32)
            for part in parts:
                linear[..., :part.shape[-1]] += part
            output = postfilter.apply(linear, weights, scales)
            padded = np.pad(output, ((reach, reach), (REACH * spacing[1],) * 2, (0, 0)), mode="edge")
            corrections = np.empty((count, width, 3, self.base.heads))
            chunk_rows = max(1, CHUNK_PIXELS // width)
            for row in range(top - first, top - first + count, chunk_rows):  # a few rows at a time: they stay in cache
                end = min(row + chunk_rows, top - first + count)
                x = features([part[row:end] for part in parts], padded[row:end + 2 * reach], self.step, spacing)
                at = row - top + first
                corrections[at:at + end - row] = self.base.correction(x).reshape(end - row, width, 3, -1)
            take(top, output[top - first:top - first + count], corrections)

        fixed.side_by_side(band, range(0, height, rows))

    def render(self, levels: list, geometry: pyramid.Geometry, scales: tuple[float, float], region: tuple,
               origin: tuple[int, int], weights: np.ndarray) -> np.ndarray:
        """(h, w, 3) float32 field of (level index, grid) pairs over `region`, post-filtered by `weights`,
        plus the network's corrections combined by the gains (`bands`)."""
        out = np.empty((region[2], region[3], 3), np.float32)
        scale = self.gains * (self.step / GAIN_RESOLUTION)

        def take(top: int, output: np.ndarray, corrections: np.ndarray) -> None:
            out[top:top + len(output)] = output + np.einsum("...ck,ck->...c", corrections, scale)

        self.bands(levels, geometry, scales, region, origin, weights, take)
        return out


def gain_equations(corrections, errors, xp=np):
    """(..., 3K, 3K) A and (..., 3K) b of the least squares of gains g (3, K), flattened channel-major, that
    minimise the squared RGB error left, sum_n |RGB (e_n - sum_k c_nck g_ck)|^2 (A g = b): of corrections c
    (..., n, 3, K) and errors e (..., n, 3), both in steps; `xp` numpy (the encoder) or jax.numpy (training)."""
    metric = xp.asarray(RGB_METRIC, corrections.dtype)
    gram = xp.einsum("...nck,...ndl->...ckdl", corrections, corrections) * metric[:, None, :, None]
    sums = xp.einsum("...nck,cd,...nd->...ck", corrections, metric, errors)
    size = 3 * corrections.shape[-1]
    return gram.reshape(*gram.shape[:-4], size, size), sums.reshape(*sums.shape[:-2], size)


@functools.lru_cache(maxsize=len(SHIPPED))
def load(name: str = SHIPPED[0]) -> SynthesisBase:
    """A shipped base by its file name; InrError if it is missing, unreadable or not of this version's shapes."""
    heads = tuple(3 * k for k in range(1, MAX_HEADS + 1))
    arrays = fixed.load_layers(BASES / name, LAYERS, "synthesis network", FEATURES, heads)
    return SynthesisBase(arrays, LAYERS, fixed.identity(arrays, IDENTITY_BYTES))


def named(identity: bytes) -> SynthesisBase:
    """The shipped base of a file's `identity`; InrError if this version ships none."""
    return fixed.named(identity, SHIPPED, load, "corrupt file, or one made with a synthesis network this version "
                       "does not ship")


def export(params: dict, record: dict, path: Path = BASES / SHIPPED[0]) -> bytes:
    """Write a trained `networks.synthesis.SynthesisMLP`'s parameters as a base, and `record` (its
    training) beside it as JSON (`fixed.export_layers`); returns its identity."""
    identity = fixed.export_layers(params, LAYERS, record, path, IDENTITY_BYTES)
    load.cache_clear()
    return identity
