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
# # Audio: rate–distortion
#
# inrcodec's audio methods (`pyramid`; `coin`, `sparse`, `meta` at 16 kbps only) against MP3 and
# Opus written by libsndfile at the largest file under the same cap, on two sets: six clips (four
# LibriSpeech utterances at 16 kHz, two VCTK clips at 48 kHz) and 50 LibriSpeech test-other clips
# (16 kHz, 3–4 s, unseen by the speech base). Rate is file bytes in kbit/s, quality PSNR of the
# waveform mapped to [0, 1] as COIN++ reports it. Published curves (`experiments/anchors/librispeech/`):
# COIN++ and MP3 (LAME) on LibriSpeech test-clean, from the COIN++ repository.
#
# The committed results (`experiments/results/audio/`, `experiments/results/librispeech_test_other/`,
# 2-core CPU) came from
#
#     inrcodec bench ../shared/data/audio --kbps 8 16 24 32
#     inrcodec bench ../shared/data/audio --kbps 16 --methods coin sparse meta
#     inrcodec bench librispeech_test_other --kbps 8 16 24   # 50 test-other clips of ../shared/data/speech_train
#
# (experiments/FINDINGS.md, "How the audio benches were run").

# %%
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Image, display

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm in a kernel without ipywidgets
import inrcodec
from inrcodec.eval import rd
from nbcommon import ROOT, mean_curve, per_item_bd, save_figure

SIX = ROOT / "experiments" / "results" / "audio"  # six clips
TEST_OTHER = ROOT / "experiments" / "results" / "librispeech_test_other"  # 50 clips
ANCHORS = ROOT / "experiments" / "anchors" / "librispeech"


# %% [markdown]
# ## Our measurements
#
# Mean over the clips coded at each cap (`n`). MP3 and Opus leave out clips whose smallest file is
# over the cap (Opus below about 8.4 kbps, MP3 on the 48 kHz clips); at a 16 kbps cap MP3's best file
# is an 8–9 kbps one.

# %%
METHODS = {SIX: ["pyramid", "pyramid-mse", "coin", "sparse", "meta", "mp3", "opus"],
           TEST_OTHER: ["pyramid", "pyramid-mse", "mp3", "opus"]}
table = rd.table([folder / f"{method}.json" for folder, methods in METHODS.items() for method in methods])
summary = (table.groupby(["dataset", "method", "target"])
           .agg(n=("item", "size"), kbps=("rate", "mean"), psnr=("psnr", "mean"), pesq=("pesq", "mean"),
                stoi=("stoi", "mean"))
           .unstack("target"))
summary["n"] = summary["n"].astype("Int64")
summary.round({**{c: 2 for c in summary if c[0] in ("kbps", "psnr", "pesq")}, **{c: 3 for c in summary
                                                                                  if c[0] == "stoi"}})

# %% [markdown]
# Curves average each method over the caps at which it coded every clip it coded at all (so Opus's
# 8 kbps point, met by 1 of 6 and 24 of 50 clips, is left out, and MP3's six-clip curve is over the
# four 16 kHz clips).


# %%
curves = {(folder.name, method): mean_curve(table[(table["dataset"] == folder.name) & (table["method"] == method)],
                                            method)
          for folder, methods in METHODS.items() for method in methods}

# %% [markdown]
# ## Rate–distortion plot
#
# Top: PSNR. Solid: measured here. Dashed: published (LibriSpeech test-clean, first 3 s of each
# utterance; the published MP3's PSNR is biased low by up to 1 dB and its rates are LAME's nominal
# ones). Bottom: wide-band PESQ of the codecs measured here (`pyramid-mse`: `pyramid` without its
# perceptual weighting, `--no-weighting`).

# %%
fig, ((left, right), (low_left, low_right)) = plt.subplots(2, 2, figsize=(11, 8.4), sharey="row")
colour = dict(zip(["pyramid", "pyramid-mse", "coin", "sparse", "meta", "mp3", "opus", "coinpp"],
                  plt.cm.tab10.colors))
left.set_prop_cycle(color=[colour[m] for m in METHODS[SIX]])
rd.plot_rd(left, [curves[SIX.name, method] for method in METHODS[SIX]])
right.set_prop_cycle(color=[colour[m] for m in METHODS[TEST_OTHER] + ["coinpp", "mp3"]])
rd.plot_rd(right, [curves[TEST_OTHER.name, method] for method in METHODS[TEST_OTHER]],
           [ANCHORS / "coinpp.json", ANCHORS / "mp3.json"])
PERCEPTUAL = ["pyramid", "pyramid-mse", "mp3", "opus"]
for ax, folder in ((low_left, SIX), (low_right, TEST_OTHER)):
    ax.set_prop_cycle(color=[colour[m] for m in PERCEPTUAL])
    rd.plot_rd(ax, [mean_curve(table[(table["dataset"] == folder.name) & (table["method"] == method)], method,
                               "pesq") for method in PERCEPTUAL], metric="pesq")
    ax.set_ylim(1, 4.6)
left.set_title("six clips (LibriSpeech and VCTK)")
right.set_title("50 LibriSpeech test-other clips")
for ax in (left, right):
    ax.set_ylim(25, 57)
for ax in (left, right, low_left, low_right):
    ax.set_xlim(0, 35)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
display(Image(filename=save_figure(fig, "audio_rd")))

# %% [markdown]
# ## BD-rate
#
# Bjøntegaard delta rate (`rd.compare`, piecewise-cubic interpolation of log rate over PSNR): percent
# more bits than the anchor for the same PSNR (negative: fewer). First per clip, `pyramid` against
# Opus and MP3 measured on the same clips, on the clips where both have at least two caps.


# %%
per_clip = {(folder.name, anchor): per_item_bd(folder / "pyramid.json", folder / f"{anchor}.json")
            for folder in (SIX, TEST_OTHER) for anchor in ("opus", "mp3")}
pd.concat({anchor: per_clip[SIX.name, anchor]["BD-rate (%)"] for anchor in ("opus", "mp3")}, axis=1).round(1)

# %%
rows = []
for (dataset, anchor), frame in per_clip.items():
    result = rd.compare(ROOT / "experiments" / "results" / dataset / "pyramid.json",
                        ROOT / "experiments" / "results" / dataset / f"{anchor}.json", per_item=True)
    values = frame["BD-rate (%)"]
    assert result["items"] == values.notna().sum()
    rows.append({"clips": dataset, "anchor": anchor, "compared": result["items"],
                 "left out": "; ".join(f"{count}: {why}" for why, count in
                                       frame.loc[frame["left out"] != "", "left out"].value_counts().items()),
                 "BD-rate (%)": result["bd_rate_percent"], "lowest (%)": values.min(), "highest (%)": values.max(),
                 "BD-PSNR (dB)": result["bd_psnr_db"], "kbps range": "{:.1f}–{:.1f}".format(*result["rate_range"])})
per_clip_summary = pd.DataFrame(rows).round(2)
per_clip_summary

# %% [markdown]
# Then on mean curves, `pyramid` against the published COIN++ and MP3 curves (on LibriSpeech
# test-clean: our test-other clips are the closer match).

# %%
rows = []
for dataset in (SIX.name, TEST_OTHER.name):
    for anchor in ("coinpp", "mp3"):
        result = rd.compare(curves[dataset, "pyramid"], ANCHORS / f"{anchor}.json")
        rows.append({"clips": dataset, "anchor (published)": anchor, "BD-rate (%)": result["bd_rate_percent"],
                     "BD-PSNR (dB)": result["bd_psnr_db"],
                     "PSNR range (dB)": "{:.2f}–{:.2f}".format(*result["dist_range"])})
against_published = pd.DataFrame(rows).round(2)
against_published

# %% [markdown]
# ## Findings
#
# - `pyramid` is perceptually weighted (its default since issue 29): on the 50 test-other clips PESQ
#   **2.05 / 3.06 / 3.62** at 8 / 16 / 24 kbps against 1.17 / 1.40 / 1.70 unweighted (`pyramid-mse`),
#   Opus 2.10 (on the 24 clips it can code) / 3.93 / 4.37 and MP3 3.05 at 24 kbps; STOI 0.903 / 0.958 /
#   0.977. On the six clips PESQ 1.88 / 3.11 / 3.77 / 4.09 at 8–32 kbps (Opus 3.74 / 4.28 / 4.44 from 16).
#   The gap to Opus at 16 kbps is 0.6–0.9 PESQ.
# - The weighting costs PSNR (2.9–4.1 dB against `pyramid-mse`), and `pyramid` stays above Opus and
#   COIN++ in PSNR: per clip it needs −33.7% bits against Opus on the six clips (−59.0% to −10.6%) and
#   −21.2% on the test-other clips (−60.3% to +34.7%); against MP3 −13.1% and −10.9%.
# - Against the published COIN++ curve `pyramid` needs −64.2% bits on the test-other clips (+5.39 dB
#   over 41.3–49.0 dB) and −42.2% on the six clips (+2.80 dB); at 8 kbps on the six clips it is
#   0.55 dB above that curve, the closest point.

# %% [markdown]
# ## What the noise sounds like: perceptual weighting
#
# `pyramid` weights a clip before coding it (`inrcodec.weighting`, the default): a pre-filter from
# the clip's linear prediction and level, undone after decoding, so that the coder's white noise
# comes out under the formants, towards the low band and down in the quiet frames. Below, the
# mel spectrogram of `data/another_door.wav` beside its 16 kbps decodes: weighted (the default),
# unweighted (`weighted=None`, `--no-weighting`: squared error alone) and Opus, with each decode's
# error. The decodes at 8, 16 and 24 kbps are written for listening to `figures/listening/`
# (git-ignored; the small run writes 16 kbps only, with reduced effort).

# %%
import soundfile

from inrcodec.eval import audio_baselines
from inrcodec.eval.metrics import audio_psnr, perceptual
from inrcodec.modalities import audio
from nbcommon import FIGURES, log_mel

SMALL = os.environ.get("INRCODEC_NOTEBOOK_SMALL", "1") == "1"
# reduced effort: 10 Adam steps a context fit, at most 6 files (down to 97% of the cap) a rate search
QUICK = inrcodec.PyramidConfig(steps=10, search_iterations=6, fill=0.97)
LISTENING = FIGURES / "listening"
LISTENING.mkdir(exist_ok=True)
clip, clip_rate = audio.read_audio(ROOT / "data" / "another_door.wav")  # (samples, 1) float64, Hz
decodes, scores = {}, []
for kbps in [16.0] if SMALL else [8.0, 16.0, 24.0]:
    for name, weighted in (("pyramid", audio.DEFAULT_WEIGHTING), ("pyramid, unweighted", None)):
        file = audio.encode_audio(clip, clip_rate, kbps, "pyramid", QUICK if SMALL else None, weighted=weighted)
        decodes[name, kbps] = audio.decode_audio(file)[0].astype(np.float64)
    opus = audio_baselines.compress(clip, clip_rate, "opus", audio.budget(kbps, len(clip), clip_rate))
    decodes["opus", kbps] = audio_baselines.decode(opus, clip)
    for name in ("pyramid", "pyramid, unweighted", "opus"):
        decoded = decodes[name, kbps]
        soundfile.write(LISTENING / f"another_door-{name.replace(', ', '-')}-{kbps:g}kbps.wav", decoded, clip_rate)
        scores.append({"kbps": kbps, "codec": name, "psnr": audio_psnr(clip, decoded),
                       **perceptual(clip, decoded, clip_rate)})
pd.DataFrame(scores).round(3)

# %%
fig, axes = plt.subplots(2, 4, figsize=(11, 4.4), sharex=True, sharey=True)
panels = [("input", clip)] + [(name, decodes[name, 16.0]) for name in ("pyramid", "pyramid, unweighted", "opus")]
for column, (title, signal) in enumerate(panels):
    for row, shown in enumerate((signal, signal - clip)):
        if row and not column:
            axes[row, column].axis("off")
            continue
        axes[row, column].imshow(log_mel(shown[:, 0], clip_rate), origin="lower", aspect="auto", vmin=-110, vmax=-20,
                                 cmap="magma", extent=(0, len(clip) / clip_rate, 0, 48), interpolation="nearest")
        axes[row, column].set_title(f"error of {title}" if row else title + (", 16 kbps" if column else ""),
                                    fontsize=9)
for ax in axes[:, 0]:
    ax.set_ylabel("mel band")
for ax in axes[1]:
    ax.set_xlabel("seconds")
fig.tight_layout()
display(Image(filename=save_figure(fig, "audio_noise")))

# %% [markdown]
# ## Re-run a small sweep
#
# The same measurement on `data/another_door.wav` (3.9 s of speech at 16 kHz), into a temporary
# folder. With `INRCODEC_NOTEBOOK_SMALL=1` (the default) it codes the clip's first half second at 24
# and 32 kbps with `pyramid` at reduced effort (`QUICK`) and Opus: seconds once JAX's compiled fit is in
# the compilation cache. `INRCODEC_NOTEBOOK_SMALL=0` codes the whole clip at 8, 16 and 24 kbps
# with default settings, beside Opus and MP3.

# %%
import tempfile

samples, rate = clip, clip_rate
if SMALL:
    clips = [(samples[:rate // 2], rate)]  # the first half second (the tests' clip shape), in memory
    caps, methods, configs = [24.0, 32.0], ["pyramid", "opus"], {"pyramid": QUICK}
else:
    clips = [ROOT / "data" / "another_door.wav"]
    caps, methods, configs = [8.0, 16.0, 24.0], ["pyramid", "opus", "mp3"], {}

inrcodec.enable_compilation_cache()
with tempfile.TemporaryDirectory() as scratch:
    documents = inrcodec.sweep(clips, kbps=caps, methods=methods, configs=configs, out_dir=scratch,
                               dataset="small", workers=0, quiet=True)
    small = rd.table(sorted((Path(scratch) / "small").glob("*.json")))
columns = ["method", "item", "target", "rate", "psnr", "si_snr", "pesq", "encoding_time"]
small[[column for column in columns if column in small]].round(3)  # PESQ needs the baselines extra

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
rd.plot_rd(ax, [documents[method] for method in methods])
ax.set_title("small sweep (another_door.wav" + (", first half second)" if SMALL else ")"))
ax.grid(alpha=0.3)
try:
    result = rd.compare(documents["pyramid"], documents["opus"])
    print(f"pyramid against opus on this sweep: BD-rate {result['bd_rate_percent']:+.1f}%")
except inrcodec.InrError as err:
    print(f"no BD-rate on this sweep: {err}")
