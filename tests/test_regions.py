"""The `regions` method: camera-size images in independently decodable regions, files within their
caps, crops equal to the whole decode, no seams, bounded memory, and hostile bodies refused."""

import json
import multiprocessing
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import inrcodec
from inrcodec import bitstream, methods
from inrcodec.errors import InrError
from inrcodec.eval.metrics import psnr
from inrcodec.methods import regions
from inrcodec.methods.regions import RegionsConfig
from inrcodec.modalities import image

ROOT = Path(__file__).resolve().parents[1]
SMALL = RegionsConfig(side=128, steps=20, sample_pixels=1 << 15)  # 2 sampled regions of 128 x 128
BAND = 4  # pixels either side of a region edge in the seam band


def synthetic(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(height, width, 3) uint8: smooth colour fields at three scales and a fine texture, with nothing
    special where regions meet."""
    rng = np.random.default_rng(seed)
    total = np.zeros((height, width, 3), np.float32)
    for cells, amplitude in ((8, 70.0), (64, 30.0), (512, 12.0)):
        coarse = rng.normal(size=(max(2, height * cells // 4096), max(2, width * cells // 4096), 3)).astype(np.float32)
        for c in range(3):
            total[..., c] += amplitude * np.asarray(Image.fromarray(coarse[..., c]).resize((width, height),
                                                                                           Image.BICUBIC))
    total += rng.normal(scale=4.0, size=(height, width, 1)).astype(np.float32)
    return np.clip(total + 128, 0, 255).astype(np.uint8)


def band(height: int, width: int, side: int) -> np.ndarray:
    """(H, W) bool: pixels within BAND of an inner edge between regions owning `side` pixels each."""
    near = [np.zeros(size, bool) for size in (height, width)]
    for axis, size in enumerate((height, width)):
        for edge in range(side, side * max(1, round(size / side)), side):  # the last region owns the rest
            near[axis] |= np.abs(np.arange(size) + 0.5 - edge) <= BAND
    return near[0][:, None] | near[1][None, :]


def seam_gap(pixels: np.ndarray, decoded: np.ndarray, side: int) -> float:
    """PSNR of the rest less PSNR of the seam band, in dB."""
    error = ((pixels.astype(np.float64) - decoded) ** 2).mean(axis=-1)
    mask = band(*pixels.shape[:2], side)
    return float(10 * np.log10(error[mask].mean() / error[~mask].mean()))


@pytest.fixture(scope="module")
def coded():
    """A 456x600 synthetic photo at 0.5 bpp in regions of 128: (pixels, file, whole decode)."""
    pixels = synthetic(456, 600)
    data = image.encode(pixels, 0.5, "regions", SMALL)
    return pixels, data, image.decode(data)


def test_a_file_fills_its_cap_and_decodes_well(coded):
    pixels, data, whole = coded
    cap = 0.5 * 456 * 600 / 8
    assert 0.9 * cap <= len(data) <= cap
    header = image.read_header(data)
    assert header.method == "regions" and len(header.layout.records) == 4 * 5
    assert psnr(pixels, whole) > 30


def test_crops_and_scales_decode_as_the_whole_image(coded):
    _, data, whole = coded
    for left, top, width, height in ((0, 0, 128, 128), (100, 90, 200, 150), (597, 450, 3, 6), (0, 0, 600, 456)):
        assert np.array_equal(image.decode(data, crop=(left, top, width, height)),
                              whole[top:top + height, left:left + width]), (left, top)
    double = image.decode(data, scale=2)
    assert double.shape == (912, 1200, 3)
    assert np.array_equal(image.decode(data, scale=2, crop=(130, 7, 100, 300)), double[14:614, 260:460])
    assert image.decode(data, scale=0.37).shape == (169, 222, 3)


def test_threads_and_forked_workers_render_alike(coded, monkeypatch):
    _, data, whole = coded
    header = image.read_header(data)
    monkeypatch.setattr(regions, "pool", lambda jobs: ThreadPoolExecutor(2))
    assert np.array_equal(image.render(header), whole)
    forked = subprocess.run([sys.executable, "-c", "import sys, numpy as np, inrcodec\n"
                             "from inrcodec.methods import regions\n"
                             "assert 'jax' not in sys.modules\n"
                             "print(type(regions.pool(20)).__name__)\n"
                             "sys.stdout.buffer.write(inrcodec.decode(sys.stdin.buffer.read()).tobytes())"],
                            input=data, capture_output=True, check=True)
    name, pixels = forked.stdout.split(b"\n", 1)
    assert name == b"ProcessPoolExecutor"
    assert pixels == whole.tobytes()


def test_a_pool_worker_decodes_it(coded):
    """A daemonic process (a multiprocessing pool's worker) may not start processes: it renders with threads."""
    _, data, whole = coded
    with multiprocessing.get_context("spawn").Pool(1) as workers:
        assert np.array_equal(workers.apply(inrcodec.decode, (data,)), whole)


def test_no_seams_where_regions_meet(coded):
    """The band at the regions' edges as good as the rest: each region codes a pixel of its neighbours
    (without: about 1 dB worse here, `experiments/results/speed/camera-seams.json` on photos)."""
    pixels, _, whole = coded
    assert seam_gap(pixels, whole, SMALL.side - 2 * SMALL.guard) < 0.3


def test_the_default_for_camera_sizes():
    assert image.default_method((2048, 2048, 3), 0.3) == "network"
    assert image.default_method((3000, 4008, 3), 0.3) == "regions"
    assert image.default_method((methods.REGIONS_MIN_PIXELS // 1000 + 1, 1000, 1), 2.0) == "regions"


def test_hostile_bodies_are_refused(coded):
    _, data, _ = coded
    body = bitstream.unpack(data).rest()
    head = bitstream.varints(bitstream.IMAGE, methods.CODES["regions"], 456, 600, 3)
    start = len(head)
    assert body[:start] == head
    mended = [body[:start] + bytes([0]) + body[start + 1:],  # regions of side 0
              body[:start] + bytes([0x7f]) + body[start + 1:],  # of side 127 * 64
              body[:start + 1] + bytes([33]) + body[start + 2:],  # a guard of over a quarter of the side
              body[:-1],  # a record cut short
              body + b"\0\0\0\0"]  # bytes after the records
    for hostile in mended:
        with pytest.raises(InrError):
            image.decode(bitstream.pack(hostile))
    flipped = bytearray(body)
    flipped[-6] ^= 0x55  # inside the last region's payload
    try:
        image.decode(bitstream.pack(bytes(flipped)))
    except InrError:
        pass


def test_configurations_it_cannot_use_are_refused():
    with pytest.raises(InrError, match="multiple of 64"):
        image.encode(synthetic(64, 64), 1.0, "regions", RegionsConfig(side=100))
    with pytest.raises(InrError, match="quarter"):
        image.encode(synthetic(64, 64), 1.0, "regions", RegionsConfig(side=64, guard=17))
    with pytest.raises(InrError, match="too small"):
        image.encode(synthetic(256, 256), 0.01, "regions", SMALL)


@pytest.mark.slow
def test_a_24_megapixel_image_in_bounded_memory(tmp_path):
    """The default command on a synthetic 6000x4000 photo at 0.3 bpp, in processes of their own: the
    encode within 2 GB of peak memory, the whole decode within 1 GB, crops equal to it, no seams."""
    encode_limit, decode_limit = 2 << 30, 1 << 30
    pixels = synthetic(4000, 6000)
    Image.fromarray(pixels).save(tmp_path / "big.png")
    measure = ("import json, resource, subprocess, sys\n"
               "subprocess.run(sys.argv[1:], check=True)\n"
               "print(json.dumps(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))")
    peaks = {}
    for task, args in (("encode", ["encode", str(tmp_path / "big.png"), "-o", str(tmp_path / "big.inr"), "--bpp",
                                   "0.3", "--quiet"]),
                       ("decode", ["decode", str(tmp_path / "big.inr"), "-o", str(tmp_path / "out.png")])):
        done = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "inrcodec", *args],
                              capture_output=True, text=True, check=True)
        peaks[task] = json.loads(done.stdout.strip().splitlines()[-1])
    assert peaks["encode"] < encode_limit and peaks["decode"] < decode_limit, peaks
    data = (tmp_path / "big.inr").read_bytes()
    assert image.read_header(data).method == "regions" and len(data) <= 0.3 * 24e6 / 8
    whole = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(whole, image.decode(data))
    for left, top in ((512, 512), (1000, 3000), (5488, 3488)):
        assert np.array_equal(image.decode(data, crop=(left, top, 512, 512)), whole[top:top + 512, left:left + 512])
    layout = image.read_header(data).layout
    assert seam_gap(pixels, whole, layout.side - 2 * layout.guard) < 0.3
