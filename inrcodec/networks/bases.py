"""Shipped base networks: saving, loading and identifying them.

A base is one `.npz` file under `inrcodec/bases/` holding its BaseConfig (as JSON), the SIREN and
modulation arrays and the meta-learned inner learning rates; a `.json` beside it records how it
was trained. Its identity is an 8-byte hash of the config and every array's name, shape and
float32 bytes, written into every file that uses it, so a decoder refuses a file made with another base.
"""

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from ..errors import InrError
from .modulated import BaseConfig

BASES_DIR = Path(__file__).parent.parent / "bases"
HASH_BYTES = 8  # length of the identity written into each file


@dataclass(frozen=True)
class Base:
    name: str  # file stem under inrcodec/bases/
    config: BaseConfig  # network shape
    params: dict  # {"siren": layers, "modulation": (features, depth*width)}
    log_lrs: list  # per level, (channels,) log of the meta-learned inner learning rate
    identity: bytes  # HASH_BYTES-byte hash written into every file made with this base


def _arrays(params: dict, log_lrs: list) -> dict[str, np.ndarray]:
    """Flat name -> float32 array view of a base."""
    arrays = {"modulation": params["modulation"]}
    for k, layer in enumerate(params["siren"]):
        arrays[f"siren.{k}.w"], arrays[f"siren.{k}.b"] = layer["w"], layer["b"]
    arrays.update({f"log_lrs.{k}": lr for k, lr in enumerate(log_lrs)})
    return {name: np.asarray(a, np.float32) for name, a in arrays.items()}


def _identity(config_json: str, arrays: dict[str, np.ndarray]) -> bytes:
    digest = hashlib.sha256(config_json.encode())
    for name in sorted(arrays):
        digest.update(f"{name}{arrays[name].shape}".encode())
        digest.update(np.ascontiguousarray(arrays[name], "<f4").tobytes())
    return digest.digest()[:HASH_BYTES]


def save_base(path: Path, config: BaseConfig, params: dict, log_lrs: list, record: dict) -> bytes:
    """Write a base to `path` (.npz) and its training record beside it (.json); returns its identity."""
    config_json = json.dumps(asdict(config), sort_keys=True)
    arrays = _arrays(params, log_lrs)
    identity = _identity(config_json, arrays)
    with open(path, "wb") as f:
        np.savez(f, config=np.array(config_json), **arrays)
    record = {**record, "identity": identity.hex(), "base_config": asdict(config)}
    path.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return identity


@functools.lru_cache(maxsize=4)
def load_base(name: str = "image") -> Base:
    """The shipped base `name`; InrError if it is missing or unreadable."""
    path = BASES_DIR / f"{name}.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            config_json = str(f["config"])
            arrays = {k: f[k].astype(np.float32) for k in f.files if k != "config"}
        fields = json.loads(config_json)
        config = BaseConfig(**{**fields, "strides": tuple(fields["strides"])})
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InrError(f"base network {name!r} is missing or unreadable ({path}): {error}") from None
    layers = [{"w": jnp.asarray(arrays[f"siren.{k}.w"]), "b": jnp.asarray(arrays[f"siren.{k}.b"])}
              for k in range(config.depth + 1)]
    params = {"siren": layers, "modulation": jnp.asarray(arrays["modulation"])}
    log_lrs = [jnp.asarray(arrays[f"log_lrs.{k}"]) for k in range(len(config.strides))]
    return Base(name, config, params, log_lrs, _identity(config_json, arrays))
