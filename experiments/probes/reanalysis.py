"""How many passes of re-analysis should `network` make, and fitting each level by least squares or by area
averages (`NetworkConfig.refine_passes`, `projection_share`, with `rd_slope`)? Four training photos (their
512 x 768 corners) coded at 0.3 bpp through the rate search, written and decoded; one process.

    cd experiments/probes && python reanalysis.py [--out ../results/probes/reanalysis.json]
        [--settings PASSES,SHARE[,RD_SLOPE] ...]
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from shared_synthesis import DATA

from inrcodec.eval.metrics import psnr
from inrcodec.methods.network import NetworkConfig
from inrcodec.modalities import image

PHOTOS = [DATA / "train_photos" / f"{n:03d}.png" for n in (1, 4, 7, 10)]  # the rounding's lambda was chosen on them
SETTINGS = ["1,0", "1,1", "2,1", "4,1", "8,1", "4,0.5", "4,0.75", "8,0.75", "4,0.75,0.05", "4,0.75,0.09"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="../results/probes/reanalysis.json")
    ap.add_argument("--settings", nargs="+", default=SETTINGS, help="passes,share of the least squares[,lambda]")
    ap.add_argument("--bpp", type=float, default=0.3)
    a = ap.parse_args()
    corners = [image.read_image(path)[:512, :768] for path in PHOTOS]
    rows = []
    for setting in a.settings:
        passes, share, *slope = setting.split(",")
        config = dataclasses.replace(NetworkConfig(), refine_passes=int(passes), projection_share=float(share),
                                     rd_slope=float(slope[0]) if slope else NetworkConfig.rd_slope)
        found = []
        for path, pixels in zip(PHOTOS, corners):
            start = time.perf_counter()
            data = image.encode(pixels, a.bpp, "network", config)
            found.append({"image": path.name, "bytes": len(data), "psnr": psnr(image.decode(data), pixels),
                          "encode_s": round(time.perf_counter() - start, 1)})
        rows.append({"refine_passes": config.refine_passes, "projection_share": config.projection_share,
                     "rd_slope": config.rd_slope, "mean_psnr": float(np.mean([r["psnr"] for r in found])),
                     "mean_encode_s": float(np.mean([r["encode_s"] for r in found])), "images": found})
        print(f"{setting}: {rows[-1]['mean_psnr']:.4f} dB, {rows[-1]['mean_encode_s']:.1f} s", flush=True)
        Path(a.out).write_text(json.dumps({"bpp_cap": a.bpp, "command": "python reanalysis.py", "rows": rows},
                                          indent=1) + "\n")


if __name__ == "__main__":
    main()
