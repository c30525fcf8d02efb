"""Audio: reading and writing clips through soundfile, the metrics, and the `pyramid` codec of a clip.

A clip is one row of samples: its pyramid's levels subsample time only (`pyramid.Geometry`, dims
1), each carrying every channel; a stereo clip is coded as mid (L + R) / 2 and side (L - R) / 2.
The field the pyramid fits is the samples (in [-1, 1]) halved, so that its range is an image's.
The decoded clip is a function of time: any sample rate, any span, rendered without the rest.

File body (inside the container of `bitstream`):

    modality (1) | method | sample rate (Hz) | samples | channels | `pyramid_file` body

The cap is on the whole file: at most floor(kbps * 1000 * seconds / 8) bytes, headers included.
"""

import math
import numbers
import os

import numpy as np
import soundfile

from . import bitstream, pyramid, pyramid_file
from .bitstream import AUDIO, IMAGE
from .effort import DEFAULT_EFFORT, apply_effort
from .errors import InrError, reading
from .methods import METHODS
from .pyramid_fit import PyramidConfig

MIN_RATE, MAX_RATE = 8000, 192000  # sample rates read and written, Hz
MAX_SECONDS = 600.0  # longest clip read or encoded (longer clips are refused, not chunked)
MAX_CHANNELS = 2  # mono or stereo
MAX_KBPS = 1536.0  # largest cap (16-bit stereo at 48 kHz takes 1536 kbit/s)
MAX_OUTPUT_SAMPLES = int(MAX_RATE * MAX_SECONDS)  # most samples per channel a decode may produce
SUFFIXES = {".wav", ".flac", ".ogg"}  # audio files the command line and the bench read
MID_SIDE = np.array([[0.5, 0.5], [0.5, -0.5]])  # (mid, side) = MID_SIDE @ (left, right)


def check_clip(rate, samples: int, channels: int, what: str) -> None:
    """Refuse a sample rate, length or channel count outside the codec's limits."""
    if not (isinstance(rate, numbers.Integral) and MIN_RATE <= rate <= MAX_RATE):
        raise InrError(f"{what}: sample rate {rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise InrError(f"{what}: {channels} channels (mono and stereo are supported)")
    if samples < 1:
        raise InrError(f"{what}: no samples")
    if samples > MAX_SECONDS * rate:
        raise InrError(f"{what}: {samples / rate:.0f} s is longer than the {MAX_SECONDS:.0f} s a clip may last")


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """((samples, channels) float64 in [-1, 1], sample rate in Hz) of a WAV, FLAC or OGG file; its
    declared size is checked before any sample is read."""
    with reading(path, "audio"):
        try:
            info = soundfile.info(path)
            check_clip(info.samplerate, info.frames, info.channels, str(path))
            samples, rate = soundfile.read(path, dtype="float64", always_2d=True)
        except soundfile.LibsndfileError as err:
            raise InrError(f"{path}: not a readable audio file ({err.error_string})") from None
        except (RuntimeError, TypeError, ValueError) as err:
            raise InrError(f"{path}: not a readable audio file ({err})") from None
    return as_samples(samples, rate, str(path)), rate


def as_samples(samples, rate: int, what: str = "audio") -> np.ndarray:
    """(samples, channels) float64 of an (n,) or (n, channels) float array in [-1, 1], checked."""
    array = np.asarray(samples)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise InrError(f"{what}: expected (samples,) or (samples, channels) floats, got {array.dtype} {array.shape}")
    check_clip(rate, array.shape[0], array.shape[1], what)
    if not np.all(np.isfinite(array)):
        raise InrError(f"{what}: samples that are not finite (NaN or infinity)")
    return np.clip(array.astype(np.float64), -1.0, 1.0)


def write_audio(path_or_buffer, samples: np.ndarray, rate: int, audio_format: str | None = None) -> None:
    """Write (samples, channels) floats as 16-bit PCM (WAV, FLAC) or Vorbis (OGG), by extension."""
    soundfile.write(path_or_buffer, np.clip(samples, -1.0, 1.0), rate, format=audio_format,
                    subtype="VORBIS" if (audio_format or "").upper() == "OGG" else "PCM_16")


def psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB as COIN++ reports it for audio: both waveforms mapped from [-1, 1] to [0, 1]."""
    mse = np.mean(((reference - decoded) / 2.0) ** 2)
    return math.inf if mse == 0 else float(-10 * np.log10(mse))


def si_snr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Scale-invariant SNR in dB (per channel, mean-removed, then averaged over channels)."""
    values = []
    for ref, dec in zip(np.atleast_2d(reference.T), np.atleast_2d(decoded.T)):
        ref, dec = ref - ref.mean(), dec - dec.mean()
        target = ref * np.dot(dec, ref) / max(np.dot(ref, ref), 1e-20)
        noise = dec - target
        values.append(10 * np.log10(max(np.dot(target, target), 1e-20) / max(np.dot(noise, noise), 1e-20)))
    return float(np.mean(values))


def budget(kbps: float, samples: int, rate: int) -> int:
    """The byte cap of a clip: floor(kbps * 1000 * seconds / 8)."""
    if not (isinstance(kbps, numbers.Real) and 0 < kbps <= MAX_KBPS):  # also false for NaN
        raise InrError(f"kbps must be a number in (0, {MAX_KBPS:g}], got {kbps!r}")
    return math.floor(kbps * 1000 * samples / rate / 8)


def geometry(samples: int, channels: int) -> pyramid.Geometry:
    """The pyramid of a clip: one row, every level carrying every channel."""
    return pyramid.Geometry(1, samples, (channels,) * len(pyramid.STRIDES), dims=1)


def _head(rate: int, samples: int, channels: int) -> bytes:
    writer = bitstream.Writer()
    for value in (AUDIO, METHODS["pyramid"], rate, samples, channels):
        writer.varint(value)
    return bytes(writer.buffer)


def encode_audio(samples, rate: int, kbps: float, config: PyramidConfig | None = None, quiet: bool = True,
                 stats: dict | None = None, effort: int = DEFAULT_EFFORT) -> bytes:
    """Compress (samples,) or (samples, channels) floats in [-1, 1] at `rate` Hz into at most
    floor(kbps * 1000 * seconds / 8) bytes with the `pyramid` method."""
    samples = as_samples(samples, rate)
    count, channels = samples.shape
    cap = budget(kbps, count, rate)
    config = config or apply_effort(PyramidConfig(), effort)
    coded = samples @ MID_SIDE.T if channels == 2 else samples
    field = (coded / 2.0).astype(np.float32)[None]
    data = pyramid_file.encode(field, geometry(count, channels), _head(rate, count, channels), cap, config, quiet,
                               stats, f"a {count / rate:.2f} s clip")
    read_header(data)  # no file is made that the decoder's checks refuse
    return data


def read_header(data: bytes) -> tuple[int, int, int, pyramid_file.Pyramid, bytes]:
    """(sample rate, samples, channels, layout, payload) of an audio file, validated."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InrError(f"expected the bytes of an .inr file, got {type(data).__name__}")
    return parse_header(bitstream.unpack(bytes(data)), len(data))


def parse_header(reader: bitstream.Reader, n_bytes: int) -> tuple[int, int, int, pyramid_file.Pyramid, bytes]:
    """`read_header` on the body of an unpacked file of `n_bytes` bytes (its reader then lists the fields)."""
    modality = reader.varint(255, "modality")
    if modality != AUDIO:
        raise InrError("this file holds an image, not audio" if modality == IMAGE else
                       f"this file holds modality {modality}, which this version cannot decode")
    if reader.varint(255, "method") != METHODS["pyramid"]:
        raise InrError("this audio file uses a method this version cannot decode")
    rate = reader.varint(MAX_RATE, "sample rate")
    count = reader.varint(MAX_OUTPUT_SAMPLES, "samples")
    channels = reader.varint(MAX_CHANNELS, "channels")
    try:
        check_clip(rate, count, channels, "corrupt file")
    except InrError as err:
        raise InrError(str(err)) from None
    clip = geometry(count, channels)
    pyramid_file.check_cost(clip, n_bytes, f"a {count / rate:.2f} s clip")
    return rate, count, channels, pyramid_file.read_layout(reader, clip, channels), reader.rest()


def decode_audio(data: bytes, rate: int | None = None, start: float = 0.0,
                 duration: float | None = None) -> tuple[np.ndarray, int]:
    """((samples, channels) float32 in [-1, 1], sample rate) of an audio file, rendered at `rate` Hz
    (None: the encoded rate) from `start` seconds for `duration` seconds (None: to the end)."""
    encoded_rate, count, channels, layout, payload = read_header(data)
    rate = encoded_rate if rate is None else rate
    if not (isinstance(rate, numbers.Integral) and MIN_RATE <= rate <= MAX_RATE):
        raise InrError(f"rate {rate!r} must be a whole number of Hz in {MIN_RATE}..{MAX_RATE}")
    seconds = count / encoded_rate
    if isinstance(start, numbers.Real) and duration is None:
        duration = seconds - start
    if not (isinstance(start, numbers.Real) and isinstance(duration, numbers.Real)
            and 0 <= start < seconds and 0 < duration and start + duration <= seconds + 1e-9):
        raise InrError(f"span from {start!r} s for {duration!r} s is not inside the {seconds:.3f} s clip")
    scale = rate / encoded_rate
    first, length = round(start * rate), max(1, round(duration * rate))
    length = min(length, round(count * scale) - first)
    if length < 1:
        raise InrError(f"span from {start} s for {duration} s holds no sample at {rate} Hz")
    field = pyramid_file.render(payload, layout, geometry(count, channels), (1.0, scale), (0, first, 1, length))[0]
    if not np.all(np.isfinite(field)):
        raise InrError("corrupt file: it renders to values that are not finite")
    samples = 2.0 * field @ np.linalg.inv(MID_SIDE).T.astype(np.float32) if channels == 2 else 2.0 * field
    return np.clip(samples, -1.0, 1.0).astype(np.float32), rate
