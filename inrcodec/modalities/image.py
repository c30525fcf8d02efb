"""Images: reading with stated conversion rules, writing, the file head, rate caps in bits per
pixel, and decoding at any scale and over any crop.

File body (inside the container of `bitstream`):

    modality (0) | method | height | width | channels | the method's body

A pack (`packs`, `encode_pack`) holds many images of one size under one such head.

Pixels are coded as centred values pixel / 255 - 0.5 (by `pyramid` in YCbCr); a decoded value is
clipped to [0, 1] and rounded to 8 bits.

Conversion rules on reading: palette images become RGB (RGBA if they carry transparency); an
alpha channel is composited over white; 16-bit samples are scaled to 8 bits (round(v / 257));
1-bit images become 8-bit grayscale; CMYK and YCbCr become RGB. Float images and images of several
frames (animations) are refused, and so is any image over MAX_PIXELS before its pixels are read.
"""

import io
import math
import numbers
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import bitstream, methods, packs, pyramid
from ..bitstream import AUDIO, IMAGE, OVERHEAD, PACK, SHAPE
from ..effort import DEFAULT_EFFORT
from ..errors import InrError, reading
from ..methods import Budget, Geometry

MAX_SCALE = 16.0  # largest --scale a decode may ask for
MAX_BPP = 64.0  # largest cap in bits per pixel (8-bit RGB itself takes 24)
MAX_PIXELS = 1 << 26  # largest image (in pixels) read or decoded: 67 megapixels
PNG_LEVEL = 1  # zlib level of decoded PNGs: a 12 MP decode's PNG in 0.7 s, 11% larger than at Pillow's 6 (2.9 s)
CONVERT_ROWS = 128  # output rows converted to pixels in one go
CONVERT_THREADS = 2  # stripes of rows converted side by side
BATCHED = ("meta", "hyper")  # methods that fit many same-size images at once (`encode_batch`)
IN_YCBCR = ("pyramid", "regions", "network")  # methods that code centred YCbCr (the others centred RGB)


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


def image_format(path: str) -> str:
    """Pillow's name of the image format `path`'s extension names, or InrError."""
    extension = os.path.splitext(path)[1].lower()
    found = Image.registered_extensions().get(extension)
    if found is None:
        raise InrError(f"{path}: unknown image extension {extension!r} (try .png)")
    return found


def write_signal(path: str, pixels: np.ndarray) -> bytes:
    """The bytes of an image file of (H, W, C) uint8 pixels in the format `path`'s extension names (a PNG
    at zlib level PNG_LEVEL)."""
    buffer, found = io.BytesIO(), image_format(path)
    options = {"compress_level": PNG_LEVEL} if found == "PNG" else {}
    Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(buffer, format=found, **options)
    return buffer.getvalue()


def encode_signal(pixels: np.ndarray, bpp: float, method: str | None = None, config=None) -> bytes:
    """`encode`, as every modality's record offers it."""
    return encode(pixels, bpp, method, config)


def centred(pixels: np.ndarray) -> np.ndarray:
    """(..., C) uint8 pixels -> float32 centred values pixel / 255 - 0.5."""
    return pixels.astype(np.float32) / 255.0 - 0.5


@dataclass(frozen=True)
class Header:
    """What an image file says about itself before its payload."""
    method: str  # coding method
    extent: tuple[int, int]  # (height, width) in pixels
    channels: int  # 1 (grayscale) or 3 (RGB)
    layout: object  # the method's layout, payload included (`methods.*.read_layout`)

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.extent, self.channels, "image")


def default_config(method: str, effort: int = DEFAULT_EFFORT):
    """The default configuration object of a method for images, its steps scaled for `effort` (1..9)."""
    return methods.default_config(method, "image", effort)


def _head(shape, method: str) -> bytes:
    """The file body up to the method's own fields: modality, method and image shape (H, W, C)."""
    return bitstream.varints(IMAGE, methods.CODES[method], *shape)


def encode(image, bpp: float, method: str | None = None, config=None, quiet: bool = True, stats: dict | None = None,
           effort: int = DEFAULT_EFFORT) -> bytes:
    """Compress an image (path, PIL image or (H, W[, C]) uint8 array) into at most floor(bpp*H*W/8) bytes.

    `method` is one of `methods.CODES`; None: the one `config` configures, or `default_method`. `config` is
    the method's configuration; None for its defaults at `effort` (1..9, see `effort`). `stats`, if
    given, is filled with what the fit did: architecture, and for `sparse` and `meta` the density
    target and the expected density reached.
    """
    pixels = as_pixels(image)
    method, config = _method_config(method, config, effort, pixels.shape, bpp)
    if method in BATCHED:
        return encode_batch(pixels[None], bpp, config, quiet, stats, method=method)[0]
    height, width, _ = pixels.shape
    budget = Budget(_head(pixels.shape, method), _budget(bpp, height, width))
    return _checked(budget.file(_body(pixels, method, budget, config, quiet, stats)))


def default_method(shape: tuple[int, ...], bpp: float) -> str:
    """The method an (H, W, C) image under `bpp` is coded by when none is named: `regions` for an image of
    over `methods.REGIONS_MIN_PIXELS`; `hyper` for an image of at most `methods.HYPER_MAX_PIXELS` whose cap
    is at most `methods.HYPER_CROSSOVER_BYTES` and holds `hyper`'s smallest file of this size; else
    `methods.IMAGE_DEFAULT`."""
    height, width = shape[:2]
    if height * width > methods.REGIONS_MIN_PIXELS:
        return "regions"
    cap = _budget(bpp, height, width)
    if height * width > methods.HYPER_MAX_PIXELS or cap > methods.HYPER_CROSSOVER_BYTES:
        return methods.IMAGE_DEFAULT
    smallest = OVERHEAD + len(_head(shape, "hyper")) + methods.get("hyper").smallest_body((height, width))
    return "hyper" if cap >= smallest else methods.IMAGE_DEFAULT


def _method_config(method: str | None, config, effort: int, shape: tuple[int, ...], bpp: float) -> tuple[str, object]:
    """(method, configuration) of an encode of (H, W, C) images under `bpp`: `method` (None: the one
    `config` configures, or `default_method`) and `config` (None: its defaults at `effort`)."""
    if method is None:
        method = (config is not None and methods.of_config(config, "image")) or default_method(shape, bpp)
    if method not in methods.CODES:
        raise InrError(f"unknown method {method!r}; choose from {', '.join(methods.CODES)}")
    return method, config or default_config(method, effort)  # default_config checks the effort


def _body(pixels: np.ndarray, method: str, budget: Budget, config, quiet: bool, stats: dict | None) -> bytes:
    """The body of (H, W, C) uint8 pixels coded by `method` (not `meta`) within `budget`."""
    if method == "regions":  # converts a region at a time: an encode holds the pixels, not their floats
        values = pixels
    else:
        values = pyramid.to_ycbcr(pixels) if method in IN_YCBCR else centred(pixels)
    return methods.get(method).encode(values, Geometry(pixels.shape[:2], pixels.shape[2], "image"), budget, config,
                                      quiet, stats)


def _checked(data: bytes) -> bytes:
    """An encoded file, once the decoder's header checks accept it (no file is made that cannot be read)."""
    read_header(data)
    return data


def _budget(bpp: float, height: int, width: int) -> int:
    """The byte cap of an image at `bpp` bits per pixel."""
    if not (isinstance(bpp, numbers.Real) and 0 < bpp <= MAX_BPP):  # also false for NaN
        raise InrError(f"bpp must be a number in (0, {MAX_BPP:g}], got {bpp!r}")
    return math.floor(bpp * height * width / 8)


def encode_batch(pixels: np.ndarray, bpp: float, config=None, quiet: bool = True, stats: dict | None = None,
                 effort: int = DEFAULT_EFFORT, method: str = "meta") -> list[bytes]:
    """Compress (B, H, W, C) uint8 images of one size with a method of BATCHED, fitting them together.

    Returns one file per image, each at most floor(bpp*H*W/8) bytes. `config` and `effort` as for
    `encode`; `stats` too (averaged over the batch).
    """
    pixels = _stack(pixels)
    method, config = _method_config(method, config, effort, pixels.shape[1:], bpp)
    if method not in BATCHED:
        raise InrError(f"encode_batch fits {' or '.join(BATCHED)}, not {method!r}")
    _, height, width, _ = pixels.shape
    budget = Budget(_head(pixels.shape[1:], method), _budget(bpp, height, width))
    return [_checked(budget.file(body)) for body in _batch_bodies(pixels, method, budget, config, quiet, stats)]


def _stack(pixels) -> np.ndarray:
    """(B, H, W, C) uint8 images of one size, B >= 1 and C in {1, 3}, or InrError."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 4 or pixels.dtype != np.uint8 or pixels.shape[-1] not in (1, 3) or len(pixels) == 0:
        raise InrError(f"expected (B, H, W, 1 or 3) uint8 images, got {pixels.dtype} {pixels.shape}")
    check_size(*pixels.shape[1:3])
    return pixels


def _batch_bodies(pixels: np.ndarray, method: str, budget: Budget, config, quiet: bool,
                  stats: dict | None) -> list[bytes]:
    """Bodies of (B, H, W, C) uint8 images of one size by a method of BATCHED, each within `budget`,
    fitted together."""
    geometry = Geometry(pixels.shape[1:3], pixels.shape[3], "image")
    if method == "hyper":
        return methods.get("hyper").encode_batch(centred(pixels), geometry, budget, config, quiet, stats)

    def resize_batch(values: np.ndarray, coded: tuple[int, int]) -> np.ndarray:
        return centred(np.stack([resize(image, *coded) for image in pixels]))

    return methods.get("meta").encode_batch(centred(pixels), geometry, budget, config, quiet, stats, resize_batch)


def encode_pack(pixels, bpp: float, method: str | None = None, config=None, quiet: bool = True,
                effort: int = DEFAULT_EFFORT, stats: dict | None = None) -> bytes:
    """Compress (N, H, W, C) uint8 images of one size into one pack (`packs`) of at most
    N * floor(bpp*H*W/8) bytes, each image's body within its share of them. `method`, `config`,
    `effort` and `stats` (the last fit's) as for `encode`; `meta` fits all the images together."""
    pixels = _stack(pixels)
    method, config = _method_config(method, config, effort, pixels.shape[1:], bpp)
    count, height, width, _ = pixels.shape
    share = _budget(bpp, height, width)
    head = _head(pixels.shape[1:], method)
    module = methods.get(method)
    if hasattr(module, "encode_pack"):  # one body of all the images
        geometry = Geometry(pixels.shape[1:3], pixels.shape[3], "image")
        body = module.encode_pack(centred(pixels), geometry, packs.joint_cap(share, head, count), config, quiet, stats)
        return _checked(packs.write(head, [body], count))
    budget = Budget(b"", packs.signal_cap(share, head, count) + OVERHEAD)  # a body as that of a file of its own
    if method in BATCHED:
        bodies = _batch_bodies(pixels, method, budget, config, quiet, stats)
    else:
        from ..progress import progress

        with progress(count, "pack", unit="image", quiet=quiet) as bar:
            bodies = []
            for image in pixels:
                bodies.append(_body(image, method, budget, config, True, stats))
                bar.update()
    data = packs.write(head, bodies)
    assert len(data) <= count * share, (len(data), count, share)
    return _checked(data)


def read_header(data: bytes) -> Header:
    """Parse and validate a file up to its payload; raises InrError on anything inconsistent."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InrError(f"expected the bytes of an .inr file, got {type(data).__name__}")
    return parse_header(bitstream.unpack(bytes(data)), len(data))


def parse_header(reader: bitstream.Reader, n_bytes: int) -> Header | packs.Pack:
    """`read_header` on the body of an unpacked file of `n_bytes` bytes (its reader then lists the
    fields); a pack of images gives its `packs.Pack`."""
    modality = reader.varint(255, "modality")
    if modality == PACK:
        found = packs.parse(reader, n_bytes, _parse_head)
        if found.count * math.prod(found.extent) > MAX_PIXELS:
            raise InrError(f"corrupt file: {found.count} images of {found.extent} pixels are over {MAX_PIXELS} pixels")
        return found
    method, geometry = _parse_head(reader, modality)
    layout = methods.get(method).read_layout(reader, geometry, n_bytes)
    return Header(method, geometry.extent, geometry.channels, layout)


def _parse_head(reader: bitstream.Reader, modality: int) -> tuple[str, Geometry]:
    """(method, geometry) of an image head whose modality code is `modality`, its fields read and checked."""
    if modality != IMAGE:
        raise InrError("this file holds audio, not an image (decode it to a .wav)" if modality == AUDIO else
                       "this file holds a shape, not an image (decode it to a .ply)" if modality == SHAPE else
                       f"this file holds modality {modality}, which this version cannot decode")
    method = methods.of_file(reader.varint(255, "method"), "image")
    height = reader.varint(MAX_PIXELS, "height")
    width = reader.varint(MAX_PIXELS, "width")
    channels = reader.varint(3, "channels")
    check_size(height, width)
    if channels not in (1, 3):
        raise InrError(f"corrupt file: {channels} channels")
    return method, Geometry((height, width), channels, "image")


def _output_box(header: Header, scale: float, crop) -> tuple[int, int, int, int]:
    """(top, left, height, width) in output pixels of `crop` = (left, top, width, height) in the
    encoded image's pixels (None: the whole image), at `scale`."""
    if not (isinstance(scale, numbers.Real) and 0 < scale <= MAX_SCALE):
        raise InrError(f"scale {scale!r} must be a number in (0, {MAX_SCALE:g}]")
    if crop is not None and not (len(np.shape(crop)) == 1 and len(crop) == 4
                                 and all(isinstance(v, numbers.Real) for v in crop)):
        raise InrError(f"crop {crop!r} must be four numbers: left, top, width, height")
    image_height, image_width = header.extent
    left, top, width, height = (0, 0, image_width, image_height) if crop is None else crop
    if not (0 <= left and 0 <= top and 0 < width and 0 < height and left + width <= image_width
            and top + height <= image_height):
        raise InrError(f"crop {tuple(crop)} (left, top, width, height) is not inside the "
                       f"{image_width}x{image_height} image")
    box = [value * scale for value in (top, left, height, width)]
    if crop is not None and any(abs(value - round(value)) > 1e-9 for value in box[:2]):
        raise InrError(f"scale {scale} must make the crop's left and top whole numbers of pixels")
    top, left, height, width = (round(value) for value in box)
    if height < 1 or width < 1 or height * width > MAX_PIXELS:
        raise InrError(f"a {width}x{height} output is outside 1..{MAX_PIXELS} pixels")
    return top, left, height, width


def decode(data: bytes, scale: float = 1.0, crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Decompress a file into (H*scale, W*scale, C) uint8 pixels.

    `scale` renders the INR at another resolution; `crop` = (left, top, width, height), in pixels of
    the encoded image, renders only that region (then (height*scale, width*scale, C)).
    """
    header = read_header(data)
    if isinstance(header, packs.Pack):
        raise InrError(f"this file is a pack of {header.count} images: decode it with decode_pack")
    return render(header, scale, crop)


def decode_pack(data: bytes, scale: float = 1.0, crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Decompress a pack (`encode_pack`) into (N, H*scale, W*scale, C) uint8 pixels; `scale` and
    `crop` as for `decode`, the same for every image."""
    found = read_header(data)
    if not isinstance(found, packs.Pack):
        raise InrError("this file holds one image, not a pack: decode it with decode")
    headers = [Header(found.method, found.extent, found.channels, layout) for layout in found.layouts]
    _, _, height, width = _output_box(headers[0], scale, crop)
    if found.count * height * width > MAX_PIXELS:
        raise InrError(f"{found.count} outputs of {width}x{height} are over {MAX_PIXELS} pixels")
    stack = np.empty((found.count, height, width, found.channels), np.uint8)
    for index, header in enumerate(headers):
        stack[index] = render(header, scale, crop)
    return stack


def render(header: Header, scale: float = 1.0, crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The (H*scale, W*scale, C) uint8 pixels of an image's validated header, over `crop` (as `decode`)."""
    top, left, height, width = _output_box(header, scale, crop)
    values = methods.get(header.method).render(header.layout, header.geometry, (scale, scale),
                                               ((top, left), (height, width)))
    pixels = np.empty((height, width, header.channels), np.uint8)

    def convert(rows: slice) -> None:
        """Rows `rows` of `values` as pixels: from YCbCr where the method codes it, clipped and rounded."""
        part = values[rows]
        if header.method in IN_YCBCR:  # YCbCr, the channels it lacks (a grayscale image's chroma) zero
            ycbcr = np.zeros((*part.shape[:2], 3), np.float32)
            ycbcr[..., :header.channels] = part
            part = pyramid.to_rgb(ycbcr, header.channels)
        part += 0.5  # in place
        np.clip(part, 0.0, 1.0, out=part)
        part *= 255.0
        pixels[rows] = np.round(part, out=part)

    stripes = [slice(first, first + CONVERT_ROWS) for first in range(0, height, CONVERT_ROWS)]
    if len(stripes) == 1:
        convert(stripes[0])
    else:  # NumPy's loops release Python's lock: stripes convert side by side, a few in memory at a time
        with ThreadPoolExecutor(CONVERT_THREADS) as pool:
            list(pool.map(convert, stripes))
    return pixels


read, decode_signal = read_image, decode  # as every modality's record offers them
