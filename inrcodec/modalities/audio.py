"""Audio: reading and writing clips through soundfile, the metrics, and coding a clip by any method.

A clip is a signal over one axis, time: its values are the samples (in [-1, 1]) halved, so that
their range is an image's; a stereo clip is coded as mid (L + R) / 2 and side (L - R) / 2. It is cut
into chunks of CHUNK_SECONDS, each coded on its own under its share of the cap, so that encoding
holds one chunk at a time, and decoding any span renders only the chunks it touches. A chunk is a
method's body: `pyramid` (levels subsampling time only, each carrying every channel), a SIREN per
tile of samples (`coin`, `sparse`), or latents on the shipped speech base (`meta`; one set per
channel). The decoded clip is a function of time: any sample rate, any span.

A weighted clip (the default) is coded after a perceptual pre-filter and decoded through its
inverse (`weighting`), so that its noise follows the signal's spectrum and level rather than
squared error alone; a weighted chunk renders at the encoded rate from its start (the inverse
filter runs forward in time) and, for another rate, is resampled by Keys-cubic interpolation.

File body (inside the container of `bitstream`):

    modality (1) | method | sample rate (Hz) | samples | channels | chunk length (whole seconds)
    | weighted (0/1; absent in files of format version 2: 0) | byte length of every chunk but the
    last | the chunks' bodies, each (if weighted) a `weighting` block then a method's body

A chunk's per-byte limits are checked as for a file of its own (its body and the container). The
cap is on the whole file: at most floor(kbps * 1000 * seconds / 8) bytes, headers included.
"""

import dataclasses
import io
import math
import numbers
import os

import numpy as np
import soundfile

from .. import bitstream, methods, pyramid, weighting
from ..bitstream import AUDIO, IMAGE, OVERHEAD, SHAPE
from ..effort import DEFAULT_EFFORT
from ..errors import InrError, reading
from ..methods import Budget, Geometry
from ..weighting import WeightingConfig
from . import AUDIO as AUDIO_RECORD

MIN_RATE, MAX_RATE = 8000, 192000  # sample rates read and written, Hz
MAX_SECONDS = 3600.0  # longest clip read or encoded (an hour)
MAX_CHANNELS = 2  # mono or stereo
MAX_KBPS = 1536.0  # largest cap (16-bit stereo at 48 kHz takes 1536 kbit/s)
MAX_OUTPUT_SAMPLES = int(MAX_RATE * MAX_SECONDS)  # most samples per channel a decode may produce
SUFFIXES = AUDIO_RECORD.suffixes  # audio files the command line and the bench read
MID_SIDE = np.array([[0.5, 0.5], [0.5, -0.5]])  # (mid, side) = MID_SIDE @ (left, right)
CHUNK_SECONDS = 30  # length of the chunks a clip is cut into and coded apart
MAX_CHUNK_SECONDS = 600  # longest chunk a file may declare (a chunk is decoded whole)
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


def subtype(audio_format: str | None) -> str:
    """The sample format written in a WAV or FLAC (16-bit PCM) or an OGG (Vorbis) file."""
    return "VORBIS" if (audio_format or "").upper() == "OGG" else "PCM_16"


def write_audio(path_or_buffer, samples: np.ndarray, rate: int, audio_format: str | None = None) -> None:
    """Write (samples, channels) floats as 16-bit PCM (WAV, FLAC) or Vorbis (OGG), by extension."""
    soundfile.write(path_or_buffer, np.clip(samples, -1.0, 1.0), rate, format=audio_format,
                    subtype=subtype(audio_format))


def write_signal(path: str, signal: tuple[np.ndarray, int]) -> bytes:
    """The bytes of a WAV or FLAC (16-bit PCM) or OGG (Vorbis) file, by `path`'s extension, of
    ((samples, channels) floats in [-1, 1], rate in Hz)."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in SUFFIXES:
        raise InrError(f"{path}: this file holds audio; write it as {', '.join(sorted(SUFFIXES))}")
    buffer = io.BytesIO()
    write_audio(buffer, *signal, extension[1:].upper())
    return buffer.getvalue()


def encode_signal(signal: tuple[np.ndarray, int], kbps: float, method: str | None = None, config=None) -> bytes:
    """`encode_audio` of (samples, rate), as every modality's record offers it."""
    return encode_audio(*signal, kbps, method, config)


DEFAULT_WEIGHTING = WeightingConfig()  # how clips are weighted unless told otherwise


def budget(kbps: float, samples: int, rate: int) -> int:
    """The byte cap of a clip: floor(kbps * 1000 * seconds / 8)."""
    if not (isinstance(kbps, numbers.Real) and 0 < kbps <= MAX_KBPS):  # also false for NaN
        raise InrError(f"kbps must be a number in (0, {MAX_KBPS:g}], got {kbps!r}")
    return math.floor(kbps * 1000 * samples / rate / 8)


def default_config(method: str, effort: int = DEFAULT_EFFORT):
    """The default configuration object of a method for audio, its steps scaled for `effort` (1..9)."""
    if method not in methods.CODES:
        raise InrError(f"unknown method {method!r}; choose from {', '.join(methods.CODES)}")
    return methods.default_config(method, "audio", effort)


def _chunk_spans(samples: int, rate: int, chunk_seconds: int) -> list[tuple[int, int]]:
    """(first sample, samples) of each chunk of a clip."""
    chunk = chunk_seconds * rate
    return [(start, min(chunk, samples - start)) for start in range(0, samples, chunk)]


def _encode_chunk(samples: np.ndarray, rate: int, method: str, budget: int, config, weighted: WeightingConfig | None,
                  quiet: bool, stats: dict | None) -> bytes:
    """The body of one chunk, (samples, channels) in [-1, 1], in at most `budget` bytes, weighted
    as `weighted` says (None: not)."""
    count, channels = samples.shape
    coded = samples @ MID_SIDE.T if channels == 2 else samples
    values = (coded / 2.0).astype(np.float32)
    head, module, geometry = b"", methods.get(method, "audio"), Geometry((count,), channels, "audio")
    if weighted is not None:
        found, values = weighting.analyse(values, rate, weighted)
        writer = bitstream.Writer()
        weighting.write(writer, found)
        head = bytes(writer.buffer)
    chunk = Budget(head, budget + OVERHEAD)  # coded as a file of its own, whose body is kept
    body = module.encode(values, geometry, chunk, config, quiet, stats)
    if weighted is not None and found.fill_hz:  # the fill gains, from what the decoder will render
        layout = module.read_layout(bitstream.Reader(body), geometry, len(head) + len(body) + OVERHEAD)
        decoded = module.render(layout, geometry, (1.0,), ((0,), (count,)))
        head = weighting.with_fill_gains(head, weighting.fill_gains(found, values, decoded, rate, weighted.fill))
    return head + body


def encode_chunks(read, samples: int, channels: int, rate: int, kbps: float, method: str | None = None,
                  config=None, quiet: bool = True, stats: dict | None = None, effort: int = DEFAULT_EFFORT,
                  chunk_seconds: int = CHUNK_SECONDS, weighted: WeightingConfig | None = DEFAULT_WEIGHTING) -> bytes:
    """Compress a clip of `samples` x `channels` at `rate` Hz, read chunk by chunk as read(first,
    count) -> (count, channels) floats, into at most floor(kbps * 1000 * seconds / 8) bytes, in
    chunks of `chunk_seconds` (1..MAX_CHUNK_SECONDS), perceptually weighted as `weighted` says
    (None: coded for squared error alone)."""
    method = method or methods.DEFAULT
    config = config or default_config(method, effort)
    check_clip(rate, samples, channels, "audio")
    cap = budget(kbps, samples, rate)
    if not (isinstance(chunk_seconds, numbers.Integral) and 1 <= chunk_seconds <= MAX_CHUNK_SECONDS):
        raise InrError(f"chunks of {chunk_seconds!r} s: a chunk lasts 1..{MAX_CHUNK_SECONDS} whole seconds")
    spans = _chunk_spans(samples, rate, chunk_seconds)
    head = bitstream.varints(AUDIO, methods.CODES[method], rate, samples, channels, chunk_seconds, weighted is not None)
    available = cap - OVERHEAD - len(head) - 4 * (len(spans) - 1)  # a chunk's length takes at most 4 bytes
    bodies = []
    for first, count in spans:
        chunk = as_samples(read(first, count), rate, f"samples {first}..{first + count}")
        chunk_stats = {}
        bodies.append(_encode_chunk(chunk, rate, method, available * count // samples, config, weighted, quiet,
                                    chunk_stats))
        if stats is not None:  # the last chunk's, and how many chunks
            stats.update(chunk_stats, chunks=len(bodies))
    writer = bitstream.Writer()
    writer.raw(head)
    for body in bodies[:-1]:
        writer.varint(len(body))
    data = bitstream.pack(bytes(writer.buffer) + b"".join(bodies))
    read_header(data)  # no file is made that the decoder's checks refuse
    return data


def encode_audio(samples, rate: int, kbps: float, method: str | None = None, config=None, quiet: bool = True,
                 stats: dict | None = None, effort: int = DEFAULT_EFFORT, chunk_seconds: int = CHUNK_SECONDS,
                 weighted: WeightingConfig | None = DEFAULT_WEIGHTING) -> bytes:
    """Compress (samples,) or (samples, channels) floats in [-1, 1] at `rate` Hz into at most
    floor(kbps * 1000 * seconds / 8) bytes by `method` (None: the default, `pyramid`); `config` as
    `default_config` gives it, None for the defaults at `effort`; perceptually weighted as
    `weighted` says (None: for squared error alone). `stats`, if given, gets what the fit of the
    last chunk did and the number of chunks."""
    samples = as_samples(samples, rate)
    return encode_chunks(lambda first, count: samples[first:first + count], *samples.shape, rate, kbps, method,
                         config, quiet, stats, effort, chunk_seconds, weighted)


def encode_file(path: str | os.PathLike, kbps: float, method: str | None = None, config=None, quiet: bool = True,
                stats: dict | None = None, effort: int = DEFAULT_EFFORT, chunk_seconds: int = CHUNK_SECONDS,
                weighted: WeightingConfig | None = DEFAULT_WEIGHTING) -> bytes:
    """`encode_audio` of a WAV, FLAC or OGG file, read one chunk at a time (memory bounded by a chunk)."""
    with reading(path, "audio"):
        try:
            with soundfile.SoundFile(path) as source:
                check_clip(source.samplerate, source.frames, source.channels, str(path))

                def read(first: int, count: int) -> np.ndarray:
                    source.seek(first)
                    chunk = source.read(count, dtype="float64", always_2d=True)
                    if len(chunk) != count:
                        raise InrError(f"{path}: truncated: {first + len(chunk)} of {source.frames} samples")
                    return chunk

                return encode_chunks(read, source.frames, source.channels, source.samplerate, kbps, method, config,
                                     quiet, stats, effort, chunk_seconds, weighted)
        except soundfile.LibsndfileError as err:
            raise InrError(f"{path}: not a readable audio file ({err.error_string})") from None
        except (RuntimeError, TypeError, ValueError) as err:
            raise InrError(f"{path}: not a readable audio file ({err})") from None


@dataclasses.dataclass(frozen=True)
class Header:
    """What an audio file says about itself, up to its chunks."""
    method: str  # coding method of every chunk
    rate: int  # sample rate the clip was encoded at, Hz
    samples: int  # samples per channel
    channels: int  # 1 (mono) or 2 (stereo, coded as mid and side)
    chunk_seconds: int  # length of every chunk but the last, seconds
    weighted: bool  # whether every chunk is perceptually weighted (`weighting`)
    chunks: list  # each chunk's body (bytes), in time order
    layouts: list  # each chunk's (weighting or None, method's layout) as `read_chunk` gives them (empty until
    # `read_header` checks them)


def read_header(data: bytes) -> Header:
    """The head, chunk bodies and chunk layouts of an audio file, validated (every chunk's own header
    included)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InrError(f"expected the bytes of an .inr file, got {type(data).__name__}")
    header = parse_header(bitstream.unpack(bytes(data)), len(data))
    header.layouts.extend(read_chunk(header, index) for index in range(len(header.chunks)))
    return header


def parse_header(reader: bitstream.Reader, n_bytes: int) -> Header:
    """The head of the body of an unpacked audio file of `n_bytes` bytes and its chunks' bodies (its
    reader then lists the fields); the chunks themselves are checked by `read_chunk`."""
    modality = reader.varint(255, "modality")
    if modality != AUDIO:
        raise InrError("this file holds an image, not audio" if modality == IMAGE else
                       "this file holds a shape, not audio" if modality == SHAPE else
                       f"this file holds modality {modality}, which this version cannot decode")
    method = methods.of_file(reader.varint(255, "method"), "audio")
    rate = reader.varint(MAX_RATE, "sample rate")
    count = reader.varint(MAX_OUTPUT_SAMPLES, "samples")
    channels = reader.varint(MAX_CHANNELS, "channels")
    chunk_seconds = reader.varint(MAX_CHUNK_SECONDS, "chunk length")
    weighted = bool(reader.varint(1, "weighting flag")) if reader.version >= 3 else False
    try:
        check_clip(rate, count, channels, "corrupt file")
    except InrError as err:
        raise InrError(str(err)) from None
    if chunk_seconds < 1:
        raise InrError("corrupt file: chunks of 0 s")
    spans = _chunk_spans(count, rate, chunk_seconds)
    lengths = [reader.varint(n_bytes, "chunk length") for _ in spans[:-1]]
    chunks = [bytes(reader.raw(length)) for length in lengths]
    chunks.append(bytes(reader.rest()))
    return Header(method, rate, count, channels, chunk_seconds, weighted, chunks, [])


def chunk_geometry(header: Header, index: int) -> Geometry:
    """The geometry of chunk `index`: its samples and the clip's channels."""
    _, count = _chunk_spans(header.samples, header.rate, header.chunk_seconds)[index]
    return Geometry((count,), header.channels, "audio")


def read_chunk(header: Header, index: int) -> tuple:
    """(weighting or None, the method's layout) of chunk `index`, validated, payload included."""
    body = header.chunks[index]
    reader, n_bytes = bitstream.Reader(body), len(body) + OVERHEAD  # the limits of a file of its own
    geometry = chunk_geometry(header, index)
    found = weighting.read(reader, geometry.extent[0], header.channels, header.rate, n_bytes) if header.weighted \
        else None
    return found, methods.get(header.method, "audio").read_layout(reader, geometry, n_bytes)


def iter_decode(data, rate: int | None = None, start: float = 0.0, duration: float | None = None):
    """(output sample rate, generator of (samples, channels) float32 pieces in [-1, 1]) of an audio
    file (its bytes, or its `Header` read once) rendered at `rate` Hz (None: the encoded rate) from
    `start` seconds for `duration` seconds (None: to the end), one chunk at a time: the file's header
    is checked before the first piece."""
    header = data if isinstance(data, Header) else read_header(data)
    rate = header.rate if rate is None else rate
    if not (isinstance(rate, numbers.Integral) and MIN_RATE <= rate <= MAX_RATE):
        raise InrError(f"rate {rate!r} must be a whole number of Hz in {MIN_RATE}..{MAX_RATE}")
    seconds = header.samples / header.rate
    if isinstance(start, numbers.Real) and duration is None:
        duration = seconds - start
    if not (isinstance(start, numbers.Real) and isinstance(duration, numbers.Real)
            and 0 <= start < seconds and 0 < duration and start + duration <= seconds + 1e-9):
        raise InrError(f"span from {start!r} s for {duration!r} s is not inside the {seconds:.3f} s clip")
    scale = rate / header.rate
    first, length = round(start * rate), max(1, round(duration * rate))
    length = min(length, round(header.samples * scale) - first)
    if length < 1:
        raise InrError(f"span from {start} s for {duration} s holds no sample at {rate} Hz")
    per_chunk = header.chunk_seconds * rate  # output samples of every chunk but the last

    def pieces():
        to_stereo = np.linalg.inv(MID_SIDE).T.astype(np.float32)
        for index in range(first // per_chunk, (first + length - 1) // per_chunk + 1):
            origin = index * per_chunk
            begin, end = max(first, origin), min(first + length, origin + per_chunk)
            values = render_chunk(header, index, scale, begin - origin, end - begin)
            samples = 2.0 * values @ to_stereo if header.channels == 2 else 2.0 * values
            yield np.clip(samples, -1.0, 1.0).astype(np.float32)

    return rate, pieces()


def render_chunk(header: Header, index: int, scale: float, first: int, count: int) -> np.ndarray:
    """(count, channels) float32 coded values (mid and side for stereo) of chunk `index` rendered at
    `scale` output samples per encoded sample, output samples first..first + count - 1 of the chunk.
    A weighted chunk renders at the encoded rate from its start, is restored (`weighting.restore`),
    and for another rate is resampled by Keys-cubic interpolation."""
    found, layout = header.layouts[index]
    module, geometry = methods.get(header.method, "audio"), chunk_geometry(header, index)
    if found is None:
        return module.render(layout, geometry, (scale,), ((first,), (count,)))
    positions = pyramid.cell_positions(first, count, scale, 1)  # in encoded samples
    end = min(geometry.extent[0], math.floor(positions[-1]) + 3)  # the last position's taps reach 2 samples on
    restored = weighting.restore(found, module.render(layout, geometry, (1.0,), ((0,), (end,))), header.rate,
                                 geometry.extent[0])
    if not np.all(np.isfinite(restored)):
        raise InrError("corrupt file: its weighting renders values that are not finite")
    if scale == 1:
        return restored[first:first + count]
    return pyramid.interpolate_axis(restored, positions, 0)


def decode_audio(data: bytes, rate: int | None = None, start: float = 0.0,
                 duration: float | None = None) -> tuple[np.ndarray, int]:
    """((samples, channels) float32 in [-1, 1], sample rate) of an audio file, rendered at `rate` Hz
    (None: the encoded rate) from `start` seconds for `duration` seconds (None: to the end)."""
    rate, pieces = iter_decode(data, rate, start, duration)
    return np.concatenate(list(pieces)), rate


read, decode_signal = read_audio, decode_audio  # as every modality's record offers them
