"""Image encode/decode: fitting, quantization, rate control and the file layout of each method.

File body (inside the container of `bitstream`):

    modality | method | height | width | channels | method fields | entropy-coded payload

`coin` method fields: tile side, depth, width, then for each tensor (w then b of every layer) its
entropy model and quantization step. The payload is one ANS stream of all tensors' integers.
"""

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from . import bitstream, entropy, quantize, ratecontrol, siren, tiles
from .errors import InrError
from .fit import FitConfig, fit_tiles
from .signals import MAX_PIXELS, as_pixels, check_size

IMAGE = 0  # modality code of images
METHODS = {"coin": 0}  # method name -> code in the file
MAX_SCALE = 16.0  # largest --scale a decode may ask for
MIN_WIDTH = 6  # narrowest network the architecture search accepts
MAX_DEPTH = 32  # most sine layers a file may declare
MAX_WIDTH = 1024  # widest network a file may declare
MIN_RATIO, MAX_RATIO = 0.25, 4096.0  # search range of the rms/step ratio of every tensor


@dataclass(frozen=True)
class CoinConfig:
    tile: int = 256  # tile side in pixels: each tile is fitted by its own SIREN (doubled if the budget is small)
    depth: int = 5  # sine layers per SIREN (reduced if the budget is small)
    bits_per_value: float = 9.5  # planned coded bits per weight: sets the network's size from the budget
    max_width: int = 96  # widest SIREN considered, bounding compute at large budgets
    fit: FitConfig = field(default_factory=FitConfig)  # optimisation settings


@dataclass(frozen=True)
class Architecture:
    tile: int  # tile side in pixels
    depth: int  # sine layers per SIREN
    width: int  # units per sine layer


def choose_architecture(budget: int, height: int, width: int, channels: int, config: CoinConfig) -> Architecture:
    """The widest SIREN per tile whose weights fit the budget at `config.bits_per_value` bits each.

    Tries the configured tile and depth first, then shallower networks, then larger tiles.
    """
    tile = config.tile
    while True:
        n_tiles = math.prod(tiles.grid(height, width, tile))
        for depth in range(config.depth, 0, -1):
            header = bitstream.OVERHEAD + 16 + 6 * 2 * (depth + 1)
            per_tile = (budget - header) * 8 / config.bits_per_value / n_tiles
            fitting = [w for w in range(MIN_WIDTH, config.max_width + 1)
                       if siren.count_params(2, w, depth, channels) <= per_tile]
            if fitting:
                return Architecture(tile, depth, fitting[-1])
        if tile >= max(height, width):
            raise InrError(f"a budget of {budget} bytes is too small for a {width}x{height} image")
        tile *= 2


def _tensor_list(params) -> list[np.ndarray]:
    """Flatten a tiled SIREN into [w0, b0, w1, b1, ...] float64 arrays."""
    return [np.asarray(layer[name], np.float64) for layer in params for name in ("w", "b")]


def _write_coin(shape, arch: Architecture, tensors: list[np.ndarray], ratio: float) -> bytes:
    """The whole file for these tensors quantized at rms/step = ratio."""
    writer = bitstream.Writer()
    for value in (IMAGE, METHODS["coin"], *shape, arch.tile, arch.depth, arch.width):
        writer.varint(value)
    symbols, models = [], []
    for tensor in tensors:
        step = writer.log_step(float(np.sqrt(np.mean(tensor**2)) + 1e-20) / ratio)
        q = quantize.to_integers(tensor, step)
        models.append(entropy.choose_model(q))
        entropy.write_model(writer, models[-1])
        symbols.append(q)
    writer.raw(entropy.encode(symbols, models))
    return bitstream.pack(bytes(writer.buffer))


def encode(image, bpp: float, method: str = "coin", config: CoinConfig | None = None, quiet: bool = True) -> bytes:
    """Compress an image (path, PIL image or (H, W[, C]) uint8 array) into at most floor(bpp*H*W/8) bytes."""
    if method not in METHODS:
        raise InrError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if not (isinstance(bpp, (int, float)) and math.isfinite(bpp) and bpp > 0):
        raise InrError(f"bpp must be a positive number, got {bpp!r}")
    config = config or CoinConfig()
    pixels = as_pixels(image)
    height, width, channels = pixels.shape
    budget = math.floor(bpp * height * width / 8)
    arch = choose_architecture(budget, height, width, channels, config)
    values, valid = tiles.split(pixels.astype(np.float32) / 255.0, arch.tile)
    key = jax.random.PRNGKey(config.fit.seed)
    params = siren.init_tiled(key, values.shape[0], 2, arch.width, arch.depth, channels)
    params = fit_tiles(params, values, valid, arch.tile, config.bits_per_value, config.fit, quiet=quiet)
    tensors = _tensor_list(params)
    _, data = ratecontrol.largest_fitting(
        lambda ratio: _write_coin(pixels.shape, arch, tensors, ratio), budget, MIN_RATIO, MAX_RATIO)
    return data


@dataclass(frozen=True)
class Header:
    """What a file says about itself before its payload."""
    method: str  # method name
    height: int  # image height in pixels
    width: int  # image width in pixels
    channels: int  # 1 (grayscale) or 3 (RGB)
    architecture: Architecture  # SIREN shape and tiling
    models: list  # entropy model of each tensor
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
    models, steps = [], []
    for _ in range(2 * (depth + 1)):
        steps.append(reader.log_step())
        models.append(entropy.read_model(reader))
    return Header(names[method_code], height, width, channels, Architecture(tile, depth, net_width),
                  models, steps, reader.rest())


def _params_from_header(header: Header) -> list[dict]:
    """Entropy-decode and dequantize the tiled SIREN a header describes."""
    arch = header.architecture
    n_tiles = math.prod(tiles.grid(header.height, header.width, arch.tile))
    shapes = []
    for fan_in, fan_out in siren.layer_sizes(2, arch.width, arch.depth, header.channels):
        shapes += [(n_tiles, fan_in, fan_out), (n_tiles, fan_out)]
    flat = entropy.decode(header.payload, header.models, [math.prod(s) for s in shapes])
    arrays = [quantize.from_integers(q, step).reshape(s) for q, step, s in zip(flat, header.steps, shapes)]
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
