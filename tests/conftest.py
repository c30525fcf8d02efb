"""Shared fixtures: small crops of a shipped sample image, and small .inr files made from them."""

from pathlib import Path

import numpy as np
import pytest

import inrcodec
from inrcodec.modalities.image import read_image

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FAST = inrcodec.CoinConfig(fit=inrcodec.FitConfig(steps=50, batch=512))  # seconds, not minutes
FAST_SPARSE = inrcodec.SparseConfig(dense=inrcodec.CoinConfig(fit=inrcodec.FitConfig(steps=100, batch=512)))


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    """A fresh persistent compilation cache for the session (and the command lines it starts), as the
    command line uses one: programs compiled by one test are reused by the next."""
    folder = tmp_path_factory.mktemp("xla")
    inrcodec.enable_compilation_cache(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INRCODEC_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def fast() -> inrcodec.CoinConfig:
    """A fitting configuration for tests: few steps, small batches."""
    return FAST


@pytest.fixture(scope="session")
def fast_sparse() -> inrcodec.SparseConfig:
    """A `sparse` configuration for tests: few steps, small batches."""
    return FAST_SPARSE


@pytest.fixture(scope="session")
def sample() -> np.ndarray:
    """kodim23 as shipped in data/: (512, 768, 3) uint8."""
    return read_image(ROOT / "data" / "kodim23.png")


@pytest.fixture(scope="session")
def crop(sample) -> np.ndarray:
    """A (40, 56, 3) crop: small enough to fit in a second."""
    return sample[200:240, 300:356].copy()


@pytest.fixture(scope="session")
def small_file(crop) -> bytes:
    """A real .inr file of `crop` at 2 bpp."""
    return inrcodec.encode(crop, bpp=2.0, config=FAST)


@pytest.fixture(scope="session")
def sparse_file(crop) -> bytes:
    """A real `sparse` .inr file of `crop` at 3 bpp (a fifth of its weights pruned)."""
    return inrcodec.encode(crop, bpp=3.0, method="sparse", config=FAST_SPARSE)


def pytest_collection_modifyitems(items):
    """The notebooks run last: their small sweeps reuse the programs the tests before them compiled."""
    items.sort(key=lambda item: item.path.name == "test_notebooks.py")
