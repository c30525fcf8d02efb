"""The same sweep in one process and on a local Dask cluster, timed end to end (wall clock, cluster
start included), with the rows of both compared (times left out).

    python experiments/cluster_speed.py ../shared/data/kodak --bpp 0.3 --methods pyramid jpeg2000 --limit 8

Writes experiments/results/speed/cluster-<dataset>-<date>.json. Run with nothing else on the machine.
"""

import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

import inrcodec
from inrcodec.eval.bench import machine_description

TIMES = ("encoding_time", "decoding_time")


def timed_sweep(source: str, workers: int, out_dir: str, **options) -> tuple[float, dict]:
    """(wall seconds, {method: rows without times}) of one sweep into a fresh folder."""
    start = time.perf_counter()
    documents = inrcodec.sweep(source, out_dir=out_dir, workers=workers, redo=True, **options)
    seconds = time.perf_counter() - start
    return seconds, {method: [{k: v for k, v in row.items() if k not in TIMES} for row in document["per_image"]]
                     for method, document in documents.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--bpp", type=float, nargs="+", required=True)
    parser.add_argument("--methods", nargs="+", required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster (default: 2)")
    args = parser.parse_args()
    inrcodec.enable_compilation_cache()  # as the command line does; the workers turn it on themselves
    options = dict(bpp=args.bpp, methods=args.methods, limit=args.limit)
    with tempfile.TemporaryDirectory() as scratch:
        alone, rows_alone = timed_sweep(args.source, 0, f"{scratch}/alone", **options)
        print(f"one process: {alone:.1f} s", flush=True)
        clustered, rows_clustered = timed_sweep(args.source, args.workers, f"{scratch}/cluster", **options)
        print(f"local cluster of {args.workers}: {clustered:.1f} s", flush=True)
    record = {"command": f"python experiments/cluster_speed.py {args.source} --bpp {' '.join(map(str, args.bpp))} "
                         f"--methods {' '.join(args.methods)}" + (f" --limit {args.limit}" if args.limit else ""),
              "machine": machine_description(), "date": datetime.date.today().isoformat(),
              "one_process_seconds": round(alone, 1), "cluster_workers": args.workers,
              "cluster_seconds": round(clustered, 1), "speedup": round(alone / clustered, 2),
              "same_rows": rows_alone == rows_clustered,
              "tasks": sum(len(rows) for rows in rows_alone.values())}
    out = Path(__file__).parent / "results" / "speed" / f"cluster-{Path(args.source).name}-{record['date']}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
