"""CIFAR-10 through the default command line: one pack a cap, real bytes, beside COIN++ and BPG.

  python3 experiments/cifar_pack_bench.py [--limit 1000] [--out experiments/results/cifar10/hyper.json]

For each cap: `inrcodec encode cifar10_prefix.npz -o X.inrs --bpp CAP --limit N --quiet` (the default
method: `hyper` for images this small), timed whole (process start and compilation included), then
`inrcodec decode X.inrs -o DIR --quiet`, timed, and PSNR of the written PNGs against the test images.
The pack codes its images in one stream: an image's bytes are the file's in proportion to its
latents' information; their mean is the pack's size / N. Our PSNR at COIN++'s rates is interpolated in log-rate between
our caps' points (the caps 0.45 and 5 bracket COIN++'s lowest and highest rates).
"""
import argparse
import json
import math
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec import hyperbase
from inrcodec.eval.metrics import psnr
from inrcodec.modalities import image

ROOT = Path(__file__).resolve().parents[1]
CIFAR = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10_prefix.npz"
CAPS = (0.45, 0.55, 1.10, 2.20, 4.06, 5.0)  # bpp: COIN++'s four rates and two that bracket them
ANCHORS = ROOT / "experiments" / "anchors" / "cifar10"


def interpolate(rates, psnrs, at):
    """PSNR at rate `at` on the piecewise-linear curve in log-rate, or None outside it."""
    order = np.argsort(rates)
    rates, psnrs = np.log(np.asarray(rates)[order]), np.asarray(psnrs)[order]
    return float(np.interp(math.log(at), rates, psnrs)) if rates[0] <= math.log(at) <= rates[-1] else None


def dump(document: dict) -> str:
    """The results JSON, a line a per-image row (5 decimals)."""
    rows = ",\n".join(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()})
                      for row in document["per_image"])
    head = json.dumps({k: v for k, v in document.items() if k != "per_image"}, indent=1)
    return head[:-2] + ',\n "per_image": [\n' + rows + "\n ]\n}\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results" / "cifar10" / "hyper.json"))
    a = ap.parse_args()
    originals = np.load(CIFAR)["test_batch_x"][:a.limit]
    per_image, results = [], {k: [] for k in ("target_bpp", "n_images", "bpp", "psnr", "encoding_time",
                                              "decoding_time", "images_per_second", "within_cap")}
    with tempfile.TemporaryDirectory() as tmp:
        for cap in CAPS:
            pack, folder = Path(tmp) / f"cifar-{cap}.inrs", Path(tmp) / f"decoded-{cap}"
            start = time.perf_counter()
            subprocess.run(["inrcodec", "encode", str(CIFAR), "-o", str(pack), "--bpp", str(cap), "--limit",
                            str(a.limit), "--quiet"], check=True)
            encode_s = time.perf_counter() - start
            start = time.perf_counter()
            subprocess.run(["inrcodec", "decode", str(pack), "-o", f"{folder}/", "--quiet"], check=True)
            decode_s = time.perf_counter() - start
            data = pack.read_bytes()
            found = image.read_header(data)
            decoded = [np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))]
            assert len(decoded) == a.limit == found.count and found.method == "hyper"
            share = math.floor(cap * 1024 / 8)
            base = hyperbase.load()  # an image's bytes: the file's in proportion to its information
            information = base.information([(layout.z[0], layout.y[0], base.context(layout.z, layout.index)[1][0],
                                             layout.index) for layout in found.layouts])
            for index, (size, x, y) in enumerate(zip(len(data) * information / information.sum(), originals, decoded)):
                per_image.append({"image": f"test_batch_x[{index}]", "target_bpp": cap, "bytes": float(size),
                                  "bpp": float(size) * 8 / 1024, "psnr": psnr(x, y),
                                  "encoding_time": encode_s / a.limit, "decoding_time": decode_s / a.limit})
            rows = per_image[-a.limit:]
            results["target_bpp"].append(cap)
            results["n_images"].append(a.limit)
            results["bpp"].append(len(data) * 8 / (1024 * a.limit))
            results["psnr"].append(float(np.mean([r["psnr"] for r in rows])))
            results["encoding_time"].append(encode_s / a.limit)
            results["decoding_time"].append(decode_s / a.limit)
            results["images_per_second"].append(a.limit / encode_s)
            results["within_cap"].append(len(data) <= a.limit * share)
            print(f"cap {cap}: {results['bpp'][-1]:.4f} bpp, {results['psnr'][-1]:.2f} dB, encode {encode_s:.1f} s "
                  f"({a.limit / encode_s:.1f} images/s), decode {decode_s:.1f} s", flush=True)
    coinpp = json.loads((ANCHORS / "coinpp.json").read_text())["results"]
    bpg = json.loads((ANCHORS / "bpg.json").read_text())["results"]
    against = [{"bpp": r, "coinpp_psnr": p, "ours_psnr": interpolate(results["bpp"], results["psnr"], r),
                "bpg_psnr": interpolate(bpg["bpp"], bpg["psnr"], r)} for r, p in zip(coinpp["bpp"], coinpp["psnr"])]
    document = {"name": "hyper", "description": f"inrcodec default command line (hyper) on the first {a.limit} "
                f"CIFAR-10 test images, one pack a cap; {platform.machine()}, 2 CPU cores, CPython "
                f"{platform.python_version()}", "results": results, "against_coinpp": against, "per_image": per_image}
    Path(a.out).write_text(dump(document))
    for row in against:
        print(row)


if __name__ == "__main__":
    main()
