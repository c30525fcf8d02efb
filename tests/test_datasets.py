"""Datasets: sources named and read lazily, a folder encoded to .inr files and decoded back."""

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import soundfile

import inrcodec
from inrcodec import cli, datasets
from inrcodec.errors import InrError
from inrcodec.eval.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, sample):
    """Three (40, 56) crops as PNG files: the shape of conftest's crop, whose fits are compiled already."""
    root = tmp_path_factory.mktemp("photos")
    for name, top in {"a.png": 0, "b.png": 200, "c.png": 400}.items():
        iio.imwrite(root / name, sample[top:top + 40, 300:356])
    (root / "notes.txt").write_text("not an image")
    return root


def test_every_kind_of_source_names_its_items_and_reads_them_only_when_asked(folder, tmp_path, sample):
    items = datasets.items(str(folder))
    assert [i.name for i in items] == ["a.png", "b.png", "c.png"] and all(i.value is None for i in items)
    assert items[2].load().shape == (40, 56, 3)
    assert [i.name for i in datasets.items(str(folder / "[ab].png"))] == ["a.png", "b.png"]
    assert [i.name for i in datasets.items([str(folder / "c.png"), str(folder / "a.png")])] == ["a.png", "c.png"]
    np.savez(tmp_path / "stack.npz", test_batch_x=sample[None, :32, :32].repeat(3, axis=0))
    stack = datasets.items(str(tmp_path / "stack.npz"), limit=2)
    assert [i.name for i in stack] == ["test_batch_x[0]", "test_batch_x[1]"] and stack[1].load().shape == (32, 32, 3)
    assert datasets.output_name(stack[1], ".inr") == "stack-00001.inr"
    arrays = datasets.items(iter([sample[:8, :8], sample[:8, :8, 0]]))
    assert [(i.name, i.modality, i.load().shape) for i in arrays] == [("item-00000", "image", (8, 8, 3)),
                                                                      ("item-00001", "image", (8, 8, 1))]
    clips = datasets.items([(np.zeros(1600), 16000)])
    assert clips[0].modality == "audio" and clips[0].load()[0].shape == (1600, 1)
    assert datasets.items(str(ROOT / "data"), modality="shape")[0].name == "quadknot.obj"


def test_sources_that_cannot_be_a_dataset_are_refused(tmp_path):
    with pytest.raises(InrError, match="holds audio and image"):
        datasets.items(str(ROOT / "data"))
    with pytest.raises(InrError, match="no such file"):
        datasets.items(str(tmp_path / "missing"))
    with pytest.raises(InrError, match="no image"):
        datasets.items(str(tmp_path), modality="image")
    with pytest.raises(InrError, match="empty"):
        datasets.items(iter([]))
    with pytest.raises(InrError, match="cannot tell"):
        datasets.items(["not", "files", 3])
    with pytest.raises(InrError, match="unknown modality"):
        datasets.items(str(tmp_path), modality="video")


def test_same_size_images_are_grouped_for_batched_fitting(sample):
    images = datasets.items([sample[:8, :8], sample[:8, :8], sample[:8, :8], sample[:4, :8], sample[:8, :8]])
    groups = datasets.group_same_shape(images, 2)
    assert [[int(i.name[-1]) for i in g] for g in groups] == [[0, 1], [2], [3], [4]]
    assert len(datasets.group_same_shape(images, 1)) == 5


def test_a_folder_is_encoded_under_the_cap_and_decoded_back(folder, tmp_path, fast):
    coded = inrcodec.encode_dataset(str(folder), tmp_path / "coded", bpp=2.0, method="coin", config=fast, workers=0)
    assert [p.name for p in coded] == ["a.inr", "b.inr", "c.inr"]
    assert all(p.stat().st_size <= 2.0 * 40 * 56 / 8 for p in coded)
    before = [p.stat().st_mtime_ns for p in coded]
    assert inrcodec.encode_dataset(str(folder), tmp_path / "coded", bpp=2.0, method="coin", config=fast,
                                   workers=0) == coded
    assert [p.stat().st_mtime_ns for p in coded] == before  # files there are kept: a stopped run resumes
    decoded = inrcodec.decode_dataset(tmp_path / "coded", tmp_path / "decoded", workers=0)
    assert [p.name for p in decoded] == ["a.png", "b.png", "c.png"]
    for path in decoded:
        assert psnr(iio.imread(folder / path.name), iio.imread(path)) > 18  # a 50-step fit: close, not fine
    signals = dict(inrcodec.decode_dataset(tmp_path / "coded"))
    assert np.array_equal(signals["c.inr"], iio.imread(tmp_path / "decoded" / "c.png"))


def test_an_audio_folder_round_trips_from_the_command_line(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    tone = 0.3 * np.sin(np.linspace(0, 400 * np.pi, 8000))  # half a second: test_audio's clips' shape and fit
    for name in ("x.wav", "y.wav"):
        soundfile.write(clips / name, tone, 16000, subtype="PCM_16")
    assert cli.main(["encode", str(clips), "-o", str(tmp_path / "coded"), "--kbps", "32", "--steps", "10",
                     "--workers", "0", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "coded").iterdir()) == ["x.inr", "y.inr"]
    assert cli.main(["decode", str(tmp_path / "coded"), "-o", str(tmp_path / "out"), "--workers", "0",
                     "--quiet"]) == 0
    samples, rate = soundfile.read(tmp_path / "out" / "y.wav")
    assert rate == 16000 and len(samples) == 8000
