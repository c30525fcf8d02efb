"""Where `hyper` stops beating `pyramid`: small images at several sizes and caps, both methods side by side.

  python3 experiments/hyper_crossover.py [--images 6] [--out experiments/results/hyper/crossover.json]

Each of the first Kodak images (an evaluation set: nothing here trains) is scaled down so its short
side is S in SIZES and centre-cropped to S x S; both methods code it under each cap in CAPS (bpp).
Rates are real file bytes. The crossover is the smallest cap in bytes at which `pyramid`'s mean
PSNR reaches `hyper`'s (`methods.HYPER_CROSSOVER_BYTES` is set from it).
"""
import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec.eval.metrics import psnr
from inrcodec.modalities import image

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
SIZES = (32, 64, 128, 256)  # short side in pixels
CAPS = (0.5, 1.0, 2.0)  # bits per pixel


def thumbnail(path: Path, size: int) -> np.ndarray:
    with Image.open(path) as photo:
        scale = size / min(photo.size)
        small = photo.convert("RGB").resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS)
    pixels = np.asarray(small)
    top, left = (pixels.shape[0] - size) // 2, (pixels.shape[1] - size) // 2
    return pixels[top:top + size, left:left + size]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--out", default="experiments/results/hyper/crossover.json")
    a = ap.parse_args()
    paths = sorted(KODAK.glob("*.png"))[:a.images]
    rows = []
    for size in SIZES:
        pictures = [thumbnail(p, size) for p in paths]
        for bpp in CAPS:
            row = {"size": size, "bpp_cap": bpp, "cap_bytes": int(bpp * size * size / 8)}
            for method in ("hyper", "pyramid"):
                start = time.perf_counter()
                files = [image.encode(x, bpp, method) for x in pictures]
                seconds = (time.perf_counter() - start) / len(files)
                row[method] = {"bpp": float(np.mean([len(f) * 8 / size ** 2 for f in files])),
                               "psnr": float(np.mean([psnr(x, image.decode(f)) for x, f in zip(pictures, files)])),
                               "encode_s": seconds}
            rows.append(row)
            print(json.dumps(row), flush=True)
    wins = [r["cap_bytes"] for r in rows if r["pyramid"]["psnr"] >= r["hyper"]["psnr"]]
    result = {"description": f"hyper against pyramid on the first {len(paths)} Kodak images scaled to S x S; "
                             f"{platform.machine()}, {platform.python_version()}",
              "rows": rows, "smallest_cap_bytes_where_pyramid_wins": min(wins) if wins else None,
              "largest_cap_bytes_where_hyper_wins": max((r["cap_bytes"] for r in rows
                                                         if r["hyper"]["psnr"] > r["pyramid"]["psnr"]), default=None)}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print({k: v for k, v in result.items() if k != "rows"})


if __name__ == "__main__":
    main()
