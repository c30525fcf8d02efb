"""Images as signals: reading with stated conversion rules, writing, and the PSNR metric.

Conversion rules on reading: palette images become RGB (RGBA if they carry transparency); an
alpha channel is composited over white; 16-bit samples are scaled to 8 bits (round(v / 257));
1-bit images become 8-bit grayscale; CMYK and YCbCr become RGB. Float images and images of several
frames (animations) are refused, and so is any image over MAX_PIXELS before its pixels are read.
"""

import os
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import InrError, reading

MAX_PIXELS = 1 << 26  # largest image (in pixels) read or decoded: 67 megapixels


def check_size(height: int, width: int) -> None:
    """Refuse dimensions that are empty or too large to allocate sensibly."""
    if height < 1 or width < 1 or height * width > MAX_PIXELS:
        raise InrError(f"image size {width}x{height} is outside 1..{MAX_PIXELS} pixels")


def _to_uint8(image: Image.Image) -> np.ndarray:
    """Apply the conversion rules; returns (H, W, C) uint8 with C in {1, 3}."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        wide = np.asarray(image, dtype=np.float64)
        return np.clip(np.round(wide / 257.0), 0, 255).astype(np.uint8)[..., None]
    if image.mode == "F":
        raise InrError("floating-point images are not supported; save it as 8- or 16-bit first")
    if image.mode == "1":
        image = image.convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
        alpha = rgba[..., 3:] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        out = np.round(rgb).astype(np.uint8)
        return out[..., :1] if image.mode in ("LA", "La") else out
    if image.mode == "L":
        return np.asarray(image, dtype=np.uint8)[..., None]
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file into (H, W, C) uint8 pixels, C = 1 (grayscale) or 3 (RGB)."""
    with reading(path, "image"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)  # over MAX_PIXELS anyway
                with Image.open(path) as image:
                    check_size(image.height, image.width)
                    if getattr(image, "n_frames", 1) > 1:
                        raise InrError(f"{path}: an animation of {image.n_frames} frames; inrcodec codes still "
                                       f"images (save one frame as a PNG first)")
                    image.load()
                    return _to_uint8(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise InrError(f"{path}: image too large ({err})") from None
        except (UnidentifiedImageError, SyntaxError, ValueError) as err:
            raise InrError(f"{path}: not a readable image ({err})") from None


def as_pixels(image) -> np.ndarray:
    """Accept a path, a PIL image or an array (H, W), (H, W, 1) or (H, W, 3); return (H, W, C) uint8."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if isinstance(image, Image.Image):
        check_size(image.height, image.width)
        return _to_uint8(image)
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise InrError(f"expected an (H, W), (H, W, 1) or (H, W, 3) array, got shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        raise InrError(f"expected uint8 pixels, got {pixels.dtype}")
    check_size(pixels.shape[0], pixels.shape[1])
    return pixels


def resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) uint8 pixels resampled (Lanczos) to (height, width, C): the whole image onto the new grid."""
    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    return np.asarray(image.resize((width, height), Image.LANCZOS)).reshape(height, width, pixels.shape[2])


def image_to_png_bytes(pixels: np.ndarray) -> bytes:
    """Encode (H, W, C) uint8 pixels as PNG bytes."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of equal shape (CompressAI convention, peak 255)."""
    mse = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))
