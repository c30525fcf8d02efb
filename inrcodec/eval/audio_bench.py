"""Rate-distortion benchmark of audio: inrcodec's methods beside MP3 and Opus over a folder of clips.

For every clip, cap and codec the file is made under the cap (kbps = file bytes * 8 / seconds /
1000), decoded (classical codecs' output aligned by cross-correlation), and scored by PSNR (as
COIN++ reports it), SI-SNR and, where the `pesq` and `pystoi` packages are installed, wide-band
PESQ and STOI. Results are written per codec in the JSON shape of the image bench, with "kbps" for
"bpp".
"""

import time

import numpy as np

from ..modalities import audio
from . import audio_baselines
from .bench import timed_decode
from .metrics import audio_psnr, perceptual, si_snr

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
    return {"bytes": len(data), "kbps": len(data) * 8 / seconds / 1000, "psnr": audio_psnr(samples, decoded),
            "si_snr": si_snr(samples, decoded), **perceptual(samples, decoded, rate),
            "seconds": seconds, "encoding_time": middle - start, "decoding_time": decoding_time, **extra}
