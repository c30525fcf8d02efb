# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # CIFAR-10: rate–distortion
#
# inrcodec's `hyper` (the default for images this small: integer latent grids through the shipped,
# meta-learned synthesis and context network; 1000 images in one pack a cap, through the default
# command line), `meta` (latents on the shipped meta-learned SIREN base, 1000 images coded together)
# and `pyramid` (one image at a time) on CIFAR-10 test images (32x32), against the published
# curves of COIN++, COIN, BPG, JPEG, JPEG2000, Ballé et al.'s hyperprior and Cheng et al. 2020
# (`experiments/anchors/cifar10/`). Rate is file bytes (header included) in bits per pixel, quality
# PSNR on 8-bit RGB averaged over images. COIN++'s rates are entropy estimates and leave out its
# shared base; ours leave out the shipped base too. The published BPG, JPEG and JPEG2000 bpp are
# target caps (true rates at or below them).
#
# The committed results (`experiments/results/cifar10/`, 2-core CPU) came from
#
#     python experiments/cifar_pack_bench.py    # hyper: inrcodec encode cifar10_prefix.npz -o X.inrs --bpp B --limit 1000
#     inrcodec bench ../shared/data/cifar10/cifar10_prefix.npz --bpp 0.5 1 2 4 --limit 1000 --batch 1000 --methods meta
#     (the same with --steps 200 --tag=-200steps)
#     inrcodec bench ../shared/data/cifar10/cifar10_prefix.npz --bpp 0.5 1 2 4 --methods pyramid --limit 100
#
# (experiments/FINDINGS.md, "CIFAR-10"; `pyramid.json` predates its run-skipping coder).

# %%
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm in a kernel without ipywidgets
import inrcodec
from inrcodec.eval import rd
from nbcommon import ROOT, save_figure

RESULTS = ROOT / "experiments" / "results" / "cifar10"
ANCHORS = ROOT / "experiments" / "anchors" / "cifar10"


# %% [markdown]
# ## Our measurements
#
# Mean over the images at each cap (`n`): every image met every cap.

# %%
METHODS = ["hyper", "meta", "meta-200steps", "pyramid"]
table = rd.table([RESULTS / f"{method}.json" for method in METHODS])
summary = (table.groupby(["method", "target"])
           .agg(n=("item", "size"), bpp=("rate", "mean"), psnr=("psnr", "mean"))
           .unstack("target").reindex(METHODS))
summary.round({**{c: 3 for c in summary if c[0] == "bpp"}, **{c: 2 for c in summary if c[0] == "psnr"}})

# %% [markdown]
# ## Rate–distortion plot
#
# Solid: measured here. Dashed: published (CIFAR-10 test set).

# %%
PUBLISHED = ["coinpp", "coin", "bpg", "jpeg", "jpeg2000", "bmshj2018-hyperprior", "cheng2020-anchor"]
fig, ax = plt.subplots(figsize=(7.5, 4.8))
ax.set_prop_cycle(color=plt.cm.tab10.colors)
rd.plot_rd(ax, [RESULTS / f"{method}.json" for method in METHODS], [ANCHORS / f"{name}.json" for name in PUBLISHED])
ax.set_xlim(0, 10.2)
ax.set_ylim(8, 44)
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="lower right")
ax.set_title("CIFAR-10 (32x32)")
fig.tight_layout()
display(Image(filename=save_figure(fig, "cifar10_rd")))

# %% [markdown]
# ## BD-rate against the published curves
#
# Bjøntegaard delta rate on mean curves (`rd.compare`, piecewise-cubic): percent more bits than the
# anchor for the same PSNR, over the PSNR interval both curves cover (given in the table: a BD
# number over an interval of a dB or two says little).

# %%
rows = []
for method in METHODS:
    for anchor in ["coinpp", "coin", "bpg", "jpeg2000", "bmshj2018-hyperprior", "cheng2020-anchor"]:
        row = {"test (ours)": method, "anchor (published)": anchor}
        try:
            result = rd.compare(RESULTS / f"{method}.json", ANCHORS / f"{anchor}.json")
            low, high = result["dist_range"]
            row.update({"BD-rate (%)": result["bd_rate_percent"], "BD-PSNR (dB)": result["bd_psnr_db"],
                        "PSNR range (dB)": f"{low:.2f}–{high:.2f}", "width (dB)": high - low})
        except inrcodec.InrError:
            row["PSNR range (dB)"] = "no overlap"
        rows.append(row)
against_published = pd.DataFrame(rows).round(2)
against_published

# %% [markdown]
# ## Findings
#
# - `hyper`, through the default command line (1000 images in one pack a cap), is above COIN++ at each
#   of its rates: 24.68 / 28.97 / 34.44 / 40.36 dB at 0.548 / 1.099 / 2.195 / 4.057 bpp, interpolated in
#   log-rate between our caps' points (COIN++ 24.22 / 27.03 / 30.45 / 33.69), and above BPG from 1 to
#   4 bpp (27.80 / 33.38 / 39.43 dB at 1.1 / 2.2 / 4.06 bpp); every pack within its cap. BD-rate against
#   COIN++ −36.8% (+3.34 dB over 24.2–35.3 dB), against BPG −11.7% (+1.09 dB); against Ballé et al.'s
#   hyperprior +3.5% (−0.28 dB), about level with it, which is its structure; against Cheng 2020 +20.3%
#   (−1.55 dB): level with it at 0.55 bpp, up to 3 dB under it at 2–4 bpp.
# - Against COIN++, `pyramid` needs **+228.2%** bits for the same PSNR (8.40 dB below it at equal
#   rate; over 24.2–29.2 dB), `meta` +196.9% and `meta` at 200 steps +183.6% — the latter two over
#   only 24.2–25.7 dB, the top of our curves, so those numbers are rough.
# - A 32x32 image at 0.5–4 bpp is 64–512 bytes: `pyramid`'s per-image side information (context
#   parameters per grid channel) eats most of it, and `meta` saturates near 25.7 dB above 2 bpp
#   (experiments/FINDINGS.md, "CIFAR-10"); `hyper` ships its context model and codes a pack's images
#   in one stream, so an image pays for its latents alone.

# %% [markdown]
# ## Re-run a small sweep
#
# No CIFAR-10 data ships with the repository, so with `INRCODEC_NOTEBOOK_SMALL=1` (the default) the
# sweep codes three 32x32 crops of the Kodak samples in `data/` at 4 and 6 bpp (JPEG2000's smallest
# file of a 32x32 image is about 270 bytes, over a 2 bpp cap) with `hyper`, `pyramid` at reduced effort
# (`QUICK`) and JPEG2000, into a temporary folder: seconds once JAX's compiled fit is in the compilation
# cache, about a minute more the first time. `INRCODEC_NOTEBOOK_SMALL=0` codes 16 images (the first
# 16 CIFAR-10 test images if the project's shared data folder is there, else 16 crops) at 1, 2 and
# 4 bpp with default settings, adding `meta` (all 16 fitted together).

# %%
import tempfile

from inrcodec.modalities.image import read_image

SMALL = os.environ.get("INRCODEC_NOTEBOOK_SMALL", "1") == "1"
# reduced effort: 5 Adam steps a context fit, at most 6 files (down to 97% of the cap) a rate search
QUICK = inrcodec.PyramidConfig(steps=5, search_iterations=6, fill=0.97)
SHARED_CIFAR = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10_prefix.npz"  # optional, not in a clone
kodim05, kodim23 = (read_image(ROOT / "data" / name) for name in ("kodim05.png", "kodim23.png"))
if SMALL:
    source = [kodim05[96:128, 160:192], kodim05[256:288, 384:416], kodim23[200:232, 300:332]]
    caps, methods, configs, batch = [4.0, 6.0], ["hyper", "pyramid", "jpeg2000"], {"pyramid": QUICK}, 1
else:
    corners = [(64 + 160 * i, 64 + 160 * j) for i in range(2) for j in range(4)]  # 8 crops an image
    source = (str(SHARED_CIFAR) if SHARED_CIFAR.exists() else
              [image[r:r + 32, c:c + 32] for image in (kodim05, kodim23) for r, c in corners])
    caps, methods, configs, batch = [1.0, 2.0, 4.0], ["hyper", "pyramid", "meta", "jpeg2000"], {}, 16

inrcodec.enable_compilation_cache()
with tempfile.TemporaryDirectory() as scratch:
    documents = inrcodec.sweep(source, bpp=caps, methods=methods, configs=configs, limit=16, batch=batch,
                               out_dir=scratch, dataset="small", workers=0, quiet=True)
    small = rd.table(sorted((Path(scratch) / "small").glob("*.json")))
small.groupby(["method", "target"]).agg(n=("item", "size"), bpp=("rate", "mean"), psnr=("psnr", "mean"),
                                        encoding_time=("encoding_time", "mean")).round(3)

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
rd.plot_rd(ax, [documents[method] for method in methods], [ANCHORS / "coinpp.json"])
ax.set_title("small sweep (" + ("three 32x32 crops" if SMALL else "16 images") + ")")
ax.grid(alpha=0.3)
