"""inrcodec: compression with implicit neural representations (latent pyramids and sine networks).

    data = inrcodec.encode("photo.png", bpp=0.3)   # bytes of an .inr file, at most 0.3 bits per pixel
    pixels = inrcodec.decode(data)                 # (H, W, C) uint8
    inrcodec.encode_dataset("photos/", "coded/", bpp=0.3)   # a folder, glob, .npz stack or iterable
    inrcodec.sweep("photos/", bpp=[0.15, 0.3], methods=["pyramid", "jpeg2000"])  # results JSON per method
    inrcodec.bd_rate(rates_anchor, psnr_anchor, rates_test, psnr_test)           # percent

Over many images, `inrcodec.enable_compilation_cache()` first keeps the compiled fitting steps on
disk (the command line does this itself), so that only the first image of a shape pays for them.
"""

from .codec import METHODS, decode, default_config, encode, encode_batch, read_header
from .coin import CoinConfig
from .compile_cache import enable_compilation_cache
from .datasets import decode_dataset, encode_dataset
from .errors import InrError
from .fit import FitConfig, GateConfig
from .latents import LatentConfig
from .pyramid_fit import PyramidConfig
from .rd import bd_psnr, bd_rate
from .sparse import SparseConfig
from .sweeps import sweep

__all__ = ["encode", "decode", "encode_batch", "read_header", "default_config", "METHODS",
           "CoinConfig", "SparseConfig", "LatentConfig", "PyramidConfig", "FitConfig", "GateConfig", "InrError",
           "enable_compilation_cache", "encode_dataset", "decode_dataset", "sweep", "bd_rate", "bd_psnr"]
__version__ = "0.1.0"
