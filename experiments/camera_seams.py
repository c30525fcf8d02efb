"""Seams of `regions` against one whole pyramid, on a photo mosaic whose photo edges miss the regions' edges.

  python experiments/camera_seams.py [--bpp 0.3] [--guards 0 1 2] [--out experiments/results/speed/camera-seams.json]

The image is 2048x1536 pixels of the Kodak mosaic (`profile_encode.mosaic`) from pixel (300, 200) on,
so that no photo edge lies on a region edge (in `camera_bench`'s mosaic every region row edge is a photo
edge too). Arms: `pyramid` (the whole image, no region edges) and `regions` with each guard. Per arm:
bytes, PSNR, encode seconds; for `regions`, the PSNR of the band of pixels within 4 of an inner region
edge of its tiling and of the rest, the same of the `pyramid` decode, and the seam: how much further
below the rest the band is than in the `pyramid` decode, in dB.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from camera_bench import band_mask, band_psnr  # noqa: E402
from profile_encode import mosaic  # noqa: E402

from inrcodec.eval.metrics import psnr  # noqa: E402
from inrcodec.methods.regions import RegionsConfig  # noqa: E402
from inrcodec.modalities import image  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bpp", type=float, default=0.3)
    ap.add_argument("--guards", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default="experiments/results/speed/camera-seams.json")
    a = ap.parse_args()
    pixels = np.ascontiguousarray(mosaic(2048 + 300, 1536 + 200)[200:, 300:])
    arms = [("pyramid", None)] + [(f"regions guard {guard}", RegionsConfig(guard=guard)) for guard in a.guards]
    rows, whole = {}, None  # whole: the `pyramid` decode
    for name, config in arms:
        start = time.perf_counter()
        data = image.encode(pixels, a.bpp, "pyramid" if config is None else "regions", config)
        seconds = time.perf_counter() - start
        decoded = image.decode(data)
        whole = decoded if config is None else whole
        rows[name] = {"bytes": len(data), "psnr": psnr(pixels, decoded), "encode_s": round(seconds, 1)}
        if config is not None:
            mask = band_mask(*pixels.shape[:2], config.side - 2 * config.guard)
            rows[name].update(band_psnr(pixels, decoded, mask))
            rows[name]["pyramid_on_this_band"] = band_psnr(pixels, whole, mask)
            rows[name]["seam_db"] = ((rows[name]["rest_psnr"] - rows[name]["band_psnr"])
                                     - (rows[name]["pyramid_on_this_band"]["rest_psnr"]
                                        - rows[name]["pyramid_on_this_band"]["band_psnr"]))
        print(name, json.dumps(rows[name]), flush=True)
    result = {"image": "Kodak mosaic, 2048x1536 from (300, 200)", "bpp_cap": a.bpp, "band": "within 4 pixels of an "
              "inner region edge", "command": " ".join(sys.argv), "arms": rows}
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
