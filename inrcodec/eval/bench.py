"""Benchmark rows of images, and the results files every modality's sweep writes (`sweeps.py`).

An image's row: the file made under the cap (bpp = file bytes * 8 / pixels), decoded, and scored by
PSNR on 8-bit values. Results files are per method in CompressAI's JSON shape, one point per cap
(means over items), with per-item rows; rows for items and caps measured earlier stay in the file.
"""

import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

from ..errors import InrError
from ..modalities import image as codec
from .baselines import BASELINES
from .metrics import psnr

DECODE_REPEATS = 3  # decodes timed per file, inrcodec's or a baseline's (the median is reported)


def check_methods(methods: list[str], known: list[str], what: str) -> None:
    """InrError naming the methods not in `known` (`what`: the kind of signal), if any."""
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise InrError(f"unknown {what} method(s) {', '.join(unknown)}; choose from {', '.join(known)}")


def machine_description() -> str:
    """This machine in a few words, for the results files: architecture, cores, Python."""
    return (f"{platform.machine()}, {os.cpu_count()} CPU cores, "
            f"{platform.python_implementation()} {platform.python_version()}")


def measure(pixels: np.ndarray, bpp: float, method: str, config, quiet: bool) -> dict:
    """Encode under the cap and decode (`coded`); returns bytes, bpp, PSNR, both times in seconds and,
    for inrcodec methods, the fit's stats."""
    height, width = pixels.shape[:2]
    data, decoded, tail = coded(method, pixels, math.floor(bpp * height * width / 8), codec.decode,
                                lambda stats: codec.encode(pixels, bpp, method, config, quiet=quiet, stats=stats))
    return _row(pixels, data, decoded, tail)


def coded(method: str, signal, budget: int, decode, encode, reference=None) -> tuple[bytes, object, dict]:
    """(file, decoded signal, the row's last fields: both times in seconds and, for inrcodec methods,
    the fit's stats) of `signal` coded by `method` under `budget` bytes: a baseline (`BASELINES`, given
    the search `reference` of a shape), or an inrcodec method through encode(stats) -> file and
    decode(file). The file is decoded DECODE_REPEATS times (`timed_decode`)."""
    start = time.perf_counter()
    if method in BASELINES:
        baseline, extra = BASELINES[method], {}
        data = baseline.encode(signal, budget, reference)
        decode = lambda file: baseline.decode(file, signal)
    else:
        extra = {"stats": {}}
        data = encode(extra["stats"])
    encoding_time = time.perf_counter() - start
    _check_cap(data, budget, method)
    decoded, decoding_time = timed_decode(decode, data)
    return data, decoded, {"encoding_time": encoding_time, "decoding_time": decoding_time, **extra}


def _check_cap(data: bytes, budget: int, method: str) -> None:
    if len(data) > budget:
        raise AssertionError(f"{method} wrote {len(data)} bytes over a cap of {budget}")


def timed_decode(decode, data: bytes):
    """(decode(data), the median seconds of DECODE_REPEATS such decodes): this machine's timings
    wander by about 20%."""
    times = []
    for _ in range(DECODE_REPEATS):
        start = time.perf_counter()
        output = decode(data)
        times.append(time.perf_counter() - start)
    return output, float(np.median(times))


def _row(pixels, data: bytes, decoded, tail: dict) -> dict:
    height, width = pixels.shape[:2]
    return {"bytes": len(data), "bpp": len(data) * 8 / (height * width), "psnr": psnr(pixels, decoded), **tail}


def measure_batch(images: list[np.ndarray], bpp: float, config, quiet: bool) -> list[dict]:
    """`meta` on same-size images encoded together (`codec.encode_batch`): one row per image as in
    `measure`, the batch's encoding time shared equally."""
    stats = {}
    start = time.perf_counter()
    files = codec.encode_batch(np.stack(images), bpp, config, quiet=quiet, stats=stats)
    encoding_time = (time.perf_counter() - start) / len(images)
    height, width = images[0].shape[:2]
    rows = []
    for pixels, data in zip(images, files):
        _check_cap(data, math.floor(bpp * height * width / 8), "meta")
        start = time.perf_counter()
        decoded = codec.decode(data)
        decoding_time = time.perf_counter() - start
        rows.append(_row(pixels, data, decoded, {"encoding_time": encoding_time, "decoding_time": decoding_time,
                                                 "stats": stats, "batch": len(images)}))
    return rows


def merge_results(path: Path, method: str, rows: list[dict], description: str, rate_key: str = "bpp",
                  item_key: str = "image", metrics: tuple[str, ...] = ("psnr", "si_snr", "pesq", "stoi")) -> dict:
    """Add this run's rows to the method's JSON file (replacing rows of the same item and cap); the
    summary holds, per cap, the mean of the rate, the times and every metric all its rows have."""
    target = f"target_{rate_key}"
    old = json.loads(path.read_text()) if path.exists() else {}
    keep = {(r[item_key], r[target]): r for r in old.get("per_image", [])}
    keep.update({(r[item_key], r[target]): r for r in rows})
    per_image = sorted(keep.values(), key=lambda r: (r[target], r[item_key]))
    caps = sorted({r[target] for r in per_image})
    means = [rate_key] + [key for key in metrics if all(key in r for r in per_image)]
    means += ["encoding_time", "decoding_time"]
    results = {key: [] for key in (target, "n_images", *means)}
    for cap in caps:
        group = [r for r in per_image if r[target] == cap]
        results[target].append(cap)
        results["n_images"].append(len(group))
        for key in means:
            results[key].append(float(np.mean([r[key] for r in group])))
    document = {"name": method, "description": description, "results": results, "per_image": per_image}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(results_json(document))
    return document


def results_json(document: dict) -> str:
    """The results file's text: the summary indented, then one line per image row (compact, diffable)."""
    head = json.dumps({key: value for key, value in document.items() if key != "per_image"}, indent=1)
    rows = ",\n  ".join(json.dumps(row) for row in document["per_image"])
    return f'{head[:-2]},\n "per_image": [\n  {rows}\n ]\n}}\n'


def print_summary(documents: dict, rate_key: str, metrics: tuple[str, ...] = ()) -> None:
    """One line per method and cap: items, rate, PSNR, the `metrics` asked for, both times."""
    print(f"{'method':10s} {'cap':>6s} {'n':>4s} {rate_key:>7s} {'PSNR':>7s}" + "".join(f" {m:>7s}" for m in metrics)
          + f" {'enc s':>7s} {'dec s':>7s}")
    for method, document in documents.items():
        r = document["results"]
        for i, cap in enumerate(r[f"target_{rate_key}"]):
            print(f"{method:10s} {cap:6.3g} {r['n_images'][i]:4d} {r[rate_key][i]:7.4f} {r['psnr'][i]:7.2f}"
                  + "".join(f" {r[m][i]:7.2f}" for m in metrics)
                  + f" {r['encoding_time'][i]:7.2f} {r['decoding_time'][i]:7.3f}")
