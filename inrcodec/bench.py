"""Rate-distortion benchmark: inrcodec methods and classical codecs side by side over a folder.

For every image, cap and method the file is made under the cap (bpp = file bytes * 8 / pixels),
decoded, and scored by PSNR on 8-bit values. Results are written per method in CompressAI's JSON
shape, one point per cap (means over images), with per-image rows; points for caps measured
earlier with other caps stay in the file.
"""

import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import baselines, codec
from .errors import InrError
from .signals import psnr, read_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".webp"}


def list_images(folder: str, limit: int | None) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise InrError(f"{folder}: not a folder")
    images = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InrError(f"{folder}: no images found")
    return images[:limit] if limit else images


def measure(pixels: np.ndarray, bpp: float, method: str, config, quiet: bool) -> dict:
    """Encode under the cap and decode once; returns bytes, bpp, PSNR, both times in seconds and,
    for inrcodec methods, the fit's stats."""
    height, width, channels = pixels.shape
    budget = math.floor(bpp * height * width / 8)
    start = time.perf_counter()
    if method in baselines.BASELINES:
        data = baselines.compress(pixels, method, budget)
        middle = time.perf_counter()
        decoded = baselines.decompress(data, channels)
        extra = {}
    else:
        stats = {}
        extra = {"stats": stats}
        data = codec.encode(pixels, bpp, method, config, quiet=quiet, stats=stats)
        middle = time.perf_counter()
        decoded = codec.decode(data)
    end = time.perf_counter()
    if len(data) > budget:
        raise AssertionError(f"{method} wrote {len(data)} bytes over a cap of {budget}")
    return {"bytes": len(data), "bpp": len(data) * 8 / (height * width), "psnr": psnr(pixels, decoded),
            "encoding_time": middle - start, "decoding_time": end - middle, **extra}


def merge_results(path: Path, method: str, rows: list[dict], description: str) -> dict:
    """Add this run's rows to the method's JSON file (replacing rows of the same image and cap)."""
    old = json.loads(path.read_text()) if path.exists() else {}
    keep = {(r["image"], r["target_bpp"]): r for r in old.get("per_image", [])}
    keep.update({(r["image"], r["target_bpp"]): r for r in rows})
    per_image = sorted(keep.values(), key=lambda r: (r["target_bpp"], r["image"]))
    targets = sorted({r["target_bpp"] for r in per_image})
    results = {key: [] for key in ("target_bpp", "n_images", "bpp", "psnr", "encoding_time", "decoding_time")}
    for target in targets:
        group = [r for r in per_image if r["target_bpp"] == target]
        results["target_bpp"].append(target)
        results["n_images"].append(len(group))
        for key in ("bpp", "psnr", "encoding_time", "decoding_time"):
            results[key].append(float(np.mean([r[key] for r in group])))
    document = {"name": method, "description": description, "results": results, "per_image": per_image}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")
    return document


def run_bench(folder: str, caps: list[float], methods: list[str], *, limit: int | None, out_dir: str,
              configs: dict, quiet: bool, tag: str = "") -> dict:
    """Run every method at every cap over the folder's images; write and print the results."""
    unknown = [m for m in methods if m not in baselines.BASELINES and m not in codec.METHODS]
    if unknown:
        raise InrError(f"unknown method(s) {', '.join(unknown)}")
    images = list_images(folder, limit)
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_implementation()} {platform.python_version()}"
    documents = {}
    tasks = [(path, cap, method) for path in images for cap in caps for method in methods]
    for path, cap, method in tqdm(tasks, desc="bench", disable=quiet, unit="file"):
        try:
            row = {"image": path.name, "target_bpp": cap, **measure(read_image(path), cap, method, configs.get(method), quiet=True)}
        except InrError as err:  # e.g. a cap below a baseline's smallest file: reported, not averaged
            tqdm.write(f"{method} on {path.name} at {cap:g} bpp: {err}")
            continue
        description = (f"{'inrcodec ' + method if method in codec.METHODS else method + ' (Pillow)'} "
                       f"on {Path(folder).name}, bpp caps; measured on {machine}")
        documents[method] = merge_results(Path(out_dir) / Path(folder).name / f"{method}{tag}.json",
                                          method + tag, [row], description)
    print(f"{'method':10s} {'cap':>6s} {'n':>3s} {'bpp':>7s} {'PSNR':>7s} {'enc s':>7s} {'dec s':>7s}")
    for method, document in documents.items():
        r = document["results"]
        for i, cap in enumerate(r["target_bpp"]):
            print(f"{method:10s} {cap:6.3f} {r['n_images'][i]:3d} {r['bpp'][i]:7.4f} {r['psnr'][i]:7.2f} "
                  f"{r['encoding_time'][i]:7.2f} {r['decoding_time'][i]:7.3f}")
    return documents
