"""The classical baselines of every modality, through their one protocol (`baselines.Baseline`)."""

import math
import sys

import numpy as np
import pytest
import trimesh

from inrcodec.eval import baselines, shape_baselines
from inrcodec.eval.baselines import BASELINES
from inrcodec.errors import InrError
from inrcodec.eval.metrics import compare, prepare, psnr

IMAGE_BASELINES = sorted(name for name, baseline in BASELINES.items() if baseline.modality == "image")


@pytest.fixture(scope="module")
def sphere() -> tuple[np.ndarray, np.ndarray]:
    mesh = trimesh.creation.icosphere(subdivisions=2)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def test_one_registry_holds_every_modalitys_baselines():
    assert {name: (b.modality, b.made_by) for name, b in BASELINES.items()} == {
        "jpeg": ("image", "Pillow"), "jpeg2000": ("image", "Pillow"), "webp": ("image", "Pillow"),
        "avif": ("image", "Pillow"), "mp3": ("audio", "libsndfile"), "opus": ("audio", "libsndfile"),
        "draco": ("shape", "DracoPy"), "sdf-grid": ("shape", "lzma")}
    assert all(isinstance(b, baselines.Baseline) and b.name == name for name, b in BASELINES.items())


@pytest.mark.parametrize("codec", IMAGE_BASELINES)
def test_baseline_is_under_the_cap_and_decodes(sample, codec):
    image = sample[:128, :192]
    budget = math.floor(0.5 * 128 * 192 / 8)
    data = BASELINES[codec].encode(image, budget)
    assert 0.5 * budget <= len(data) <= budget
    assert psnr(image, BASELINES[codec].decode(data, image)) > 22.0


def test_impossible_cap_is_an_error(sample):
    with pytest.raises(InrError):
        BASELINES["jpeg"].encode(sample[:64, :64], 10)


def test_sdf_grid_is_under_the_cap_and_decodes_close(sphere):
    data = BASELINES["sdf-grid"].encode(sphere, 150)
    assert len(data) <= 150
    assert compare(prepare(*sphere, samples=20_000), BASELINES["sdf-grid"].decode(data, sphere))["chamfer_l1"] < 0.02
    with pytest.raises(InrError, match="SDF-grid"):
        shape_baselines.decode_sdf_grid(data[:-3])


@pytest.mark.parametrize("module, package, cap", [("DracoPy", "DracoPy", 3000),
                                                  ("fast_simplification", "fast-simplification", 300)])
def test_a_missing_draco_package_is_named(monkeypatch, sphere, module, package, cap):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it raises ImportError
    with pytest.raises(InrError, match=f"needs {package}: pip install 'inrcodec\\[baselines\\]'"):
        BASELINES["draco"].encode(sphere, cap)
