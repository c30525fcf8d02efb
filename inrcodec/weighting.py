"""Perceptual weighting of audio: a pre-filter before coding and its exact inverse after decoding, so
that the coder's white noise comes out shaped like the signal.

A clip is cut into frames of `frame` samples. Per frame and channel the encoder finds the linear
prediction A(z) of the signal (Levinson, from its reflection coefficients quantized in the arcsine
domain) and, after the filter, the frame's level. The coder is given

    y = W x / g,   W(z) = A(z / gamma_num) / (A(z / gamma_den) (1 - tilt z^-1)),

where g is the level envelope (per frame, quantized in dB, linear between frame centres) raised to
`loudness`; the decoder computes x = W^-1 (g y). Squared error in y is white, so the output's noise
follows |W|^-2 g^2: under the formants, tilted towards the low band (where speech is loud) and down
in the quiet frames, as CELP's weighting filter and a masking threshold shape theirs. Both filters
switch coefficients at frame edges in direct form, so one is the other's inverse sample by sample.

Noise filling: at these rates the coder leaves the upper band of y mostly empty, and the decode
sounds dull. Per frame the encoder stores the level of y above `fill_hz` and, once the chunk is
coded, one gain per channel such that the noise the decoder adds there (a fixed pseudo-random
sequence, high-passed, at those levels times the gain) carries `fill` squared of the energy the
coder left out above `fill_hz`. The noise is added to y before the inverse filter, so it takes the
signal's spectral envelope and level too.

Stored per chunk (`write`, `read`): frame length, order, gamma_num, gamma_den and tilt (in 1/256),
fill_hz (0: no filling), then per channel an entropy-coded payload: each reflection coefficient's,
the level's and the fill level's frame-to-frame differences (`entropy`, one model a sequence);
last, one byte per channel, the fill gain in 1/FILL_RESOLUTION (fixed width, so that the encoder
sets it once the chunk is coded, `with_fill_gains`).
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from . import entropy
from .bitstream import Reader, Writer
from .errors import InrError

ARCSINE_STEP = math.pi / 32  # quantization step of a reflection coefficient's arcsine
LEVEL_STEP_DB = 1.5  # quantization step of the level envelope, dB
MAX_LEVEL_DB = 120.0  # largest attenuation of the level envelope a file may declare, dB
FRACTION = 256  # gamma_num, gamma_den and tilt are stored as integers / FRACTION
MAX_ORDER = 32  # highest prediction order a file may declare
MIN_FRAME, MAX_FRAME = 16, 1 << 14  # frame lengths a file may declare, samples
NOISE_FLOOR = 1e-4  # white noise added to every frame's autocorrelation, relative to its energy (-40 dB)
LAG_WINDOW_HZ = 60.0  # Gaussian lag window's bandwidth, Hz: smooths the envelope between harmonics
FILL_RESOLUTION = 64  # fill gains are stored as integers / 64 in one byte each
FILL_FILTER_ORDER = 4  # order of the Butterworth high-pass that confines the fill noise above fill_hz
MAX_FILL_SHARE = 0.45  # highest fill_hz a file may declare, as a share of the sample rate
FRAMES_PER_BYTE = 4  # most frames x channels a chunk may declare per byte of it (the default: 0.02 at 16 kbps)
NUMBERS_PER_BYTE = 64  # most stored numbers (frames x channels x sequences) per byte of a chunk


@dataclass(frozen=True)
class WeightingConfig:
    frame_ms: float = 30.0  # frame length, milliseconds (rounded to whole samples at the clip's rate)
    order: int = 10  # linear prediction order
    gamma_num: float = 0.95  # bandwidth expansion of A(z) in W's numerator (closer to 1: deeper valleys)
    gamma_den: float = 0.3  # bandwidth expansion of A(z) in W's denominator
    tilt: float = 0.7  # first-order tilt of the noise towards the low band (0: none)
    loudness: float = 0.8  # exponent of the level envelope: 0 keeps the noise level, 1 follows the level fully
    floor_db: float = 40.0  # frames further below the loudest than this are weighted as if at this level, dB
    fill_hz: float = 3000.0  # noise filling above this frequency, Hz (0: none; rounded to whole Hz)
    fill: float = 0.3  # the fill noise's amplitude as a share of what the coder left out above fill_hz


@dataclass(frozen=True)
class Weighting:
    """What a chunk's weighting says: its filters and envelope, per channel, as stored."""
    frame: int  # frame length, samples
    gamma_num: int  # in 1/FRACTION
    gamma_den: int  # in 1/FRACTION
    tilt: int  # in 1/FRACTION
    reflections: np.ndarray  # (channels, frames, order) int: arcsines of the reflection coefficients / ARCSINE_STEP
    levels: np.ndarray  # (channels, frames) int: the envelope in dB / LEVEL_STEP_DB (0 or below)
    fill_hz: int  # noise filling above this frequency, Hz (0: none)
    fill_levels: np.ndarray  # (channels, frames) int: level of y above fill_hz, dB / LEVEL_STEP_DB (none: 0 frames)
    fill_gains: np.ndarray  # (channels,) int: the fill noise's gain in 1/FILL_RESOLUTION (0: no noise)


def _reflections(frame: np.ndarray, order: int, rate: int) -> np.ndarray:
    """(order,) reflection coefficients of a windowed frame's autocorrelation (Levinson-Durbin), |k| < 1."""
    r = np.array([frame[:len(frame) - lag] @ frame[lag:] for lag in range(order + 1)])
    r *= np.exp(-0.5 * (2 * math.pi * LAG_WINDOW_HZ * np.arange(order + 1) / rate) ** 2)
    r[0] = r[0] * (1 + NOISE_FLOOR) + 1e-12
    a, error, k = np.array([1.0]), r[0], np.zeros(order)
    for i in range(1, order + 1):
        k[i - 1] = -(r[i] + a[1:] @ r[i - 1:0:-1]) / error
        a = np.concatenate([a, [0.0]]) + k[i - 1] * np.concatenate([a, [0.0]])[::-1]
        error *= 1 - k[i - 1] ** 2
    return np.clip(k, -0.9999, 0.9999)


def predictors(indices: np.ndarray) -> np.ndarray:
    """(frames, order + 1) A(z) coefficients, a[:, 0] = 1, of (frames, order) quantized reflection
    coefficients (the step-up recursion, all frames at once; always stable)."""
    k = np.sin(np.asarray(indices, np.float64) * ARCSINE_STEP)
    a = np.zeros((len(k), k.shape[1] + 1))
    a[:, 0] = 1.0
    for i in range(1, k.shape[1] + 1):
        a[:, :i + 1] = a[:, :i + 1] + k[:, i - 1:i] * a[:, i::-1]
    return a


def _filters(weighting: Weighting, channel: int) -> tuple[np.ndarray, np.ndarray]:
    """W's numerators and denominators of one channel, (frames, order + 2) each (the numerators
    padded with a zero)."""
    a = predictors(weighting.reflections[channel])
    powers = np.arange(a.shape[1])
    numerators = np.pad(a * (weighting.gamma_num / FRACTION) ** powers, ((0, 0), (0, 1)))
    expanded = a * (weighting.gamma_den / FRACTION) ** powers
    denominators = np.pad(expanded, ((0, 0), (0, 1))) - weighting.tilt / FRACTION * np.pad(expanded, ((0, 0), (1, 0)))
    return numerators, denominators


def _switched(values: np.ndarray, filters: tuple[np.ndarray, np.ndarray], frame: int, inverse: bool) -> np.ndarray:
    """(n,) `values` through per-frame direct-form filters b / a, (frames, K + 1) each with b[:, 0] =
    a[:, 0] = 1 (`inverse`: a / b), switching at frame edges with the past inputs and outputs carried
    over: each frame starts lfilter's state from them, zi[m] = sum over j > m of b[j] x[-(j - m)] -
    a[j] y[-(j - m)]."""
    numerators, denominators = filters[::-1] if inverse else filters
    order = numerators.shape[1] - 1
    out = np.empty(len(values))
    shift = np.arange(order)[:, None] + np.arange(order)[None]  # zi[m] = sum over i of c[m + 1 + i] past[i]
    within, clipped = shift < order, np.minimum(shift, order - 1)
    from_inputs, from_outputs = (np.where(within, c[:, 1:][:, clipped], 0.0) for c in (numerators, denominators))
    for f, (b, a) in enumerate(zip(numerators[:frames(len(values), frame)], denominators)):  # those the values reach
        first = f * frame
        inputs, outputs = np.zeros(order), np.zeros(order)  # the past, latest first (zeros before the start)
        known = min(order, first)
        inputs[:known], outputs[:known] = values[first - known:first][::-1], out[first - known:first][::-1]
        state = from_inputs[f] @ inputs - from_outputs[f] @ outputs
        out[first:first + frame] = lfilter(b, a, values[first:first + frame], zi=state)[0]
    return out


def envelope(levels: np.ndarray, frame: int, count: int) -> np.ndarray:
    """(count,) gain of per-frame levels (dB / LEVEL_STEP_DB), linear between frame centres."""
    gains = 10.0 ** (np.asarray(levels, np.float64) * LEVEL_STEP_DB / 20)
    return np.interp(np.arange(count), np.arange(len(gains)) * frame + (frame - 1) / 2, gains)


def frames(count: int, frame: int) -> int:
    """Number of frames of `frame` samples covering `count` samples."""
    return -(-count // frame)


def _frame_levels(values: np.ndarray, frame: int) -> np.ndarray:
    """(frames,) mean power of (n,) values over each frame."""
    return np.array([np.mean(values[i:i + frame] ** 2) for i in range(0, len(values), frame)])


def _upper_band(values: np.ndarray, fill_hz: int, rate: int) -> np.ndarray:
    """(n,) `values` through the fill's high-pass above `fill_hz`."""
    return sosfilt(butter(FILL_FILTER_ORDER, fill_hz, "highpass", fs=rate, output="sos"), values)


def fill_noise(count: int, fill_hz: int, rate: int) -> np.ndarray:
    """(count,) the fill's noise: a fixed pseudo-random sequence (splitmix64 of the sample index,
    uniform in [-1, 1)), high-passed above `fill_hz` and scaled to unit mean power."""
    with np.errstate(over="ignore"):  # the hash wraps modulo 2**64 on purpose
        state = (np.arange(1, count + 1, dtype=np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
        state = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        state = (state ^ (state >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        state ^= state >> np.uint64(31)
    uniform = (state >> np.uint64(11)).astype(np.float64) / float(1 << 52) - 1.0
    band = _upper_band(uniform, fill_hz, rate)
    return band / max(math.sqrt(np.mean(band**2)), 1e-30)


def _fill(weighting: Weighting, channel: int, noise: np.ndarray) -> np.ndarray:
    """(n,) the fill of one channel at unit gain: the first n samples of the chunk's `fill_noise` at
    the channel's stored fill levels."""
    return noise * envelope(weighting.fill_levels[channel], weighting.frame, len(noise))


def check_config(config: WeightingConfig) -> None:
    """Refuse a configuration whose files the decoder would refuse, naming the field."""
    limits = {"gamma_num": (0, (FRACTION - 1) / FRACTION), "gamma_den": (0, (FRACTION - 1) / FRACTION),
              "tilt": (0, (FRACTION - 1) / FRACTION), "order": (0, MAX_ORDER), "frame_ms": (0.1, 1000.0),
              "loudness": (0, 1), "floor_db": (0, MAX_LEVEL_DB), "fill_hz": (0, 96000.0),
              "fill": (0, 255 / FILL_RESOLUTION)}
    for name, (low, high) in limits.items():
        value = getattr(config, name)
        kind = int if name == "order" else (int, float)  # a whole number of coefficients
        if not (isinstance(value, kind) and low <= value <= high):
            raise InrError(f"weighting {name} = {value!r} is outside {low:g}..{high:g}")


def analyse(values: np.ndarray, rate: int, config: WeightingConfig) -> tuple[Weighting, np.ndarray]:
    """The weighting of (n, channels) values and the weighted values y = W x / g, (n, channels) float32;
    its fill gains are 0 until the chunk is coded (`fill_gains`)."""
    check_config(config)
    count, channels = values.shape
    frame = min(MAX_FRAME, max(MIN_FRAME, round(config.frame_ms * rate / 1000)))
    fill_hz = round(config.fill_hz) if 0 < config.fill_hz < MAX_FILL_SHARE * rate and config.fill > 0 else 0
    window = np.hanning(2 * frame)
    n_frames = frames(count, frame)
    reflections = np.zeros((channels, n_frames, config.order), np.int64)
    levels = np.zeros((channels, n_frames), np.int64)
    fill_levels = np.zeros((channels, n_frames if fill_hz else 0), np.int64)
    weighting = Weighting(frame, *(round(v * FRACTION) for v in (config.gamma_num, config.gamma_den, config.tilt)),
                          reflections, levels, fill_hz, fill_levels, np.zeros(channels, np.int64))
    limit = math.floor((math.pi / 2) / ARCSINE_STEP) - 1
    lowest = -math.floor(MAX_LEVEL_DB / LEVEL_STEP_DB)
    out = np.empty((count, channels), np.float32)
    for c in range(channels):
        signal = values[:, c].astype(np.float64)
        padded = np.pad(signal, (frame // 2, 2 * frame))
        for f in range(n_frames):
            k = _reflections(padded[f * frame:f * frame + 2 * frame] * window, config.order, rate)
            reflections[c, f] = np.clip(np.round(np.arcsin(k) / ARCSINE_STEP), -limit, limit)
        weighted = _switched(signal, _filters(weighting, c), frame, inverse=False)
        power = _frame_levels(weighted, frame)
        level_db = 10 * np.log10(np.maximum(power / max(power.max(), 1e-30), 10 ** (-config.floor_db / 10)))
        levels[c] = np.round(config.loudness * level_db / LEVEL_STEP_DB)
        out[:, c] = weighted / envelope(levels[c], frame, count)
        if fill_hz:
            band_db = 10 * np.log10(np.maximum(_frame_levels(_upper_band(out[:, c].astype(np.float64), fill_hz, rate),
                                                             frame), 1e-30))
            fill_levels[c] = np.clip(np.round(band_db / LEVEL_STEP_DB), lowest, -lowest)
    return weighting, out


def fill_gains(weighting: Weighting, weighted: np.ndarray, decoded: np.ndarray, rate: int, share: float) -> np.ndarray:
    """(channels,) int fill gains of a coded chunk, its (n, channels) weighted values and their
    decode: the noise then carries share**2 of the energy the decode lacks above fill_hz."""
    gains = np.zeros(weighted.shape[1], np.int64)
    if not weighting.fill_hz:
        return gains
    noise = fill_noise(len(weighted), weighting.fill_hz, rate)
    for c in range(weighted.shape[1]):
        missing = _upper_band(weighted[:, c].astype(np.float64) - decoded[:, c], weighting.fill_hz, rate)
        fill = _fill(weighting, c, noise)
        gain = share * math.sqrt(np.sum(missing**2) / max(np.sum(fill**2), 1e-30))
        gains[c] = min(255, round(gain * FILL_RESOLUTION))
    return gains


def restore(weighting: Weighting, values: np.ndarray, rate: int, total: int) -> np.ndarray:
    """(n, channels) float32 signal of decoded weighted values (n, channels), the first n samples of
    a chunk of `total`: the fill noise added, then x = W^-1 (g y)."""
    count = len(values)
    out = np.empty(values.shape, np.float32)
    noise = fill_noise(total, weighting.fill_hz, rate)[:count] if weighting.fill_hz and weighting.fill_gains.any() \
        else None
    for c in range(values.shape[1]):
        filled = values[:, c].astype(np.float64)
        if noise is not None and weighting.fill_gains[c]:
            filled = filled + _fill(weighting, c, noise) * (weighting.fill_gains[c] / FILL_RESOLUTION)
        scaled = filled * envelope(weighting.levels[c], weighting.frame, count)
        out[:, c] = _switched(scaled, _filters(weighting, c), weighting.frame, inverse=True)
    return out


def write(writer: Writer, weighting: Weighting) -> None:
    """The chunk's weighting: its numbers, per channel the models and payload of its sequences, then
    the fill gains (one byte each)."""
    for value in (weighting.frame, weighting.reflections.shape[-1], weighting.gamma_num, weighting.gamma_den,
                  weighting.tilt, weighting.fill_hz):
        writer.varint(value)
    for c, (reflections, levels) in enumerate(zip(weighting.reflections, weighting.levels)):
        fill = (weighting.fill_levels[c],) if weighting.fill_hz else ()
        sequences = [np.diff(s, prepend=0) for s in (*reflections.T, levels, *fill)]
        models = [entropy.choose_model(s) for s in sequences]
        for model in models:
            entropy.write_model(writer, model)
        payload = entropy.encode(sequences, models)
        writer.varint(len(payload))
        writer.raw(payload)
    writer.raw(bytes(weighting.fill_gains.astype(np.uint8)))


def with_fill_gains(block: bytes, gains: np.ndarray) -> bytes:
    """A written weighting `block` with its fill gains ((channels,) ints, 0..255) set."""
    return block[:len(block) - len(gains)] + bytes(np.asarray(gains, np.uint8))


def read(reader: Reader, count: int, channels: int, rate: int, n_bytes: int) -> Weighting:
    """The weighting of a chunk of `count` samples and `channels` channels at `rate` Hz, validated:
    refused if it declares more frames or numbers than FRAMES_PER_BYTE and NUMBERS_PER_BYTE allow a
    chunk of `n_bytes` (so that decoding time grows with the file)."""
    frame = reader.varint(MAX_FRAME, "weighting frame")
    order = reader.varint(MAX_ORDER, "prediction order")
    gammas = [reader.varint(FRACTION - 1, "weighting factor") for _ in range(3)]
    fill_hz = reader.varint(math.floor(MAX_FILL_SHARE * rate), "fill frequency")
    if frame < MIN_FRAME:
        raise InrError(f"corrupt file: weighting frames of {frame} samples")
    n_frames, n_sequences = frames(count, frame), order + 1 + (fill_hz > 0)
    numbers = n_frames * channels * n_sequences
    if n_frames * channels > FRAMES_PER_BYTE * n_bytes or numbers > NUMBERS_PER_BYTE * n_bytes:
        raise InrError(f"corrupt file: {n_frames * channels} weighting frames ({numbers} numbers) are too many "
                       f"for {n_bytes} bytes")
    reflections = np.zeros((channels, n_frames, order), np.int64)
    levels = np.zeros((channels, n_frames), np.int64)
    fill_levels = np.zeros((channels, n_frames if fill_hz else 0), np.int64)
    for c in range(channels):
        models = [entropy.read_model(reader) for _ in range(n_sequences)]
        payload = reader.raw(reader.varint(reader.remaining(), "weighting payload"))
        sequences = [np.cumsum(s, dtype=np.int64) for s in entropy.decode(payload, models, [n_frames] * n_sequences)]
        reflections[c] = np.reshape(np.array(sequences[:order], np.int64).T, (n_frames, order))
        levels[c] = sequences[order]
        if fill_hz:
            fill_levels[c] = sequences[order + 1]
    gains = np.frombuffer(reader.raw(channels), np.uint8).astype(np.int64)
    if np.abs(reflections).max(initial=0) * ARCSINE_STEP >= math.pi / 2:
        raise InrError("corrupt file: a reflection coefficient of magnitude 1 or more")
    if levels.max(initial=0) > 0 or -levels.min(initial=0) * LEVEL_STEP_DB > MAX_LEVEL_DB:
        raise InrError(f"corrupt file: a level envelope outside -{MAX_LEVEL_DB:g}..0 dB")
    if np.abs(fill_levels).max(initial=0) * LEVEL_STEP_DB > MAX_LEVEL_DB:
        raise InrError(f"corrupt file: a fill level outside -{MAX_LEVEL_DB:g}..{MAX_LEVEL_DB:g} dB")
    return Weighting(frame, *gammas, reflections, levels, fill_hz, fill_levels, gains)
