"""Print the README's shape tables (markdown) from experiments/results/<folder>/*.json: Chamfer-L1 per
mesh, codec and cap (thousandths of the bounding-box diagonal; the best codec of each mesh and cap in
bold), then every metric averaged over the meshes.

    python experiments/shape_table.py meshes
"""

import json
import sys
from pathlib import Path

ORDER = ["pyramid", "coin", "sparse", "meta", "draco", "sdf-grid"]


def main():
    folder = Path(__file__).parent / "results" / (sys.argv[1] if len(sys.argv) > 1 else "meshes")
    documents = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
    documents = {name: d for name, d in documents.items() if "per_image" in d}  # results, not timing records
    names = [n for n in ORDER if n in documents] + sorted(set(documents) - set(ORDER))
    rows = {(r["mesh"], r["target_bytes"], name): r for name in names for r in documents[name]["per_image"]}
    meshes = sorted({m for m, _, _ in rows})
    caps = sorted({c for _, c, _ in rows})
    print("| mesh | cap (bytes) | " + " | ".join(names) + " |")
    print("|---" * (2 + len(names)) + "|")
    for mesh in meshes:
        for cap in caps:
            scores = {n: rows[mesh, cap, n]["chamfer_l1"] * 1000 for n in names if (mesh, cap, n) in rows}
            best = min(scores, key=scores.get) if scores else None
            cells = [("**{:.3f}**" if n == best else "{:.3f}").format(scores[n]) if n in scores else "—" for n in names]
            print(f"| {mesh} | {cap} | " + " | ".join(cells) + " |")
    print()
    print("| method | cap | meshes | bytes | Chamfer-L1 (1e-3) | Hausdorff (1e-3) | normal consistency | IoU | "
          "F-score 1% | encode (s) | decode (s) |")
    print("|---" * 11 + "|")
    for name in names:
        r = documents[name]["results"]
        for i, cap in enumerate(r["target_bytes"]):
            print(f"| {name} | {cap} | {r['n_images'][i]} | {r['bytes'][i]:.0f} | {1000 * r['chamfer_l1'][i]:.3f} | "
                  f"{1000 * r['hausdorff'][i]:.1f} | {r['normal_consistency'][i]:.3f} | {r['iou'][i]:.3f} | "
                  f"{r['f_score'][i]:.3f} | {r['encoding_time'][i]:.1f} | {r['decoding_time'][i]:.2f} |")


if __name__ == "__main__":
    main()
