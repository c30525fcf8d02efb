"""Print the README's results table (markdown) from experiments/results/<dataset>/*.json.

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


if __name__ == "__main__":
    main()
