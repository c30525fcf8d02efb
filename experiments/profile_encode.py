"""Where a camera-size encode spends its time (issue 30): cProfile of the default encode of a mosaic.

  python experiments/profile_encode.py [--width 4008 --height 3000 --bpp 0.3]
      [--out experiments/results/speed/profile-12mp-encode.json]

The image is a mosaic of the Kodak photos (768x512 each, tiled row by row, reused as needed), cut to
WIDTH x HEIGHT: an image of camera size with natural content. Kodak is an evaluation set; nothing
here trains. Writes the wall time, the peak resident memory, the file's size and PSNR, and the
functions with the most cumulative and most own time.
"""

import argparse
import cProfile
import json
import platform
import pstats
import resource
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec.eval.metrics import psnr
from inrcodec.modalities import image

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def mosaic(width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8: the Kodak photos in landscape, tiled row by row."""
    photos = []
    for path in sorted(KODAK.glob("*.png")):
        with Image.open(path) as photo:
            photo = photo.convert("RGB")
            photos.append(np.asarray(photo if photo.width > photo.height else photo.rotate(90, expand=True)))
    tile_height, tile_width = photos[0].shape[:2]
    rows, columns = -(-height // tile_height), -(-width // tile_width)
    tiles = [photos[k % len(photos)] for k in range(rows * columns)]
    grid = np.concatenate([np.concatenate(tiles[r * columns:(r + 1) * columns], axis=1) for r in range(rows)])
    return np.ascontiguousarray(grid[:height, :width])


def top(stats: pstats.Stats, key: str, count: int) -> list[dict]:
    """The `count` functions with the largest `key` ("cumulative" or "tottime")."""
    stats.sort_stats(key)
    rows = []
    for function in stats.fcn_list[:count]:
        calls, _, own, cumulative, _ = stats.stats[function]
        rows.append({"function": f"{function[0].split('site-packages/')[-1]}:{function[1]}({function[2]})",
                     "calls": calls, "own_s": round(own, 2), "cumulative_s": round(cumulative, 2)})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=4008)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--bpp", type=float, default=0.3)
    ap.add_argument("--out", default="experiments/results/speed/profile-12mp-encode.json")
    a = ap.parse_args()
    pixels = mosaic(a.width, a.height)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    data = image.encode(pixels, a.bpp)
    profiler.disable()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    stats = pstats.Stats(profiler)
    machine = f"{platform.machine()}, 2 CPU cores, CPython {platform.python_version()}"
    result = {"image": f"Kodak mosaic {a.width}x{a.height}", "bpp_cap": a.bpp, "method": image.read_header(data).method,
              "bytes": len(data), "psnr": psnr(pixels, image.decode(data)), "encode_s": round(seconds, 1),
              "peak_rss_bytes": peak, "machine": machine,
              "by_cumulative_time": top(stats, "cumulative", 40), "by_own_time": top(stats, "tottime", 25)}
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("by_")}))


if __name__ == "__main__":
    main()
