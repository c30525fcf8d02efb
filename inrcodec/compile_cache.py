"""JAX's persistent compilation cache, so that a fit compiled once is not compiled again.

A fit's compiled steps depend only on the signal's shape and the method's settings (the signal is
an argument, not a constant), so across runs of the command line, and across images of a dataset,
the same few programs recur; the cache keeps them on disk. Location: $INRCODEC_CACHE, else
$XDG_CACHE_HOME/inrcodec/xla, else ~/.cache/inrcodec/xla; INRCODEC_CACHE=off disables it.
"""

import os
import sys
from pathlib import Path

MIN_COMPILE_SECONDS = 0.5  # programs compiled faster than this are not worth a disk entry


def cache_dir() -> Path | None:
    """Where compiled programs are kept, or None if the cache is switched off."""
    setting = os.environ.get("INRCODEC_CACHE")
    if setting == "off":
        return None
    if setting:
        return Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "inrcodec" / "xla"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Keep compiled programs in `path` (default: `cache_dir()`); returns the folder used, or None
    when switched off or not writable (the codec then just compiles as usual)."""
    folder = Path(path) if path is not None else cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    if "jax" in sys.modules:
        import jax

        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    else:  # JAX reads these when it is imported: a decode that needs no JAX does not start it
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder)
        os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = str(MIN_COMPILE_SECONDS)
    return folder
