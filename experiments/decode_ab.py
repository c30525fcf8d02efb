"""Decode timings of two checkouts of inrcodec side by side, on the same files and the same machine.

Each round runs one process per checkout, alternately, so that both see the machine at the same speed; a
process decodes every `.inr` file of a folder DECODES times and keeps the median (as `inrcodec bench`), and
the SHA-256 of its output, which must be the same for both checkouts. Writes a JSON record of every round.

    git worktree add /tmp/before <commit>
    inrcodec encode ../shared/data/kodak/ -o /tmp/kodak_files/ --bpp 0.3
    python experiments/decode_ab.py /tmp/kodak_files /tmp/before . --rounds 3 \
        --out experiments/results/speed/network-decode-ab.json
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DECODES = 3  # decodes timed per file (the median is kept)


def time_checkout(folder: Path, checkout: Path) -> dict:
    """In this process: per file the median seconds of DECODES decodes by `checkout`'s inrcodec, and a
    hash of its output."""
    sys.path.insert(0, str(checkout.resolve()))
    import inrcodec

    assert Path(inrcodec.__file__).resolve().is_relative_to(checkout.resolve()), inrcodec.__file__
    files = sorted(folder.glob("*.inr"))
    inrcodec.decode(files[0].read_bytes())  # imports and caches loaded before the clock runs
    rows = {}
    for path in files:
        data, times = path.read_bytes(), []
        for _ in range(DECODES):
            start = time.perf_counter()
            out = inrcodec.decode(data)
            times.append(time.perf_counter() - start)
        rows[path.name] = {"seconds": float(np.median(times)), "sha256": hashlib.sha256(out.tobytes()).hexdigest()}
    return rows


def commit(checkout: Path) -> str:
    """The short hash of a checkout's HEAD."""
    return subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of .inr files")
    parser.add_argument("before", type=Path, help="checkout timed first in each round")
    parser.add_argument("after", type=Path, help="checkout timed second in each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--note", default="", help="what the files are, for the record")
    parser.add_argument("--inner", type=Path, help=argparse.SUPPRESS)  # a round's process: time this checkout
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(time_checkout(args.folder, args.inner)))
        return
    rounds = []
    for _ in range(args.rounds):
        round_ = {}
        for name, checkout in (("before", args.before), ("after", args.after)):
            found = subprocess.run([sys.executable, __file__, str(args.folder), str(args.before), str(args.after),
                                    "--out", os.devnull, "--inner", str(checkout)],
                                   capture_output=True, text=True, check=True)
            rows = json.loads(found.stdout)
            seconds = [row["seconds"] for row in rows.values()]
            round_[name] = {"mean_s": float(np.mean(seconds)), "max_s": float(np.max(seconds)), "per_file": rows}
            print(f"{name:6s} {checkout}: mean {np.mean(seconds):.3f} s, max {np.max(seconds):.3f} s", flush=True)
        same = all(round_["before"]["per_file"][f]["sha256"] == row["sha256"]
                   for f, row in round_["after"]["per_file"].items())
        round_["same_outputs"] = same
        rounds.append(round_)
    record = {"folder": str(args.folder), "note": args.note, "before": f"{args.before} ({commit(args.before)})",
              "after": f"{args.after} ({commit(args.after)})",
              "decodes_per_file": DECODES, "machine": f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}",
              "date": time.strftime("%Y-%m-%d %H:%M"), "rounds": rounds}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print("same outputs in every round:", all(r["same_outputs"] for r in rounds))


if __name__ == "__main__":
    main()
