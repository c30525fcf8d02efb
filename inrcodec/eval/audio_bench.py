"""Rate-distortion benchmark of audio: inrcodec's methods beside MP3 and Opus over a folder of clips.

For every clip, cap and codec the file is made under the cap (kbps = file bytes * 8 / seconds /
1000), decoded (classical codecs' output aligned by cross-correlation), and scored by PSNR (as
COIN++ reports it), SI-SNR and, where the `pesq` and `pystoi` packages are installed, wide-band
PESQ and STOI. Results are written per codec in the JSON shape of the image bench, with "kbps" for
"bpp".
"""

import numpy as np

from ..modalities import audio
from ..weighting import WeightingConfig
from .bench import coded
from .metrics import audio_psnr, perceptual, si_snr


def measure(samples: np.ndarray, rate: int, kbps: float, name: str, config,
            weighted: WeightingConfig | None = audio.DEFAULT_WEIGHTING) -> dict:
    """Encode under the cap and decode (`bench.coded`); the row of one clip, cap and codec (an
    inrcodec method's clip weighted as `weighted` says, None: not)."""
    data, decoded, tail = coded(name, (samples, rate), audio.budget(kbps, len(samples), rate),
                                lambda file: audio.decode_audio(file)[0].astype(np.float64),
                                lambda stats: audio.encode_audio(samples, rate, kbps, name, config, stats=stats,
                                                                 weighted=weighted))
    seconds = len(samples) / rate
    return {"bytes": len(data), "kbps": len(data) * 8 / seconds / 1000, "psnr": audio_psnr(samples, decoded),
            "si_snr": si_snr(samples, decoded), **perceptual(samples, decoded, rate), "seconds": seconds, **tail}
