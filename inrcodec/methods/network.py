"""The `network` method for images: `pyramid`'s integer latent grids, post-filter and rate search, with
the grids coded under the shipped context network (`context_net`) instead of numbers fitted and stored
per grid channel, rounded for rate and distortion under it and re-analysed by least squares level by level
(`pyramid_fit.reanalyse`). Body (after the modality's head):

    global step | the context base's identity (context_net.IDENTITY_BYTES) | per grid channel (coarsest
    level first) its largest |integer| | post-filter flags (bit 0: a post-filter, bit 1: a synthesis)
    and, if set, the filter's weights | if a synthesis: the synthesis base's identity
    (synthesis_net.IDENTITY_BYTES) and its gains, channel-major (signed varints; varints for the first
    base's three) | payload: the grids

A colour image's file may ask for a shipped synthesis network (`synthesis_net`) to correct what its
grids render, each YCbCr channel's corrections combined by gains the encoder fits by least squares (it
goes without where that would not pay for its bytes). Files without it decode as before it existed.

Value bounds as `pyramid`'s, and its per-byte limits but VALUES_PER_BYTE: the network costs a decoder
about ten times `pyramid`'s time a cell, so a file may declare a quarter of the cells a byte (the lowest
cap is 1024 grid values a byte: 0.016 bpp for a colour image). That limit also bounds the synthesis' work:
at most about 500 pixels a byte, each some 2,300 multiply-adds, within `bitstream.MAX_MACS_PER_BYTE`. A file
names its context base (`context_net.SHIPPED`) and its synthesis base; one of a base this version does not
ship is refused.
"""

import math
from dataclasses import dataclass

import numpy as np

from .. import bitstream, context, context_net, postfilter, pyramid, synthesis_net, tiles
from ..errors import InrError
from . import Budget, Geometry
from . import pyramid as pyramid_method
from .pyramid import grid_bounds, grid_geometry, plane_steps, read_bound, read_filter, write_filter


VALUES_PER_BYTE = 1024  # most grid values per file byte (about 53 a byte at 0.3 bpp)
# PSNR gained by a share of a file's rate (dB per unit of d ln rate) near 0.3 bpp: 6 dB an octave, which
# the synthesis' gain must beat for its bytes
DB_PER_RATE_SHARE = 6 / math.log(2)
SYNTHESIS_STEPS = (1 / pyramid_method.MAX_FINENESS, 1 / pyramid_method.MIN_FINENESS)  # global steps a file may have


@dataclass(frozen=True)
class NetworkConfig:
    search_iterations: int = 10  # most files the rate control makes while searching the global step
    fill: float = 0.99  # the search stops at a file of at least this share of the cap
    # lambda of the rate-distortion rounding, in squared steps per bit (0: plain rounding); with one re-analysis
    # 0.07 beat 0.05, 0.09 and 0.12 on four training photos at 0.3 bpp (FINDINGS)
    rd_slope: float = 0.07
    filter_min_pixels: int = 16384  # smaller images (in pixels) go without the post-filter
    # passes of re-analysis after the greedy one (`pyramid_fit.reanalyse`), scaled by the effort; 4 read
    # +0.26 dB over 1 pass of area averages on four training photos at 0.3 bpp, 8 +0.28 (FINDINGS)
    refine_passes: int = 4
    projection_share: float = 0.75  # share of the least squares in a re-analysed level (the rest: area average)
    # the shipped synthesis network a colour image's file may ask for (`synthesis_net.SHIPPED`; "": none), where
    # it pays (`fit_synthesis`)
    synthesis: str = synthesis_net.SHIPPED[0]
    context: str = context_net.SHIPPED[0]  # the shipped context network the grids are rounded and coded under


DEFAULTS = {"image": NetworkConfig()}  # modality -> configuration


@dataclass(frozen=True)
class Layout:
    """What a `network` body says about itself, up to and with its payload."""
    step: float  # global quantization step G, as stored
    context: context_net.ContextBase  # the shipped context network the file names
    bounds: tuple  # per grid channel in coding order: largest |integer| (0: all zero, not coded)
    filter: np.ndarray  # (filtered channels, post-filter taps) int post-filter weights
    synthesis: synthesis_net.Synthesis | None  # the synthesis network's correction the file asks for, or None
    payload: bytes  # the grids under the context network

    def model(self) -> context_net.ContextBase:
        """The entropy model the payload is coded under: the shipped base the file names."""
        return self.context


def write_synthesis(writer: bitstream.Writer, synthesis: synthesis_net.Synthesis) -> None:
    """The synthesis base's identity and its gains (channel-major; unsigned for a base of one head)."""
    writer.raw(synthesis.base.identity)
    for gain in synthesis.gains.ravel():
        (writer.signed if synthesis.base.signed else writer.varint)(int(gain))


def write(geometry: pyramid.Geometry, step: float, grids: list[np.ndarray], weights: np.ndarray,
          synthesis: synthesis_net.Synthesis | None, base: context_net.ContextBase) -> bytes:
    """A body: the global step, the base's identity, every grid channel's bound, the post-filter, the
    synthesis (if any: `write_synthesis`) and the integers coded under the base."""
    writer = bitstream.Writer()
    writer.log_step(step)
    writer.raw(base.identity)
    bounds = grid_bounds(grids)
    for bound in bounds:
        writer.varint(bound)
    write_filter(writer, geometry, weights, int(synthesis is not None))
    if synthesis is not None:
        write_synthesis(writer, synthesis)
    writer.raw(context.encode(grids, base, bounds))
    return bytes(writer.buffer)


def read_layout(reader: bitstream.Reader, signal: Geometry, n_bytes: int) -> Layout:
    """The global step, the bounds, the post-filter and the synthesis, validated, and the payload of a body
    of a file of `n_bytes` bytes (`pyramid`'s per-byte limits); InrError for a file of a base not shipped."""
    geometry = grid_geometry(signal)
    pyramid_method.check_cost([geometry], n_bytes, tiles.describe(signal.extent), "network", VALUES_PER_BYTE)
    step = reader.log_step()
    base = context_net.named(reader.raw(context_net.IDENTITY_BYTES))
    bounds = tuple(read_bound(reader, level_step) for level_step in plane_steps(geometry, step))
    weights, flags = read_filter(reader, geometry, signal.channels, flag_bits=1)
    synthesis = None
    if flags:
        if signal.channels != 3:
            raise InrError("corrupt file: the synthesis network corrects colour images only")
        if not SYNTHESIS_STEPS[0] <= step <= SYNTHESIS_STEPS[1]:  # its inputs are in steps: finite in float32
            raise InrError(f"corrupt file: global step {step:.3g} is outside the encoder's range")
        network = synthesis_net.named(reader.raw(synthesis_net.IDENTITY_BYTES))
        gain = reader.signed if network.signed else reader.varint
        gains = [gain(synthesis_net.MAX_GAIN, "synthesis gain") for _ in range(3 * network.heads)]
        if any(gains):  # all 0 read as none, as before heads
            synthesis = synthesis_net.Synthesis(network, np.array(gains, np.int64).reshape(3, network.heads), step)
    return Layout(step, base, bounds, weights, synthesis, reader.rest())


def fit_synthesis(field: np.ndarray, geometry: pyramid.Geometry, step: float, grids: list[np.ndarray],
                  weights: np.ndarray, cap: int, name: str = synthesis_net.SHIPPED[0]
                  ) -> synthesis_net.Synthesis | None:
    """The correction by the shipped synthesis base `name` of a (H, W, 3) field's grids at `step`, post-filtered
    by `weights`, its gains the least squares of the RGB error (`synthesis_net.gain_equations`), rounded; None
    for a grayscale image or where the gain in PSNR would not pay for its bytes in a `cap`-byte file."""
    if field.shape[-1] != 3:
        return None
    base, sums = synthesis_net.load(name), {}

    def take(top: int, rows: np.ndarray, corrections: np.ndarray) -> None:  # bands run side by side: sums apart
        error = (field[top:top + len(rows)] - rows).reshape(-1, 3).astype(np.float64) / step
        sums[top] = (*synthesis_net.gain_equations(corrections.reshape(-1, 3, base.heads), error),
                     np.einsum("nc,cd,nd->", error, synthesis_net.RGB_METRIC, error))

    synthesis_net.Synthesis(base, np.ones((3, base.heads)), step).bands(
        list(enumerate(grids)), geometry, (1.0, 1.0), (0, 0, geometry.height, geometry.width), (0, 0), weights, take)
    gram, right, before = (sum(parts) for parts in zip(*sums.values()))
    ridge = (1e-9 * np.trace(gram) + 1e-12) * np.eye(len(gram))  # a flat image's corrections may all be 0
    gains = np.linalg.solve(gram + ridge, right) * synthesis_net.GAIN_RESOLUTION
    gains = np.clip(np.round(gains), -synthesis_net.MAX_GAIN if base.signed else 0, synthesis_net.MAX_GAIN)
    g = gains / synthesis_net.GAIN_RESOLUTION  # the error left is before - 2 g.b + g A g
    after = before - 2 * g @ right + g @ gram @ g
    synthesis = synthesis_net.Synthesis(base, gains.astype(np.int64).reshape(3, base.heads), step)
    writer = bitstream.Writer()
    write_synthesis(writer, synthesis)
    gained_db = 10 * math.log10(before / max(after, 1e-30 * before)) if before > 0 else 0.0
    return synthesis if gained_db > DB_PER_RATE_SHARE * len(writer.buffer) / cap else None


def encode(values: np.ndarray, signal: Geometry, budget: Budget, config: NetworkConfig, quiet: bool,
           stats: dict | None) -> bytes:
    """The largest body whose file is within the budget, of (H, W, C) float32 centred YCbCr values:
    rate control searches the global step."""
    from .pyramid_fit import fit_under  # the encoder's side imports JAX

    geometry, base = grid_geometry(signal), context_net.load(config.context)
    field = values.reshape(geometry.height, geometry.width, signal.channels)
    smallest = write(geometry, 1.0, [np.zeros(s, np.int32) for s in geometry.shapes()],
                     np.zeros((signal.channels, len(postfilter.OFFSETS)), np.int64), None, base)

    def make_file(step: float) -> bytes:
        grids, weights = fit_under(field, geometry, step, config, base)
        synthesis = (fit_synthesis(field, geometry, step, grids, weights, budget.cap, config.synthesis)
                     if config.synthesis else None)
        return write(geometry, step, grids, weights, synthesis, base)

    return pyramid_method.search_step(geometry, signal, budget, config, quiet, stats, "network", smallest,
                                      make_file, VALUES_PER_BYTE)


def render(layout: Layout, signal: Geometry, scales: tuple[float, ...], box) -> np.ndarray:
    """The grids rendered and post-filtered as `pyramid`'s, then corrected by the synthesis the file
    asks for."""
    return pyramid_method.render(layout, signal, scales, box, layout.synthesis)
