"""The `network` method for images: `pyramid`'s integer latent grids, post-filter and rate search, with
the grids coded under the shipped context network (`context_net`) instead of numbers fitted and stored
per grid channel, rounded for rate and distortion under it and re-analysed by least squares level by level
(`pyramid_fit.reanalyse`). Body (after the modality's head):

    global step | the context base's identity (context_net.IDENTITY_BYTES) | per grid channel (coarsest
    level first) its largest |integer| | post-filter flags (bit 0: a post-filter, bit 1: a synthesis)
    and, if set, the filter's weights | if a synthesis: the synthesis base's identity
    (synthesis_net.IDENTITY_BYTES) and three gains | payload: the grids

A colour image's file may ask for the shipped synthesis network (`synthesis_net`) to correct what its
grids render, each YCbCr channel's correction scaled by a gain the encoder fits by least squares (it
goes without where that would not pay for its bytes). Files without it decode as before it existed.

Value bounds as `pyramid`'s, and its per-byte limits but VALUES_PER_BYTE: the network costs a decoder
about ten times `pyramid`'s time a cell, so a file may declare a quarter of the cells a byte (the lowest
cap is 1024 grid values a byte: 0.016 bpp for a colour image). That limit also bounds the synthesis' work:
at most about 500 pixels a byte, each some 2,300 multiply-adds, within `bitstream.MAX_MACS_PER_BYTE`. A file
of another base is refused.
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
SYNTHESIS_BYTES = synthesis_net.IDENTITY_BYTES + 3  # what asking for the synthesis costs a file, at most
# PSNR gained by a share of a file's rate (dB per unit of d ln rate) near 0.3 bpp: 6 dB an octave, which
# the synthesis' gain must beat for SYNTHESIS_BYTES
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
    synthesis: bool = True  # let a colour image's file ask for the shipped synthesis network (`fit_gains`)


DEFAULTS = {"image": NetworkConfig()}  # modality -> configuration


@dataclass(frozen=True)
class Layout:
    """What a `network` body says about itself, up to and with its payload."""
    step: float  # global quantization step G, as stored
    bounds: tuple  # per grid channel in coding order: largest |integer| (0: all zero, not coded)
    filter: np.ndarray  # (filtered channels, post-filter taps) int post-filter weights
    gains: np.ndarray  # (3,) int gains of the synthesis' correction (`synthesis_net`; all 0: none)
    payload: bytes  # the grids under the context network

    def model(self) -> context_net.ContextBase:
        """The entropy model the payload is coded under: the shipped base."""
        return context_net.load()

    def synthesis(self) -> synthesis_net.Synthesis | None:
        """The synthesis the file asks for, or None."""
        return synthesis_net.Synthesis(synthesis_net.load(), self.gains, self.step) if self.gains.any() else None


def write(geometry: pyramid.Geometry, step: float, grids: list[np.ndarray], weights: np.ndarray,
          gains: np.ndarray, base: context_net.ContextBase) -> bytes:
    """A body: the global step, the base's identity, every grid channel's bound, the post-filter, the
    synthesis' gains (all 0: none) and the integers coded under the base."""
    writer = bitstream.Writer()
    writer.log_step(step)
    writer.raw(base.identity)
    bounds = grid_bounds(grids)
    for bound in bounds:
        writer.varint(bound)
    write_filter(writer, geometry, weights, int(gains.any()))
    if gains.any():
        writer.raw(synthesis_net.load().identity)
        for gain in gains:
            writer.varint(int(gain))
    writer.raw(context.encode(grids, base, bounds))
    return bytes(writer.buffer)


def read_layout(reader: bitstream.Reader, signal: Geometry, n_bytes: int) -> Layout:
    """The global step, the bounds, the post-filter and the synthesis' gains, validated, and the payload
    of a body of a file of `n_bytes` bytes (`pyramid`'s per-byte limits); InrError for a file of
    another base."""
    geometry = grid_geometry(signal)
    pyramid_method.check_cost([geometry], n_bytes, tiles.describe(signal.extent), "network", VALUES_PER_BYTE)
    step = reader.log_step()
    if reader.raw(context_net.IDENTITY_BYTES) != context_net.load().identity:
        raise InrError("corrupt file, or one made with another context network than this version ships")
    bounds = tuple(read_bound(reader, level_step) for level_step in plane_steps(geometry, step))
    weights, synthesis = read_filter(reader, geometry, signal.channels, flag_bits=1)
    gains = np.zeros(3, np.int64)
    if synthesis:
        if signal.channels != 3:
            raise InrError("corrupt file: the synthesis network corrects colour images only")
        if not SYNTHESIS_STEPS[0] <= step <= SYNTHESIS_STEPS[1]:  # its inputs are in steps: finite in float32
            raise InrError(f"corrupt file: global step {step:.3g} is outside the encoder's range")
        if reader.raw(synthesis_net.IDENTITY_BYTES) != synthesis_net.load().identity:
            raise InrError("corrupt file, or one made with another synthesis network than this version ships")
        gains[:] = [reader.varint(synthesis_net.MAX_GAIN, "synthesis gain") for _ in range(3)]
    return Layout(step, bounds, weights, gains, reader.rest())


def fit_gains(field: np.ndarray, geometry: pyramid.Geometry, step: float, grids: list[np.ndarray],
              weights: np.ndarray, cap: int) -> np.ndarray:
    """(3,) int gains of the synthesis' correction of a (H, W, 3) field's grids at `step`, post-filtered
    by `weights`: the least squares of the RGB error, rounded; all 0 (none) for a grayscale image or
    where the gain in PSNR would not pay for SYNTHESIS_BYTES of a `cap`-byte file."""
    none = np.zeros(3, np.int64)
    if field.shape[-1] != 3:
        return none
    output, correction = np.empty(field.shape, np.float32), np.empty(field.shape)

    def take(top: int, rows: np.ndarray, corrections: np.ndarray) -> None:
        output[top:top + len(rows)], correction[top:top + len(rows)] = rows, corrections

    synthesis_net.Synthesis(synthesis_net.load(), np.ones(3), step).bands(
        list(enumerate(grids)), geometry, (1.0, 1.0), (0, 0, geometry.height, geometry.width), (0, 0), weights, take)
    correction, error = correction.reshape(-1, 3) * step, (field - output).reshape(-1, 3).astype(np.float64)
    metric = pyramid.YCBCR_TO_RGB.T @ pyramid.YCBCR_TO_RGB  # squared RGB error of a YCbCr error e: e M e
    # minimise sum (e - g c)^T M (e - g c) over the diagonal gains g: A g = b
    gains = np.linalg.solve(metric * (correction.T @ correction) + 1e-12 * np.eye(3),
                            np.einsum("nc,cd,nd->c", correction, metric, error))
    gains = np.clip(np.round(gains * synthesis_net.GAIN_RESOLUTION), 0, synthesis_net.MAX_GAIN)
    left = error - correction * gains / synthesis_net.GAIN_RESOLUTION
    before, after = (np.einsum("nc,cd,nd->", e, metric, e) for e in (error, left))
    gained_db = 10 * math.log10(before / max(after, 1e-30)) if before > 0 else 0.0
    return gains.astype(np.int64) if gained_db > DB_PER_RATE_SHARE * SYNTHESIS_BYTES / cap else none


def encode(values: np.ndarray, signal: Geometry, budget: Budget, config: NetworkConfig, quiet: bool,
           stats: dict | None) -> bytes:
    """The largest body whose file is within the budget, of (H, W, C) float32 centred YCbCr values:
    rate control searches the global step."""
    from .pyramid_fit import fit_under  # the encoder's side imports JAX

    geometry, base = grid_geometry(signal), context_net.load()
    field = values.reshape(geometry.height, geometry.width, signal.channels)
    smallest = write(geometry, 1.0, [np.zeros(s, np.int32) for s in geometry.shapes()],
                     np.zeros((signal.channels, len(postfilter.OFFSETS)), np.int64), np.zeros(3, np.int64), base)

    def make_file(step: float) -> bytes:
        grids, weights = fit_under(field, geometry, step, config, base)
        gains = (fit_gains(field, geometry, step, grids, weights, budget.cap) if config.synthesis
                 else np.zeros(3, np.int64))
        return write(geometry, step, grids, weights, gains, base)

    return pyramid_method.search_step(geometry, signal, budget, config, quiet, stats, "network", smallest,
                                      make_file, VALUES_PER_BYTE)


def render(layout: Layout, signal: Geometry, scales: tuple[float, ...], box) -> np.ndarray:
    """The grids rendered and post-filtered as `pyramid`'s, then corrected by the synthesis the file
    asks for."""
    return pyramid_method.render(layout, signal, scales, box, layout.synthesis())
