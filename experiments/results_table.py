"""Print the README's results table (markdown) from experiments/results/<dataset>/*.json, and how
close the gated methods (sparse, meta) came to their density targets. Audio results (kbps caps)
get their own columns: SI-SNR, PESQ and STOI besides PSNR.

    python experiments/results_table.py kodak
    python experiments/results_table.py cifar10
    python experiments/results_table.py audio
"""

import json
import sys
from pathlib import Path

ORDER = ["network", "pyramid", "meta", "coin", "sparse", "jpeg", "jpeg2000", "webp", "avif", "mp3", "opus"]
AUDIO_METRICS = [("si_snr", "SI-SNR (dB)", ".2f"), ("pesq", "PESQ", ".2f"), ("stoi", "STOI", ".3f")]


def main():
    dataset = sys.argv[1] if len(sys.argv) > 1 else "kodak"
    folder = Path(__file__).parent / "results" / dataset
    documents = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
    names = [n for n in ORDER if n in documents] + sorted(set(documents) - set(ORDER))
    unit = "kbps" if any("target_kbps" in d["results"] for d in documents.values()) else "bpp"
    metrics = AUDIO_METRICS if unit == "kbps" else []
    print(f"| method | cap ({unit}) | {'clips' if metrics else 'images'} | {unit} | PSNR (dB) | "
          + "".join(f"{title} | " for _, title, _ in metrics) + "encode (s) | decode (s) |")
    print("|---" * (7 + len(metrics)) + "|")
    for name in names:
        r = documents[name]["results"]
        for i, cap in enumerate(r[f"target_{unit}"]):
            extra = "".join(f"{r[key][i]:{spec}} | " if key in r else "| " for key, _, spec in metrics)
            print(f"| {name} | {cap:g} | {r['n_images'][i]} | {r[unit][i]:.4f} | {r['psnr'][i]:.2f} | {extra}"
                  f"{r['encoding_time'][i]:.2f} | {r['decoding_time'][i]:.3f} |")

    for name in names:
        rows = [r for r in documents[name]["per_image"] if "density_target" in r.get("stats", {})]
        if not rows:
            continue
        gaps = [abs(r["stats"]["density_reached"] - r["stats"]["density_target"]) for r in rows]
        print(f"\n{name} density, expected density reached vs target over {len(rows)} encodes: "
              f"max |gap| {max(gaps):.4f}, mean |gap| {sum(gaps) / len(gaps):.4f}")


if __name__ == "__main__":
    main()
