"""Start-up of the command line: `inrcodec --help` and decoding a Kodak `pyramid` file, wall seconds
of fresh processes (the best of --repeats), and the modules a decode loads.

    python experiments/startup.py data/kodim23.png --out experiments/results/speed/startup.json
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(command: list[str], repeats: int) -> float:
    """The least wall time of `repeats` runs of `command`, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return round(min(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="an image to encode once at 0.3 bpp (pyramid) and decode repeatedly")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="experiments/results/speed/startup.json")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    coded, decoded = folder / "image.inr", folder / "image.png"
    subprocess.run(["inrcodec", "encode", args.image, "-o", str(coded), "--bpp", "0.3", "--quiet"], check=True)
    probe = ("import sys, time\nstart = time.perf_counter()\nfrom inrcodec.cli import main\n"
             f"main(['decode', {str(coded)!r}, '-o', {str(decoded)!r}])\n"
             "print(time.perf_counter() - start, ' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    seconds, *modules = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                                       text=True).stdout.split()
    record = {
        "machine": f"{platform.machine()}, 2-core CPU, Python {platform.python_version()}",
        "image": args.image, "file_bytes": coded.stat().st_size, "repeats": args.repeats,
        "help_seconds": wall(["inrcodec", "--help"], args.repeats),
        "decode_seconds": wall(["inrcodec", "decode", str(coded), "-o", str(decoded)], args.repeats),
        "decode_fresh_process_seconds_imports_included": round(float(seconds), 3),
        "decode_loads_jax": any(m in modules for m in ("jax", "optax", "flax")),
        "targets": {"help_seconds": 0.5, "decode_seconds": 1.0},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
