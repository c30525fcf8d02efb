"""Classical audio codecs for side-by-side measurement: MP3 and Opus, written and read in-process by
libsndfile (through soundfile), each at the largest file not above a byte cap (`baselines.BASELINES`
wraps them).

libsndfile sets their bitrate by a compression level in [0, 1] (0: the highest bitrate); the search
bisects it (`ratecontrol.largest_fitting`). MP3 is tried at constant and at variable bitrate, and the
better of the two files under the cap (by PSNR after alignment) is kept. Decoders add a delay (MP3's
is about 1,100 samples), so a decoded clip is aligned to the original by cross-correlation before any metric.
"""

import io
import math

import numpy as np
import soundfile

from ..errors import InrError
from ..ratecontrol import largest_fitting
from .metrics import audio_psnr

# name: (libsndfile format, subtype, bitrate modes tried, highest compression level libsndfile takes)
SETTINGS = {"mp3": ("MP3", "MPEG_LAYER_III", ("CONSTANT", "VARIABLE"), 0.999), "opus": ("OGG", "OPUS", (None,), 1.0)}
SEARCH_STEPS = 12  # bisection steps of the compression level
MAX_LAG = 4096  # largest decoder delay looked for, in samples
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # sample rates libsndfile's Opus encoder takes


def _write(samples: np.ndarray, rate: int, name: str, level: float, mode) -> bytes:
    file_format, subtype, _, _ = SETTINGS[name]
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=file_format, subtype=subtype, compression_level=level,
                    **({"bitrate_mode": mode} if mode else {}))
    return buffer.getvalue()


def decode(data: bytes, reference: np.ndarray) -> np.ndarray:
    """The (samples, channels) float64 of an MP3 or Ogg Opus file's bytes, aligned to `reference` (`align`)."""
    return align(reference, soundfile.read(io.BytesIO(data), dtype="float64", always_2d=True)[0])


def align(reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """`decoded` (n', c) shifted by the lag (0..MAX_LAG samples) that best correlates it with
    `reference` (n, c), cut or zero-padded to n samples."""
    n = len(reference)
    mono_ref, mono_dec = reference.mean(axis=1), decoded.mean(axis=1)
    size = 1 << int(np.ceil(np.log2(len(mono_ref) + len(mono_dec))))
    correlation = np.fft.irfft(np.fft.rfft(mono_dec, size) * np.conj(np.fft.rfft(mono_ref, size)), size)
    lag = int(np.argmax(correlation[:MAX_LAG + 1]))
    shifted = decoded[lag:lag + n]
    return np.pad(shifted, ((0, n - len(shifted)), (0, 0)))


def compress(samples: np.ndarray, rate: int, name: str, budget: int) -> bytes:
    """The best file of codec `name` at most `budget` bytes; InrError if even the smallest is over."""
    if name == "opus" and rate not in OPUS_RATES:
        raise InrError(f"Opus cannot code {rate} Hz audio (it takes {', '.join(map(str, OPUS_RATES))} Hz)")
    best, best_psnr = None, -np.inf
    _, _, modes, top = SETTINGS[name]
    for mode in modes:
        try:  # bisect the level linearly, as log(knob) = top - level (knob 1: level `top`, the smallest file)
            def make_file(knob: float) -> bytes:
                return _write(samples, rate, name, min(top, max(0.0, top - math.log(knob))), mode)

            _, found = largest_fitting(make_file, budget, 1.0, math.exp(top), SEARCH_STEPS)
        except InrError:  # even the smallest file of this mode is over the budget
            continue
        quality = audio_psnr(samples, decode(found, samples))
        if quality > best_psnr:
            best, best_psnr = found, quality
    if best is None:
        raise InrError(f"budget of {budget} bytes is too small for {name} (its smallest file here: "
                       f"{len(_write(samples, rate, name, top, modes[-1]))} bytes)")
    return best
