"""Default settings on a full-size image (about a minute each on 2 cores): run with `pytest -m slow`."""

import math

import pytest

import inrcodec
from inrcodec.eval.metrics import psnr


@pytest.mark.slow
@pytest.mark.parametrize("method", ["coin", "sparse"])
def test_defaults_on_a_kodak_image(sample, method):
    """kodim23 at 0.3 bpp: within the cap, at least 90% of it used, and well above a blank guess."""
    budget = math.floor(0.3 * sample.shape[0] * sample.shape[1] / 8)
    data = inrcodec.encode(sample, bpp=0.3, method=method)
    assert 0.9 * budget <= len(data) <= budget
    assert psnr(sample, inrcodec.decode(data)) > 28.0  # coin measured 30.05 dB in the Kodak bench; JPEG 30.99
