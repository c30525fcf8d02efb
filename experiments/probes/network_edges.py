"""Is `network` (the default for photos) at least `pyramid` where its network was not trained: grayscale,
small images, high and very low rates? Both methods on the same images and caps, one process.

    cd experiments/probes && python network_edges.py [--out ../results/probes/network_edges.json]
"""

import argparse
import json
from pathlib import Path

import numpy as np
from shared_synthesis import DATA

from inrcodec.eval.metrics import psnr
from inrcodec.modalities import image


def cases() -> list[tuple[str, np.ndarray, float]]:
    k05, k15 = (image.read_image(DATA / "kodak" / f"kodim{i:02d}.png") for i in (5, 15))
    gray = np.round(k15.astype(float) @ [0.299, 0.587, 0.114]).astype(np.uint8)[..., None]
    return [("kodim15 grayscale", gray, 0.3), ("kodim15 grayscale", gray, 1.0),
            ("kodim05 256x256", k05[:256, :256], 0.3), ("kodim15 96x96", k15[100:196, 100:196], 2.5),
            ("kodim15 64x64", k15[:64, :64], 6.0), ("kodim05", k05, 0.05)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="experiments/results/probes/network_edges.json")
    a = ap.parse_args()
    rows = []
    for name, pixels, bpp in cases():
        row = {"image": name, "bpp_cap": bpp}
        for method in ("pyramid", "network"):
            data = image.encode(pixels, bpp, method)
            row[method] = {"bytes": len(data), "psnr": psnr(image.decode(data), pixels)}
        rows.append(row)
        print(f"{name} at {bpp:g} bpp: pyramid {row['pyramid']['psnr']:.2f} dB, "
              f"network {row['network']['psnr']:.2f} dB", flush=True)
    Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
