"""Reading rules: every supported mode becomes (H, W, 1|3) uint8 by its stated conversion."""

import numpy as np
import pytest
from PIL import Image

from inrcodec.errors import InrError
from inrcodec.modalities.image import as_pixels
from inrcodec.eval.metrics import psnr
from inrcodec.modalities.image import read_image


def save(tmp_path, image, name="x.png"):
    path = tmp_path / name
    image.save(path)
    return path


def test_rgb_and_gray(tmp_path, crop):
    assert read_image(save(tmp_path, Image.fromarray(crop))).shape == crop.shape
    gray = Image.fromarray(crop[..., 0])
    np.testing.assert_array_equal(read_image(save(tmp_path, gray))[..., 0], crop[..., 0])


def test_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 0
    rgba[0, 0, 3] = 255
    pixels = read_image(save(tmp_path, Image.fromarray(rgba, "RGBA")))
    assert pixels.shape == (4, 4, 3)
    assert tuple(pixels[0, 0]) == (200, 0, 0) and tuple(pixels[1, 1]) == (255, 255, 255)


def test_palette_becomes_rgb(tmp_path, crop):
    palette = Image.fromarray(crop).quantize(64)
    pixels = read_image(save(tmp_path, palette))
    np.testing.assert_array_equal(pixels, np.asarray(palette.convert("RGB")))


def test_sixteen_bit_is_scaled(tmp_path):
    wide = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    pixels = read_image(save(tmp_path, Image.fromarray(wide)))
    np.testing.assert_array_equal(pixels[..., 0], np.round(wide / 257).astype(np.uint8))


def test_refusals(tmp_path):
    with pytest.raises(InrError, match="floating-point"):
        read_image(save(tmp_path, Image.fromarray(np.zeros((4, 4), np.float32)), "f.tif"))
    with pytest.raises(InrError):
        as_pixels(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(InrError):
        as_pixels(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InrError):
        read_image(tmp_path)


def test_psnr_matches_closed_form():
    a = np.zeros((10, 10, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 30
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / (900 / 300)))
