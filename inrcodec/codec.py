"""Image encode/decode: method dispatch, the file layout, rate control and rendering.

File body (inside the container of `bitstream`):

    modality | method | height | width | channels | layout
    | per tensor: [count of kept values, if masked] step, entropy model
    | payload: one ANS stream; per tensor [its 0/1 mask, if masked] then its (kept) integers

`coin` and `sparse` store a tiled SIREN (layout: tile side | depth | width; tensors: w then b of
every layer): `coin` every weight, `sparse` a mask on each weight matrix and the surviving weights.
`meta` stores latent grids for the shipped base (layout: the base's 8-byte identity | first level
carried | downscale; tensors: one masked grid per carried level). Rate control bisects one global rms/step
ratio for the largest file under the cap.

`pyramid` has its own body after the image shape (`pyramid_file`), with its own limits there.

Limits a file of n bytes must keep (the decoder refuses a file that breaks one before allocating
anything; the encoder refuses a cap it could only meet by breaking one):
- a tile side is at most TILE_FLOOR or twice the image's longer side, whichever is larger;
- it declares at most MAX_VALUES_PER_BYTE * n values (network weights or latents) in all;
- rendering it at scale 1 takes at most MAX_MACS_PER_BYTE * n multiply-adds (output pixels x the
  network's multiply-adds per pixel), so decoding time grows with the file, not with what it claims;
- every dequantized value is at most MAX_ABS_VALUE in magnitude, so rendering stays finite; a
  rendered value that is not finite anyway is refused, never cast to a pixel.
A decode holds the network, its output as float32 (written in place, chunk by chunk) and one render
chunk (of at most RENDER_FLOATS activations for a tiled network, RENDER_CHUNK pixels for latents).
"""

import math
import numbers
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import (
    bitstream,
    coin,
    entropy,
    latents,
    modulated,
    pyramid,
    pyramid_file,
    quantize,
    ratecontrol,
    siren,
    sparse,
    tiles,
)
from .bases import HASH_BYTES, load_base
from .bitstream import AUDIO, IMAGE, MAX_ABS_VALUE, MAX_MACS_PER_BYTE
from .coin import Architecture, CoinConfig
from .effort import DEFAULT_EFFORT, apply_effort
from .errors import InrError
from .latents import LatentConfig
from .methods import DEFAULT_METHOD, METHODS
from .pyramid_fit import PyramidConfig
from .signals import MAX_PIXELS, as_pixels, check_size, resize
from .sparse import SparseConfig

CONFIGS = {"coin": CoinConfig, "sparse": SparseConfig, "meta": LatentConfig, "pyramid": PyramidConfig}  # method -> config type
MAX_SCALE = 16.0  # largest --scale a decode may ask for
MAX_BPP = 64.0  # largest cap in bits per pixel (8-bit RGB itself takes 24)
MAX_DEPTH = 32  # most sine layers a file may declare
TILE_FLOOR = 1024  # a tile side may be up to this or twice the image's longer side, whichever is larger
MAX_WIDTH = 1024  # widest network a file may declare
MIN_RATIO, MAX_RATIO = 0.25, 4096.0  # search range of the rms/step ratio of every tensor
# Values per byte of file at most (legitimate files: about 1 for coin, 3 for sparse, 1 / bpp for
# meta); their multiply-adds per byte (bitstream.MAX_MACS_PER_BYTE) are about 0.84 x tile^2 for
# coin (55k at 256 px tiles) and 31k / bpp for meta.
MAX_VALUES_PER_BYTE = 256
RENDER_FLOATS = 1 << 22  # activations of one compiled render call (16 MB a layer)


BASE = "image"  # the shipped base network of the `meta` method


@dataclass(frozen=True)
class Grids:
    """The layout of a `meta` file."""
    identity: bytes  # identity of the base network the latents are for
    first_level: int  # index of the finest latent level carried; finer levels are all zero
    downscale: int  # the latents describe the image with its sides divided by this (one of latents.DOWNSCALES)


def default_config(method: str, effort: int = DEFAULT_EFFORT):
    """The default configuration object of a method, its steps scaled for `effort` (1..9)."""
    return apply_effort(CONFIGS.get(method, CoinConfig)(), effort)


def _layout_fields(shape, method: str, layout) -> bytes:
    """The file body up to the per-tensor records: modality, method, image shape and layout."""
    writer = bitstream.Writer()
    for value in (IMAGE, METHODS[method], *shape):
        writer.varint(value)
    if isinstance(layout, Grids):
        writer.raw(layout.identity)
        writer.varint(layout.first_level)
        writer.varint(layout.downscale)
    elif layout is not None:
        for value in (layout.tile, layout.depth, layout.width):
            writer.varint(value)
    return bytes(writer.buffer)


def _write_file(fields: bytes, tensors: list[np.ndarray], masks: list, ratio: float) -> bytes:
    """The whole file: `fields`, then these tensors (masks aligned, None where unmasked) at rms/step = ratio."""
    writer = bitstream.Writer()
    writer.raw(fields)
    symbols, models = [], []
    for tensor, mask in zip(tensors, masks):
        kept = tensor.ravel() if mask is None else tensor[mask]
        if not np.all(np.abs(kept) <= MAX_ABS_VALUE / 4):  # also false for NaN; rounding adds < 3x
            raise InrError("the fit diverged: a fitted value is not finite or out of range (try another --seed)")
        if mask is not None:
            writer.varint(int(mask.sum()))
            symbols.append(mask.ravel().astype(np.int32))
            models.append(entropy.MaskModel(int(mask.sum()), mask.size))
        step = writer.log_step(float(np.sqrt(np.mean(kept**2)) if kept.size else 1.0) / ratio + 1e-30)
        q = quantize.to_integers(kept, step)
        models.append(entropy.choose_model(q))
        entropy.write_model(writer, models[-1])
        symbols.append(q)
    writer.raw(entropy.encode(symbols, models))
    return bitstream.pack(bytes(writer.buffer))


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
        return _checked(pyramid_file.encode(pyramid.to_ycbcr(pixels), geometry, _layout_fields(pixels.shape, method, None),
                                            budget, config, quiet, stats, f"a {width}x{height} image"))
    fit_image = sparse.fit_image if method == "sparse" else coin.fit_image
    arch, params, weight_masks, method_stats = fit_image(pixels, budget, config, quiet)
    if stats is not None:
        stats.update(tile=arch.tile, depth=arch.depth, width=arch.width, **method_stats)
    tensors, masks = [], []
    for index, layer in enumerate(params):
        tensors += [np.asarray(layer["w"], np.float64), np.asarray(layer["b"], np.float64)]
        masks += [None if weight_masks is None else np.asarray(weight_masks[index], bool), None]
    fields = _layout_fields(pixels.shape, method, arch)
    _, data = ratecontrol.largest_fitting(
        lambda ratio: _write_file(fields, tensors, masks, ratio), budget, MIN_RATIO, MAX_RATIO)
    return _checked(data)


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
    images, height, width, channels = pixels.shape
    check_size(height, width)
    budget = _budget(bpp, height, width)
    base = load_base(BASE)
    downscale = latents.choose_downscale(budget, height, width, base, config)
    check_cost("meta", height, width, channels, Grids(base.identity, 0, downscale), budget)  # before fitting
    if downscale > 1:
        coded = latents.coded_size(height, width, downscale)
        pixels = np.stack([resize(image, *coded) for image in pixels])
    first, grids, masks, fit_stats = latents.fit_batch(pixels, budget, base, config, quiet)
    if stats is not None:
        stats.update(downscale=downscale, **fit_stats)
    fields = _layout_fields((height, width, channels), "meta", Grids(base.identity, first, downscale))
    files = []
    for b in range(images):
        tensors = [np.asarray(g[b], np.float64) for g in grids]
        image_masks = [m[b] for m in masks]
        _, data = ratecontrol.largest_fitting(
            lambda ratio: _write_file(fields, tensors, image_masks, ratio), budget, MIN_RATIO, MAX_RATIO)
        files.append(_checked(data))
    return files


@dataclass(frozen=True)
class Header:
    """What a file says about itself before its payload."""
    method: str  # method name
    height: int  # image height in pixels
    width: int  # image width in pixels
    channels: int  # 1 (grayscale) or 3 (RGB)
    architecture: Architecture | Grids  # tiled SIREN shape (coin, sparse) or latent layout (meta)
    counts: list  # per tensor: number of kept values if masked, else None
    models: list  # entropy model of each tensor's values
    steps: list  # quantization step of each tensor
    payload: bytes  # the ANS stream


def _read_layout(reader: bitstream.Reader, method: str, height: int, width: int, channels: int):
    """The method's layout fields, validated (and for `meta`, checked against the installed base)."""
    if method == "meta":
        identity = reader.raw(HASH_BYTES)
        first_level = reader.varint(255, "first level")
        base = load_base(BASE)
        if identity != base.identity:
            raise InrError(f"this file was made with base network {identity.hex()}, but the installed "
                           f"base is {base.identity.hex()}: decode it with the inrcodec version that made it")
        if first_level >= len(base.config.strides):
            raise InrError(f"corrupt file: first level {first_level} of {len(base.config.strides)}")
        downscale = reader.varint(latents.DOWNSCALES[-1], "downscale")
        if downscale not in latents.DOWNSCALES:
            raise InrError(f"corrupt file: downscale {downscale}")
        return Grids(identity, first_level, downscale)
    tile = reader.varint(1 << 16, "tile side")
    depth = reader.varint(MAX_DEPTH, "depth")
    net_width = reader.varint(MAX_WIDTH, "width")
    if tile < 1 or depth < 1 or net_width < 1:
        raise InrError("corrupt file: empty network")
    if tile > max(TILE_FLOOR, 2 * max(height, width)):
        raise InrError(f"corrupt file: a {tile} px tile for a {width}x{height} image")
    return Architecture(tile, depth, net_width)


def check_cost(method: str, height: int, width: int, channels: int, layout, n_bytes: int) -> None:
    """Refuse a file of `n_bytes` whose values or rendering work exceed the per-byte limits."""
    values_per_byte = MAX_VALUES_PER_BYTE
    if method == "meta":
        base_config = load_base(BASE).config
        shapes = modulated.grid_shapes(*latents.coded_size(height, width, layout.downscale), base_config)
        values = sum(math.prod(s) for s in shapes[layout.first_level:])
        macs = height * width * modulated.macs_per_pixel(base_config)
    else:
        network = (2, layout.width, layout.depth, channels)
        values = math.prod(tiles.grid(height, width, layout.tile)) * siren.count_params(*network)
        macs = height * width * siren.count_macs(*network)
    if values > values_per_byte * n_bytes or macs > MAX_MACS_PER_BYTE * n_bytes:
        raise InrError(f"{n_bytes} bytes are too few for a {width}x{height} {method} file of {values} values and "
                       f"{macs:.3g} multiply-adds to render (at most {values_per_byte} values and "
                       f"{MAX_MACS_PER_BYTE:.3g} multiply-adds per byte)")


def tensor_layout(method: str, height: int, width: int, channels: int, layout) -> list[tuple[tuple, bool]]:
    """(shape, masked) of every tensor of a file, in file order.

    Tiled SIREN: [w0, b0, w1, b1, ...] with a leading tile axis, masks on the w of `sparse`.
    Latent grids: one (rows, cols, channels) grid per carried level, all masked.
    """
    if isinstance(layout, Grids):
        shapes = modulated.grid_shapes(*latents.coded_size(height, width, layout.downscale), load_base(BASE).config)
        return [(s, True) for s in shapes[layout.first_level:]]
    n_tiles = math.prod(tiles.grid(height, width, layout.tile))
    shapes = [s for fan_in, fan_out in siren.layer_sizes(2, layout.width, layout.depth, channels)
              for s in ((fan_in, fan_out), (fan_out,))]
    return [((n_tiles, *s), method == "sparse" and index % 2 == 0) for index, s in enumerate(shapes)]


def read_header(data: bytes) -> Header:
    """Parse and validate a file up to its payload; raises InrError on anything inconsistent."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InrError(f"expected the bytes of an .inr file, got {type(data).__name__}")
    return parse_header(bitstream.unpack(bytes(data)), len(data))


def parse_header(reader: bitstream.Reader, n_bytes: int) -> Header:
    """`read_header` on the body of an unpacked file of `n_bytes` bytes (its reader then lists the fields)."""
    modality = reader.varint(255, "modality")
    if modality != IMAGE:
        raise InrError("this file holds audio, not an image (decode it to a .wav)" if modality == AUDIO else
                       f"this file holds modality {modality}, which this version cannot decode")
    method_code = reader.varint(255, "method")
    names = {code: name for name, code in METHODS.items()}
    if method_code not in names:
        raise InrError(f"this file uses method code {method_code}, unknown to this version")
    method = names[method_code]
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
        return Header(method, height, width, channels, layout, [], [], [], reader.rest())
    layout = _read_layout(reader, method, height, width, channels)
    check_cost(method, height, width, channels, layout, n_bytes)
    counts, models, steps = [], [], []
    for shape, masked in tensor_layout(method, height, width, channels, layout):
        counts.append(reader.varint(math.prod(shape), "kept values") if masked else None)
        steps.append(reader.log_step())
        models.append(entropy.read_model(reader))
        if models[-1].bound * steps[-1] > MAX_ABS_VALUE:
            raise InrError(f"corrupt file: values up to {models[-1].bound * steps[-1]:.3g} exceed {MAX_ABS_VALUE:g}")
    return Header(method, height, width, channels, layout, counts, models, steps, reader.rest())


def _shapes(header: Header) -> list[tuple]:
    """Full shapes of the header's tensors, in file order."""
    return [shape for shape, _ in tensor_layout(header.method, header.height, header.width, header.channels,
                                                header.architecture)]


def payload_models(header: Header) -> tuple[list, list[int]]:
    """The entropy models and symbol counts of the payload's arrays, in coding order."""
    models, sizes = [], []
    for shape, count, model in zip(_shapes(header), header.counts, header.models):
        size = math.prod(shape)
        if count is not None:
            models.append(entropy.MaskModel(count, size))
            sizes.append(size)
        models.append(model)
        sizes.append(size if count is None else count)
    return models, sizes


def _tensors_from_header(header: Header) -> list[np.ndarray]:
    """Entropy-decode and dequantize every tensor a header describes, at its full shape (float32)."""
    models, sizes = payload_models(header)
    flat = iter(entropy.decode(header.payload, models, sizes))
    arrays = []
    for shape, count, step in zip(_shapes(header), header.counts, header.steps):
        if count is None:
            arrays.append(quantize.from_integers(next(flat), step).reshape(shape))
        else:
            mask = next(flat).astype(bool)
            if int(mask.sum()) != count:
                raise InrError("corrupt file: a mask does not match its declared count")
            full = np.zeros(mask.size, np.float32)
            full[mask] = quantize.from_integers(next(flat), step)
            arrays.append(full.reshape(shape))
    return arrays


@jax.jit
def _render_group(params, coords):
    """Evaluate a group of tiles at shared coords (N, 2): (tiles, N, C) centred values (0 is mid-grey)."""
    return jax.vmap(siren.siren_apply, in_axes=(0, None))(params, coords)


def _chunks(count: int, limit: int) -> list[np.ndarray]:
    """Indices 0..count-1 in chunks of one power-of-two length (at most `limit`, unless 1), the last
    padded by repeating its final index: few distinct shapes, so few compiled renders, serve any file."""
    size = min(1 << max(0, limit.bit_length() - 1), 1 << (count - 1).bit_length())
    return [np.minimum(np.arange(start, start + size), count - 1) for start in range(0, count, size)]


def _render_tiled(header: Header, scale: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, C) centred values of a tiled SIREN file rendered at `scale` over `box`.

    box: (top, left, h, w) in output pixels; only the box's pixels are rendered, tiles that share
    which part of themselves the box covers in one call.
    """
    arch = header.architecture
    side = arch.tile * scale
    if abs(side - round(side)) > 1e-9:
        raise InrError(f"scale {scale} must make scale x {arch.tile} (the tile side) a whole number")
    side = int(round(side))
    top, left, height, width = box
    tile_cols = tiles.grid(header.height, header.width, arch.tile)[1]
    arrays = _tensors_from_header(header)
    out = np.empty((height, width, header.channels), np.float32)
    for (y0, y1), rows in tiles.spans(top, height, side).items():
        for (x0, x1), cols in tiles.spans(left, width, side).items():
            coords = tiles.pixel_centres(side, range(y0, y1), range(x0, x1))
            dy, dx = np.divmod(np.arange(len(coords)), x1 - x0)  # each coordinate's place in the tile's part
            origins = [(r * side + y0 - top, c * side + x0 - left, r * tile_cols + c) for r in rows for c in cols]
            coord_chunks = _chunks(len(coords), max(1, RENDER_FLOATS // arch.width))
            for group in _chunks(len(origins), max(1, RENDER_FLOATS // (len(coord_chunks[0]) * arch.width))):
                chosen = [origins[k][2] for k in group]
                params = [{"w": w[chosen], "b": b[chosen]} for w, b in zip(arrays[0::2], arrays[1::2])]
                for part in coord_chunks:
                    rendered = np.asarray(_render_group(params, coords[part]))
                    for k, values in zip(group, rendered):
                        y, x, _ = origins[k]
                        out[y + dy[part], x + dx[part]] = values
    return out


RENDER_CHUNK = 1 << 16  # pixels per compiled render call of a `meta` file


_render_pixels = jax.jit(modulated.render, static_argnums=(4,))


def _render_grids(header: Header, scale: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, C) centred values of a `meta` file rendered at `scale` (any scale) over `box`.

    box: (top, left, h, w) in output pixels.
    """
    base, layout = load_base(BASE), header.architecture
    coded_height, coded_width = latents.coded_size(header.height, header.width, layout.downscale)
    shapes = modulated.grid_shapes(coded_height, coded_width, base.config)
    grids = [jnp.zeros(s) for s in shapes[:layout.first_level]]
    grids += [jnp.asarray(a) for a in _tensors_from_header(header)]
    top, left, height, width = box
    out = np.empty((height * width, header.channels), np.float32)
    chunk = min(RENDER_CHUNK, 1 << (len(out) - 1).bit_length())
    for start in range(0, len(out), chunk):
        rows, cols = np.divmod(np.arange(start, start + chunk), width)  # past the end: padding, dropped
        ys = (top + rows + 0.5) / scale * (coded_height / header.height)
        xs = (left + cols + 0.5) / scale * (coded_width / header.width)
        values = np.asarray(_render_pixels(base.params, grids, ys.astype(np.float32), xs.astype(np.float32),
                                           base.config))[:len(out) - start]
        out[start:start + chunk] = values.mean(axis=-1, keepdims=True) if header.channels == 1 else values
    return out.reshape(height, width, header.channels)


def _render_pyramid(header: Header, scale: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w, C) centred values of a `pyramid` file rendered at `scale` (any scale) over `box`."""
    geometry = pyramid.image_geometry(header.height, header.width, header.channels)
    ycbcr = np.zeros((box[2], box[3], 3), np.float32)
    ycbcr[..., :header.channels] = pyramid_file.render(header.payload, header.architecture, geometry, (scale, scale), box)
    return pyramid.to_rgb(ycbcr, header.channels)


def _output_box(header: Header, scale: float, crop) -> tuple[int, int, int, int]:
    """(top, left, height, width) in output pixels of `crop` = (left, top, width, height) in the
    encoded image's pixels (None: the whole image), at `scale`."""
    if not (isinstance(scale, numbers.Real) and 0 < scale <= MAX_SCALE):
        raise InrError(f"scale {scale!r} must be a number in (0, {MAX_SCALE:g}]")
    if crop is not None and not (len(np.shape(crop)) == 1 and len(crop) == 4
                                 and all(isinstance(v, numbers.Real) for v in crop)):
        raise InrError(f"crop {crop!r} must be four numbers: left, top, width, height")
    left, top, width, height = (0, 0, header.width, header.height) if crop is None else crop
    if not (0 <= left and 0 <= top and 0 < width and 0 < height and left + width <= header.width
            and top + height <= header.height):
        raise InrError(f"crop {tuple(crop)} (left, top, width, height) is not inside the "
                       f"{header.width}x{header.height} image")
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
    render = {"meta": _render_grids, "pyramid": _render_pyramid}.get(header.method, _render_tiled)
    values = render(header, scale, box)
    if not np.all(np.isfinite(values)):
        raise InrError("corrupt file: it renders to values that are not finite")
    values += 0.5  # in place: a decode holds one float32 copy of its output
    np.clip(values, 0.0, 1.0, out=values)
    values *= 255.0
    return np.round(values, out=values).astype(np.uint8)
