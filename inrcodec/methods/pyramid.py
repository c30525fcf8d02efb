"""The `pyramid` method for images and audio: integer latent grids at strides 1..64 (`pyramid`) under
a context model (`context`), a post-filter, the rate search that lands a file under its cap, and rendering.

An image's values are centred YCbCr (colour: luma alone at full resolution), a clip's one row of
samples per channel (levels subsample time only). Body (after the modality's head):

    global step
    | per grid channel (coarsest level first) its largest |integer| and, if that is not 0, its
    context parameters (`stored_params`) | post-filter flag and, if set, its weights (`stored_taps`)
    | payload: the grids under the context model

A file of n bytes may declare at most VALUES_PER_BYTE * n grid values and MAX_MACS_PER_BYTE * n
multiply-adds of rendering at scale 1 (`bitstream.MAX_MACS_PER_BYTE`), so that decoding time and
memory grow with the file; every dequantized value is at most `bitstream.MAX_ABS_VALUE` in magnitude.
"""

import math
from dataclasses import dataclass

import numpy as np

from .. import bitstream, context, entropy, postfilter, pyramid, ratecontrol, tiles
from ..bitstream import MAX_ABS_VALUE, MAX_MACS_PER_BYTE
from ..errors import InrError
from ..progress import progress
from . import Budget, Geometry

MIN_FINENESS, MAX_FINENESS = 1 / 64, 4096.0  # search range of 1 / the global step
START_FINENESS = 6.0  # where that search starts at 0.3 bits per sample (Kodak's images need 3..10)
SIZE_SLOPE = 2.0  # a file's size grows about as fineness ** 2 near 0.3 bits per sample
VALUES_PER_BYTE = 4096  # most grid values per file byte (mostly zeros: about 36 a byte at 0.3 bpp)


@dataclass(frozen=True)
class PyramidConfig:
    steps: int = 80  # Adam steps of each fit of the context model's parameters to the grids' code length
    search_iterations: int = 10  # most files the rate control makes while searching the global step
    fill: float = 0.99  # the search stops at a file of at least this share of the cap
    rd_slope: float = 0.12  # lambda of the rate-distortion rounding, in squared steps per bit (0: plain rounding)
    filter_min_pixels: int = 16384  # smaller signals (in samples) go without the post-filter (its bytes would not pay)


DEFAULTS = {"image": PyramidConfig(), "audio": PyramidConfig()}  # modality -> configuration


@dataclass(frozen=True)
class Layout:
    """What a `pyramid` body says about itself, up to and with its payload."""
    step: float  # global quantization step G (see `pyramid.Geometry.steps`), as stored
    bounds: tuple  # per grid channel in coding order: largest |integer| (0: all zero, not coded)
    params: np.ndarray  # (channels in coding order, context.N_PARAMS) int context-model parameters
    filter: np.ndarray  # (filtered channels, post-filter taps) int post-filter weights
    payload: bytes  # the grids under the context model

    def model(self) -> context.Fitted:
        """The entropy model the payload is coded under."""
        return context.Fitted(self.params)


def grid_geometry(geometry: Geometry) -> pyramid.Geometry:
    """The pyramid of a signal: an image's (colour: luma alone at full resolution), or a clip's (one
    row, every level carrying every channel)."""
    if geometry.modality == "audio":
        return pyramid.Geometry(1, geometry.extent[0], (geometry.channels,) * len(pyramid.STRIDES), dims=1)
    return pyramid.image_geometry(*geometry.extent, geometry.channels)


def stored_params(geometry: pyramid.Geometry) -> list[int]:
    """Indices of the context parameters a file stores per coded grid channel: all of them, but for
    a signal of one row (audio) none of phase 1's, which has no cells there."""
    phase_1 = range(len(context.STORED[0]), len(context.STORED[0]) + len(context.STORED[1]))
    return [i for i in range(context.N_PARAMS) if geometry.dims == 2 or i not in phase_1]


def stored_taps(geometry: pyramid.Geometry) -> list[int]:
    """Indices of the post-filter taps a file stores: all, but for a signal of one row only those along it."""
    return [k for k, (dy, _) in enumerate(postfilter.OFFSETS) if geometry.dims == 2 or dy == 0]


def write(geometry: pyramid.Geometry, step: float, grids: list[np.ndarray], params: np.ndarray,
          weights: np.ndarray) -> bytes:
    """A body: the global step, per grid channel its bound and context parameters
    (none when the bound is 0), whether a post-filter follows and its weights, then the
    context-coded integers."""
    writer = bitstream.Writer()
    writer.log_step(step)
    bounds = grid_bounds(grids)
    for bound, plane_params in zip(bounds, params):
        writer.varint(bound)
        if bound:
            write_params(writer, geometry, plane_params)
    write_filter(writer, geometry, weights)
    writer.raw(context.encode(grids, context.Fitted(params), bounds))
    return bytes(writer.buffer)


def grid_bounds(grids: list[np.ndarray]) -> list[int]:
    """Largest |integer| of every grid channel, in coding order."""
    return [int(np.abs(plane).max(initial=0)) for plane, _ in context.channel_planes(grids)]


def write_params(writer: bitstream.Writer, geometry: pyramid.Geometry, plane_params: np.ndarray) -> None:
    """A grid channel's stored context parameters ((N_PARAMS,) ints)."""
    for index in stored_params(geometry):
        writer.signed(int(plane_params[index]))


def write_filter(writer: bitstream.Writer, geometry: pyramid.Geometry, weights: np.ndarray, flags: int = 0) -> None:
    """Whether a post-filter follows, with a method's own `flags` above that bit (`network`'s), and its
    stored weights ((C, taps) ints, all 0: none)."""
    writer.varint(int(weights.any()) | flags << 1)  # bit 0 clear: no post-filter
    for channel_weights in weights if weights.any() else ():
        for index in stored_taps(geometry):
            writer.signed(int(channel_weights[index]))


def read_layout(reader: bitstream.Reader, signal: Geometry, n_bytes: int) -> Layout:
    """The global step and, per grid channel, its bound and context parameters, validated, and the
    payload; a body of a file of `n_bytes` bytes (its per-byte limits)."""
    geometry = grid_geometry(signal)
    check_cost([geometry], n_bytes, tiles.describe(signal.extent))
    step = reader.log_step()
    bounds, params = [], []
    for level_step in plane_steps(geometry, step):  # in coding order, coarsest level first
        bounds.append(read_bound(reader, level_step))
        params.append(read_params(reader, geometry) if bounds[-1] else np.zeros(context.N_PARAMS, np.int64))
    weights, _ = read_filter(reader, geometry, signal.channels)
    return Layout(step, tuple(bounds), np.array(params, np.int64).reshape(-1, context.N_PARAMS), weights, reader.rest())


def plane_steps(geometry: pyramid.Geometry, step: float) -> list[float]:
    """The quantization step of every grid channel, in coding order, at the global step `step`."""
    return [s for shape, s in zip(geometry.shapes(), geometry.steps(step)) for _ in range(shape[-1])][::-1]


def read_bound(reader: bitstream.Reader, level_step: float) -> int:
    """A grid channel's largest |integer|, refused where its values would exceed MAX_ABS_VALUE."""
    bound = reader.varint(entropy.MAX_BOUND, "symbol range")
    if bound * level_step > MAX_ABS_VALUE:
        raise InrError(f"corrupt file: values up to {bound * level_step:.3g} exceed {MAX_ABS_VALUE:g}")
    return bound


def read_params(reader: bitstream.Reader, geometry: pyramid.Geometry) -> np.ndarray:
    """A grid channel's (N_PARAMS,) int context parameters, those not stored 0."""
    limit = round(context.MAX_PARAM * context.PARAM_RESOLUTION)
    params = np.zeros(context.N_PARAMS, np.int64)
    for index in stored_params(geometry):
        params[index] = reader.signed(limit, "context parameter")
    return params


def read_filter(reader: bitstream.Reader, geometry: pyramid.Geometry, channels: int,
                flag_bits: int = 0) -> tuple[np.ndarray, int]:
    """(channels, taps) int post-filter weights as stored (all 0: no post-filter) and the method's own
    flags (`write_filter`), of at most `flag_bits` bits."""
    limit = round(postfilter.MAX_WEIGHT * postfilter.RESOLUTION)
    weights = np.zeros((channels, len(postfilter.OFFSETS)), np.int64)
    flags = reader.varint((2 << flag_bits) - 1, "post-filter flags")
    if flags & 1:
        for channel_weights in weights:
            for index in stored_taps(geometry):
                channel_weights[index] = reader.signed(limit, "filter weight")
    return weights, flags >> 1


def check_cost(geometries: list[pyramid.Geometry], n_bytes: int, what: str, name: str = "pyramid",
               values_per_byte: int = VALUES_PER_BYTE) -> None:
    """Refuse a method `name`'s file of `n_bytes` for `what` (a signal's description) whose grid values
    or rendering work, over the pyramids of all its regions (one: the whole signal), exceed the per-byte
    limits (`values_per_byte`, MAX_MACS_PER_BYTE)."""
    values = sum(math.prod(s) for geometry in geometries for s in geometry.shapes())
    macs = sum(geometry.height * geometry.width for geometry in geometries) * pyramid.MACS_PER_PIXEL
    if values > values_per_byte * n_bytes or macs > MAX_MACS_PER_BYTE * n_bytes:
        raise InrError(f"{n_bytes} bytes are too few for a {name} file of {what}: {values} values and "
                       f"{macs:.3g} multiply-adds to render (at most {values_per_byte} values and "
                       f"{MAX_MACS_PER_BYTE:.3g} multiply-adds per byte)")


def stored_step(fineness: float) -> float:
    """1 / fineness on the file's log grid of steps, so that the encoder uses the step it stores."""
    return 2.0 ** (round(bitstream.LOG_STEP_RESOLUTION * math.log2(1.0 / fineness)) / bitstream.LOG_STEP_RESOLUTION)


def start_fineness(cap: int, samples: int) -> float:
    """Where the search of 1 / the global step starts for a file of `cap` bytes over `samples` samples."""
    return START_FINENESS * math.sqrt(cap * 8 / samples / 0.3)


def encode(values: np.ndarray, signal: Geometry, budget: Budget, config: PyramidConfig, quiet: bool,
           stats: dict | None) -> bytes:
    """The largest body whose file is within the budget, of (*extent, C) float32 values (an image's
    centred YCbCr, a clip's samples): rate control searches the global step."""
    from .pyramid_fit import fit_pyramid  # the encoder's side imports JAX

    geometry = grid_geometry(signal)
    field = values.reshape(geometry.height, geometry.width, signal.channels)
    shapes = geometry.shapes()
    smallest = write(geometry, 1.0, [np.zeros(s, np.int32) for s in shapes],
                     np.zeros((sum(s[-1] for s in shapes), context.N_PARAMS)),
                     np.zeros((signal.channels, len(postfilter.OFFSETS)), np.int64))
    return search_step(geometry, signal, budget, config, quiet, stats, "pyramid", smallest,
                       lambda step: write(geometry, step, *fit_pyramid(field, geometry, step, config)))


def search_step(geometry: pyramid.Geometry, signal: Geometry, budget: Budget, config, quiet: bool,
                stats: dict | None, name: str, smallest: bytes, body_at,
                values_per_byte: int = VALUES_PER_BYTE) -> bytes:
    """The largest body `body_at(step)` (a method `name`'s body of the signal's grids at the global
    step, stored) whose file is within the budget, rate control searching the step; `smallest`: the
    body of all-zero grids, InrError if even it is over the cap or the cap allows fewer than
    `values_per_byte` values a byte (`check_cost`)."""
    what, least = tiles.describe(signal.extent), len(budget.file(smallest))
    if least > budget.cap:
        raise InrError(f"budget of {budget.cap} bytes is too small: the smallest {name} file of {what} "
                       f"takes {least} bytes")
    check_cost([geometry], budget.cap, what, name, values_per_byte)

    tried = {}  # stored step -> its file: the search may ask for a stored step again (steps are 2**(1/256) apart)

    def make_file(fineness: float) -> bytes:
        step = stored_step(fineness)
        if step not in tried:
            tried[step] = budget.file(body_at(step))
        bar.update()
        bar.set_postfix(step=f"{step:.4f}", bytes=f"{len(tried[step])}/{budget.cap}")
        return tried[step]

    start = start_fineness(budget.cap, geometry.height * geometry.width)
    with progress(config.search_iterations, name, unit="file", quiet=quiet) as bar:
        fineness, data = ratecontrol.secant_fitting(make_file, budget.cap, MIN_FINENESS, MAX_FINENESS, start,
                                                    SIZE_SLOPE, config.search_iterations, config.fill)
    if stats is not None:
        stats.update(step=stored_step(fineness), files=len(tried))
    return budget.body(data)


def render(layout: Layout, signal: Geometry, scales: tuple[float, ...], box, synthesis=None) -> np.ndarray:
    """(*sizes, C) float32 values of a body rendered at `scales` (output samples per input sample, per
    axis) over box = (starts, sizes) in output samples per axis, post-filtered (and corrected by a
    `synthesis`, see `render_field`); InrError if any is not finite."""
    geometry, (starts, sizes) = grid_geometry(signal), box
    if geometry.dims == 1:  # a clip: one row
        field = render_field(layout, geometry, (1.0, *scales), (0, *starts, 1, *sizes))
        return field[0]
    return render_field(layout, geometry, scales, (*starts, *sizes), synthesis=synthesis)


def render_field(layout: Layout, geometry: pyramid.Geometry, scales: tuple[float, float],
                 box: tuple[int, int, int, int], owned: tuple[int, int, int, int] | None = None,
                 origin: tuple[int, int] = (0, 0), synthesis=None) -> np.ndarray:
    """(h, w, filtered channels) float32 field rendered at (row, column) `scales` over `box` =
    (top, left, h, w) in output samples, post-filtered within the output samples the grids own,
    `owned` = (top, left, bottom, right) (None: all of the signal's), the grids' first cells starting
    at sample `origin` of the signal (a region's corner, `methods.regions`). A `synthesis`
    (`synthesis_net.Synthesis`) renders it instead, corrected, where the post-filter runs."""
    levels = context.decode(layout.payload, geometry.shapes(), layout.model(), list(layout.bounds))
    top, left, height, width = box
    if owned is None:
        owned = (0, 0, round(geometry.height * scales[0]), round(geometry.width * scales[1]))
    spacing = tuple(round(scale) for scale in scales)
    synthesis = synthesis if 0 not in spacing else None
    reach = postfilter.RADIUS + (synthesis.reach if synthesis is not None else 0)
    margins = [reach * s for s in spacing]  # the filter's and the synthesis' reach, inside the output
    first = (max(owned[0], top - margins[0]), max(owned[1], left - margins[1]))
    last = (min(owned[2], top + height + margins[0]), min(owned[3], left + width + margins[1]))
    region = (*first, last[0] - first[0], last[1] - first[1])
    if synthesis is None:
        field = pyramid.render(levels, geometry, layout.step, scales, region, origin)
        filtered = postfilter.apply(field[..., :len(layout.filter)], layout.filter, scales)
    else:
        filtered = synthesis.render(list(levels), geometry, scales, region, origin, layout.filter)
    values = filtered[top - first[0]:top - first[0] + height, left - first[1]:left - first[1] + width]
    if not np.all(np.isfinite(values)):
        raise InrError("corrupt file: it renders to values that are not finite")
    return values
