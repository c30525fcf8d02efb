"""inrcodec: compression with implicit neural representations (sine networks fitted per signal).

    data = inrcodec.encode("photo.png", bpp=0.3)   # bytes of an .inr file, at most 0.3 bits per pixel
    pixels = inrcodec.decode(data)                 # (H, W, C) uint8
"""

from .codec import CoinConfig, decode, encode, read_header
from .errors import InrError
from .fit import FitConfig

__all__ = ["encode", "decode", "read_header", "CoinConfig", "FitConfig", "InrError"]
__version__ = "0.1.0"
