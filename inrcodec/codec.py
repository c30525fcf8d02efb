"""Image encode/decode: method dispatch, the file layout, rate control and rendering.

File body (inside the container of `bitstream`):

    modality | method | height | width | channels | tile side | depth | width
    | per tensor (w then b of every layer): [count of kept weights, for masked w] step, entropy model
    | payload: one ANS stream; per tensor [its 0/1 mask, for masked w] then its (kept) integers

Both methods store a tiled SIREN: `coin` every weight, `sparse` a mask on each weight matrix and
the surviving weights only. Rate control bisects one global rms/step ratio for the largest file
under the cap.
"""

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import bitstream, coin, entropy, quantize, ratecontrol, siren, sparse, tiles
from .coin import Architecture, CoinConfig
from .errors import InrError
from .signals import MAX_PIXELS, as_pixels, check_size
from .sparse import SparseConfig

IMAGE = 0  # modality code of images
METHODS = {"coin": 0, "sparse": 1}  # method name -> code in the file
MASKED = {"sparse"}  # methods whose weight matrices carry masks
MAX_SCALE = 16.0  # largest --scale a decode may ask for
MAX_DEPTH = 32  # most sine layers a file may declare
MAX_WIDTH = 1024  # widest network a file may declare
MIN_RATIO, MAX_RATIO = 0.25, 4096.0  # search range of the rms/step ratio of every tensor


def default_config(method: str):
    """The default configuration object of a method."""
    return SparseConfig() if method == "sparse" else CoinConfig()


def _write_file(shape, method: str, arch: Architecture, tensors: list[np.ndarray], masks: list, ratio: float) -> bytes:
    """The whole file for these tensors ([w0, b0, w1, ...]; masks aligned, None where unmasked) at rms/step = ratio."""
    writer = bitstream.Writer()
    for value in (IMAGE, METHODS[method], *shape, arch.tile, arch.depth, arch.width):
        writer.varint(value)
    symbols, models = [], []
    for tensor, mask in zip(tensors, masks):
        kept = tensor.ravel() if mask is None else tensor[mask]
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


def encode(image, bpp: float, method: str = "coin", config=None, quiet: bool = True, stats: dict | None = None) -> bytes:
    """Compress an image (path, PIL image or (H, W[, C]) uint8 array) into at most floor(bpp*H*W/8) bytes.

    `config` is the method's configuration (CoinConfig or SparseConfig); None for its defaults.
    `stats`, if given, is filled with what the fit did: architecture, and for `sparse` the density
    target and the expected density reached.
    """
    if method not in METHODS:
        raise InrError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if not (isinstance(bpp, (int, float)) and math.isfinite(bpp) and bpp > 0):
        raise InrError(f"bpp must be a positive number, got {bpp!r}")
    pixels = as_pixels(image)
    height, width, _ = pixels.shape
    budget = math.floor(bpp * height * width / 8)
    fit_image = sparse.fit_image if method == "sparse" else coin.fit_image
    arch, params, weight_masks, method_stats = fit_image(pixels, budget, config or default_config(method), quiet)
    if stats is not None:
        stats.update(tile=arch.tile, depth=arch.depth, width=arch.width, **method_stats)
    tensors, masks = [], []
    for index, layer in enumerate(params):
        tensors += [np.asarray(layer["w"], np.float64), np.asarray(layer["b"], np.float64)]
        masks += [None if weight_masks is None else np.asarray(weight_masks[index], bool), None]
    _, data = ratecontrol.largest_fitting(
        lambda ratio: _write_file(pixels.shape, method, arch, tensors, masks, ratio), budget, MIN_RATIO, MAX_RATIO)
    return data


@dataclass(frozen=True)
class Header:
    """What a file says about itself before its payload."""
    method: str  # method name
    height: int  # image height in pixels
    width: int  # image width in pixels
    channels: int  # 1 (grayscale) or 3 (RGB)
    architecture: Architecture  # SIREN shape and tiling
    counts: list  # per tensor: number of kept weights if masked, else None
    models: list  # entropy model of each tensor's values
    steps: list  # quantization step of each tensor
    payload: bytes  # the ANS stream


def read_header(data: bytes) -> Header:
    """Parse and validate a file up to its payload; raises InrError on anything inconsistent."""
    reader = bitstream.unpack(bytes(data))
    if reader.varint(255, "modality") != IMAGE:
        raise InrError("this file holds a modality this version cannot decode")
    method_code = reader.varint(255, "method")
    names = {code: name for name, code in METHODS.items()}
    if method_code not in names:
        raise InrError(f"this file uses method code {method_code}, unknown to this version")
    height = reader.varint(MAX_PIXELS, "height")
    width = reader.varint(MAX_PIXELS, "width")
    channels = reader.varint(3, "channels")
    check_size(height, width)
    if channels not in (1, 3):
        raise InrError(f"corrupt file: {channels} channels")
    tile = reader.varint(1 << 16, "tile side")
    depth = reader.varint(MAX_DEPTH, "depth")
    net_width = reader.varint(MAX_WIDTH, "width")
    if tile < 1 or depth < 1 or net_width < 1:
        raise InrError("corrupt file: empty network")
    n_tiles = math.prod(tiles.grid(height, width, tile))
    if n_tiles * siren.count_params(2, net_width, depth, channels) > 16 * MAX_PIXELS:
        raise InrError("corrupt file: the network it declares is implausibly large")
    sizes = [n_tiles * math.prod(s) for s in tensor_shapes(Architecture(tile, depth, net_width), channels)]
    counts, models, steps = [], [], []
    for index, size in enumerate(sizes):
        masked = names[method_code] in MASKED and index % 2 == 0
        counts.append(reader.varint(size, "kept weights") if masked else None)
        steps.append(reader.log_step())
        models.append(entropy.read_model(reader))
    return Header(names[method_code], height, width, channels, Architecture(tile, depth, net_width),
                  counts, models, steps, reader.rest())


def payload_models(header: Header) -> tuple[list, list[int]]:
    """The entropy models and symbol counts of the payload's arrays, in coding order."""
    arch = header.architecture
    n_tiles = math.prod(tiles.grid(header.height, header.width, arch.tile))
    models, sizes = [], []
    for shape, count, model in zip(tensor_shapes(arch, header.channels), header.counts, header.models):
        size = n_tiles * math.prod(shape)
        if count is not None:
            models.append(entropy.MaskModel(count, size))
            sizes.append(size)
        models.append(model)
        sizes.append(size if count is None else count)
    return models, sizes


def tensor_shapes(arch: Architecture, channels: int) -> list[tuple[int, ...]]:
    """Per-tile shapes of a SIREN's tensors, in file order: [w0, b0, w1, b1, ...]."""
    return [s for fan_in, fan_out in siren.layer_sizes(2, arch.width, arch.depth, channels)
            for s in ((fan_in, fan_out), (fan_out,))]


def _params_from_header(header: Header) -> list[dict]:
    """Entropy-decode and dequantize the tiled SIREN a header describes."""
    n_tiles = math.prod(tiles.grid(header.height, header.width, header.architecture.tile))
    shapes = [(n_tiles, *s) for s in tensor_shapes(header.architecture, header.channels)]
    models, sizes = payload_models(header)
    flat = iter(entropy.decode(header.payload, models, sizes))
    arrays = []
    for shape, count, step in zip(shapes, header.counts, header.steps):
        if count is None:
            arrays.append(quantize.from_integers(next(flat), step).reshape(shape))
        else:
            mask = next(flat).astype(bool)
            if int(mask.sum()) != count:
                raise InrError("corrupt file: a mask does not match its declared count")
            full = np.zeros(mask.size, np.float32)
            full[mask] = quantize.from_integers(next(flat), step)
            arrays.append(full.reshape(shape))
    return [{"w": jnp.asarray(w), "b": jnp.asarray(b)} for w, b in zip(arrays[0::2], arrays[1::2])]


@jax.jit
def _render_group(params, coords):
    """Evaluate a group of tiles at shared coords (N, 2): (tiles, N, C) values in [0, 1]."""
    return jnp.clip(jax.vmap(siren.siren_apply, in_axes=(0, None))(params, coords) + 0.5, 0.0, 1.0)


def decode(data: bytes, scale: float = 1.0) -> np.ndarray:
    """Decompress a file into (H*scale, W*scale, C) uint8 pixels (scale renders the INR at another resolution)."""
    header = read_header(data)
    arch = header.architecture
    side = arch.tile * scale
    if not (0 < scale <= MAX_SCALE) or abs(side - round(side)) > 1e-9:
        raise InrError(f"scale {scale} must be in (0, {MAX_SCALE:g}] with scale x {arch.tile} a whole number")
    side = int(round(side))
    height, width = round(header.height * scale), round(header.width * scale)
    if height < 1 or width < 1 or height * width > MAX_PIXELS:
        raise InrError(f"a {width}x{height} output is outside 1..{MAX_PIXELS} pixels")
    params = _params_from_header(header)
    rows, cols = tiles.grid(header.height, header.width, arch.tile)
    coords = jnp.asarray(tiles.pixel_centres(side))
    group = max(1, (1 << 20) // (side * side))
    renders = [np.asarray(_render_group(jax.tree.map(lambda x: x[i:i + group], params), coords))
               for i in range(0, rows * cols, group)]
    values = tiles.merge(np.concatenate(renders), rows, cols, height, width)
    return np.round(values * 255.0).astype(np.uint8)
