"""Long clips: encode and decode time and peak memory of `inrcodec` on clips of 1 and 10 minutes.

    python experiments/long_clip.py --data ../shared/data --minutes 1 10 --kbps 16

Each clip is the train-clean-100 utterances of speech_train played one after another (16 kHz mono)
until it lasts the given minutes, written as a WAV. `inrcodec encode` and `inrcodec decode` run each
in a process of its own, whose peak resident memory (ru_maxrss) is reported beside its wall time;
with chunking, memory stays near that of one chunk however long the clip. Results go to
experiments/results/audio_long/long_clips.json.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from inrcodec.eval.metrics import audio_psnr
from inrcodec.modalities import audio

MEASURED = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def measured(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of a command run in a process of its own."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURED, *command], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, int(result.stdout.split()[-1]) / 1024


def long_clip(data: Path, minutes: float) -> np.ndarray:
    """Train-clean-100 utterances one after another, cut to `minutes` (16 kHz mono float32)."""
    rows = (data / "speech_train" / "MANIFEST.tsv").read_text().splitlines()[1:]
    names = sorted(r.split("\t")[0] for r in rows if "train-clean-100" in r)
    wanted, pieces, total = int(minutes * 60 * 16000), [], 0
    while total < wanted:
        for name in names:
            samples, rate = soundfile.read(data / "speech_train" / name, dtype="float32")
            assert rate == 16000
            pieces.append(samples)
            total += len(samples)
            if total >= wanted:
                break
    return np.concatenate(pieces)[:wanted]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--kbps", type=float, default=16.0)
    parser.add_argument("--out", type=Path, default=Path("experiments/results/audio_long/long_clips.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for minutes in args.minutes:
            clip = long_clip(args.data, minutes)
            wav, inr, back = (os.path.join(folder, name) for name in ("clip.wav", "clip.inr", "back.wav"))
            soundfile.write(wav, clip, 16000, subtype="PCM_16")
            encode_seconds, encode_mib = measured(["inrcodec", "encode", wav, "-o", inr, "--kbps", str(args.kbps),
                                                   "--quiet"])
            decode_seconds, decode_mib = measured(["inrcodec", "decode", inr, "-o", back])
            reference, _ = soundfile.read(wav)
            decoded, _ = soundfile.read(back)
            size = os.path.getsize(inr)
            rows.append({"minutes": minutes, "bytes": size, "cap": audio.budget(args.kbps, len(clip), 16000),
                         "kbps": size * 8 / (len(clip) / 16000) / 1000, "chunks": len(audio.read_header(
                             Path(inr).read_bytes()).chunks), "psnr": audio_psnr(reference, decoded),
                         "encode_seconds": encode_seconds, "encode_peak_mib": encode_mib,
                         "decode_seconds": decode_seconds, "decode_peak_mib": decode_mib,
                         "decode_x_real_time": minutes * 60 / decode_seconds})
            print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
                                    "kbps_cap": args.kbps, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
