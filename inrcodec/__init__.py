"""inrcodec: compression with implicit neural representations (latent pyramids, under a shipped context
network for photos; sine networks; and latent grids on a shared network for small images).

    data = inrcodec.encode("photo.png", bpp=0.3)   # bytes of an .inr file, at most 0.3 bits per pixel
    pixels = inrcodec.decode(data)                 # (H, W, C) uint8
    inrcodec.encode_dataset("photos/", "coded/", bpp=0.3)   # a folder, glob, .npz stack or iterable
    inrcodec.sweep("photos/", bpp=[0.15, 0.3], methods=["pyramid", "jpeg2000"])  # results JSON per method
    inrcodec.bd_rate(rates_anchor, psnr_anchor, rates_test, psnr_test)           # percent

Over many images, `inrcodec.enable_compilation_cache()` first keeps the compiled fitting steps on
disk (the command line does this itself), so that only the first image of a shape pays for them.
Names are imported when first used, so that `import inrcodec` (and decoding a `pyramid` or `network`
file) does not start JAX.
"""

import importlib

from .errors import InrError

_NAMES = {  # public name -> the module defining it
    "encode": "modalities.image", "decode": "modalities.image", "encode_batch": "modalities.image",
    "read_header": "modalities.image", "default_config": "modalities.image", "METHODS": "methods",
    "CoinConfig": "methods.coin", "SparseConfig": "methods.sparse", "LatentConfig": "methods.meta",
    "PyramidConfig": "methods.pyramid", "LatticeConfig": "methods.lattice", "HyperConfig": "methods.hyper",
    "RegionsConfig": "methods.regions", "NetworkConfig": "methods.network", "WeightingConfig": "weighting",
    "FitConfig": "networks.fit", "GateConfig": "networks.fit", "enable_compilation_cache": "compile_cache",
    "encode_dataset": "datasets",
    "decode_dataset": "datasets", "sweep": "eval.sweeps", "bd_rate": "eval.rd", "bd_psnr": "eval.rd",
}
__all__ = ["InrError", *_NAMES]
__version__ = "0.1.0"


def __getattr__(name: str):
    """Import a public name's module on first use (PEP 562)."""
    if name not in _NAMES:
        raise AttributeError(f"module 'inrcodec' has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_NAMES[name]}")
    return getattr(module, "CODES" if name == "METHODS" else name)
