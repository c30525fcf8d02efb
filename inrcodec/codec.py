"""Images: encode and decode through the methods, the image head, rate caps in bits per pixel,
and rendering at any scale and over any crop.

File body (inside the container of `bitstream`):

    modality (0) | method | height | width | channels | the method's body

`coin`, `sparse` and `meta` continue with the body of `networks` (shared with every modality; the
`meta` base is "image"); `pyramid` with that of `pyramid_file`. Pixels are coded as centred values
pixel / 255 - 0.5 (the `pyramid` in YCbCr); a decoded value is clipped to [0, 1] and rounded to 8 bits.
"""

import math
import numbers

import numpy as np

from . import bitstream, networks, pyramid, pyramid_file
from .bitstream import AUDIO, IMAGE, SHAPE
from .coin import CoinConfig
from .effort import DEFAULT_EFFORT, apply_effort
from .errors import InrError
from .latents import LatentConfig
from .methods import DEFAULT_METHOD, METHOD_NAMES, METHODS
from .pyramid_fit import PyramidConfig
from .signals import MAX_PIXELS, as_pixels, check_size, resize
from .sparse import SparseConfig

CONFIGS = {"coin": CoinConfig, "sparse": SparseConfig, "meta": LatentConfig, "pyramid": PyramidConfig}  # method -> config type
MAX_SCALE = 16.0  # largest --scale a decode may ask for
MAX_BPP = 64.0  # largest cap in bits per pixel (8-bit RGB itself takes 24)
BASE = "image"  # the shipped base network of the `meta` method for images


def default_config(method: str, effort: int = DEFAULT_EFFORT):
    """The default configuration object of a method, its steps scaled for `effort` (1..9)."""
    return apply_effort(CONFIGS.get(method, CoinConfig)(), effort)


def _head(shape, method: str) -> bytes:
    """The file body up to the method's own fields: modality, method and image shape (H, W, C)."""
    return bitstream.varints(IMAGE, METHODS[method], *shape)


def _layout_fields(shape, method: str, layout) -> bytes:
    """The file body up to the per-tensor records: the head, then a network method's layout."""
    return _head(shape, method) + (b"" if layout is None else networks.layout_fields(layout))


def _centred(pixels: np.ndarray) -> np.ndarray:
    """(..., C) uint8 pixels -> float32 centred values pixel / 255 - 0.5."""
    return pixels.astype(np.float32) / 255.0 - 0.5


def encode(image, bpp: float, method: str | None = None, config=None, quiet: bool = True, stats: dict | None = None,
           effort: int = DEFAULT_EFFORT) -> bytes:
    """Compress an image (path, PIL image or (H, W[, C]) uint8 array) into at most floor(bpp*H*W/8) bytes.

    `method` is one of METHODS; None: the one `config` configures, or DEFAULT_METHOD. `config` is the
    method's configuration (CoinConfig, SparseConfig, LatentConfig or PyramidConfig); None for its
    defaults at `effort` (1..9, see `effort`). `stats`, if given, is filled with what the fit did:
    architecture, and for `sparse` and `meta` the density target and the expected density reached.
    """
    if method is None:
        method = next((name for name, kind in CONFIGS.items() if type(config) is kind), DEFAULT_METHOD)
    if method not in METHODS:
        raise InrError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    config = config or default_config(method, effort)  # default_config checks the effort
    pixels = as_pixels(image)
    if method == "meta":
        return encode_batch(pixels[None], bpp, config, quiet, stats)[0]
    height, width, _ = pixels.shape
    budget = _budget(bpp, height, width)
    if method == "pyramid":
        geometry = pyramid.image_geometry(height, width, pixels.shape[-1])
        return _checked(pyramid_file.encode(pyramid.to_ycbcr(pixels), geometry, _head(pixels.shape, method),
                                            budget, config, quiet, stats, f"a {width}x{height} image"))
    return _checked(networks.encode_tiled(_centred(pixels), _head(pixels.shape, method), budget, method, config,
                                          quiet, stats))


def _checked(data: bytes) -> bytes:
    """An encoded file, once the decoder's header checks accept it (no file is made that cannot be read)."""
    read_header(data)
    return data


def _budget(bpp: float, height: int, width: int) -> int:
    """The byte cap of an image at `bpp` bits per pixel."""
    if not (isinstance(bpp, numbers.Real) and 0 < bpp <= MAX_BPP):  # also false for NaN
        raise InrError(f"bpp must be a number in (0, {MAX_BPP:g}], got {bpp!r}")
    return math.floor(bpp * height * width / 8)


def encode_batch(pixels: np.ndarray, bpp: float, config: LatentConfig | None = None, quiet: bool = True,
                 stats: dict | None = None, effort: int = DEFAULT_EFFORT) -> list[bytes]:
    """Compress (B, H, W, C) uint8 images of one size with the `meta` method, fitting all at once.

    Returns one file per image, each at most floor(bpp*H*W/8) bytes. `config` and `effort` as for
    `encode`; `stats` too (densities averaged over the batch).
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 4 or pixels.dtype != np.uint8 or pixels.shape[-1] not in (1, 3) or len(pixels) == 0:
        raise InrError(f"expected (B, H, W, 1 or 3) uint8 images, got {pixels.dtype} {pixels.shape}")
    config = config or default_config("meta", effort)
    _, height, width, _ = pixels.shape
    check_size(height, width)
    budget = _budget(bpp, height, width)

    def resize_batch(values: np.ndarray, coded: tuple[int, int]) -> np.ndarray:
        return _centred(np.stack([resize(image, *coded) for image in pixels]))

    files = networks.encode_latents(_centred(pixels), _head(pixels.shape[1:], "meta"), budget, BASE, config, quiet,
                                    stats, resize_batch)
    return [_checked(data) for data in files]


def read_header(data: bytes) -> networks.Header:
    """Parse and validate a file up to its payload; raises InrError on anything inconsistent."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InrError(f"expected the bytes of an .inr file, got {type(data).__name__}")
    return parse_header(bitstream.unpack(bytes(data)), len(data))


def parse_header(reader: bitstream.Reader, n_bytes: int) -> networks.Header:
    """`read_header` on the body of an unpacked file of `n_bytes` bytes (its reader then lists the fields)."""
    modality = reader.varint(255, "modality")
    if modality != IMAGE:
        raise InrError("this file holds audio, not an image (decode it to a .wav)" if modality == AUDIO else
                       "this file holds a shape, not an image (decode it to a .ply)" if modality == SHAPE else
                       f"this file holds modality {modality}, which this version cannot decode")
    method_code = reader.varint(255, "method")
    if method_code not in METHOD_NAMES:
        raise InrError(f"this file uses method code {method_code}, unknown to this version")
    method = METHOD_NAMES[method_code]
    height = reader.varint(MAX_PIXELS, "height")
    width = reader.varint(MAX_PIXELS, "width")
    channels = reader.varint(3, "channels")
    check_size(height, width)
    if channels not in (1, 3):
        raise InrError(f"corrupt file: {channels} channels")
    if method == "pyramid":
        geometry = pyramid.image_geometry(height, width, channels)
        pyramid_file.check_cost(geometry, n_bytes, f"a {width}x{height} image")
        layout = pyramid_file.read_layout(reader, geometry, channels)
        return networks.Header(method, (height, width), channels, "", layout, [], [], [], reader.rest())
    return networks.read_body(reader, n_bytes, method, (height, width), channels, BASE)


def _render_pyramid(header: networks.Header, scale: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, C) centred values of a `pyramid` file rendered at `scale` (any scale) over `box`."""
    geometry = pyramid.image_geometry(*header.extent, header.channels)
    ycbcr = np.zeros((box[2], box[3], 3), np.float32)
    ycbcr[..., :header.channels] = pyramid_file.render(header.payload, header.architecture, geometry, (scale, scale), box)
    return pyramid.to_rgb(ycbcr, header.channels)


def _output_box(header: networks.Header, scale: float, crop) -> tuple[int, int, int, int]:
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
    box = _output_box(header, scale, crop)
    if header.method == "pyramid":
        values = _render_pyramid(header, scale, box)
    else:
        values = networks.render(header, (scale, scale), (box[:2], box[2:]))
    values += 0.5  # in place: a decode holds one float32 copy of its output
    np.clip(values, 0.0, 1.0, out=values)
    values *= 255.0
    return np.round(values, out=values).astype(np.uint8)
