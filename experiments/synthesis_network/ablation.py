"""What a shipped synthesis network adds to `network` files, image by image: each image is coded by
`network` at --bpp, its file free to ask for the synthesis base --synthesis (the encoder's by default), and
decoded twice, as the file asks (with the synthesis, where it pays) and without it (the same grids and
post-filter, the synthesis' bytes fewer); both decodes are timed (median of 3), in this one process.

  python experiments/synthesis_network/ablation.py [--folder ../shared/data/kodak] [--bpp 0.3] [--limit 24]
      [--synthesis synthesis_meta.npz] [--out experiments/results/probes/synthesis_ablation.json]
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


def timed(decode) -> tuple[np.ndarray, float]:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        out = decode()
        times.append(time.perf_counter() - start)
    return out, float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", type=Path, default=Path(__file__).resolve().parents[3] / "shared/data/kodak")
    ap.add_argument("--bpp", type=float, default=0.3)
    ap.add_argument("--limit", type=int, default=24)
    ap.add_argument("--synthesis", help="the shipped synthesis base files may ask for (default: the encoder's)")
    ap.add_argument("--out", default="experiments/results/probes/synthesis_ablation.json")
    a = ap.parse_args()
    from inrcodec import synthesis_net
    from inrcodec.eval.metrics import psnr
    from inrcodec.methods.network import NetworkConfig
    from inrcodec.modalities import image

    config = NetworkConfig(synthesis=a.synthesis or synthesis_net.SHIPPED[0])

    rows = []
    for path in sorted(a.folder.glob("*.png"))[:a.limit]:
        pixels = image.read_image(path)
        start = time.perf_counter()
        data = image.encode(pixels, a.bpp, "network", config, quiet=True)
        seconds = time.perf_counter() - start
        header = image.read_header(data)
        synthesis = header.layout.synthesis
        plain = replace(header, layout=replace(header.layout, synthesis=None))
        decoded, with_seconds = timed(lambda: image.decode(data))
        without, without_seconds = timed(lambda: image.render(plain))
        rows.append({"image": path.stem, "bytes": len(data), "gains": synthesis and synthesis.gains.tolist(),
                     "psnr": psnr(pixels, decoded), "psnr_without": psnr(pixels, without),
                     "encoding_time": seconds, "decoding_time": with_seconds, "decoding_time_without": without_seconds})
        print(json.dumps(rows[-1]), flush=True)
    summary = {key: float(np.mean([row[key] for row in rows])) for key in
               ("psnr", "psnr_without", "encoding_time", "decoding_time", "decoding_time_without")}
    summary["decoding_time_max"] = max(row["decoding_time"] for row in rows)
    result = {"bpp": a.bpp, "images": len(rows), "synthesis_base": synthesis_net.load(config.synthesis).identity.hex(),
              "mean": summary, "rows": rows}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
