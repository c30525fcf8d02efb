"""Perceptual weighting of audio: the inverse filter undoes the pre-filter, weighted files keep every
promise of an audio file, the noise follows the signal, files of format version 2 still decode, and
a corrupt weighting block is refused."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import lfilter

from inrcodec import bitstream, weighting
from inrcodec.errors import InrError
from inrcodec.eval.metrics import audio_psnr
from inrcodec.methods.pyramid import PyramidConfig
from inrcodec.modalities import audio

QUICK = PyramidConfig(steps=10, search_iterations=6)  # test_audio's short fit (one compiled fit for both)
SEEDS = Path(__file__).parent / "fuzz_seeds"


def voiced(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    """(samples, channels): a 140 Hz pulse train through two resonances, loud for its first half and
    30 dB quieter for its second, with a little noise: a clip shaped like speech."""
    n = int(seconds * rate)
    excitation = np.zeros(n)
    excitation[::rate // 140] = 1.0
    signal = excitation
    for centre, radius in ((500, 0.97), (1500, 0.95)):  # two-pole resonators
        signal = lfilter([1.0], [1.0, -2 * radius * np.cos(2 * np.pi * centre / rate), radius**2], signal)
    signal = 0.5 * signal / np.abs(signal).max()
    signal[n // 2:] *= 10 ** (-30 / 20)
    rng = np.random.default_rng(1)
    return np.stack([signal * (1 - 0.4 * c) + 1e-4 * rng.normal(size=n) for c in range(channels)], axis=1)


@pytest.mark.parametrize("rate, channels", [(16000, 1), (48000, 2), (8000, 1)])
def test_the_inverse_filter_undoes_the_pre_filter(rate, channels):
    clip = (voiced(0.3, rate, channels) / 2).astype(np.float32)
    found, weighted = weighting.analyse(clip, rate, weighting.WeightingConfig())
    assert weighted.shape == clip.shape and weighted.dtype == np.float32
    assert found.reflections.shape == (channels, weighting.frames(len(clip), found.frame), 10)
    assert np.all(found.levels <= 0) and found.levels.min() < -10  # the quiet half is 30 dB down
    assert found.fill_hz == 3000 and found.fill_levels.shape == found.levels.shape and not found.fill_gains.any()
    np.testing.assert_allclose(weighting.restore(found, weighted, rate, len(clip)), clip, atol=2e-6)
    writer = bitstream.Writer()
    weighting.write(writer, found)
    block = weighting.with_fill_gains(bytes(writer.buffer), np.arange(1, channels + 1))
    again = weighting.read(bitstream.Reader(block), len(clip), channels, rate, len(block))
    assert (again.frame, again.gamma_num, again.gamma_den, again.tilt, again.fill_hz) == (found.frame, 243, 77, 179,
                                                                                          3000)
    for name in ("reflections", "levels", "fill_levels"):
        np.testing.assert_array_equal(getattr(again, name), getattr(found, name))
    assert again.fill_gains.tolist() == list(range(1, channels + 1))


@pytest.fixture(scope="module")
def weighted_file() -> tuple[np.ndarray, bytes]:
    clip = voiced(0.5, 16000)
    return clip, audio.encode_audio(clip, 16000, kbps=32, method="pyramid", config=QUICK)


def test_a_weighted_clip_is_under_its_cap_and_renders_any_span_and_rate(weighted_file):
    clip, data = weighted_file
    assert len(data) <= audio.budget(32, len(clip), 16000)
    header = audio.read_header(data)
    assert header.weighted and header.layouts[0][0] is not None
    whole, _ = audio.decode_audio(data)
    assert whole.shape == clip.shape and audio_psnr(clip, whole) > 35.0
    span, _ = audio.decode_audio(data, start=0.1, duration=0.25)
    np.testing.assert_array_equal(span, whole[1600:5600])  # the inverse filter runs from the chunk's start
    fast, rate = audio.decode_audio(data, rate=32000)
    assert rate == 32000 and fast.shape == (16000, 1) and audio_psnr(whole, fast[1::2]) > 30.0
    slow, _ = audio.decode_audio(data, rate=11025, start=0.2, duration=0.1)
    assert slow.shape == (1102, 1) and np.all(np.isfinite(slow))


def test_the_noise_follows_the_signal_where_plain_coding_spreads_it_evenly(weighted_file):
    """The clip's second half is 30 dB quieter: weighted, its noise drops with it; unweighted it does not."""
    clip, data = weighted_file
    plain = audio.encode_audio(clip, 16000, kbps=32, method="pyramid", config=QUICK, weighted=None)
    assert not audio.read_header(plain).weighted
    half = len(clip) // 2

    def drop_db(file: bytes) -> float:
        error = audio.decode_audio(file)[0][:, 0] - clip[:, 0]
        return 10 * np.log10(np.mean(error[:half] ** 2) / np.mean(error[half:] ** 2))

    assert drop_db(data) > drop_db(plain) + 6.0


def test_noise_fills_the_upper_band_the_coder_left_empty(weighted_file):
    """A file's fill adds noise above fill_hz to its decode (and none without filling); its gain gives
    the noise `fill` squared of the energy a decode lacks there (here one lacking the whole band)."""
    clip, _ = weighted_file
    filled = audio.encode_audio(clip, 16000, kbps=8, method="pyramid", config=QUICK)
    dull = audio.encode_audio(clip, 16000, kbps=8, method="pyramid", config=QUICK,
                              weighted=dataclasses.replace(audio.DEFAULT_WEIGHTING, fill=0.0))
    assert audio.read_header(dull).layouts[0][0].fill_hz == 0
    header = audio.read_header(filled)
    found, layout = header.layouts[0]
    assert found.fill_gains[0] > 0
    header.layouts[0] = dataclasses.replace(found, fill_gains=0 * found.fill_gains), layout
    difference = (audio.decode_audio(filled)[0] - audio.decode_audio(header)[0])[:, 0].astype(np.float64)
    power = np.abs(np.fft.rfft(difference)) ** 2
    assert power.sum() > 0 and power[:len(power) * 2500 // 8000].sum() < 0.1 * power.sum()

    values = (clip / 2).astype(np.float32)
    found, weighted = weighting.analyse(values, 16000, audio.DEFAULT_WEIGHTING)
    band = weighting._upper_band(weighted[:, 0].astype(np.float64), 3000, 16000)
    gains = weighting.fill_gains(found, weighted, weighted - band[:, None], 16000, 0.3)
    noise = weighting._fill(found, 0, weighting.fill_noise(len(clip), 3000, 16000))
    noise *= gains[0] / weighting.FILL_RESOLUTION
    share = np.sum(noise**2) / np.sum(weighting._upper_band(band, 3000, 16000) ** 2)  # as the decoder sees the band
    assert abs(np.sqrt(share) - 0.3) <= 0.3 * 0.5 / gains[0] + 1e-9  # the gain is rounded to 1/FILL_RESOLUTION
    noise = weighting.fill_noise(16000, 3000, 16000)  # the same on every machine: no random generator's state
    np.testing.assert_array_equal(noise, weighting.fill_noise(16000, 3000, 16000))
    power = np.abs(np.fft.rfft(noise)) ** 2
    assert abs(np.mean(noise**2) - 1) < 1e-9 and power[:2000].sum() < 0.02 * power.sum()  # bins are 1 Hz apart


def test_files_of_format_version_2_decode_as_unweighted():
    data = (SEEDS / "audio-mono.inr").read_bytes()
    assert data[len(bitstream.MAGIC)] == 2
    header = audio.read_header(data)
    assert not header.weighted and header.layouts[0][0] is None
    decoded, _ = audio.decode_audio(data)
    assert decoded.shape == (2400, 1) and np.all(np.isfinite(decoded))


def block(frame=480, order=2, sequences=None, frames=4, fill_hz=0) -> bytes:
    """A weighting block of one channel as `weighting.write` makes it, from order + 1 sequences of
    frame-to-frame differences (one more with a fill), with a fill gain of 1."""
    sequences = sequences or [np.zeros(frames, np.int64)] * (order + 1 + (fill_hz > 0))
    values = [np.cumsum(s) for s in sequences]
    writer = bitstream.Writer()
    weighting.write(writer, weighting.Weighting(
        frame, 243, 77, 179, np.reshape(np.array(values[:order], np.int64).T, (1, len(values[0]), order)),
        values[order][None], fill_hz, np.array(values[order + 1:], np.int64).reshape(1, -1), np.ones(1, np.int64)))
    return bytes(writer.buffer)


@pytest.mark.parametrize("data, message", [
    (block(frame=8), "frames of 8 samples"),
    (block(order=33), "prediction order"),
    (block(sequences=[np.array([16, 0, 0, 0]), np.zeros(4, np.int64), np.zeros(4, np.int64)]), "magnitude 1"),
    (block(sequences=[np.zeros(4, np.int64), np.zeros(4, np.int64), np.array([1, 0, 0, 0])]), "level envelope"),
    (block(sequences=[np.zeros(4, np.int64), np.zeros(4, np.int64), np.array([-81, 0, 0, 0])]), "level envelope"),
    (block(fill_hz=7201), "fill frequency"),
    (block(fill_hz=3000, sequences=[np.zeros(4, np.int64)] * 3 + [np.array([81, 0, 0, 0])]), "fill level"),
    (block()[:-1], "past the end"),
])
def test_a_corrupt_weighting_block_is_refused(data, message):
    with pytest.raises(InrError, match=message):
        weighting.read(bitstream.Reader(data), 1920, 1, 16000, 1000)


@pytest.mark.parametrize("order, n_bytes", [(0, 999), (32, 2000)])
def test_a_weighting_too_large_for_its_file_is_refused_before_it_is_read(order, n_bytes):
    """4000 frames of 16 samples: too many frames for 999 bytes, too many numbers (33 a frame) for 2000."""
    with pytest.raises(InrError, match="too many"):
        weighting.read(bitstream.Reader(block(frame=16, order=order)), 4000 * 16, 1, 16000, n_bytes)
    assert weighting.read(bitstream.Reader(block(frame=16, order=0, frames=4000)), 4000 * 16, 1, 16000, 1000)


@pytest.mark.parametrize("field, value", [("gamma_num", 1.0), ("tilt", -0.1), ("order", 33), ("order", 10.5),
                                          ("frame_ms", 0.0), ("fill", 5.0), ("loudness", float("nan"))])
def test_a_weighting_the_decoder_would_refuse_is_refused_when_encoding(field, value):
    with pytest.raises(InrError, match=field):
        audio.encode_audio(voiced(0.1, 16000), 16000, 32, "pyramid", QUICK,
                           weighted=dataclasses.replace(audio.DEFAULT_WEIGHTING, **{field: value}))
