"""The `network` method for images: `pyramid`'s integer latent grids, post-filter and rate search, with
the grids coded under the shipped context network (`context_net`) instead of numbers fitted and stored
per grid channel, and rounded for rate and distortion under it. Body (after the modality's head):

    global step | the context base's identity (context_net.IDENTITY_BYTES) | per grid channel (coarsest
    level first) its largest |integer| | post-filter flag and, if set, its weights | payload: the grids

Value bounds as `pyramid`'s, and its per-byte limits but VALUES_PER_BYTE: the network costs a decoder
about ten times `pyramid`'s time a cell, so a file may declare a quarter of the cells a byte (the lowest
cap is 1024 grid values a byte: 0.016 bpp for a colour image). A file of another base is refused.
"""

from dataclasses import dataclass

import numpy as np

from .. import bitstream, context, context_net, postfilter, pyramid, tiles
from ..errors import InrError
from . import Budget, Geometry
from . import pyramid as pyramid_method
from .pyramid import grid_bounds, grid_geometry, plane_steps, read_bound, read_filter, write_filter


VALUES_PER_BYTE = 1024  # most grid values per file byte (about 53 a byte at 0.3 bpp)


@dataclass(frozen=True)
class NetworkConfig:
    search_iterations: int = 10  # most files the rate control makes while searching the global step
    fill: float = 0.99  # the search stops at a file of at least this share of the cap
    # lambda of the rate-distortion rounding, in squared steps per bit (0: plain rounding); with one re-analysis
    # 0.07 beat 0.05, 0.09 and 0.12 on four training photos at 0.3 bpp (FINDINGS)
    rd_slope: float = 0.07
    filter_min_pixels: int = 16384  # smaller images (in pixels) go without the post-filter
    refine_passes: int = 1  # passes of re-analysis after the greedy one (`pyramid_fit.reanalyse`; 0 below effort 7)


DEFAULTS = {"image": NetworkConfig()}  # modality -> configuration


@dataclass(frozen=True)
class Layout:
    """What a `network` body says about itself, up to and with its payload."""
    step: float  # global quantization step G, as stored
    bounds: tuple  # per grid channel in coding order: largest |integer| (0: all zero, not coded)
    filter: np.ndarray  # (filtered channels, post-filter taps) int post-filter weights
    payload: bytes  # the grids under the context network

    def model(self) -> context_net.ContextBase:
        """The entropy model the payload is coded under: the shipped base."""
        return context_net.load()


def write(geometry: pyramid.Geometry, step: float, grids: list[np.ndarray], weights: np.ndarray,
          base: context_net.ContextBase) -> bytes:
    """A body: the global step, the base's identity, every grid channel's bound, the post-filter and
    the integers coded under the base."""
    writer = bitstream.Writer()
    writer.log_step(step)
    writer.raw(base.identity)
    bounds = grid_bounds(grids)
    for bound in bounds:
        writer.varint(bound)
    write_filter(writer, geometry, weights)
    writer.raw(context.encode(grids, base, bounds))
    return bytes(writer.buffer)


def read_layout(reader: bitstream.Reader, signal: Geometry, n_bytes: int) -> Layout:
    """The global step, the bounds and the post-filter, validated, and the payload of a body of a file
    of `n_bytes` bytes (`pyramid`'s per-byte limits); InrError for a file of another base."""
    geometry = grid_geometry(signal)
    pyramid_method.check_cost([geometry], n_bytes, tiles.describe(signal.extent), "network", VALUES_PER_BYTE)
    step = reader.log_step()
    if reader.raw(context_net.IDENTITY_BYTES) != context_net.load().identity:
        raise InrError("corrupt file, or one made with another context network than this version ships")
    bounds = tuple(read_bound(reader, level_step) for level_step in plane_steps(geometry, step))
    return Layout(step, bounds, read_filter(reader, geometry, signal.channels), reader.rest())


def encode(values: np.ndarray, signal: Geometry, budget: Budget, config: NetworkConfig, quiet: bool,
           stats: dict | None) -> bytes:
    """The largest body whose file is within the budget, of (H, W, C) float32 centred YCbCr values:
    rate control searches the global step."""
    from .pyramid_fit import fit_under  # the encoder's side imports JAX

    geometry, base = grid_geometry(signal), context_net.load()
    field = values.reshape(geometry.height, geometry.width, signal.channels)
    smallest = write(geometry, 1.0, [np.zeros(s, np.int32) for s in geometry.shapes()],
                     np.zeros((signal.channels, len(postfilter.OFFSETS)), np.int64), base)
    return pyramid_method.search_step(geometry, signal, budget, config, quiet, stats, "network", smallest,
                                      lambda step: write(geometry, step, *fit_under(field, geometry, step, config,
                                                                                     base), base), VALUES_PER_BYTE)


render = pyramid_method.render  # the grids rendered and post-filtered as `pyramid`'s
