"""Camera-size photos (issue 30): encode and decode time and peak memory, PSNR, crops and seams.

  python experiments/camera_bench.py [--sizes 4008x3000 8016x6000] [--bpp 0.3]
      [--arms default pyramid jpeg2000 webp] [--out experiments/results/speed/camera.json]

Each image is a mosaic of the Kodak photos (`profile_encode.mosaic`): camera size, natural content.
Every encode and every whole-image decode runs in a process of its own, so that its peak resident
memory (and its forked decode workers', reported apart: they share the parent's pages) is its own.
Arms: `default` (the command line's default method for the size), `pyramid` (the whole image as one
pyramid: the default before `regions`), and Pillow's JPEG2000 and WebP at the same cap; the arms
after `default` run at the first size only. At each size the default file is also decoded by 512x512
crops in-process (aligned to the regions and not), and checked against the whole decode; the seam
band is the pixels within 4 of an inner region edge, its PSNR set against the rest's (beside the same
band of the `pyramid` file, where there is no edge: the mosaic's own photo edges fall there too).
"""

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_encode import mosaic  # noqa: E402

from inrcodec.eval.baselines import BASELINES  # noqa: E402
from inrcodec.eval.metrics import psnr  # noqa: E402
from inrcodec.modalities import image  # noqa: E402

WORK = Path("/tmp/inrcodec-camera-bench")
BAND = 4  # pixels either side of a region edge in the seam band


def peaks(task: str) -> dict:
    """Peak resident memory in bytes of this process and of its largest finished child (forked decode
    workers: their pages shared with this process count in both)."""
    return {f"{task}_peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            f"{task}_workers_peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


def worker(task: str, arm: str, width: int, height: int, bpp: float, path: str) -> dict:
    """One measurement in this fresh process: `encode` an arm's file to `path`, or `decode` it whole."""
    pixels = mosaic(width, height)
    if task == "encode":
        start = time.perf_counter()
        if arm in BASELINES:
            data = BASELINES[arm].encode(pixels, int(bpp * width * height / 8))
        else:
            data = image.encode(pixels, bpp, None if arm == "default" else arm)
        seconds = time.perf_counter() - start
        Path(path).write_bytes(data)
        return {"encode_s": round(seconds, 2), "bytes": len(data), "bpp": len(data) * 8 / (width * height),
                "method": arm if arm in BASELINES else image.read_header(data).method, **peaks(task)}
    data = Path(path).read_bytes()
    start = time.perf_counter()
    decoded = BASELINES[arm].decode(data, pixels) if arm in BASELINES else image.decode(data)
    seconds = time.perf_counter() - start
    measured = {"decode_s": round(seconds, 2), **peaks(task)}
    np.save(path + ".npy", decoded)
    return {**measured, "psnr": psnr(pixels, decoded)}


def run(*args) -> dict:
    """A worker in a fresh process; its JSON line."""
    done = subprocess.run([sys.executable, __file__, "--worker", *map(str, args)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def band_mask(height: int, width: int, pitch: int) -> np.ndarray:
    """(H, W) bool: pixels within BAND of an inner edge between regions owning `pitch` pixels each (the
    last along an axis the rest, as `regions.Tiling`)."""
    def near(size: int) -> np.ndarray:
        edges = np.arange(pitch, pitch * max(1, round(size / pitch)), pitch)
        return np.abs(np.arange(size)[:, None] + 0.5 - edges[None]).min(axis=1, initial=np.inf) <= BAND
    return near(height)[:, None] | near(width)[None, :]


def band_psnr(pixels: np.ndarray, decoded: np.ndarray, mask: np.ndarray) -> dict:
    """PSNR over the seam band and over the rest."""
    error = ((pixels.astype(np.float64) - decoded) ** 2).mean(axis=-1)
    to_db = lambda mse: float(10 * np.log10(255.0 ** 2 / mse))
    return {"band_psnr": to_db(error[mask].mean()), "rest_psnr": to_db(error[~mask].mean())}


def crops(path: Path, whole: np.ndarray, side: int) -> list[dict]:
    """In-process 512x512 crop decodes: aligned to the regions, and at seeded random places."""
    data = path.read_bytes()
    height, width = whole.shape[:2]
    rng = np.random.default_rng(0)
    places = [(side, side), (2 * side, side)] + [(int(rng.integers(0, width - 512)), int(rng.integers(0, height - 512)))
                                                 for _ in range(6)]
    image.decode(data, crop=(0, 0, 64, 64))  # imports and first calls
    found = []
    for left, top in places:
        start = time.perf_counter()
        part = image.decode(data, crop=(left, top, 512, 512))
        seconds = time.perf_counter() - start
        found.append({"left": left, "top": top, "seconds": round(seconds, 3),
                      "equal_to_whole": bool(np.array_equal(part, whole[top:top + 512, left:left + 512]))})
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=["4008x3000", "8016x6000"])
    ap.add_argument("--bpp", type=float, default=0.3)
    ap.add_argument("--arms", nargs="+", default=["default", "pyramid", "jpeg2000", "webp"])
    ap.add_argument("--out", default="experiments/results/speed/camera.json")
    ap.add_argument("--worker", nargs=6)
    a = ap.parse_args()
    if a.worker:
        task, arm, width, height, bpp, path = a.worker
        print(json.dumps(worker(task, arm, int(width), int(height), float(bpp), path)))
        return
    WORK.mkdir(exist_ok=True)
    results = {"bpp_cap": a.bpp, "image": "mosaic of the 24 Kodak photos (landscape), tiled row by row",
               "machine": f"{platform.machine()}, 2 CPU cores, CPython {platform.python_version()}",
               "command": " ".join(sys.argv), "sizes": {}}
    for number, size in enumerate(a.sizes):
        width, height = map(int, size.split("x"))
        rows = {}
        for arm in a.arms if number == 0 else a.arms[:1]:
            path = WORK / f"{size}-{arm}.bin"
            rows[arm] = run("encode", arm, width, height, a.bpp, path)
            rows[arm].update(run("decode", arm, width, height, a.bpp, path))
            print(size, arm, json.dumps(rows[arm]), flush=True)
        pixels = mosaic(width, height)
        default = WORK / f"{size}-default.bin"
        whole = np.load(str(default) + ".npy")
        header = image.read_header(default.read_bytes())
        if header.method == "regions":
            side = header.layout.side
            mask = band_mask(height, width, side - 2 * header.layout.guard)
            rows["default"]["seams"] = band_psnr(pixels, whole, mask)
            if "pyramid" in rows:
                rows["pyramid"]["seams"] = band_psnr(pixels, np.load(str(WORK / f"{size}-pyramid.bin") + ".npy"), mask)
            rows["default"]["crops_512"] = crops(default, whole, side)
            print(size, "seams and crops", json.dumps(rows["default"]["seams"]),
                  [c["seconds"] for c in rows["default"]["crops_512"]], flush=True)
        results["sizes"][size] = rows
        Path(a.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
