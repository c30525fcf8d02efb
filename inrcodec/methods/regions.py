"""The `regions` method for camera-size images: `pyramid` over square regions that decode alone.

An image is cut into regions (`Tiling`: squares of `side` pixels, row-major, those at the right and
bottom edges smaller; with a guard, overlapping by 2 * guard pixels), each a pyramid of its own
(`pyramid`: its own edges extended) under one global step, one context model and one post-filter.
So the encoder fits the shared numbers and searches the step on a sample of regions, then codes
every region on its own, `threads` side by side, converting its pixels when it comes and holding a
few regions' work at a time; and a crop reads and entropy-decodes only the regions it touches. Each
region is rendered and post-filtered on its own, so that a region's pixels depend on its record alone.

Body (after the image head):

    side / GRAIN | guard | global step | per grid channel (coding order) its context parameters
    | post-filter flag and weights | per region, row-major, its record's bytes | the records

A region's record: per grid channel its largest |integer| | its grids under the context model.
The per-byte limits are `pyramid`'s, over all regions' pyramids together.
"""

import math
import multiprocessing
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .. import bitstream, context, postfilter, pyramid, ratecontrol, tiles
from ..errors import InrError
from ..progress import progress
from . import Budget, Geometry
from . import pyramid as pyramid_method
from .pyramid import (
    MAX_FINENESS,
    MIN_FINENESS,
    SIZE_SLOPE,
    check_cost,
    grid_bounds,
    plane_steps,
    read_bound,
    read_filter,
    read_params,
    start_fineness,
    stored_step,
    write_filter,
    write_params,
)

GRAIN = 64  # a region's side is a multiple of the coarsest stride
MAX_SIDE = 4096  # largest region side a file may declare
WHOLE_FILL = 0.98  # a pass over the whole image ends the search at a file of at least this share of the cap
WHOLE_PASSES = 8  # most passes over the whole image (the sample's step and slope land the second mostly)


@dataclass(frozen=True)
class RegionsConfig:
    side: int = 512  # side in pixels of an inner region's coded square, a multiple of GRAIN
    guard: int = 1  # pixels of its neighbours each region codes on its inner sides (it owns side - 2 * guard)
    steps: int = 80  # Adam steps of each fit of the shared context parameters to the sample's code length
    rd_slope: float = 0.08  # lambda of the rate-distortion rounding, in squared steps per bit (0: plain rounding;
    # at 0.3 bpp 0.08 beat `pyramid`'s 0.12 by 0.06 dB, on mosaics of training photos and of Kodak)
    filter_min_pixels: int = 16384  # a sample of fewer pixels fits no post-filter
    sample_pixels: int = 1 << 21  # pixels of the regions the shared numbers and the step are fitted on
    search_iterations: int = 8  # most fits of the sample while searching the global step
    fill: float = 0.98  # the sample's search stops at a share of at least this of its part of the cap
    threads: int = 2  # regions coded (and decoded) side by side


DEFAULTS = {"image": RegionsConfig()}  # modality -> configuration


@dataclass(frozen=True)
class Layout:
    """What a `regions` body says about itself, up to and with its records."""
    side: int  # side in pixels of an inner region's coded square
    guard: int  # pixels of its neighbours a region codes on its inner sides
    step: float  # global quantization step, as stored
    params: np.ndarray  # (grid channels in coding order, context.N_PARAMS) int shared context parameters
    filter: np.ndarray  # (channels, post-filter taps) int shared post-filter weights (all 0: none)
    records: list  # per region, row-major: its bounds and payload (bytes)


@dataclass(frozen=True)
class Tiling:
    """Where the regions of an image lie. Region (i, j) owns the pixels [i * pitch, (i + 1) * pitch) x
    [j * pitch, (j + 1) * pitch), pitch = side - 2 * guard (the last along an axis: up to the image's
    edge), and codes those and `guard` more on each side that has a neighbour: its grids reach past its
    own pixels, so that the cubic interpolation of its outermost pixels uses cells fitted to real
    neighbouring pixels."""
    extent: tuple[int, int]  # (height, width) of the image in pixels
    side: int  # coded side of an inner region
    guard: int  # pixels coded past each inner side

    @property
    def pitch(self) -> int:
        return self.side - 2 * self.guard

    @property
    def counts(self) -> tuple[int, int]:
        """Regions per axis: the last one along an axis owns the rest of it, 1/2 to 3/2 pitch (no sliver)."""
        return tuple(max(1, round(size / self.pitch)) for size in self.extent)

    def coded(self) -> list[tuple[int, int, int, int]]:
        """(top, left, height, width) in pixels of the square each region codes, row-major."""
        spans = [[(max(0, i * self.pitch - self.guard),
                   size if i == count - 1 else (i + 1) * self.pitch + self.guard)
                  for i in range(count)] for size, count in zip(self.extent, self.counts)]
        return [(top, left, bottom - top, right - left) for top, bottom in spans[0] for left, right in spans[1]]

    def geometries(self, channels: int) -> list[pyramid.Geometry]:
        """The pyramid of every region's coded square."""
        return [pyramid.image_geometry(h, w, channels) for _, _, h, w in self.coded()]


def record(geometry: pyramid.Geometry, grids: list[np.ndarray], params: np.ndarray) -> bytes:
    """A region's record: its grid channels' bounds and its grids under the shared context model."""
    writer, bounds = bitstream.Writer(), grid_bounds(grids)
    for bound in bounds:
        writer.varint(bound)
    writer.raw(context.encode(grids, context.Fitted(params), bounds))
    return bytes(writer.buffer)


def write(tiling: Tiling, step: float, params: np.ndarray, weights: np.ndarray, records: list[bytes]) -> bytes:
    """A body of regions: their tiling, the shared numbers, the records' sizes and the records."""
    image = pyramid.image_geometry(1, 1, len(weights))  # what the stored fields depend on: a 2-D signal
    writer = bitstream.Writer()
    writer.varint(tiling.side // GRAIN)
    writer.varint(tiling.guard)
    writer.log_step(step)
    for plane_params in params:
        write_params(writer, image, plane_params)
    write_filter(writer, image, weights)
    for data in records:
        writer.varint(len(data))
    for data in records:
        writer.raw(data)
    return bytes(writer.buffer)


def check_tiling(side: int, guard: int) -> None:
    """Refuse a region side that is not a multiple of GRAIN in GRAIN..MAX_SIDE, or a guard over a quarter of it."""
    if side % GRAIN or not GRAIN <= side <= MAX_SIDE or not 0 <= guard <= side // 4:
        raise InrError(f"regions of side {side} and guard {guard}: the side must be a multiple of {GRAIN} in "
                       f"{GRAIN}..{MAX_SIDE}, the guard at most a quarter of it")


def read_layout(reader: bitstream.Reader, signal: Geometry, n_bytes: int) -> Layout:
    """The shared numbers and the regions' records of a body of a file of `n_bytes` bytes, validated."""
    side = reader.varint(MAX_SIDE // GRAIN, "region side") * GRAIN
    guard = reader.varint(MAX_SIDE, "region guard")
    check_tiling(side, guard)
    regions = Tiling(signal.extent, side, guard).geometries(signal.channels)
    check_cost(regions, n_bytes, tiles.describe(signal.extent))
    step = reader.log_step()
    params = np.array([read_params(reader, regions[0]) for _ in range(sum(regions[0].channels))])
    weights, _ = read_filter(reader, regions[0], signal.channels)
    sizes = [reader.varint(n_bytes, "region record size") for _ in regions]
    rest = reader.rest()
    if sum(sizes) != len(rest):
        raise InrError(f"corrupt file: its regions' records take {sum(sizes)} bytes, not the {len(rest)} left")
    starts = np.cumsum([0] + sizes)
    return Layout(side, guard, step, params, weights, [rest[a:b] for a, b in zip(starts[:-1], starts[1:])])


def sample(boxes: list, pixels: int) -> list[int]:
    """Indices of about `pixels` pixels' worth of regions spread evenly over the image (row-major)."""
    count = min(len(boxes), max(2, round(pixels / max(h * w for _, _, h, w in boxes))))
    return sorted(set(np.round(np.linspace(0, len(boxes) - 1, count)).astype(int).tolist()))


def encode(values: np.ndarray, signal: Geometry, budget: Budget, config: RegionsConfig, quiet: bool,
           stats: dict | None) -> bytes:
    """The largest body within the budget of (H, W, C) uint8 pixels (`values`: converted to centred
    YCbCr a region at a time, so that an encode holds no float copy of the image): the shared numbers
    and the step fitted on a sample of regions, then every region coded at that step, the step searched
    again over the whole image only if that file misses [WHOLE_FILL * cap, cap]."""
    from .pyramid_fit import fit_regions, rd_analyse  # the encoder's side imports JAX

    check_tiling(config.side, config.guard)
    tiling = Tiling(signal.extent, config.side, config.guard)
    what, boxes, regions = tiles.describe(signal.extent), tiling.coded(), tiling.geometries(signal.channels)
    check_cost(regions, budget.cap, what)
    planes, channels = sum(regions[0].channels), signal.channels
    largest = np.full((planes, context.N_PARAMS), round(context.MAX_PARAM * context.PARAM_RESOLUTION))
    taps = np.full((channels, len(postfilter.OFFSETS)), round(postfilter.MAX_WEIGHT * postfilter.RESOLUTION))
    empty = [record(g, [np.zeros(s, np.int32) for s in g.shapes()], largest) for g in regions]
    shared = len(budget.file(write(tiling, 1.0, largest, taps, empty)))  # at most, records' sizes included
    if shared > budget.cap:
        raise InrError(f"budget of {budget.cap} bytes is too small: the smallest regions file of {what} "
                       f"takes {shared} bytes")

    def field(index: int) -> np.ndarray:
        top, left, height, width = boxes[index]
        return pyramid.to_ycbcr(values[top:top + height, left:left + width])

    chosen = sample(boxes, config.sample_pixels)
    areas = [h * w for _, _, h, w in boxes]
    share = sum(areas[i] for i in chosen) / sum(areas)
    # the records' share of the cap (a record's size takes up to 3 bytes where an empty one's takes 1)
    sample_cap = math.floor((budget.cap - shared + sum(map(len, empty)) - 2 * len(boxes)) * share)
    fitted, sizes = {}, {}  # step -> (params, weights) of the sample's fit, and its records' bytes

    def sample_records(fineness: float) -> bytes:
        step = stored_step(fineness)
        nearest = min(fitted, key=lambda tried: abs(math.log(tried / step)), default=None)  # warm start
        grids, params, weights = fit_regions([field(i) for i in chosen], [regions[i] for i in chosen], step, config,
                                             None if nearest is None else fitted[nearest][0])
        fitted[step] = params, weights
        data = b"".join(record(regions[i], g, params) for i, g in zip(chosen, grids))
        sizes[step] = len(data)
        bar.update()
        bar.set_postfix(step=f"{step:.4f}", bytes=f"{len(data)}/{sample_cap}")
        return data

    with progress(config.search_iterations, f"regions: sample of {len(chosen)}", unit="fit", quiet=quiet) as bar:
        fineness, _ = ratecontrol.secant_fitting(sample_records, sample_cap, MIN_FINENESS, MAX_FINENESS,
                                                 start_fineness(sample_cap, sum(areas[i] for i in chosen)),
                                                 SIZE_SLOPE, config.search_iterations, config.fill)
    params, weights = fitted[stored_step(fineness)]
    passes = []

    def whole_file(fineness: float) -> bytes:
        step = stored_step(fineness)
        passes.append(step)

        def code(index: int) -> bytes:
            grids = rd_analyse(field(index), regions[index], step, context.Fitted(params), config.rd_slope)
            return record(regions[index], grids, params)

        with (progress(len(boxes), f"regions: pass {len(passes)}", unit="region", quiet=quiet) as bar,
              ThreadPoolExecutor(config.threads) as pool):
            records = []
            for data in pool.map(code, range(len(boxes))):
                records.append(data)
                bar.update()
            data = budget.file(write(tiling, step, params, weights, records))
            bar.set_postfix(step=f"{step:.4f}", bytes=f"{len(data)}/{budget.cap}")
        return data

    fineness, data = ratecontrol.secant_fitting(whole_file, budget.cap, MIN_FINENESS, MAX_FINENESS, fineness,
                                                measured_slope(sizes), WHOLE_PASSES, WHOLE_FILL)
    if stats is not None:
        stats.update(step=stored_step(fineness), files=len(fitted), passes=len(passes), regions=len(boxes),
                     sample=len(chosen))
    return budget.body(data)


def measured_slope(sizes: dict[float, int]) -> float:
    """The least-squares slope of log(bytes) against log(1 / step) over the tried steps ({step: bytes}),
    or SIZE_SLOPE where they do not tell (fewer than two, or a slope below 0.1)."""
    steps = [step for step in sizes if sizes[step]]
    if len(steps) < 2:
        return SIZE_SLOPE
    x, y = -np.log(steps), np.log([sizes[step] for step in steps])
    spread = np.sum((x - x.mean()) ** 2)
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / spread) if spread > 0 else 0.0
    return slope if slope > 0.1 else SIZE_SLOPE


def owners(first: int, stop: int, scale: float, pitch: int, count: int) -> list[tuple[int, int, int]]:
    """(region index along an axis, first, stop) of the output samples first..stop-1 at `scale`, grouped
    by the region of `count` along the axis that owns the pixels holding their centres (every `pitch`)."""
    centres = (np.arange(first, stop) + 0.5) / scale
    index = np.minimum(np.floor(centres / pitch).astype(np.int64), count - 1)
    cuts = np.flatnonzero(np.diff(index)) + 1
    bounds = np.concatenate([[0], cuts, [len(index)]])
    return [(int(index[a]), first + int(a), first + int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def covered(start: int, size: int, scale: float) -> tuple[int, int]:
    """(first, stop) of the output samples at `scale` whose centres lie in pixels start..start+size-1."""
    return math.ceil(start * scale - 0.5), math.ceil((start + size) * scale - 0.5)


def region_layout(layout: Layout, index: int, geometry: pyramid.Geometry) -> pyramid_method.Layout:
    """Region `index`'s pyramid (of `geometry`) as a `pyramid` body would state it, its bounds validated."""
    reader = bitstream.Reader(layout.records[index])
    bounds = tuple(read_bound(reader, level_step) for level_step in plane_steps(geometry, layout.step))
    return pyramid_method.Layout(layout.step, bounds, layout.params, layout.filter, reader.rest())


def render(layout: Layout, signal: Geometry, scales: tuple[float, float], box) -> np.ndarray:
    """(h, w, C) float32 centred YCbCr of a body rendered at (row, column) `scales` over box =
    ((top, left), (h, w)) in output pixels: each region it touches decoded, rendered and post-filtered
    on its own (its edges extended), `threads` of the default configuration side by side (`pool`);
    InrError if any value is not finite."""
    (top, left), (height, width) = box
    tiling = Tiling(signal.extent, layout.side, layout.guard)
    boxes, regions = tiling.coded(), tiling.geometries(signal.channels)
    spans = [owners(first, first + size, scale, tiling.pitch, count)
             for first, size, scale, count in zip((top, left), (height, width), scales, tiling.counts)]
    jobs = []
    for row, a, b in spans[0]:
        for column, c, d in spans[1]:
            index = row * tiling.counts[1] + column
            (first, stop), (start, end) = (covered(origin, size, scale) for origin, size, scale
                                           in zip(boxes[index][:2], boxes[index][2:], scales))
            jobs.append((region_layout(layout, index, regions[index]), regions[index], scales, (a, c, b - a, d - c),
                         (first, start, stop, end), boxes[index][:2]))
    out = np.empty((height, width, signal.channels), np.float32)
    with pool(len(jobs)) as workers:
        for (*_, (a, c, h, w), _, _), values in zip(jobs, workers.map(_draw, jobs)):
            out[a - top:a - top + h, c - left:c - left + w] = values
    return out


def _draw(job) -> np.ndarray:
    """One region's part of a render: `pyramid_method.render_field`'s arguments."""
    return pyramid_method.render_field(*job)


def pool(jobs: int):
    """Workers for `jobs` regions' renders: `threads` processes forked from this one where that is safe
    (Linux, not a daemonic process, no thread but this one, no JAX loaded, at least `threads` regions),
    else as many threads. Regions' entropy decoding holds Python's lock, so threads overlap little of
    it; a forked worker starts in milliseconds and shares this process's memory until it writes."""
    threads = DEFAULTS["image"].threads
    if (jobs >= threads > 1 and sys.platform.startswith("linux")  # macOS forks unsafely, Windows not at all
            and not multiprocessing.current_process().daemon  # a pool's worker may not start processes
            and threading.active_count() == 1 and "jax" not in sys.modules):
        return ProcessPoolExecutor(threads, mp_context=multiprocessing.get_context("fork"))
    return ThreadPoolExecutor(threads)
