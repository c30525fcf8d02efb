"""The benchmark runner: results files that merge runs and reload exactly."""

import json

import imageio.v3 as iio
import numpy as np
import pytest

from inrcodec.eval import bench
from inrcodec.eval import sweeps
from inrcodec.errors import InrError


def _folder(tmp_path, sample, names):
    folder = tmp_path / "tiny"
    folder.mkdir(exist_ok=True)
    for i, name in enumerate(names):
        iio.imwrite(folder / name, sample[64 * i:64 * i + 64, :96])
    return folder


def test_runs_merge_into_one_results_file_per_method(tmp_path, sample):
    out = tmp_path / "results"
    folder = _folder(tmp_path, sample, ["a.png"])
    sweeps.sweep(str(folder), bpp=[2.0], methods=["jpeg"], out_dir=str(out), workers=0)
    first = json.loads((out / "tiny" / "jpeg.json").read_text())["per_image"]
    _folder(tmp_path, sample, ["a.png", "b.png"])
    sweeps.sweep(str(folder), bpp=[2.0, 4.0], methods=["jpeg"], out_dir=str(out), workers=0)

    path = out / "tiny" / "jpeg.json"
    document = json.loads(path.read_text())
    rows = document["per_image"]
    assert sorted((r["image"], r["target_bpp"]) for r in rows) == [
        ("a.png", 2.0), ("a.png", 4.0), ("b.png", 2.0), ("b.png", 4.0)]
    assert all(r["bytes"] <= r["target_bpp"] * 64 * 96 / 8 for r in rows)
    results = document["results"]
    assert results["target_bpp"] == [2.0, 4.0] and results["n_images"] == [2, 2]
    assert results["psnr"][0] == pytest.approx(np.mean([r["psnr"] for r in rows if r["target_bpp"] == 2.0]))
    assert results["psnr"][1] > results["psnr"][0]
    assert first[0] in rows  # the row measured first was kept as it was (times included), not measured again
    assert document["description"].startswith("jpeg (Pillow) on tiny, bpp caps")
    assert len(path.read_text().splitlines()) < 40  # one line per image row
    assert json.loads(bench.results_json(document)) == document


def test_sources_without_images_are_refused(tmp_path):
    with pytest.raises(InrError, match="no image"):
        sweeps.sweep(str(tmp_path), bpp=[1.0], workers=0)
    np.savez(tmp_path / "x.npz", a=np.zeros((2, 8, 8, 3), np.uint8), b=np.zeros(3))
    with pytest.raises(InrError, match="no array"):
        sweeps.sweep(str(tmp_path / "x.npz"), bpp=[1.0], workers=0)
