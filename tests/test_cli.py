"""The command line end to end, through subprocesses, as a user runs it; refusals and --quiet in this
process (`run_here`: the same checks, without starting Python and JAX again for each)."""

import os
import subprocess
import sys

import pytest
from PIL import Image

from inrcodec import cli
from inrcodec.eval.metrics import psnr
from inrcodec.modalities.image import read_image


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "inrcodec", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def run_here(capsys, *args):
    """`run` through the command line's entry point in this process."""
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out, err)


def assert_clean_failure(result):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inrcodec: error:"), result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def small_png(tmp_path_factory, crop):
    path = tmp_path_factory.mktemp("cli") / "small.png"
    Image.fromarray(crop).save(path)
    return path


def test_encode_info_decode(small_png, crop, tmp_path):
    inr, png, big = tmp_path / "small.inr", tmp_path / "out.png", tmp_path / "big.png"
    result = run("encode", str(small_png), "-o", str(inr), "--bpp", "1.5", "--steps", "5")  # test_pyramid's steps
    assert result.returncode == 0, result.stderr
    assert "PSNR" in result.stdout
    assert "\r" not in result.stderr and len(result.stderr.splitlines()) <= 3  # a log's progress: a few plain lines
    assert inr.stat().st_size * 8 <= 1.5 * crop.shape[0] * crop.shape[1]
    umask = os.umask(0)
    os.umask(umask)
    assert inr.stat().st_mode & 0o777 == 0o666 & ~umask
    info = run("info", str(inr))
    assert info.returncode == 0 and "56x40" in info.stdout
    assert run("decode", str(inr), "-o", str(png)).returncode == 0
    assert psnr(crop, read_image(png)) > 18.0
    assert run("decode", str(inr), "-o", str(big), "--scale", "2").returncode == 0
    assert read_image(big).shape == (80, 112, 3)
    assert run("decode", str(inr), "-o", str(png), "--crop", "8", "4", "20", "10").returncode == 0
    assert read_image(png).shape == (10, 20, 3)


def test_meta_method_from_the_command_line(small_png, crop, tmp_path):
    inr, png = tmp_path / "m.inr", tmp_path / "m.png"
    result = run("encode", str(small_png), "-o", str(inr), "--bpp", "2", "--method", "meta", "--steps", "50")
    assert result.returncode == 0, result.stderr
    assert "latent levels" in result.stdout
    info = run("info", str(inr))
    assert info.returncode == 0 and "meta: latent levels from" in info.stdout
    assert run("decode", str(inr), "-o", str(png)).returncode == 0
    assert read_image(png).shape == crop.shape


def test_quiet_prints_nothing(small_png, tmp_path, capsys):
    result = run_here(capsys, "encode", str(small_png), "-o", str(tmp_path / "q.inr"), "--bpp", "1", "--steps", "5",
                      "--quiet")  # test_encode_info_decode's steps: its compiled fit is reused
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


def test_missing_input(tmp_path, capsys):
    assert_clean_failure(run_here(capsys, "encode", str(tmp_path / "nope.png"), "-o", str(tmp_path / "x.inr"),
                                  "--bpp", "0.3"))
    assert not (tmp_path / "x.inr").exists()


def test_not_an_image(tmp_path, capsys):
    text = tmp_path / "notes.png"
    text.write_text("hello")
    assert_clean_failure(run_here(capsys, "encode", str(text), "-o", str(tmp_path / "x.inr"), "--bpp", "0.3"))
    assert not (tmp_path / "x.inr").exists()


def test_unwritable_output(small_png, tmp_path, capsys):
    assert_clean_failure(run_here(capsys, "encode", str(small_png), "-o", str(tmp_path / "no" / "such" / "x.inr"),
                                  "--bpp", "1"))
    assert_clean_failure(run_here(capsys, "encode", str(small_png), "-o", str(tmp_path), "--bpp", "1"))


def test_budget_too_small(small_png, tmp_path):  # a refusal as a user meets it: from a process of its own
    assert_clean_failure(run("encode", str(small_png), "-o", str(tmp_path / "x.inr"), "--bpp", "0.01"))
    assert not (tmp_path / "x.inr").exists()


def test_corrupt_truncated_and_foreign_files(small_file, tmp_path, capsys):
    cases = {"flipped.inr": bytearray(small_file), "short.inr": small_file[: len(small_file) // 2],
             "foreign.inr": b"\x89PNG\r\n\x1a\n" + bytes(40), "empty.inr": b""}
    cases["flipped.inr"][len(small_file) // 2] ^= 0x10
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(bytes(data))
        out = tmp_path / (name + ".png")
        assert_clean_failure(run_here(capsys, "decode", str(path), "-o", str(out)))
        assert not out.exists()
        assert_clean_failure(run_here(capsys, "info", str(path)))
    assert_clean_failure(run_here(capsys, "decode", str(tmp_path / "missing.inr"), "-o", str(tmp_path / "m.png")))


def test_unknown_output_extension(small_file, tmp_path, capsys):
    path = tmp_path / "a.inr"
    path.write_bytes(small_file)
    assert_clean_failure(run_here(capsys, "decode", str(path), "-o", str(tmp_path / "a.xyz")))


def test_no_partial_file_after_failed_decode(small_file, tmp_path, capsys):
    path = tmp_path / "a.inr"
    path.write_bytes(small_file)
    assert_clean_failure(run_here(capsys, "decode", str(path), "-o", str(tmp_path / "a.png"), "--scale", "100"))
    assert os.listdir(tmp_path) == ["a.inr"]


def test_audio_encode_info_decode_at_another_rate_and_span(tmp_path, capsys):
    import numpy as np
    import soundfile

    wav, inr, back = tmp_path / "tone.wav", tmp_path / "tone.inr", tmp_path / "back.wav"
    t = np.arange(8000) / 16000  # test_audio's stereo clip's shape, steps and caps: its compiled fits are reused
    tone = 0.3 * np.sin(2 * np.pi * 300 * t)
    soundfile.write(wav, np.stack([tone, 0.5 * tone], axis=1), 16000, subtype="PCM_16")
    result = run("encode", str(wav), "-o", str(inr), "--kbps", "16", "--steps", "10")
    assert result.returncode == 0, result.stderr
    assert "kbps" in result.stdout and "PSNR" in result.stdout
    assert inr.stat().st_size <= 16000 * 0.5 / 8
    info = run("info", str(inr))
    assert info.returncode == 0 and "0.500 s at 16000 Hz" in info.stdout
    assert run("decode", str(inr), "-o", str(back), "--rate", "8000", "--start", "0.1", "--duration", "0.25").returncode == 0
    samples, rate = soundfile.read(back)
    assert rate == 8000 and len(samples) == 2000
    assert_clean_failure(run_here(capsys, "decode", str(inr), "-o", str(tmp_path / "x.png")))  # audio is not an image
    assert_clean_failure(run_here(capsys, "encode", str(wav), "-o", str(tmp_path / "y.inr"), "--bpp", "1"))  # nor a WAV
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert_clean_failure(run_here(capsys, "encode", str(empty), "-o", str(tmp_path / "z.inr"), "--kbps", "16"))
    assert not (tmp_path / "y.inr").exists() and not (tmp_path / "z.inr").exists()
    coin = tmp_path / "coin.inr"
    result = run("encode", str(wav), "-o", str(coin), "--kbps", "64", "--method", "coin", "--steps", "25", "--quiet")
    assert result.returncode == 0 and result.stdout == "" and coin.stat().st_size <= 64000 * 0.5 / 8
    assert "coin: SIREN" in run("info", str(coin)).stdout
