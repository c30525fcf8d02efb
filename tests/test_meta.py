"""The `meta` method: latent grids, the shipped base, batched encoding and meta-training."""

import dataclasses
import json
import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import inrcodec
from inrcodec import bitstream
from inrcodec.networks import bases
from inrcodec.modalities import image as codec
from inrcodec.methods import meta as meta_method
from inrcodec.training import meta
from inrcodec.networks import modulated
from inrcodec.errors import InrError
from inrcodec.eval.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]
# the defaults in 50 steps, as test_cli's `--method meta --steps 50`: one compiled fit for both
FAST_META = inrcodec.LatentConfig(fit=dataclasses.replace(inrcodec.LatentConfig().fit, steps=50))


@pytest.fixture(scope="module")
def meta_file(crop) -> bytes:
    return inrcodec.encode(crop, bpp=2.0, method="meta", config=FAST_META)


def test_meta_encoding_is_deterministic(meta_file, crop):
    assert meta_file == inrcodec.encode(crop, bpp=2.0, method="meta", config=FAST_META)


def test_bilinear_read_is_exact_at_cell_centres_and_linear_between():
    grid = jnp.arange(12.0).reshape(3, 4, 1)
    stride = 4
    ys = jnp.array([2.0, 6.0, 4.0, 0.0, 100.0])  # centres of rows 0 and 1, halfway, beyond both edges
    xs = jnp.array([2.0, 10.0, 2.0, 0.0, 100.0])
    values = np.asarray(modulated.sample_level(grid, jnp.stack([ys, xs], axis=-1), stride))[:, 0]
    np.testing.assert_allclose(values, [0.0, 6.0, 2.0, 0.0, 11.0])


def test_grids_cover_the_image_at_every_level():
    config = modulated.BaseConfig(strides=(2, 8), channels=3)
    assert modulated.grid_shapes((33, 16), config) == [(17, 8, 3), (5, 2, 3)]


def test_base_round_trip_and_identity(tmp_path, monkeypatch):
    config = modulated.BaseConfig(strides=(4, 8), channels=2, width=8, depth=2)
    state = meta.init_state(meta.MetaConfig(base=config))
    identity = bases.save_base(tmp_path / "b.npz", config, state["base"], state["log_lrs"], {"steps": 0})
    monkeypatch.setattr(bases, "BASES_DIR", tmp_path)
    loaded = bases.load_base.__wrapped__("b")  # uncached
    assert loaded.config == config and loaded.identity == identity
    np.testing.assert_array_equal(loaded.params["modulation"], state["base"]["modulation"])
    assert json.loads((tmp_path / "b.json").read_text())["identity"] == identity.hex()
    changed = dict(state["base"], modulation=state["base"]["modulation"] + 1e-3)
    assert bases.save_base(tmp_path / "c.npz", config, changed, state["log_lrs"], {}) != identity


def test_missing_base_is_a_clear_error():
    with pytest.raises(InrError, match="missing or unreadable"):
        bases.load_base("no-such-base")


def test_plan_keeps_more_latents_for_more_bytes_and_refuses_tiny_budgets():
    base = bases.load_base()
    config = inrcodec.LatentConfig()
    small = meta_method.plan(1500, (512, 768), base, config)
    large = meta_method.plan(30000, (512, 768), base, config)
    shapes = modulated.grid_shapes((512, 768), base.config)

    def survivors(plan):
        return plan[1] * sum(np.prod(s) for s in shapes[plan[0]:])

    assert survivors(large) > 5 * survivors(small)
    with pytest.raises(InrError, match="too small"):
        meta_method.plan(30, (512, 768), base, config)


def test_meta_file_fits_its_cap_and_decodes(crop, meta_file):
    assert len(meta_file) <= 2.0 * crop.size / 3 / 8
    header = codec.read_header(meta_file)
    assert header.method == "meta" and header.layout.layout.identity == bases.load_base().identity
    out = inrcodec.decode(meta_file)
    assert out.shape == crop.shape
    assert psnr(crop, out) > 18.0
    np.testing.assert_array_equal(out, inrcodec.decode(meta_file))


def test_meta_decodes_at_any_scale(meta_file):
    assert inrcodec.decode(meta_file, scale=1.5).shape == (60, 84, 3)
    assert inrcodec.decode(meta_file, scale=0.3).shape == (12, 17, 3)


def test_a_meta_crop_is_the_same_region_of_the_full_render(meta_file):
    for scale in (1, 1.5):
        full = inrcodec.decode(meta_file, scale=scale)
        part = inrcodec.decode(meta_file, scale=scale, crop=(10, 4, 30, 20))
        y, x = round(4 * scale), round(10 * scale)
        np.testing.assert_allclose(part, full[y:y + round(20 * scale), x:x + round(30 * scale)], atol=1)


def test_a_file_for_another_base_is_refused(meta_file):
    reader = bitstream.unpack(meta_file)
    body = bytearray(reader.rest())
    identity = bases.load_base().identity
    at = bytes(body).index(identity)
    body[at] ^= 0xFF
    with pytest.raises(InrError, match="base network"):
        inrcodec.decode(bitstream.pack(bytes(body)))


def test_grayscale_meta_round_trip(crop):
    gray = crop.mean(axis=-1, keepdims=True).astype(np.uint8)
    data = inrcodec.encode(gray, bpp=2.0, method="meta", config=FAST_META)
    out = inrcodec.decode(data)
    assert out.shape == gray.shape and psnr(gray, out) > 18.0


@pytest.mark.slow  # 30 s; `meta` is not the default method
def test_batched_encoding_gives_one_capped_file_per_image(sample):
    images = np.stack([sample[y:y + 32, x:x + 32] for y, x in ((0, 0), (100, 300), (300, 500))])
    files = inrcodec.encode_batch(images, 3.0, FAST_META)
    assert len(files) == 3
    for image, data in zip(images, files):
        assert len(data) <= 3.0 * 32 * 32 / 8
        assert psnr(image, inrcodec.decode(data)) > 18.0
    with pytest.raises(InrError, match="uint8"):
        inrcodec.encode_batch(images.astype(np.float32), 3.0)


@pytest.mark.slow  # 40 s; `meta` is not the default method
def test_meta_density_target_is_met_and_the_file_keeps_exactly_that_share(sample):
    image = sample[100:228, 200:328]
    stats = {}
    data = inrcodec.encode(image, bpp=0.3, method="meta", config=dataclasses.replace(
        FAST_META, fit=dataclasses.replace(FAST_META.fit, steps=1000, batch=1024)), stats=stats)
    assert 0 < stats["density_target"] < 1
    assert abs(stats["density_reached"] - stats["density_target"]) < 0.02  # 500 gated steps
    layout = codec.read_header(data).layout.layout
    assert layout.downscale == stats["downscale"] == 2  # at full resolution every level would be under 0.5
    shapes = modulated.grid_shapes((64, 64), bases.load_base().config)[layout.first_level:]
    assert sum(codec.read_header(data).layout.counts) == round(stats["density_target"] * sum(np.prod(s) for s in shapes))
    out = inrcodec.decode(data)
    assert out.shape == image.shape and psnr(image, out) > 15.0
    np.testing.assert_allclose(inrcodec.decode(data, crop=(8, 16, 40, 24)), out[16:40, 8:48], atol=1)


def test_the_coded_resolution_is_the_finest_that_carries_every_level_densely():
    base, config = bases.load_base(), inrcodec.LatentConfig()
    kodak = [meta_method.choose_downscale(math.floor(bpp * 512 * 768 / 8), (512, 768), base, config)
             for bpp in (0.1, 0.3, 2.0)]
    assert kodak == sorted(kodak, reverse=True) and kodak[-1] == 1 and kodak[0] > 1
    for bpp, downscale in zip((0.1, 0.3, 2.0), kodak):
        first, density = meta_method.plan(math.floor(bpp * 512 * 768 / 8), meta_method.coded_size((512, 768), downscale),
                                      base, config)
        assert first == 0 and density >= config.min_density


def test_inner_loop_improves_on_the_zero_start(crop):
    base = bases.load_base()
    targets = jnp.asarray(crop, jnp.float32)[None] / 255 - 0.5
    before = meta.batch_mse(base.params, base.log_lrs, targets, 0, base.config, False)
    after = meta.batch_mse(base.params, base.log_lrs, targets, 3, base.config, False)
    assert float(after) < 0.8 * float(before)


def test_the_speech_base_learns_a_speech_clip_in_three_steps():
    """The shipped speech base, on a LibriSpeech clip it never saw: 3 inner steps from zero latents
    take the error down more than tenfold."""
    import soundfile

    base = bases.load_base("speech")
    assert base.config.dims == 1 and base.config.out_channels == 1
    samples, _ = soundfile.read(ROOT / "data" / "another_door.wav", dtype="float32")
    targets = jnp.asarray(samples[16000:18048] / 2)[None, :, None]
    before = meta.batch_mse(base.params, base.log_lrs, targets, 0, base.config, False)
    after = meta.batch_mse(base.params, base.log_lrs, targets, 3, base.config, False)
    assert float(after) < 0.1 * float(before)


def test_speech_training_data_leaves_out_the_test_clips(tmp_path):
    import soundfile

    rng = np.random.default_rng(0)
    for folder, names in (("speech_train", [f"libri_{k}.wav" for k in "abcde"] + ["libri_test.wav"]),
                          ("audio_other", [f"x{k}.wav" for k in range(5)])):
        (tmp_path / folder).mkdir()
        rows = ["file\tnote"]
        for name in names:
            soundfile.write(tmp_path / folder / name, rng.normal(0, 0.1, 3000), 16000)
            rows.append(f"{name}\t{'LibriSpeech test-other' if 'test' in name else 'train-clean-100'}")
        (tmp_path / folder / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    config = meta.MetaConfig(base=modulated.BaseConfig(width=8, depth=2, strides=(8, 16), channels=1, out_channels=1,
                                                       dims=1), modality="audio", crop=256, crop_batch=2, inner_steps=1,
                             steps=2, validate_every=1, validation_steps=(1,))
    data = meta.SpeechData(tmp_path, config)
    assert len(data.clips) == 2  # libri_a and x0: the last 4 of each folder are held out, test-other never used
    assert all(len(c) == 3000 for c in data.clips) and len(data.validation["speech"][0]) == 32
    state = meta.train(config, tmp_path, tmp_path / "run", quiet=True)
    assert state["step"] == 2 and np.isfinite(state["history"][-1]["speech_psnr_after_1"])


def _tiny_data(folder):
    rng = np.random.default_rng(0)
    (folder / "train_photos").mkdir(parents=True)
    for k in range(5):
        Image.fromarray(rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)).save(folder / "train_photos" / f"{k}.png")
    (folder / "cifar10").mkdir()
    np.savez(folder / "cifar10" / "cifar10_prefix.npz",
             **{f"data_batch_{k}_x": rng.integers(0, 256, (70, 32, 32, 3), dtype=np.uint8) for k in range(1, 6)})


def test_meta_training_checkpoints_and_resumes(tmp_path):
    _tiny_data(tmp_path / "data")
    config = meta.MetaConfig(base=modulated.BaseConfig(width=8, depth=2, strides=(8, 16), channels=2),
                             crop_batch=2, whole_batch=2, inner_steps=1, steps=2, validate_every=1,
                             validation_steps=(1,))
    state = meta.train(config, tmp_path / "data", tmp_path / "run", quiet=True)
    assert state["step"] == 2 and len(state["history"]) == 2
    resumed = meta.train(dataclasses.replace(config, steps=3), tmp_path / "data", tmp_path / "run", quiet=True)
    assert resumed["step"] == 3 and [h["step"] for h in resumed["history"]] == [1, 2, 3]
    assert np.isfinite(resumed["history"][-1]["photos_psnr_after_1"])
