"""Development harness of the `pyramid` method's ablations (issue 13): PSNR at 0.3 bpp on a few Kodak
images, interpolated in log(bpp) between two files made at fixed global steps (real file bytes).

The steps are those the first full run (`experiments/results/kodak/pyramid-v1.json`) chose, divided
by F1 and F2 (set them so that the two files bracket 0.3 bpp). Variants were made by editing the
code or patching module constants; their readings are in experiments/results/probes/pyramid_ablation.json.

    F1=1.5 F2=1.9 python experiments/probes/pyramid_ablation.py 01,05,13,19,23,24
"""

import json
import math
import os
import sys
from pathlib import Path

import numpy as np

import inrcodec
from inrcodec import pyramid
from inrcodec.eval.metrics import psnr
from inrcodec.methods import Budget, pyramid as pyramid_method, pyramid_fit
from inrcodec.modalities import image
from inrcodec.modalities.image import read_image

ROOT = Path(__file__).resolve().parents[2]
FIRST_RUN = ROOT / "experiments" / "results" / "kodak" / "pyramid-v1.json"
F1, F2 = float(os.environ.get("F1", 1.5)), float(os.environ.get("F2", 1.9))


def point(pixels: np.ndarray, step: float) -> tuple[float, float]:
    """(bpp, PSNR) of the file at a fixed global step."""
    height, width, channels = pixels.shape
    geometry = pyramid.image_geometry(height, width, channels)
    fitted = pyramid_fit.fit_pyramid(pyramid.to_ycbcr(pixels), geometry, step, pyramid_method.PyramidConfig())
    data = Budget(image._head(pixels.shape, "pyramid"), 1 << 30).file(pyramid_method.write(geometry, step, *fitted))
    return len(data) * 8 / (pixels.shape[0] * pixels.shape[1]), psnr(inrcodec.decode(data), pixels)


def main(images: list[str]) -> None:
    rows = {r["image"]: r for r in json.loads(FIRST_RUN.read_text())["per_image"]}
    results = []
    for number in images:
        name = f"kodim{number}.png"
        pixels = read_image(ROOT.parent / "shared" / "data" / "kodak" / name)
        step = rows[name]["stats"]["step"]
        (b1, p1), (b2, p2) = sorted([point(pixels, step / F1), point(pixels, step / F2)])
        results.append(p1 + (p2 - p1) * (math.log(0.3) - math.log(b1)) / (math.log(b2) - math.log(b1)))
        print(name, round(results[-1], 2), [(round(b1, 3), round(p1, 2)), (round(b2, 3), round(p2, 2))], flush=True)
    print("mean PSNR at 0.3 bpp", round(float(np.mean(results)), 3))


if __name__ == "__main__":
    main(sys.argv[1].split(",") if len(sys.argv) > 1 else ["01", "05", "13", "19", "23", "24"])
