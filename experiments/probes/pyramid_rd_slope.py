"""Does `pyramid` gain from `regions`' rate-distortion lambda (0.08 against its 0.12)? First Kodak images at 0.3 bpp.

  python experiments/probes/pyramid_rd_slope.py [--limit 8] [--slopes 0.12 0.08]
      [--out experiments/results/probes/pyramid_rd_slope.json]

Kodak is an evaluation set: this probe measures, it tunes nothing shipped (`pyramid` keeps 0.12).
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

from inrcodec.eval.metrics import psnr
from inrcodec.methods.pyramid import PyramidConfig
from inrcodec.modalities import image

KODAK = Path(__file__).resolve().parents[3] / "shared" / "data" / "kodak"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--slopes", type=float, nargs="+", default=[0.12, 0.08])
    ap.add_argument("--bpp", type=float, default=0.3)
    ap.add_argument("--out", default="experiments/results/probes/pyramid_rd_slope.json")
    a = ap.parse_args()
    paths = sorted(KODAK.glob("*.png"))[:a.limit]
    rows = {}
    for slope in a.slopes:
        config = dataclasses.replace(PyramidConfig(), rd_slope=slope)
        found = []
        for path in paths:
            pixels = image.read_image(path)
            start = time.perf_counter()
            data = image.encode(pixels, a.bpp, "pyramid", config)
            found.append({"image": path.name, "bytes": len(data), "psnr": psnr(pixels, image.decode(data)),
                          "encode_s": round(time.perf_counter() - start, 2)})
        rows[str(slope)] = {"mean_psnr": sum(r["psnr"] for r in found) / len(found), "images": found}
        print(slope, rows[str(slope)]["mean_psnr"], flush=True)
    Path(a.out).write_text(json.dumps({"bpp_cap": a.bpp, "command": "python experiments/probes/pyramid_rd_slope.py",
                                       "slopes": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
