"""Bjøntegaard delta rate of one method against another, from the bench's JSON files.

For each image both methods have at least 3 caps for, log(bpp) is fitted as a cubic in PSNR for
each method and the difference is averaged over the PSNR range the two curves share; the per-image
deltas are averaged, as exp(mean) - 1 (percent more bits for the same PSNR; negative = fewer).

    python experiments/bd_rate.py kodak pyramid jpeg2000 --limit 8
"""

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def curves(dataset: str, method: str) -> dict[str, list[tuple[float, float]]]:
    """image -> [(bpp, psnr), ...] sorted by bpp."""
    rows = json.loads((RESULTS / dataset / f"{method}.json").read_text())["per_image"]
    out = {}
    for row in rows:
        out.setdefault(row["image"], []).append((row["bpp"], row["psnr"]))
    return {image: sorted(points) for image, points in out.items()}


def bd_log_rate(test: list[tuple[float, float]], anchor: list[tuple[float, float]]) -> float | None:
    """Mean difference of log(bpp) at equal PSNR over the shared PSNR range (None if none is shared)."""
    low = max(min(p for _, p in test), min(p for _, p in anchor))
    high = min(max(p for _, p in test), max(p for _, p in anchor))
    if high <= low:
        return None
    integrals = []
    for points in (test, anchor):
        degree = min(3, len(points) - 1)
        fit = np.polyint(np.polyfit([p for _, p in points], [np.log(b) for b, _ in points], degree))
        integrals.append((np.polyval(fit, high) - np.polyval(fit, low)) / (high - low))
    return integrals[0] - integrals[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("test")
    parser.add_argument("anchor")
    parser.add_argument("--limit", type=int, help="only the first N images (sorted by name)")
    args = parser.parse_args()
    test, anchor = curves(args.dataset, args.test), curves(args.dataset, args.anchor)
    images = sorted(i for i in test if i in anchor and len(test[i]) >= 3 and len(anchor[i]) >= 3)[:args.limit]
    deltas = [d for d in (bd_log_rate(test[i], anchor[i]) for i in images) if d is not None]
    print(json.dumps({"test": args.test, "anchor": args.anchor, "dataset": args.dataset, "images": len(deltas),
                      "bd_rate_percent": round(100 * (float(np.exp(np.mean(deltas))) - 1), 1)}))


if __name__ == "__main__":
    main()
