"""Which part of the perceptual weighting pays, and do its defaults hold on speech the evaluation
never sees? `pyramid` at one cap on training clips of ../shared/data/speech_train (LibriSpeech
train-clean-100 and LJSpeech; never its test-other clips), each variant a `WeightingConfig`.

  python experiments/probes/audio_weighting.py [--clips 12] [--kbps 16]
      [--out experiments/results/probes/audio_weighting.json]
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from inrcodec.eval.metrics import audio_psnr, perceptual
from inrcodec.modalities import audio
from inrcodec.weighting import WeightingConfig

SPEECH = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech_train"
DEFAULT = WeightingConfig()
VARIANTS = {  # name -> weighting (None: squared error alone)
    "unweighted": None,
    "level envelope only": dataclasses.replace(DEFAULT, gamma_num=0.0, gamma_den=0.0, tilt=0.0, fill=0.0),
    "prediction filter only": dataclasses.replace(DEFAULT, loudness=0.0, fill=0.0),
    "default": DEFAULT,
    "no noise filling": dataclasses.replace(DEFAULT, fill=0.0),
    "noise filling above 4 kHz": dataclasses.replace(DEFAULT, fill_hz=4000.0),
    "noise filling at 0.5": dataclasses.replace(DEFAULT, fill=0.5),
    "CELP's gammas 0.92 / 0.6": dataclasses.replace(DEFAULT, gamma_num=0.92, gamma_den=0.6),
    "gammas 0.97 / 0.3": dataclasses.replace(DEFAULT, gamma_num=0.97),
    "no tilt": dataclasses.replace(DEFAULT, tilt=0.0),
    "loudness 0.6": dataclasses.replace(DEFAULT, loudness=0.6),
    "loudness 1.0": dataclasses.replace(DEFAULT, loudness=1.0),
    "order 16, 20 ms frames": dataclasses.replace(DEFAULT, order=16, frame_ms=20.0),
}


def training_clips(count: int) -> list[Path]:
    """The first `count` clips of each kind in speech_train, LibriSpeech then LJSpeech, never test-other."""
    rows = [line.split("\t") for line in (SPEECH / "MANIFEST.tsv").read_text().splitlines()[1:]]
    kept = [row[0] for row in rows if "test-other" not in row[-1]]
    libri = [name for name in kept if name.startswith("libri_")][:count // 2]
    other = [name for name in kept if not name.startswith("libri_")][:count - len(libri)]
    return [SPEECH / name for name in libri + other]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--kbps", type=float, default=16.0)
    ap.add_argument("--out", default="experiments/results/probes/audio_weighting.json")
    a = ap.parse_args()
    clips = training_clips(a.clips)
    results = {}
    for name, weighted in VARIANTS.items():
        rows = []
        for path in clips:
            samples, rate = audio.read_audio(path)
            start = time.perf_counter()
            data = audio.encode_audio(samples, rate, a.kbps, "pyramid", weighted=weighted)
            seconds = time.perf_counter() - start
            decoded = audio.decode_audio(data)[0].astype(np.float64)
            rows.append({"clip": path.name, "bytes": len(data), "psnr": audio_psnr(samples, decoded),
                         **perceptual(samples, decoded, rate), "encode_s": round(seconds, 2)})
        means = {key: float(np.mean([row[key] for row in rows])) for key in ("psnr", "pesq", "stoi")}
        results[name] = {"config": None if weighted is None else dataclasses.asdict(weighted), **means, "clips": rows}
        print(f"{name:28s} PSNR {means['psnr']:.2f}  PESQ {means['pesq']:.3f}  STOI {means['stoi']:.3f}", flush=True)
    Path(a.out).write_text(json.dumps({"kbps": a.kbps, "clips": [p.name for p in clips], "variants": results},
                                      indent=1) + "\n")


if __name__ == "__main__":
    main()
