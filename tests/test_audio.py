"""Audio: reading, the cap, every method, chunks, rendering at any rate and span, the metrics, and refusals."""

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from inrcodec.modalities import audio
from inrcodec.methods.coin import CoinConfig
from inrcodec.errors import InrError
from inrcodec.eval.metrics import audio_psnr, si_snr
from inrcodec.networks.fit import FitConfig
from inrcodec.methods.meta import LatentConfig
from inrcodec.methods.pyramid import PyramidConfig
from inrcodec.methods.sparse import SparseConfig

ROOT = Path(__file__).resolve().parents[1]
QUICK = PyramidConfig(steps=10, search_iterations=6)  # a short fit: these tests check behaviour, not quality
# (test_cli's audio test codes a clip of the same length with the same steps: one compiled fit for both)
SHORT_FIT = FitConfig(steps=100, batch=512, learning_rate=2e-3)
NETWORK_CONFIGS = {  # short fits of the network methods
    # the defaults in 100 steps: test_cli's `--method coin` codes a clip of the same shape at the same cap
    "coin": dataclasses.replace(audio.default_config("coin"), fit=dataclasses.replace(audio.default_config("coin").fit, steps=100)),
    "sparse": SparseConfig(dense=CoinConfig(tile=512, depth=2, fit=SHORT_FIT), gated_steps=25),
    "meta": LatentConfig(fit=FitConfig(steps=50, batch=4096, learning_rate=0.1)),
}


def chirp(seconds: float = 0.5, rate: int = 16000, channels: int = 1) -> np.ndarray:
    """(samples, channels) of a rising tone with a little noise, as a clip to code."""
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.4 * np.sin(2 * np.pi * (200 + 600 * t) * t)
    rng = np.random.default_rng(0)
    clip = np.stack([tone * (1 - 0.3 * c) + 0.01 * rng.normal(size=t.size) for c in range(channels)], axis=1)
    return clip


@pytest.fixture(scope="module")
def mono_file() -> tuple[np.ndarray, bytes]:
    clip = chirp()
    return clip, audio.encode_audio(clip, 16000, kbps=32, method="pyramid", config=QUICK)


def test_a_clip_is_under_its_cap_and_close_to_the_original(mono_file):
    clip, data = mono_file
    assert len(data) <= audio.budget(32, len(clip), 16000)
    decoded, rate = audio.decode_audio(data)
    assert rate == 16000 and decoded.shape == clip.shape and decoded.dtype == np.float32
    assert audio_psnr(clip, decoded) > 35.0
    assert si_snr(clip, decoded) > 10.0


def test_a_stereo_clip_keeps_its_two_channels():
    clip = chirp(channels=2)
    data = audio.encode_audio(clip, 16000, kbps=48, method="pyramid", config=QUICK)
    assert len(data) <= audio.budget(48, len(clip), 16000)
    decoded, _ = audio.decode_audio(data)
    assert decoded.shape == clip.shape
    assert min(audio_psnr(clip[:, c], decoded[:, c]) for c in range(2)) > 35.0


def test_a_clip_renders_at_another_rate_and_over_a_span_alone(mono_file):
    _, data = mono_file
    whole, _ = audio.decode_audio(data)
    span, _ = audio.decode_audio(data, start=0.125, duration=0.25)
    assert span.shape == (4000, 1)
    assert np.max(np.abs(span - whole[2000:6000])) < 0.02  # only the post-filter's edge differs
    fast, rate = audio.decode_audio(data, rate=32000)
    assert rate == 32000 and fast.shape == (16000, 1)
    assert audio_psnr(whole, fast[::2]) > 30.0  # the same function of time, sampled twice as often
    for start, duration in ((0.4, 0.2), ("0", None), (float("nan"), 0.1), (0.0, -1.0)):
        with pytest.raises(InrError, match="span"):
            audio.decode_audio(data, start=start, duration=duration)
    with pytest.raises(InrError, match="rate"):
        audio.decode_audio(data, rate=44100.5)


@pytest.mark.parametrize("method", ["coin", pytest.param("sparse", marks=pytest.mark.slow), "meta"])
def test_every_network_method_codes_a_stereo_clip_under_its_cap(method):
    """coin and sparse (a SIREN per tile of samples) and meta (latents on the shipped speech base):
    under the cap, both channels back, renderable at another rate and over a span alone."""
    clip = chirp(channels=2)
    data = audio.encode_audio(clip, 16000, kbps=64, method=method, config=NETWORK_CONFIGS[method])
    assert len(data) <= audio.budget(64, len(clip), 16000)
    assert audio.read_header(data).method == method
    decoded, _ = audio.decode_audio(data)
    assert decoded.shape == clip.shape
    assert min(audio_psnr(clip[:, c], decoded[:, c]) for c in range(2)) > 22.0  # silence: 17 dB
    span, _ = audio.decode_audio(data, start=0.1, duration=0.2)
    np.testing.assert_allclose(span, decoded[1600:4800], atol=1e-5)
    fast, _ = audio.decode_audio(data, rate=44100)  # a rate whose ratio to 16 kHz is not whole
    assert fast.shape == (22050, 2) and audio_psnr(decoded, fast[np.round(np.arange(8000) * 2.75625 + 0.88).astype(int)]) > 20


def test_a_long_clip_is_coded_in_chunks_read_one_at_a_time(tmp_path):
    """Chunks of 1 s: the file is under the whole clip's cap, the encoder reads the WAV a chunk at a
    time (and makes the file encode_audio makes of its samples), and a span across a chunk border
    renders as in the whole clip. (Chunks of 8000 samples, as the fixture's clip: one compiled fit.)"""
    clip = chirp(seconds=2.0, rate=8000)
    path = tmp_path / "long.wav"
    soundfile.write(path, clip, 8000, subtype="FLOAT")
    reads = []
    original_read = soundfile.SoundFile.read

    def counting_read(self, frames=-1, *args, **kwargs):
        reads.append(frames)
        return original_read(self, frames, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(soundfile.SoundFile, "read", counting_read)
        data = audio.encode_file(path, 32, "pyramid", QUICK, chunk_seconds=1)
    assert reads == [8000, 8000]
    assert data == audio.encode_audio(clip, 8000, 32, "pyramid", QUICK, chunk_seconds=1)
    assert len(data) <= audio.budget(32, len(clip), 8000)
    header = audio.read_header(data)
    assert header.chunk_seconds == 1 and len(header.chunks) == 2
    whole, _ = audio.decode_audio(data)
    assert whole.shape == clip.shape and audio_psnr(clip, whole) > 35.0
    span, _ = audio.decode_audio(data, start=0.75, duration=0.5)
    np.testing.assert_array_equal(span, whole[6000:10000])
    faster, _ = audio.decode_audio(data, rate=44100)
    assert len(faster) == 2 * 44100
    with pytest.raises(InrError, match="chunks of"):
        audio.encode_audio(clip, 8000, 32, "pyramid", QUICK, chunk_seconds=0)


def test_wav_files_are_read_with_their_rate_and_the_metrics_behave(tmp_path):
    clip = chirp(rate=8000, channels=2)
    path = tmp_path / "clip.wav"
    soundfile.write(path, clip, 8000, subtype="PCM_16")
    samples, rate = audio.read_audio(path)
    assert rate == 8000 and samples.shape == clip.shape
    assert audio_psnr(clip, clip) == float("inf")
    assert si_snr(clip, 3.0 * clip) > 100.0  # scale-invariant
    assert audio_psnr(clip, clip + 0.02) == pytest.approx(-10 * np.log10(0.01**2))


def test_bad_audio_is_refused_with_one_line(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "text.wav"
    text.write_text("not audio at all")
    truncated = tmp_path / "truncated.wav"
    buffer = io.BytesIO()
    soundfile.write(buffer, chirp(), 16000, format="WAV", subtype="PCM_16")
    truncated.write_bytes(buffer.getvalue()[:30])
    for path in (empty, text, truncated, tmp_path / "missing.wav"):
        with pytest.raises(InrError):
            audio.read_audio(path)
    with pytest.raises(InrError, match="sample rate"):
        audio.encode_audio(chirp(), 1, kbps=16)
    with pytest.raises(InrError, match="not finite"):
        audio.encode_audio(np.full(1000, np.nan), 16000, kbps=16)
    with pytest.raises(InrError, match="no samples"):
        audio.encode_audio(np.zeros(0), 16000, kbps=16)
    with pytest.raises(InrError, match="longer than"):
        audio.check_clip(16000, 16000 * 36000, 1, "a 10-hour header")
    with pytest.raises(InrError, match="too small"):
        audio.encode_audio(chirp(seconds=0.1), 16000, kbps=0.5)


def test_a_file_is_refused_by_the_other_modality(mono_file):
    from inrcodec.modalities import image as codec

    with pytest.raises(InrError, match="audio"):
        codec.decode(mono_file[1])
    image = (ROOT / "tests" / "fuzz_seeds" / "pyramid-rgb.inr").read_bytes()
    with pytest.raises(InrError, match="image"):
        audio.decode_audio(image)


def test_mp3_and_opus_land_under_the_cap_and_are_aligned_before_scoring(tmp_path):
    from inrcodec.eval import audio_baselines
    from inrcodec.eval import sweeps

    folder = tmp_path / "clips"
    folder.mkdir()
    soundfile.write(folder / "a.wav", chirp(seconds=1.0), 16000, subtype="PCM_16")
    sweeps.sweep(str(folder), kbps=[24.0, 48.0], methods=["mp3", "opus"], out_dir=str(tmp_path / "out"), workers=0)
    for name in ("mp3", "opus"):
        rows = json.loads((tmp_path / "out" / "clips" / f"{name}.json").read_text())["per_image"]
        assert {r["target_kbps"] for r in rows} == {24.0, 48.0}
        assert all(r["bytes"] <= r["target_kbps"] * 1000 / 8 for r in rows)
        assert all(r["psnr"] > 30.0 for r in rows)  # only after alignment: MP3's decoder delay would ruin it
    clip = chirp(seconds=1.0)
    delayed = np.concatenate([np.zeros((300, 1)), clip])
    assert audio_psnr(clip, audio_baselines.align(clip, delayed)) == float("inf")
