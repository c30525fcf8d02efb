"""inrcodec: compression with implicit neural representations (latent pyramids and sine networks).

    data = inrcodec.encode("photo.png", bpp=0.3)   # bytes of an .inr file, at most 0.3 bits per pixel
    pixels = inrcodec.decode(data)                 # (H, W, C) uint8

Over many images, `inrcodec.enable_compilation_cache()` first keeps the compiled fitting steps on
disk (the command line does this itself), so that only the first image of a shape pays for them.
"""

from .codec import METHODS, decode, default_config, encode, encode_batch, read_header
from .coin import CoinConfig
from .compile_cache import enable_compilation_cache
from .errors import InrError
from .fit import FitConfig, GateConfig
from .latents import LatentConfig
from .pyramid_fit import PyramidConfig
from .sparse import SparseConfig

__all__ = ["encode", "decode", "encode_batch", "read_header", "default_config", "METHODS",
           "CoinConfig", "SparseConfig", "LatentConfig", "PyramidConfig", "FitConfig", "GateConfig", "InrError",
           "enable_compilation_cache"]
__version__ = "0.1.0"
