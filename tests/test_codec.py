import math

import numpy as np
import pytest

import inrcodec
from inrcodec.methods import coin
from inrcodec.errors import InrError
from inrcodec.eval.metrics import psnr


@pytest.mark.parametrize("bpp", [0.5, 1.0, 2.0, 4.0])
@pytest.mark.parametrize("offset", [(0, 0), (300, 500), (100, 640)])
def test_rate_cap_is_never_exceeded_and_mostly_used(sample, bpp, offset, fast):
    y, x = offset
    image = sample[y:y + 40, x:x + 56]  # the crop's size: at 2 bpp the network of `small_file`, compiled once
    budget = math.floor(bpp * 40 * 56 / 8)
    data = inrcodec.encode(image, bpp=bpp, config=fast)
    assert len(data) <= budget
    assert len(data) >= 0.9 * budget


def test_fit_improves_quality_and_is_deterministic(crop, fast):
    data = inrcodec.encode(crop, bpp=2.0, config=fast)
    assert data == inrcodec.encode(crop, bpp=2.0, config=fast)
    assert psnr(crop, inrcodec.decode(data)) > 20.0
    longer = inrcodec.CoinConfig(fit=inrcodec.FitConfig(steps=300, batch=512))
    assert psnr(crop, inrcodec.decode(inrcodec.encode(crop, bpp=2.0, config=longer))) > psnr(crop, inrcodec.decode(data)) + 1.0


def test_other_seed_gives_another_file(crop, fast):
    other = inrcodec.CoinConfig(fit=inrcodec.FitConfig(steps=50, batch=512, seed=1))
    assert inrcodec.encode(crop, bpp=2.0, config=fast) != inrcodec.encode(crop, bpp=2.0, config=other)


def test_grayscale_round_trip(crop, fast):
    gray = crop.mean(axis=2, keepdims=True).astype(np.uint8)
    data = inrcodec.encode(gray, bpp=2.0, config=fast)
    out = inrcodec.decode(data)
    assert out.shape == gray.shape and psnr(gray, out) > 20.0


def test_multi_tile_image_and_scaled_render(sample):
    image = sample[:96, :160]
    config = inrcodec.CoinConfig(tile=64, fit=inrcodec.FitConfig(steps=50, batch=256))
    data = inrcodec.encode(image, bpp=2.0, config=config)
    header = inrcodec.read_header(data)
    assert header.layout.layout.tile == 64
    assert inrcodec.decode(data).shape == (96, 160, 3)
    large = inrcodec.decode(data, scale=2)
    assert large.shape == (192, 320, 3)
    # a 2x render, averaged back down, is close to the 1x render: same function, finer samples
    pooled = large.reshape(96, 2, 160, 2, 3).mean(axis=(1, 3))
    assert psnr(inrcodec.decode(data), np.round(pooled).astype(np.uint8)) > 25.0


def test_a_crop_is_the_same_region_of_the_full_render(sample):
    data = inrcodec.encode(sample[:96, :160], bpp=2.0,
                           config=inrcodec.CoinConfig(tile=64, fit=inrcodec.FitConfig(steps=20, batch=256)))
    for scale in (1, 2, 0.5):
        full = inrcodec.decode(data, scale=scale)
        left, top, width, height = 70, 30, 60, 50  # straddles tile borders
        part = inrcodec.decode(data, scale=scale, crop=(left, top, width, height))
        y, x = round(top * scale), round(left * scale)
        np.testing.assert_array_equal(part, full[y:y + round(height * scale), x:x + round(width * scale)])


def test_a_crop_outside_the_image_is_refused(small_file):
    header = inrcodec.read_header(small_file)
    width = header.extent[1]
    for crop in ((0, 0, width + 1, 1), (-1, 0, 2, 2), (0, 0, 0, 4), (3, 3, width, 1)):
        with pytest.raises(InrError, match="crop"):
            inrcodec.decode(small_file, crop=crop)
    with pytest.raises(InrError, match="whole numbers"):
        inrcodec.decode(small_file, scale=0.5, crop=(1, 0, 4, 4))


def test_architecture_shrinks_with_the_budget():
    big = coin.choose_architecture(14745, (512, 768), 3, inrcodec.CoinConfig())
    small = coin.choose_architecture(3000, (512, 768), 3, inrcodec.CoinConfig())
    assert (small.tile, -small.depth, small.width) != (big.tile, -big.depth, big.width)
    with pytest.raises(InrError, match="too small"):
        coin.choose_architecture(20, (512, 768), 3, inrcodec.CoinConfig())


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "0.3"])
def test_bad_bpp_is_refused(crop, bad, fast):
    with pytest.raises(InrError):
        inrcodec.encode(crop, bpp=bad, config=fast)


def test_bad_scale_is_refused_and_any_other_renders(small_file):
    for scale in (0, -1, 1000, float("nan")):
        with pytest.raises(InrError):
            inrcodec.decode(small_file, scale=scale)
    height, width = inrcodec.read_header(small_file).extent
    assert inrcodec.decode(small_file, scale=1 / 3).shape == (round(height / 3), round(width / 3), 3)


def test_unknown_method_is_refused(crop):
    with pytest.raises(InrError, match="unknown method"):
        inrcodec.encode(crop, bpp=1.0, method="nope")


@pytest.mark.parametrize("real_file", ["small_file", "sparse_file"])
def test_estimated_bits_match_the_payload_of_a_real_file(real_file, request):
    """The ideal code length under the stored models (what rate planning relies on) is within 5% of
    the real entropy-coded payload (of a `coin` and of a `sparse` file)."""
    from inrcodec import entropy
    from inrcodec.methods import tensors as networks

    body = inrcodec.read_header(request.getfixturevalue(real_file)).layout
    models, sizes = networks.payload_models(body)
    symbols = entropy.decode(body.payload, models, sizes)
    estimate = sum(m.information_bits(s) for s, m in zip(symbols, models))
    real = len(body.payload) * 8
    assert abs(real - estimate) <= 0.05 * real
