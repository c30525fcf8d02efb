"""What the rate-distortion notebooks share: the repository's root, where figures go, how they are
saved, and the per-item and mean curves they compare (imported by the notebooks, which run in this folder)."""

import io
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image as PILImage

from inrcodec.eval import rd


def repo_root(start: Path | None = None) -> Path:
    """The first folder up from `start` (default: the working folder) that holds pyproject.toml."""
    start = (start or Path.cwd()).resolve()
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise FileNotFoundError(f"no pyproject.toml above {start}")


ROOT = repo_root()
FIGURES = Path(os.environ.get("INRCODEC_FIGURES", ROOT / "notebooks" / "figures"))  # INRCODEC_FIGURES: tests write elsewhere
FIGURES.mkdir(parents=True, exist_ok=True)


def save_figure(fig, name: str) -> Path:
    """Write `fig` to FIGURES/<name>.png at 100 dpi in 256 colours (a third of the bytes), close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=100)
    plt.close(fig)
    path = FIGURES / f"{name}.png"
    PILImage.open(buffer).convert("RGB").quantize(256).save(path, optimize=True)
    return path


def mean_curve(rows: pd.DataFrame, name: str, metric: str = "psnr") -> dict:
    """The mean curve of one method's rows as a results document (what rd.plot_rd and rd.compare
    read), over the caps at which it coded every item it coded at all."""
    complete = rows.groupby("target").filter(lambda cap: cap["item"].nunique() == rows["item"].nunique())
    means = complete.groupby("target")[["rate", metric]].mean()
    unit = rows["rate_unit"].iloc[0]
    return {"name": name, "results": {f"target_{unit}": means.index.tolist(), unit: means["rate"].tolist(),
                                      metric: means[metric].tolist()}}


def per_item_bd(test, anchor, metric: str = "psnr") -> pd.DataFrame:
    """BD-rate (%) of results file `test` against `anchor` on each item both coded at two caps or
    more; an item whose curves cannot be compared (not monotone, no overlap) says why."""
    sign = -1 if metric in rd.LOWER_IS_BETTER else 1  # distances: lower is better
    tests, anchors = rd.item_curves(test, metric), rd.item_curves(anchor, metric)
    rows = []
    for item in sorted(set(tests) & set(anchors)):
        (rate_t, value_t), (rate_a, value_a) = tests[item], anchors[item]
        if min(len(rate_t), len(rate_a)) < 2:
            continue
        try:
            rows.append((item, rd.bd_rate(rate_a, sign * value_a, rate_t, sign * value_t), ""))
        except ValueError as err:  # rd's reason, without the numbers where it lists them
            why = str(err)
            rows.append((item, np.nan, why if why.startswith(("test curve:", "anchor curve:")) else why.split(":")[0]))
    return pd.DataFrame(rows, columns=["item", "BD-rate (%)", "left out"]).set_index("item")


def log_mel(samples: np.ndarray, rate: int, bands: int = 48, window_ms: float = 32.0) -> np.ndarray:
    """(bands, frames) power in dB of a mono clip's short-time spectrum (Hann windows of `window_ms`,
    hop half of that) pooled into `bands` triangular bands evenly spaced on the mel scale."""
    from scipy.signal import stft

    length = round(rate * window_ms / 1000)
    frequencies, _, spectrum = stft(samples, rate, nperseg=length, noverlap=length // 2)
    mel = lambda hz: 2595 * np.log10(1 + hz / 700)
    edges = 700 * (10 ** (np.linspace(0, mel(rate / 2), bands + 2) / 2595) - 1)
    rising = (frequencies[None] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    falling = (edges[2:, None] - frequencies[None]) / (edges[2:, None] - edges[1:-1, None])
    triangles = np.maximum(0, np.minimum(rising, falling))
    return 10 * np.log10(triangles @ np.abs(spectrum) ** 2 + 1e-12)
