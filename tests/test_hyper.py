"""The `hyper` method: small images on the shipped network base, files within their caps, packs, the
default for small budgets, hostile bodies, and an entropy model that is bit-identical on any machine."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inrcodec import bitstream, hyperbase, methods, packs
from inrcodec.errors import InrError
from inrcodec.eval.metrics import psnr
from inrcodec.methods import Geometry, hyper
from inrcodec.modalities import image

ROOT = Path(__file__).resolve().parents[1]
SEEDS = Path(__file__).parent / "fuzz_seeds"
SYMBOL = 40  # latents of the context model's test lie in [-SYMBOL, SYMBOL]


@pytest.fixture(scope="module")
def thumbnails() -> np.ndarray:
    """(6, 32, 32, 3) uint8: crops of the shipped samples scaled down 8 and 12 times, as CIFAR-10's images."""
    out = []
    for name in ("kodim05.png", "kodim23.png"):
        with Image.open(ROOT / "data" / name) as photo:
            for factor in (8, 12):
                small = np.asarray(photo.convert("RGB").resize((photo.width // factor, photo.height // factor),
                                                               Image.LANCZOS))
                out += [small[:32, :32], small[-32:, -32:]][: 2 if factor == 8 else 1]
    return np.stack(out)


def test_files_stay_within_their_caps_and_quality_grows_with_the_rate(thumbnails):
    qualities = []
    for bpp in (0.6, 1.2, 3.0):
        files = image.encode_batch(thumbnails, bpp, method="hyper")
        assert all(len(data) <= bpp * 32 * 32 / 8 for data in files)
        assert all(image.read_header(data).method == "hyper" for data in files)
        qualities.append(np.mean([psnr(a, image.decode(data)) for a, data in zip(thumbnails, files)]))
    assert 20 < qualities[0] < qualities[1] < qualities[2], qualities


def test_one_image_alone_is_coded_about_as_in_a_batch(thumbnails):
    """Not bit for bit: XLA's convolutions may add in another order for another batch size."""
    alone = image.encode(thumbnails[1], 1.0, "hyper")
    batched = image.encode_batch(thumbnails, 1.0, method="hyper")[1]
    assert image.decode(alone).shape == (32, 32, 3) and len(alone) <= 128
    levels = [image.read_header(data).layout.index for data in (alone, batched)]
    assert abs(levels[0] - levels[1]) <= 1, levels
    assert abs(psnr(thumbnails[1], image.decode(alone)) - psnr(thumbnails[1], image.decode(batched))) < 0.5


def test_a_pack_is_one_stream_that_fills_its_cap(thumbnails):
    data = image.encode_pack(thumbnails, 1.0, "hyper")
    assert 0.95 * len(thumbnails) * 128 < len(data) <= len(thumbnails) * 128
    found = image.read_header(data)
    assert found.count == len(thumbnails) and len(found.bodies) == 1
    decoded = image.decode_pack(data)
    assert decoded.shape == thumbnails.shape
    singles = [image.decode(f) for f in image.encode_batch(thumbnails, 1.0, method="hyper")]
    assert np.mean([psnr(a, b) for a, b in zip(thumbnails, decoded)]) > np.mean(
        [psnr(a, b) for a, b in zip(thumbnails, singles)]) > 22  # no flush, length or padding an image


def test_odd_sizes_and_grayscale_are_padded_and_cropped_back():
    rng = np.random.default_rng(0)
    smooth = np.cumsum(np.cumsum(rng.normal(0, 3, (21, 45, 1)), 0), 1)
    gray = np.clip(128 + smooth - smooth.mean(), 0, 255).astype(np.uint8)
    data = image.encode(gray, 2.0, "hyper")
    assert len(data) <= 2.0 * 21 * 45 / 8
    assert image.decode(data).shape == (21, 45, 1)
    assert image.decode(data, scale=2).shape == (42, 90, 1)
    assert image.decode(data, crop=(3, 4, 10, 8)).shape == (8, 10, 1)


def test_the_default_is_hyper_below_the_crossover_only():
    assert image.default_method((32, 32, 3), 1.0) == "hyper"
    assert image.default_method((32, 32, 3), 8 * methods.HYPER_CROSSOVER_BYTES / 1024 + 1) == methods.IMAGE_DEFAULT
    assert image.default_method((768, 512, 3), 0.01) == methods.IMAGE_DEFAULT  # too large for `hyper` at any cap
    assert image.default_method((512, 512, 3), 0.06) == methods.IMAGE_DEFAULT  # under `hyper`'s smallest file
    assert image.default_method((32, 32, 3), 0.05) == methods.IMAGE_DEFAULT


def test_a_cap_below_the_lowest_level_is_refused_in_words(thumbnails):
    with pytest.raises(InrError, match="too small"):
        image.encode(thumbnails[0], 0.05, "hyper")


def test_hostile_bodies_are_refused():
    geometry = Geometry((32, 32), 3, "image")
    base = hyperbase.load()
    z = np.zeros((1, 4, 4, base.mz), np.int64)
    _, y_indices = base.context(z, 9)
    image = (z[0], np.zeros((8, 8, base.m), np.int64), y_indices[0], 9)
    foreign = dataclasses.replace(base, identity=b"\x01\x02\x03\x04").stream([image])
    with pytest.raises(InrError, match="another `hyper` base"):
        hyper.read_layout(bitstream.Reader(foreign), geometry, len(foreign) + 7)
    good = base.stream([image])
    assert hyper.read_layout(bitstream.Reader(good), geometry, len(good) + 7).index == 9
    with pytest.raises(InrError, match="up to"):
        hyper.read_layout(bitstream.Reader(good), Geometry((1024, 1024), 3, "image"), 10)
    with pytest.raises(InrError, match="corrupt"):  # more images than so few bytes could hold
        hyper.read_pack(bitstream.Reader(good), geometry, 5000, len(good) + 7)
    for payload in (b"", b"\x01", b"\xff" * 64, good + b"\x01\x02\x03\x04", good[:-1]):
        try:
            layout = hyper.read_layout(bitstream.Reader(payload), geometry, len(payload) + 7)
        except InrError:
            continue
        assert np.isfinite(hyper.render(layout, geometry, (1.0, 1.0), ((0, 0), (32, 32)))).all()


def test_the_decoder_is_integer_arithmetic():
    base = hyperbase.load()
    z = np.random.default_rng(1).integers(-SYMBOL, SYMBOL + 1, (2, 3, 5, base.mz))
    means, indices = base.context(z, np.array([0, base.levels - 1]))
    assert means.dtype == indices.dtype == np.int64
    assert indices.min() >= 0 and indices.max() < hyperbase.SCALE_COUNT
    y = np.random.default_rng(2).integers(-SYMBOL, SYMBOL + 1, means.shape)
    pixels = base.synthesis(y, means, np.array([0, base.levels - 1]))
    assert pixels.shape == (2, 24, 40, 3) and np.isfinite(pixels).all()
    np.testing.assert_array_equal(pixels * 2 ** hyperbase.ACT_BITS, np.round(pixels * 2 ** hyperbase.ACT_BITS))


DECODED = """
import hashlib, sys
import numpy as np
from inrcodec import hyperbase
from inrcodec.modalities import decode_any
base = hyperbase.load()
z = np.random.default_rng(2).integers(-40, 41, (3, 4, 4, base.mz))
means, indices = base.context(z, np.array([3, 40, base.levels - 1]))
print(hashlib.sha256(means.tobytes() + indices.tobytes()).hexdigest())
for path in sys.argv[1:]:
    print(hashlib.sha256(decode_any(open(path, "rb").read()).tobytes()).hexdigest())
"""


def _simd_levels() -> list[str]:
    """NPY_DISABLE_CPU_FEATURES values turning off this machine's dispatched SIMD levels one more at a time."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    found = [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]
    return [" ".join(found[len(found) - k:]) for k in range(len(found) + 1)]


def test_decoding_is_bit_identical_under_every_simd_level_and_another_blas_kernel():
    """`hyper`'s files, and `network`'s (its context and synthesis networks are fixed point too)."""
    paths = sorted(str(p) for p in SEEDS.glob("hyper-*.inr")) + sorted(str(p) for p in SEEDS.glob("network-*.inr"))
    assert len(paths) >= 6 and any("network-synthesis" in p for p in paths)
    settings = [{"NPY_DISABLE_CPU_FEATURES": level} for level in _simd_levels()]
    settings += [{"OPENBLAS_CORETYPE": "Prescott"}, {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1"}]
    outputs = []
    for extra in settings:
        environment = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES",
                                                                         "OPENBLAS_CORETYPE")}
        run = subprocess.run([sys.executable, "-c", DECODED, *paths], capture_output=True, text=True, timeout=120,
                             env={**environment, **extra})
        assert run.returncode == 0, (extra, run.stderr[-2000:])
        outputs.append(run.stdout.split())
    assert len(settings) >= 3 and all(output == outputs[0] for output in outputs), (settings, outputs)
    assert len(outputs[0]) == len(paths) + 1

    assert packs.is_pack((SEEDS / "hyper-pack.inr").read_bytes())
