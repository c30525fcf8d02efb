"""The classical codecs measured beside inrcodec's methods, behind one protocol (`Baseline`, after
CompressAI's `Codec`), and the one registry of them all (`BASELINES`). Each makes the best file of
its kind not above a byte cap.

Images, through Pillow (here): JPEG (4:2:0, Pillow's default), JPEG2000 (OpenJPEG, irreversible 9/7
wavelet with the colour transform: `irreversible=True, mct=1`), WebP (`method=6`) and AVIF (4:4:4,
`speed=6`). Audio: MP3 and Opus through libsndfile (`audio_baselines`). Shapes: Draco and an SDF
grid with lzma (`shape_baselines`).
"""

import io
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PIL import Image

from ..errors import InrError
from ..ratecontrol import largest_fitting
from . import audio_baselines, shape_baselines


@dataclass(frozen=True)
class Baseline:
    """A classical codec of one modality's signals (image (H, W, C) uint8; audio ((samples, channels)
    float64, rate); shape (vertices (V, 3), faces (F, 3)))."""

    name: str  # the method's name in sweeps and results files
    modality: str  # "image", "audio" or "shape"
    made_by: str  # who makes its files, for the results' descriptions
    # (signal, budget_bytes, reference=None) -> the best file not above budget_bytes; `reference`: a
    # shape's search reference (`metrics.prepare`) to reuse, ignored by other modalities
    encode: Callable[..., bytes]
    # (file, signal) -> the decoded signal: image (H, W, C) uint8; audio (samples, channels) float64
    # aligned to the signal's; shape (vertices, faces)
    decode: Callable[[bytes, Any], Any]


def _pil(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)


def _save(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def _quality(knob: float) -> int:
    """Integer quality 0..100 from a search knob in [1, 101] (the search bisects log(knob), so it cannot reach 0)."""
    return int(round(knob)) - 1


def _jpeg(image, knob, budget):
    return _save(image, format="JPEG", quality=_quality(knob))


def _jpeg2000(image, knob, budget):
    raw = image.width * image.height * len(image.getbands())
    return _save(image, format="JPEG2000", irreversible=True, mct=1 if image.mode == "RGB" else 0,
                 quality_mode="rates", quality_layers=[raw / knob])


def _webp(image, knob, budget):
    return _save(image, format="WEBP", quality=_quality(knob), method=6)


def _avif(image, knob, budget):
    return _save(image, format="AVIF", quality=_quality(knob), subsampling="4:4:4", speed=6)


# name -> (save(image, knob, budget) -> bytes, knob range as a function of the budget); files grow with the
# knob. Qualities run from 0 (WebP's quality 0 can be smaller than its quality 1); JPEG stops at 95, as
# Pillow advises. The search assumes sizes grow with quality, which holds except at such rare steps.
_PILLOW = {
    "jpeg": (_jpeg, lambda budget: (1.0, 96.0)),
    "jpeg2000": (_jpeg2000, lambda budget: (1.0, float(budget))),
    "webp": (_webp, lambda budget: (1.0, 101.0)),
    "avif": (_avif, lambda budget: (1.0, 101.0)),
}


def _encode_image(pixels: np.ndarray, codec: str, budget: int) -> bytes:
    """The largest file of `codec` not above `budget` bytes for (H, W, C) uint8 pixels."""
    save, knob_range = _PILLOW[codec]
    image = _pil(pixels)
    low, high = knob_range(budget)
    _, data = largest_fitting(lambda knob: save(image, knob, budget), budget, low, high, iterations=12)
    return data


def _decode_image(data: bytes, channels: int) -> np.ndarray:
    """Decode an image file back to (H, W, channels) uint8 pixels."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            array = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    except OSError as err:
        raise InrError(f"baseline file could not be decoded ({err})") from None
    return array[..., None] if channels == 1 else array


def _image(name: str) -> Baseline:
    return Baseline(name, "image", "Pillow", lambda pixels, budget, reference=None: _encode_image(pixels, name, budget),
                    lambda data, pixels: _decode_image(data, pixels.shape[2]))


def _audio(name: str) -> Baseline:
    return Baseline(name, "audio", "libsndfile",
                    lambda clip, budget, reference=None: audio_baselines.compress(*clip, name, budget),
                    lambda data, clip: audio_baselines.decode(data, clip[0]))


def _shape(name: str, made_by: str, search, decode) -> Baseline:
    return Baseline(name, "shape", made_by, lambda mesh, budget, reference=None: search(*mesh, budget, reference),
                    lambda data, mesh: decode(data))


BASELINES: dict[str, Baseline] = {baseline.name: baseline for baseline in (
    *map(_image, _PILLOW), *map(_audio, audio_baselines.SETTINGS),
    _shape("draco", "DracoPy", shape_baselines.draco, shape_baselines.decompress),
    _shape("sdf-grid", "lzma", shape_baselines.sdf_grid_lzma, shape_baselines.decode_sdf_grid))}
