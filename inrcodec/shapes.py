"""3-D shapes: a mesh coded as its signed distance function (SDF), decoded to a mesh or queried at points.

The SDF (negative inside, `sdf`) is sampled on a lattice over the mesh's bounding box (`sdf.Lattice`):
- `pyramid` (the default) stores it as integers clipped CLAMP_CELLS samples from the surface,
  coded coarse to fine (`sdf_grid`); the encoder searches the lattice's resolution and the
  quantization step for the least surface error under the cap.
- `coin` and `sparse` fit a SIREN (one tile over the whole lattice of NETWORK_LATTICE samples
  along the longest side) to the squashed SDF 0.5 * tanh(sdf / band), band = NETWORK_BAND_CELLS
  samples: the loss weighs the surface's neighbourhood, the far field saturates. `meta` fits
  latent grids on the shipped base BASE (meta-learned on such lattices of meshes_train) to it.
A decoded SDF is continuous: rendered on a lattice of any resolution, meshed there by marching
cubes (scikit-image), and brought back to the input's coordinates by the stored centre and spacing.

File body (inside the container of `bitstream`):

    modality (2) | method | lattice samples along x, y, z | lattice centre (3 x float32) | spacing (float32)
    | pyramid: step | bound | sdf_grid.N_PARAMS parameters (signed varints) | payload
    | coin, sparse, meta: the body of `networks`

Limits a file of n bytes must keep: at most MAX_LATTICE samples along an axis and
MAX_SAMPLES_PER_BYTE * n lattice samples in all; finite, positive spacing. The cap is on the whole file.
"""

import math
import numbers
import os
import struct
from dataclasses import dataclass

import numpy as np

from . import bitstream, networks, sdf, sdf_grid
from .bitstream import SHAPE
from .coin import CoinConfig
from .effort import DEFAULT_EFFORT, apply_effort
from .errors import InrError
from .fit import FitConfig
from .latents import LatentConfig
from .methods import DEFAULT_METHOD, METHOD_NAMES, METHODS
from .ratecontrol import largest_integer_fitting
from .sdf import DEFAULT_RESOLUTION
from .sparse import SparseConfig

MAX_LATTICE = 512  # most lattice samples a file may declare along an axis
MAX_SAMPLES_PER_BYTE = 2048  # most lattice samples a file may declare per byte of itself
MIN_BYTES, MAX_BYTES = 64, 1 << 26  # range of byte caps
MAX_RESOLUTION = 512  # finest decoding lattice (512^3 float32 values: 512 MiB)
CLAMP_CELLS = 1.25  # `pyramid`: SDF clipped this many lattice samples from the surface; 1.25 and 1 were the most accurate clips tried (experiments/FINDINGS.md, Shapes: clipping)
# `pyramid`: samples farther than NEAR_CELLS lattice samples from the surface keep their prediction
# when it is within TOLERANCE_CELLS of their value (`sdf_grid.quantize`), saving their residuals' bits;
# the pair of least surface error tried (experiments/FINDINGS.md, Shapes: far samples)
NEAR_CELLS, TOLERANCE_CELLS = 1.0, 0.3
PATIENCE = 2  # `pyramid`: the search stops after this many lattice sizes scoring worse than the best
LOW_BOUND = 4  # `pyramid`: ... or after one, once the bound is this coarse (finer lattices only get coarser)
# `pyramid`: the search starts at the lattice size nearest FIRST_RESOLUTION * (cap / 1 KB)^(1/3), below the
# dragon's best sizes so that simpler shapes start coarse enough (experiments/FINDINGS.md, Shapes: lattice search)
FIRST_RESOLUTION = 20
# `pyramid`: the integers of each lattice size span [-bound, bound] over CLAMP_CELLS samples (step =
# CLAMP_CELLS * spacing / bound; a step between two bounds' only shrinks the clip: a file costs more at
# bound b + 1 but less as the step falls towards the next); the largest bound that fits is searched from
# FIRST_BOUND, later sizes from the last size's bound times the sizes' ratio^-2.5
FIRST_BOUND = 8
MAX_BOUND = 64  # `pyramid`: the finest step searched: CLAMP_CELLS * spacing / 64
RESOLUTIONS = (16, 20, 25, 32, 40, 50, 64, 80, 101, 128)  # `pyramid`: lattice sizes (longest side) searched
COARSEST_USEFUL = 2  # `pyramid`: the search stops at the first lattice size whose bound falls below this
PROBES = 20_000  # `pyramid`: points on each surface scoring a candidate lattice (`_surface_error`)
SCORE_RESOLUTION = 128  # `pyramid`: lattice size (longest side) a candidate is meshed on to be scored
NETWORK_LATTICE = 48  # `coin`, `sparse`: lattice samples along the longest side
NETWORK_RENDER = 2.0  # `coin`, `sparse`, `meta`: networks are rendered at up to this many samples a lattice sample, finer by cubic interpolation
NETWORK_BAND_CELLS = 4  # `coin`, `sparse`: width of the squashing, in lattice samples
_NETWORK_FIT = FitConfig(steps=1200, batch=8192, learning_rate=1e-3)  # `coin`, `sparse`: the fit; its one recorded measurement is in experiments/FINDINGS.md, Shapes: network fits
BASE = "shape"  # the shipped base network of the `meta` method for shapes
CONFIGS = {
    "meta": LatentConfig(fit=FitConfig(steps=300, batch=16384, learning_rate=0.1)),
    "coin": CoinConfig(tile=NETWORK_LATTICE, depth=3, fit=_NETWORK_FIT),
    "sparse": SparseConfig(dense=CoinConfig(tile=NETWORK_LATTICE, depth=3, fit=_NETWORK_FIT), gated_steps=200),
}


@dataclass(frozen=True)
class Header:
    """What a shape file says about itself."""
    method: str  # coding method
    lattice: sdf.Lattice  # where the coded lattice lies in the input's coordinates
    body: object  # pyramid: (step, bound, params, payload); coin, sparse: a `networks.Header`


def budget(n_bytes) -> int:
    """The byte cap, checked."""
    if not (isinstance(n_bytes, numbers.Integral) and MIN_BYTES <= n_bytes <= MAX_BYTES):
        raise InrError(f"--bytes must be a whole number in {MIN_BYTES}..{MAX_BYTES}, got {n_bytes!r}")
    return int(n_bytes)


def default_config(method: str, effort: int = DEFAULT_EFFORT):
    """The default configuration of a network method for shapes (None for `pyramid`), its steps scaled for `effort`."""
    if method == "pyramid":
        return None
    if method not in CONFIGS:
        raise InrError(f"method {method!r} does not code shapes; choose from pyramid, {', '.join(CONFIGS)}")
    return apply_effort(CONFIGS[method], effort)


def _head(method: str, lattice: sdf.Lattice) -> bytes:
    return (bitstream.varints(SHAPE, METHODS[method], *lattice.extent)
            + struct.pack("<4f", *lattice.centre, lattice.spacing))


def _pyramid_file(head: bytes, grid: np.ndarray, spacing: float, bound: int) -> bytes:
    """The file of a lattice SDF as integers in [-bound, bound] spanning CLAMP_CELLS samples."""
    writer = bitstream.Writer()
    writer.raw(head)
    step = writer.log_step(CLAMP_CELLS * spacing / bound)
    q = sdf_grid.quantize(grid, step, bound, NEAR_CELLS * spacing, TOLERANCE_CELLS * spacing)
    params = sdf_grid.fit_params(sdf_grid.residuals(q, bound), bound)
    writer.varint(bound)
    for a in params:
        writer.signed(int(a))
    writer.raw(sdf_grid.encode(q, bound, params))
    return bitstream.pack(bytes(writer.buffer))


def _encode_pyramid(vertices, faces, cap: int, quiet: bool, stats: dict | None) -> bytes:
    """The `pyramid` file of least surface error under the cap: lattice sizes from one guessed from
    the cap upward until PATIENCE sizes score worse than the best, each at the finest step that fits."""
    from .progress import progress

    probes = _surface_points(vertices, faces, PROBES)
    best, misses = None, 0  # (error, file, stats), lattice sizes tried since the best
    first = min(range(len(RESOLUTIONS)), key=lambda i: abs(RESOLUTIONS[i] - FIRST_RESOLUTION * (cap / 1024) ** (1 / 3)))
    guess = FIRST_BOUND  # where the search of the next lattice size's bound starts
    tried = []  # (lattice size, bound, error) of every size tried
    with progress(len(RESOLUTIONS) - first, "lattice", unit="size", quiet=quiet, leave=False) as bar:
        for index in range(first, len(RESOLUTIONS)):
            lattice = sdf.lattice_for(vertices, faces, RESOLUTIONS[index])
            if math.prod(lattice.extent) > MAX_SAMPLES_PER_BYTE * cap:
                break
            grid = sdf.lattice_sdf(vertices, faces, lattice, CLAMP_CELLS * lattice.spacing)
            head = _head("pyramid", lattice)
            try:
                bound, data = largest_integer_fitting(lambda b: _pyramid_file(head, grid, lattice.spacing, b), cap, guess, MAX_BOUND)
            except InrError:
                break
            guess = round(bound * (RESOLUTIONS[index] / RESOLUTIONS[min(index + 1, len(RESOLUTIONS) - 1)]) ** 2.5)
            step, q = _pyramid_parts(data, lattice)
            error = _surface_error(vertices, faces, probes, q, step, lattice)
            tried.append((RESOLUTIONS[index], bound, error))
            if best is None or error < best[0]:
                best, misses = (error, data, dict(lattice=list(lattice.extent), bound=bound)), 0
            else:
                misses += 1
            bar.update()
            if bound < COARSEST_USEFUL or misses >= PATIENCE or misses and bound <= LOW_BOUND:
                break
    if best is None:
        raise InrError(f"a cap of {cap} bytes is too small for this shape (the coarsest lattice does not fit)")
    if stats is not None:
        stats.update(best[2], probe_error=best[0], tried=tried)
    return best[1]


def _pyramid_parts(data: bytes, lattice: sdf.Lattice) -> tuple[float, np.ndarray]:
    """(step, integers) of a `pyramid` shape file on `lattice`, as the decoder reads them."""
    step, bound, params, payload = read_header(data).body
    return step, sdf_grid.decode(payload, lattice.extent, bound, params)


def _surface_error(vertices, faces, probes, q, step: float, lattice: sdf.Lattice) -> float:
    """The encoder's score of a candidate grid: the mean of |decoded SDF| at points on the input's
    surface (completeness) and the distance from points on the decoded surface, meshed at
    SCORE_RESOLUTION, to the input (accuracy)."""
    import igl

    completeness = float(np.mean(np.abs(sdf_grid.evaluate(q, step, lattice.indices(probes)))))
    decoded, triangles = grid_mesh(q, step, lattice, SCORE_RESOLUTION)
    if not len(triangles):
        return math.inf
    points = _surface_points(decoded, triangles, len(probes))
    accuracy = float(np.mean(np.sqrt(igl.point_mesh_squared_distance(points, vertices, faces)[0])))
    return (completeness + accuracy) / 2


def _surface_points(vertices, faces, count: int, seed: int = 0) -> np.ndarray:
    """(count, 3) points on the surface, area-weighted, from a fixed seed."""
    corners = vertices[faces]
    area = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(faces), count, p=area / area.sum())
    u, v = rng.random((2, count))
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    c = corners[chosen]
    return c[:, 0] + u[:, None] * (c[:, 1] - c[:, 0]) + v[:, None] * (c[:, 2] - c[:, 0])


def encode_mesh(vertices, faces, n_bytes: int, method: str | None = None, config=None, quiet: bool = True,
                stats: dict | None = None, effort: int = DEFAULT_EFFORT) -> bytes:
    """Compress a mesh ((V, 3) vertices, (F, 3) faces) into at most `n_bytes` bytes by `method`
    (None: `pyramid`); `config` for a network method as `default_config` gives it."""
    method = method or DEFAULT_METHOD
    vertices, faces = sdf.check_mesh(vertices, faces)
    cap = budget(n_bytes)
    if method == "pyramid":
        data = _encode_pyramid(vertices, faces, cap, quiet, stats)
    else:
        config = config or default_config(method, effort)
        values, lattice = network_values(vertices, faces)
        if method == "meta":
            data = networks.encode_latents(values[None], _head(method, lattice), cap, BASE, config, quiet, stats)[0]
        else:
            data = networks.encode_tiled(values, _head(method, lattice), cap, method, config, quiet, stats)
    read_header(data)  # no file is made that the decoder's checks refuse
    return data


def network_values(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, sdf.Lattice]:
    """((nx, ny, nz, 1) float32 squashed SDF 0.5 tanh(sdf / band), its lattice) of a mesh, as the
    network methods fit it: NETWORK_LATTICE samples along the longest side."""
    lattice = sdf.lattice_for(vertices, faces, NETWORK_LATTICE)
    band = NETWORK_BAND_CELLS * lattice.spacing
    grid = sdf.lattice_sdf(vertices, faces, lattice, 8 * band)
    return (0.5 * np.tanh(grid / band)).astype(np.float32)[..., None], lattice


def encode_file(path: str | os.PathLike, n_bytes: int, **options) -> bytes:
    """`encode_mesh` of an OBJ, PLY, STL, OFF or GLB file."""
    return encode_mesh(*sdf.read_mesh(path), n_bytes, **options)


def read_header(data: bytes) -> Header:
    """Parse and validate a shape file up to its payload."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InrError(f"expected the bytes of an .inr file, got {type(data).__name__}")
    return parse_header(bitstream.unpack(bytes(data)), len(data))


def parse_header(reader: bitstream.Reader, n_bytes: int) -> Header:
    """`read_header` on the body of an unpacked file of `n_bytes` bytes."""
    if reader.varint(255, "modality") != SHAPE:
        raise InrError("this file does not hold a shape")
    method = METHOD_NAMES.get(reader.varint(255, "method"))
    if method not in ("pyramid", *CONFIGS):
        raise InrError("this shape file uses a method this version cannot decode")
    extent = tuple(reader.varint(MAX_LATTICE, "lattice size") for _ in range(3))
    if min(extent) < 2:
        raise InrError(f"corrupt file: a lattice of {extent} samples")
    if math.prod(extent) > MAX_SAMPLES_PER_BYTE * n_bytes:
        raise InrError(f"{n_bytes} bytes are too few for a lattice of {math.prod(extent)} samples "
                       f"(at most {MAX_SAMPLES_PER_BYTE} a byte)")
    *centre, spacing = struct.unpack("<4f", reader.raw(16))
    if not (all(math.isfinite(c) and abs(c) < 1e30 for c in centre) and 1e-30 < spacing < 1e30):
        raise InrError("corrupt file: the lattice's centre or spacing is not a usable number")
    lattice = sdf.Lattice(tuple(centre), spacing, extent)
    if method != "pyramid":
        return Header(method, lattice, networks.read_body(reader, n_bytes, method, extent, 1, BASE))
    step = reader.log_step()
    bound = reader.varint(1 << 16, "SDF bound")
    if bound < 1 or bound * step > 1e30:
        raise InrError(f"corrupt file: SDF bound {bound} at step {step:.3g}")
    limit = int(sdf_grid.MAX_PARAM * sdf_grid.PARAM_RESOLUTION)
    params = np.array([reader.signed(limit, "model parameter") for _ in range(sdf_grid.N_PARAMS)], np.int64)
    return Header(method, lattice, (step, bound, params, reader.rest()))


def _checked_resolution(resolution) -> int:
    if not (isinstance(resolution, numbers.Integral) and 2 <= resolution <= MAX_RESOLUTION):
        raise InrError(f"resolution must be a whole number in 2..{MAX_RESOLUTION}, got {resolution!r}")
    return int(resolution)


def field_extent(lattice: sdf.Lattice, resolution: int) -> tuple[int, int, int]:
    """Samples per axis of the lattice a shape is rendered on at `resolution` (its longest side)."""
    return tuple(max(2, round(n * resolution / max(lattice.extent))) for n in lattice.extent)


def rendering(source: sdf.Lattice, resolution: int) -> tuple[sdf.Lattice, list[np.ndarray]]:
    """(the lattice of `resolution` samples along the longest side centred as `source`, and per axis
    its samples' indices on `source`): where a shape is rendered, so that a sample's position and the
    point its value is computed at agree on every axis."""
    scale = resolution / max(source.extent)
    target = sdf.Lattice(source.centre, source.spacing / scale, field_extent(source, resolution))
    return target, [(np.arange(n) - (n - 1) / 2) / scale + (m - 1) / 2 for n, m in zip(target.extent, source.extent)]


def field_mesh(field: np.ndarray, lattice: sdf.Lattice) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3) float64, faces (F, 3) int64) of the zero level of a field on `lattice` by
    marching cubes, faces wound outward; empty where the field does not cross zero."""
    from skimage.measure import marching_cubes

    if field.min() >= 0 or field.max() <= 0:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    vertices, faces, _, _ = marching_cubes(field, 0.0)
    return lattice.positions(vertices.astype(np.float64)), faces.astype(np.int64)


def grid_mesh(q: np.ndarray, step: float, lattice: sdf.Lattice, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The mesh of integers q on `lattice` at `step`, interpolated to `resolution` samples along the longest side."""
    target, positions = rendering(lattice, resolution)
    return field_mesh(sdf_grid.render(q, step, positions), target)


def decode_field(data: bytes, resolution: int = DEFAULT_RESOLUTION) -> tuple[np.ndarray, sdf.Lattice]:
    """(field (nx, ny, nz) float32, the lattice it lies on) of a shape file rendered with `resolution`
    samples along the lattice's longest side: the SDF (`pyramid`) or its squashed value (networks);
    either way negative inside, zero on the surface."""
    header = read_header(data)
    resolution = _checked_resolution(resolution)
    source = header.lattice
    scale = resolution / max(source.extent)
    target, positions = rendering(source, resolution)
    if header.method == "pyramid":
        step, bound, params, payload = header.body
        field = sdf_grid.render(sdf_grid.decode(payload, source.extent, bound, params), step, positions)
    else:  # the network on a lattice of at most NETWORK_RENDER samples a lattice sample, read by cubics
        coarse = min(scale, NETWORK_RENDER)
        sizes = field_extent(source, max(2, round(coarse * max(source.extent))))
        rendered = networks.render(header.body, (coarse,) * 3, ((0, 0, 0), sizes))[..., 0]
        field = sdf_grid.render(rendered, 1.0, [(p + 0.5) * coarse - 0.5 for p in positions])
    if not np.all(np.isfinite(field)):
        raise InrError("corrupt file: it renders to values that are not finite")
    return field, target


def decode_mesh(data: bytes, resolution: int = DEFAULT_RESOLUTION) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3) float64, faces (F, 3) int64) of a shape file: marching cubes of its SDF on a
    lattice of `resolution` samples along the longest side, in the input mesh's coordinates, faces
    wound outward. A field with no zero crossing gives an empty mesh."""
    return field_mesh(*decode_field(data, resolution))


def evaluate_sdf(data: bytes, points) -> np.ndarray:
    """(N,) decoded signed distances at (N, 3) points in the input's coordinates. `pyramid` gives the
    SDF up to CLAMP_CELLS lattice samples from the surface and that distance beyond; networks give
    it up to about 3 bands (band * atanh of the squashed value)."""
    header = read_header(data)
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or not np.all(np.isfinite(points)):
        raise InrError(f"expected (N, 3) finite points, got {points.dtype} {points.shape}")
    index = header.lattice.indices(points)
    if header.method == "pyramid":
        step, bound, params, payload = header.body
        return sdf_grid.evaluate(sdf_grid.decode(payload, header.lattice.extent, bound, params), step, index)
    band = NETWORK_BAND_CELLS * header.lattice.spacing
    squashed = np.clip(2.0 * networks.render_points(header.body, index)[:, 0].astype(np.float64), -0.999, 0.999)
    return band * np.arctanh(squashed)


def write_mesh(path: str, vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """The bytes of a mesh file in the format `path`'s suffix names (OBJ, PLY, STL, OFF or GLB)."""
    import trimesh

    suffix = os.path.splitext(path)[1].lower()
    if suffix not in sdf.SUFFIXES:
        raise InrError(f"{path}: write a mesh as one of {', '.join(sorted(sdf.SUFFIXES))}")
    exported = trimesh.Trimesh(vertices, faces, process=False).export(file_type=suffix[1:])
    return exported.encode() if isinstance(exported, str) else exported


def describe(header: Header) -> str:
    """One line on a shape file's lattice, for `inrcodec info`."""
    lattice = header.lattice
    return (f"shape, {header.method}, lattice {'x'.join(map(str, lattice.extent))} spaced {lattice.spacing:.4g} "
            f"around ({', '.join(f'{c:.4g}' for c in lattice.centre)})")
