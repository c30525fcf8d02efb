"""Rate-distortion benchmark of audio: inrcodec's methods beside MP3 and Opus over a folder of clips.

For every clip, cap and codec the file is made under the cap (kbps = file bytes * 8 / seconds /
1000), decoded (classical codecs' output aligned by cross-correlation), and scored by PSNR (as
COIN++ reports it), SI-SNR and, where the `pesq` and `pystoi` packages are installed, wide-band
PESQ and STOI. Results are written per codec in the JSON shape of the image bench, with "kbps" for
"bpp".
"""

import time
from pathlib import Path

import numpy as np

from . import audio, audio_baselines
from .bench import check_methods, folder_files, machine_description, merge_results, print_summary, timed_decode
from .errors import InrError
from .methods import METHODS
from .progress import progress

PESQ_RATE = 16000  # wide-band PESQ scores 16 kHz audio: other rates are resampled to it


def load_clips(source: str, limit: int | None) -> list[tuple[str, np.ndarray, int]]:
    """(name, (samples, channels) float64, rate) of the first `limit` clips of a folder."""
    return [(p.name, *audio.read_audio(p)) for p in folder_files(source, audio.SUFFIXES, "audio files", limit)]


def perceptual(reference: np.ndarray, decoded: np.ndarray, rate: int) -> dict:
    """Wide-band PESQ and STOI of the first channel, each where its package is installed."""
    scores = {}
    try:
        from pesq import pesq
        from scipy.signal import resample_poly

        ref, dec = reference[:, 0], decoded[:, 0]
        if rate != PESQ_RATE:
            ref, dec = (resample_poly(x, PESQ_RATE, rate) for x in (ref, dec))
        scores["pesq"] = float(pesq(PESQ_RATE, ref, dec, "wb"))
    except ImportError:
        pass
    except Exception as err:  # the pesq package raises its own errors on silent or short clips
        scores["pesq_error"] = str(err)
    try:
        from pystoi import stoi

        scores["stoi"] = float(stoi(reference[:, 0], decoded[:, 0], rate))
    except ImportError:
        pass
    return scores


def measure(samples: np.ndarray, rate: int, kbps: float, name: str, config) -> dict:
    """Encode under the cap and decode; the row of one clip, cap and codec."""
    cap = audio.budget(kbps, len(samples), rate)
    start = time.perf_counter()
    extra = {}
    if name in audio_baselines.AUDIO_BASELINES:
        data = audio_baselines.compress(samples, rate, name, cap)
        middle = time.perf_counter()
        decoded = audio_baselines.align(samples, audio_baselines.decompress(data)[0])
        decoding_time = time.perf_counter() - middle
    else:
        stats = {}
        data = audio.encode_audio(samples, rate, kbps, name, config, stats=stats)
        middle = time.perf_counter()
        decoded, decoding_time = timed_decode(lambda d: audio.decode_audio(d)[0].astype(np.float64), data)
        extra["stats"] = stats
    if len(data) > cap:
        raise AssertionError(f"{name} wrote {len(data)} bytes over a cap of {cap}")
    seconds = len(samples) / rate
    return {"bytes": len(data), "kbps": len(data) * 8 / seconds / 1000, "psnr": audio.psnr(samples, decoded),
            "si_snr": audio.si_snr(samples, decoded), **perceptual(samples, decoded, rate),
            "seconds": seconds, "encoding_time": middle - start, "decoding_time": decoding_time, **extra}


def run_audio_bench(folder: str, caps: list[float], methods: list[str], *, limit: int | None, out_dir: str,
                    configs: dict, quiet: bool, tag: str = "") -> dict:
    """Every codec at every cap over the folder's clips; writes and prints the results."""
    check_methods(methods, [*METHODS, *audio_baselines.AUDIO_BASELINES], "audio")
    clips = load_clips(folder, limit)
    machine = machine_description()
    documents = {}
    tasks = [(clip, cap, method) for method in methods for cap in caps for clip in clips]
    with progress(len(tasks), "bench", unit="task", quiet=quiet) as bar:
        for (name, samples, rate), cap, method in tasks:
            try:
                row = measure(samples, rate, cap, method, configs.get(method))
            except InrError as err:  # e.g. Opus at a rate it cannot code: reported, not averaged
                bar.write(f"{method} on {name} at {cap:g} kbps: {err}")
            else:
                description = (f"{'inrcodec ' + method if method in METHODS else method + ' (libsndfile)'} on "
                               f"{Path(folder).name}, kbps caps; measured on {machine}")
                documents[method] = merge_results(Path(out_dir) / Path(folder).name / f"{method}{tag}.json",
                                                  method + tag, [{"clip": name, "target_kbps": cap, **row}],
                                                  description, rate_key="kbps", item_key="clip")
            bar.update()
    print_summary(documents, "kbps", ("si_snr",))
    return documents

