"""Density reached vs asked by the L0-constrained fit (issue 4): images x bpp caps.

For each image and cap, plans the gated network and its density target from the budget, runs
the constrained (gated) phase of the `sparse` method, and records the expected density (the
constrained quantity) and the deterministic-gate density at its end, with the multiplier.

    python experiments/sparse_density.py ../shared/data/kodak --limit 10 --bpp 0.15 0.3 0.6 --steps 2000
"""

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np

from inrcodec import SparseConfig, gates, tiles
from inrcodec.bench import list_images
from inrcodec.coin import init_params
from inrcodec.fit import fit_gated_tiles
from inrcodec.signals import read_image
from inrcodec.sparse import plan


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--bpp", type=float, nargs="+", default=[0.15, 0.3, 0.6])
    parser.add_argument("--steps", type=int, default=2000, help="gated steps per fit")
    parser.add_argument("--out", default="experiments/results/sparse_density.json")
    args = parser.parse_args()
    config = SparseConfig()
    fit_config = dataclasses.replace(config.dense.fit, steps=args.steps)
    rows = []
    for path in list_images(args.folder, args.limit):
        pixels = read_image(path)
        for bpp in args.bpp:
            height, width, channels = pixels.shape
            arch, target = plan(math.floor(bpp * height * width / 8), height, width, channels, config)
            values, valid = tiles.split(pixels.astype(np.float32) / 255.0, arch.tile)
            params = init_params(arch, values, channels, fit_config.seed)
            log_alpha = [gates.init_log_alpha(layer["w"].shape, max(target, config.initial_density)) for layer in params]
            start = time.perf_counter()
            _, log_alpha, multipliers = fit_gated_tiles(params, log_alpha, values, valid, arch.tile, target,
                                                         fit_config, config.gate, quiet=True)
            flat = np.concatenate([np.asarray(a).ravel() for a in log_alpha])
            row = {"image": path.name, "bpp": bpp, "width": arch.width, "target": target,
                   "expected": float(np.mean(np.asarray(gates.probability_nonzero(flat)))),
                   "deterministic": float(np.mean(np.asarray(gates.deterministic(flat)) > 0)),
                   "multiplier": float(multipliers[0]), "seconds": time.perf_counter() - start}
            print(json.dumps(row), flush=True)
            rows.append(row)
    gaps = [abs(r["expected"] - r["target"]) for r in rows]
    summary = {"steps": args.steps, "n": len(rows), "max_abs_gap_expected": max(gaps),
               "mean_abs_gap_expected": float(np.mean(gaps)),
               "max_abs_gap_deterministic": max(abs(r["deterministic"] - r["target"]) for r in rows)}
    print(json.dumps(summary))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
