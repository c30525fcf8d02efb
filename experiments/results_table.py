"""Print the README's results table (markdown) from experiments/results/<dataset>/*.json, and the
sparse method's density reached against its target per image and cap.

    python experiments/results_table.py kodak
"""

import json
import sys
from pathlib import Path

ORDER = ["coin", "sparse-equal-time", "sparse", "jpeg", "jpeg2000", "webp", "avif"]


def main():
    dataset = sys.argv[1] if len(sys.argv) > 1 else "kodak"
    folder = Path(__file__).parent / "results" / dataset
    documents = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
    names = [n for n in ORDER if n in documents] + sorted(set(documents) - set(ORDER))
    print("| method | cap (bpp) | images | bpp | PSNR (dB) | encode (s) | decode (s) |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        r = documents[name]["results"]
        for i, cap in enumerate(r["target_bpp"]):
            print(f"| {name} | {cap:g} | {r['n_images'][i]} | {r['bpp'][i]:.4f} | {r['psnr'][i]:.2f} "
                  f"| {r['encoding_time'][i]:.2f} | {r['decoding_time'][i]:.3f} |")


    if "sparse" in documents:
        rows = [r for r in documents["sparse"]["per_image"] if "density_target" in r.get("stats", {})]
        gaps = [abs(r["stats"]["density_reached"] - r["stats"]["density_target"]) for r in rows]
        print(f"\nsparse density, expected density reached vs target over {len(rows)} encodes: "
              f"max |gap| {max(gaps):.4f}, mean |gap| {sum(gaps) / len(gaps):.4f}")
        print("| image | cap | target | reached |\n|---|---|---|---|")
        for r in rows:
            print(f"| {r['image']} | {r['target_bpp']:g} | {r['stats']['density_target']:.4f} | "
                  f"{r['stats']['density_reached']:.4f} |")


if __name__ == "__main__":
    main()
