"""Rate–distortion analysis: Bjøntegaard deltas, tidy tables of bench results, and RD plots.

Rates are bits per pixel ("bpp", images), kilobits per second ("kbps", audio) or file bytes
("bytes", meshes). Quality is PSNR in dB unless another metric is named; distances where lower is
better (Chamfer, Hausdorff) are negated before a Bjøntegaard delta, so that "quality" always rises
with rate.

Two kinds of results file are read:
- ours, written by `inrcodec bench` at experiments/results/<dataset>/<method>.json: a mean curve in
  "results" (arrays over the rate targets) and one row per item and target in "per_image";
- published anchors, {"name", "dataset", "source", "note", "results": {"bpp"|"kbps": [...],
  "psnr": [...], ...}}: a mean curve only.

    bd_rate(rates_a, psnr_a, rates_t, psnr_t)          # percent more bits for the test, same PSNR
    compare("ours.json", "anchor.json")                 # the same, from two results files
    inrcodec bd-rate ours.json anchor.json --per-item   # one line of JSON

pandas (for `table`, `anchors`) and scipy (for the interpolation) are imported only when used, so
importing this module imports only numpy; `plot_rd` draws on an Axes it is given.
"""

import json
import math
import os
from pathlib import Path

import numpy as np

from ..errors import InrError, reading

MIN_POINTS = {"pchip": 2, "cubic": 4}  # points per curve each interpolation needs
RATE_UNITS = ("bpp", "kbps", "bytes")  # the rate keys a results file may hold, in the order looked for
ITEM_KEYS = {"bpp": "image", "kbps": "clip", "bytes": "mesh"}  # per-row item name for each rate unit
LOWER_IS_BETTER = frozenset({"chamfer_l1", "accuracy", "completeness", "hausdorff"})  # distances
METRIC_UNITS = {"psnr": "dB", "si_snr": "dB"}
METRIC_LABELS = {"psnr": "PSNR (dB)", "si_snr": "SI-SNR (dB)", "pesq": "PESQ (MOS-LQO)", "stoi": "STOI"}
RATE_LABELS = {"bpp": "rate (bits per pixel)", "kbps": "rate (kbit/s)", "bytes": "file size (bytes)"}


# -- Bjøntegaard deltas on arrays ----------------------------------------------------------------

def bd_rate(rate_anchor, dist_anchor, rate_test, dist_test, *, method: str = "pchip",
            dist_range: tuple[float, float] | None = None) -> float:
    """Bjøntegaard delta rate in percent: how many more bits the test needs for the same quality
    (negative: fewer), averaged over the quality interval both curves cover.

    rate_*: (N,) positive rates in any unit (the same for both), in any order; dist_*: (N,) the
    quality at each rate, rising strictly with rate (PSNR in dB, SSIM, ...; pass a distance where
    lower is better, such as Chamfer, negated). The natural log of rate is interpolated as a
    function of quality — method "pchip": piecewise cubic Hermite (JCT-VC/JVET common test
    conditions sheet), "cubic": one least-squares cubic per curve (VCEG-M33) — and integrated
    exactly over the overlap of the two quality ranges, clipped to `dist_range` (low, high) if given.
    The result is 100 (exp(mean log-rate difference) - 1). Raises ValueError on bad curves or no
    overlap."""
    log_rate_anchor, quality_anchor = _curve_axes(rate_anchor, dist_anchor, method, "anchor")
    log_rate_test, quality_test = _curve_axes(rate_test, dist_test, method, "test")
    delta, _ = _mean_difference(quality_anchor, log_rate_anchor, quality_test, log_rate_test, method, dist_range,
                                "quality")
    return _percent(delta)


def bd_psnr(rate_anchor, dist_anchor, rate_test, dist_test, *, method: str = "pchip",
            rate_range: tuple[float, float] | None = None) -> float:
    """Bjøntegaard delta quality: the mean of test minus anchor quality at equal rate, in the
    quality's unit (dB for PSNR; positive: the test is better), over the log-rate interval both
    curves cover, clipped to `rate_range` (low, high, in rate units) if given.

    Arguments as for `bd_rate`; for a distance where lower is better pass it negated, and the
    result is then the mean reduction of that distance (positive: the test is better)."""
    log_range = None if rate_range is None else (_log_rate(rate_range[0]), _log_rate(rate_range[1]))
    delta, _ = _mean_difference(*_curve_axes(rate_anchor, dist_anchor, method, "anchor"),
                                *_curve_axes(rate_test, dist_test, method, "test"), method, log_range, "log rate")
    return delta


def _curve_axes(rate, quality, method: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(log rate, quality), both (N,) and rising, of one RD curve given in any order; ValueError
    unless it has enough finite points with positive, distinct rates and quality rising with rate."""
    if method not in MIN_POINTS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(MIN_POINTS)}")
    rate, quality = np.asarray(rate, dtype=float), np.asarray(quality, dtype=float)
    if rate.ndim != 1 or rate.shape != quality.shape:
        raise ValueError(f"{name} curve: rates and qualities must be 1-D of one length, "
                         f"got shapes {rate.shape} and {quality.shape}")
    if len(rate) < MIN_POINTS[method]:
        raise ValueError(f"{name} curve: {method} needs at least {MIN_POINTS[method]} points, got {len(rate)}")
    if not (np.isfinite(rate).all() and np.isfinite(quality).all() and (rate > 0).all()):
        raise ValueError(f"{name} curve: rates must be finite and positive, qualities finite")
    order = np.argsort(rate)
    rate, quality = rate[order], quality[order]
    if (np.diff(rate) <= 0).any():
        raise ValueError(f"{name} curve: two points share the rate {rate[np.argmin(np.diff(rate))]:g}")
    if (np.diff(quality) <= 0).any():
        raise ValueError(f"{name} curve is not monotone: quality must rise with rate, "
                         f"got {np.round(quality, 4).tolist()} at rates {np.round(rate, 4).tolist()}")
    return np.log(rate), quality


def _log_rate(rate: float) -> float:
    if not rate > 0:
        raise ValueError(f"rate range bounds must be positive, got {rate}")
    return math.log(rate)


def _mean_difference(x_anchor, y_anchor, x_test, y_test, method: str, stated: tuple[float, float] | None,
                     axis: str) -> tuple[float, tuple[float, float]]:
    """Mean of test minus anchor y over the x interval both curves cover (clipped to `stated`), each
    curve interpolated by `method`; returns it and the (low, high) interval used."""
    low, high = max(x_anchor[0], x_test[0]), min(x_anchor[-1], x_test[-1])
    if high <= low:
        raise ValueError(f"the curves do not overlap in {axis}: anchor {x_anchor[0]:g}..{x_anchor[-1]:g}, "
                         f"test {x_test[0]:g}..{x_test[-1]:g}")
    if stated is not None:
        if not stated[0] < stated[1]:
            raise ValueError(f"the stated {axis} range must be (low, high) with low < high, got {tuple(stated)}")
        if max(low, stated[0]) >= min(high, stated[1]):
            raise ValueError(f"the stated {axis} range {stated[0]:g}..{stated[1]:g} misses the overlap "
                             f"{low:g}..{high:g} of the curves")
        low, high = max(low, stated[0]), min(high, stated[1])
    difference = _integral(x_test, y_test, low, high, method) - _integral(x_anchor, y_anchor, low, high, method)
    return float(difference / (high - low)), (float(low), float(high))


def _integral(x: np.ndarray, y: np.ndarray, low: float, high: float, method: str) -> float:
    """Exact integral from low to high of the curve through (x, y) (x rising) interpolated by `method`."""
    if method == "pchip":
        from scipy.interpolate import PchipInterpolator
        return float(PchipInterpolator(x, y).integrate(low, high))
    antiderivative = np.polyint(np.polyfit(x, y, 3))
    return float(np.polyval(antiderivative, high) - np.polyval(antiderivative, low))


def _percent(mean_log_rate_difference: float) -> float:
    return 100.0 * math.expm1(mean_log_rate_difference)


# -- Results files --------------------------------------------------------------------------------

def load(document_or_path: dict | str | os.PathLike) -> dict:
    """A results document (ours or an anchor) from its path, or the document itself; InrError if the
    file is missing, not JSON, or has no "results" object."""
    if isinstance(document_or_path, dict):
        document, where = document_or_path, "results document"
    else:
        where = os.fspath(document_or_path)
        with reading(where, "results JSON"):
            text = Path(where).read_text()
        try:
            document = json.loads(text)
        except json.JSONDecodeError as err:
            raise InrError(f"{where}: not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(document, dict) or not isinstance(document.get("results"), dict):
        raise InrError(f"{where}: no \"results\" object: not a bench or anchor results file")
    return {**document, "name": document.get("name") or Path(where).stem}


def rate_unit_of(document: dict) -> str:
    """"bpp", "kbps" or "bytes": the rate a results document is measured in."""
    for unit in RATE_UNITS:
        if unit in document["results"]:
            return unit
    raise InrError(f"{document['name']}: no rate in its results (looked for {', '.join(RATE_UNITS)})")


def curve(document_or_path, metric: str = "psnr") -> tuple[np.ndarray, np.ndarray]:
    """The mean curve of a results file: (rates, metric values), both (N,), sorted by rate; rates in
    the file's unit (see `rate_unit_of`), the metric in its own (PSNR in dB)."""
    document = load(document_or_path)
    results = document["results"]
    if metric not in results:
        known = ", ".join(k for k in results if k not in RATE_UNITS and not k.startswith(("target_", "n_")))
        raise InrError(f"{document['name']}: no {metric!r} in its results (has {known})")
    rates = np.asarray(results[rate_unit_of(document)], dtype=float)
    values = np.asarray(results[metric], dtype=float)
    order = np.argsort(rates, kind="stable")
    return rates[order], values[order]


def item_curves(document_or_path, metric: str = "psnr") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each item's curve in one of our results files: item name -> (rates, metric values), sorted by rate."""
    document = load(document_or_path)
    if not document.get("per_image"):
        raise InrError(f"{document['name']}: no per-item results (a published anchor has only a mean curve)")
    unit = rate_unit_of(document)
    points: dict[str, list[tuple[float, float]]] = {}
    for row in document["per_image"]:
        if metric not in row:
            raise InrError(f"{document['name']}: a per-item row has no {metric!r}")
        points.setdefault(row[ITEM_KEYS[unit]], []).append((row[unit], row[metric]))
    return {item: tuple(np.array(axis, dtype=float) for axis in zip(*sorted(pairs)))
            for item, pairs in points.items()}


def table(paths):
    """A tidy pandas DataFrame of our per-item results: one row per (dataset, method, item, target)
    with columns dataset (the file's folder), method (its "name"), item, rate_unit, target, rate,
    then every numeric field of the rows (psnr, si_snr, pesq, stoi, chamfer_l1, ..., encoding_time
    and decoding_time in seconds, bytes); nested fields such as "stats" are dropped."""
    import pandas as pd

    rows = []
    for path in paths:
        document = load(path)
        if not document.get("per_image"):
            raise InrError(f"{path}: no per-item results (read a published anchor with anchors())")
        unit = rate_unit_of(document)
        named = {ITEM_KEYS[unit], f"target_{unit}", unit} - {"bytes"}  # keep bytes: file size in every dataset
        for row in document["per_image"]:
            rows.append({"dataset": Path(path).parent.name, "method": document["name"],
                         "item": row[ITEM_KEYS[unit]], "rate_unit": unit, "target": row[f"target_{unit}"],
                         "rate": row[unit],
                         **{key: value for key, value in row.items() if key not in named and _is_number(value)}})
    return pd.DataFrame(rows)


def anchors(paths):
    """A tidy pandas DataFrame of published curves: one row per point, with columns dataset, method
    (the file's "name"), rate_unit, rate, psnr (dB), then any other arrays the file has (ms-ssim,
    encoding_time and decoding_time in seconds, ...)."""
    import pandas as pd

    rows = []
    for path in paths:
        document = load(path)
        unit, results = rate_unit_of(document), document["results"]
        others = [key for key in results if key not in (unit, "psnr")]
        for index, rate in enumerate(results[unit]):
            rows.append({"dataset": document.get("dataset", Path(path).parent.name), "method": document["name"],
                         "rate_unit": unit, "rate": rate, "psnr": results["psnr"][index],
                         **{key: results[key][index] for key in others}})
    return pd.DataFrame(rows)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- Comparing two results files ------------------------------------------------------------------

def compare(test_path, anchor_path, *, metric: str = "psnr", method: str = "pchip", per_item: bool = False,
            dist_range: tuple[float, float] | None = None, items=None) -> dict:
    """BD-rate and BD-quality of one results file against another (either may be a published
    anchor; either may be a loaded document), as a JSON-ready dict.

    By default the files' mean curves are compared. per_item=True (our files only) computes both
    deltas for each item the two files share, skipping items with fewer than MIN_POINTS[method]
    points, non-monotone curves or no overlap, and averages them (bd_rate_percent from the mean
    log-rate delta, as VCEG-M33 averages over sequences); `items` restricts it to those item names.
    `dist_range` (low, high) in the metric's units narrows the quality interval of the BD-rate.

    Keys: test, anchor, metric, method, mode ("mean" or "per_item"), rate_unit, bd_rate_percent,
    bd_psnr_db (for PSNR; bd_<metric>[_db] for others: the mean quality gain at equal rate, for
    distances the mean reduction), dist_range and rate_range (the intervals integrated over; per
    item, the span of the items' intervals), points (points used per file), and per item also
    items and items_skipped. InrError on anything wrong with the files or the curves (missing, not
    JSON, rate units differ, not monotone, no overlap)."""
    test, anchor = load(test_path), load(anchor_path)
    where = f"{test['name']} against {anchor['name']} ({metric})"
    if rate_unit_of(test) != rate_unit_of(anchor):
        raise InrError(f"{where}: rates in {rate_unit_of(test)} and in {rate_unit_of(anchor)}")
    if items is not None and not per_item:
        raise InrError(f"{where}: choosing items needs per-item mode")
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0  # distances are negated so that quality rises with rate
    if dist_range is not None and sign < 0:
        dist_range = (-dist_range[1], -dist_range[0])
    if per_item:
        pairs = _shared_items(item_curves(test, metric), item_curves(anchor, metric), items)
    else:
        pairs = [(curve(test, metric), curve(anchor, metric))]
    deltas = []
    for (rate_test, value_test), (rate_anchor, value_anchor) in pairs:
        try:
            deltas.append(_both_deltas(rate_anchor, sign * value_anchor, rate_test, sign * value_test, method,
                                       dist_range) + (len(rate_test), len(rate_anchor)))
        except ValueError as err:
            if not per_item:
                raise InrError(f"{where}: {err}") from None
    if not deltas:
        raise InrError(f"{where}: no shared item has monotone curves of at least {MIN_POINTS[method]} points "
                       f"that overlap")
    rate_deltas, quality_intervals, quality_deltas, log_rate_intervals, points_test, points_anchor = zip(*deltas)
    unit = METRIC_UNITS.get(metric)
    result = {
        "test": test["name"], "anchor": anchor["name"], "metric": metric, "method": method,
        "mode": "per_item" if per_item else "mean", "rate_unit": rate_unit_of(test),
        "bd_rate_percent": _percent(float(np.mean(rate_deltas))),
        f"bd_{metric}_{unit.lower()}" if unit else f"bd_{metric}": float(np.mean(quality_deltas)),
        "dist_range": sorted(sign * bound for bound in _span(quality_intervals)),
        "rate_range": [math.exp(bound) for bound in _span(log_rate_intervals)],
        "points": {"test": sum(points_test), "anchor": sum(points_anchor)},
    }
    if per_item:
        result.update(items=len(deltas), items_skipped=len(pairs) - len(deltas))
    return result


def _both_deltas(rate_anchor, dist_anchor, rate_test, dist_test, method: str, dist_range) -> tuple:
    """(mean log-rate difference, the quality interval it is taken over, mean quality difference,
    the log-rate interval it is taken over) of two curves, as `bd_rate` and `bd_psnr` compute them."""
    log_rate_anchor, quality_anchor = _curve_axes(rate_anchor, dist_anchor, method, "anchor")
    log_rate_test, quality_test = _curve_axes(rate_test, dist_test, method, "test")
    return (*_mean_difference(quality_anchor, log_rate_anchor, quality_test, log_rate_test, method, dist_range,
                              "quality"),
            *_mean_difference(log_rate_anchor, quality_anchor, log_rate_test, quality_test, method, None, "log rate"))


def _shared_items(test: dict, anchor: dict, wanted) -> list:
    """[(test curve, anchor curve)] for the items both have (and `wanted` names, if given), by name."""
    names = set(test) & set(anchor) & (set(test) if wanted is None else set(wanted))
    return [(test[name], anchor[name]) for name in sorted(names)]


def _span(intervals) -> tuple[float, float]:
    return min(low for low, _ in intervals), max(high for _, high in intervals)


# -- Plot and command line ------------------------------------------------------------------------

def plot_rd(ax, our_paths, anchor_paths=(), *, metric: str = "psnr", rate_unit: str | None = None):
    """Draw the mean RD curves of our results files (solid, with markers) and of published anchors
    (dashed, "(published)" in the legend) on the matplotlib Axes `ax`; all must share one rate unit
    (`rate_unit`, or that of the first file). Labels the axes with units; returns ax."""
    for path, published in [(path, False) for path in our_paths] + [(path, True) for path in anchor_paths]:
        document = load(path)
        unit = rate_unit_of(document)
        rate_unit = rate_unit or unit
        if unit != rate_unit:
            raise InrError(f"{path}: rates in {unit}, but the plot is in {rate_unit}")
        rates, values = curve(document, metric)
        style = dict(linestyle="--", marker=".") if published else dict(linestyle="-", marker="o")
        ax.plot(rates, values, label=document["name"] + (" (published)" if published else ""), **style)
    ax.set_xlabel(RATE_LABELS.get(rate_unit, rate_unit))
    ax.set_ylabel(METRIC_LABELS.get(metric, metric + (" (lower is better)" if metric in LOWER_IS_BETTER else "")))
    ax.legend()
    return ax


def print_comparison(args) -> None:
    """Print `compare`'s result for the command line's parsed arguments (`inrcodec bd-rate`) as one line of JSON."""
    print(json.dumps(compare(args.test, args.anchor, metric=args.metric, method=args.method,
                             per_item=args.per_item, dist_range=args.range)))
