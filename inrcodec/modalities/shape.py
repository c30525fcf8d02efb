"""3-D shapes: a mesh coded as its signed distance function (SDF), decoded to a mesh or queried at points.

The SDF (negative inside, `sdf`) is sampled on a lattice over the mesh's bounding box (`sdf.Lattice`):
- `pyramid` (the default; `methods.lattice`) stores it as integers clipped a little over a lattice
  sample from the surface, coded coarse to fine; the encoder searches the lattice's resolution and
  the quantization step for the least surface error under the cap.
- `coin` and `sparse` fit a SIREN (one tile over the whole lattice of NETWORK_LATTICE samples
  along the longest side) to the squashed SDF 0.5 * tanh(sdf / band), band = NETWORK_BAND_CELLS
  samples: the loss weighs the surface's neighbourhood, the far field saturates. `meta` fits
  latent grids on the shipped base BASE (meta-learned on such lattices of meshes_train) to it.
A decoded SDF is continuous: rendered on a lattice of any resolution, meshed there by marching
cubes (scikit-image), and brought back to the input's coordinates by the stored centre and spacing.

File body (inside the container of `bitstream`):

    modality (2) | method | lattice samples along x, y, z | lattice centre (3 x float32) | spacing (float32)
    | the method's body

Limits a file of n bytes must keep: at most sdf.MAX_LATTICE samples along an axis and
sdf.MAX_SAMPLES_PER_BYTE * n lattice samples in all; finite, positive spacing. The cap is on the whole file.
"""

import math
import numbers
import os
import struct
from dataclasses import dataclass

import numpy as np

from .. import bitstream, methods, sdf, sdf_grid
from ..bitstream import SHAPE
from ..effort import DEFAULT_EFFORT
from ..errors import InrError
from ..methods import Budget, Geometry
from ..sdf import DEFAULT_RESOLUTION

MIN_BYTES, MAX_BYTES = 64, 1 << 26  # range of byte caps
MAX_RESOLUTION = 512  # finest decoding lattice (512^3 float32 values: 512 MiB)
NETWORK_LATTICE = 48  # `coin`, `sparse`: lattice samples along the longest side
# `coin`, `sparse`, `meta`: networks are rendered at up to this many samples a lattice sample, finer by
# cubic interpolation
NETWORK_RENDER = 2.0
NETWORK_BAND_CELLS = 4  # `coin`, `sparse`: width of the squashing, in lattice samples
@dataclass(frozen=True)
class Header:
    """What a shape file says about itself."""
    method: str  # coding method
    lattice: sdf.Lattice  # where the coded lattice lies in the input's coordinates
    layout: object  # the method's layout, payload included (`methods.*.read_layout`)

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.lattice.extent, 1, "shape")


def budget(n_bytes) -> int:
    """The byte cap, checked."""
    if not (isinstance(n_bytes, numbers.Integral) and MIN_BYTES <= n_bytes <= MAX_BYTES):
        raise InrError(f"--bytes must be a whole number in {MIN_BYTES}..{MAX_BYTES}, got {n_bytes!r}")
    return int(n_bytes)


def default_config(method: str, effort: int = DEFAULT_EFFORT):
    """The default configuration of a method for shapes, its steps (or lattice search) scaled for `effort`."""
    if method not in methods.CODES:
        raise InrError(f"unknown method {method!r}; choose from {', '.join(methods.CODES)}")
    return methods.default_config(method, "shape", effort)


def _head(method: str, lattice: sdf.Lattice) -> bytes:
    return (bitstream.varints(SHAPE, methods.CODES[method], *lattice.extent)
            + struct.pack("<4f", *lattice.centre, lattice.spacing))


def encode_mesh(vertices, faces, n_bytes: int, method: str | None = None, config=None, quiet: bool = True,
                stats: dict | None = None, effort: int = DEFAULT_EFFORT) -> bytes:
    """Compress a mesh ((V, 3) vertices, (F, 3) faces) into at most `n_bytes` bytes by `method`
    (None: `pyramid`); `config` as `default_config` gives it."""
    method = method or methods.DEFAULT
    vertices, faces = sdf.check_mesh(vertices, faces)
    cap = budget(n_bytes)
    config = config or default_config(method, effort)
    module = methods.get(method, "shape")
    if method == "pyramid":  # the lattice coder chooses the lattice, and so the head
        lattice, body = module.encode(vertices, faces, cap, lambda lattice: _head(method, lattice), config, quiet,
                                      stats)
    else:
        values, lattice = network_values(vertices, faces)
        body = module.encode(values, Geometry(lattice.extent, 1, "shape"), Budget(_head(method, lattice), cap),
                             config, quiet, stats)
    data = Budget(_head(method, lattice), cap).file(body)
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
    method = methods.of_file(reader.varint(255, "method"), "shape")
    extent = tuple(reader.varint(sdf.MAX_LATTICE, "lattice size") for _ in range(3))
    if min(extent) < 2:
        raise InrError(f"corrupt file: a lattice of {extent} samples")
    if math.prod(extent) > sdf.MAX_SAMPLES_PER_BYTE * n_bytes:
        raise InrError(f"{n_bytes} bytes are too few for a lattice of {math.prod(extent)} samples "
                       f"(at most {sdf.MAX_SAMPLES_PER_BYTE} a byte)")
    *centre, spacing = struct.unpack("<4f", reader.raw(16))
    if not (all(math.isfinite(c) and abs(c) < 1e30 for c in centre) and 1e-30 < spacing < 1e30):
        raise InrError("corrupt file: the lattice's centre or spacing is not a usable number")
    lattice = sdf.Lattice(tuple(centre), spacing, extent)
    geometry = Geometry(extent, 1, "shape")
    return Header(method, lattice, methods.get(method, "shape").read_layout(reader, geometry, n_bytes))


def _checked_resolution(resolution) -> int:
    if not (isinstance(resolution, numbers.Integral) and 2 <= resolution <= MAX_RESOLUTION):
        raise InrError(f"resolution must be a whole number in 2..{MAX_RESOLUTION}, got {resolution!r}")
    return int(resolution)


def decode_field(data: bytes, resolution: int = DEFAULT_RESOLUTION) -> tuple[np.ndarray, sdf.Lattice]:
    """(field (nx, ny, nz) float32, the lattice it lies on) of a shape file rendered with `resolution`
    samples along the lattice's longest side: the SDF (`pyramid`) or its squashed value (networks);
    either way negative inside, zero on the surface."""
    header = read_header(data)
    resolution = _checked_resolution(resolution)
    source = header.lattice
    scale = resolution / max(source.extent)
    target, positions = sdf.rendering(source, resolution)
    module = methods.get(header.method, "shape")
    if header.method == "pyramid":
        layout = header.layout
        field = sdf_grid.render(module.grid_of(layout, source.extent), layout.step, positions)
    else:  # the network on a lattice of at most NETWORK_RENDER samples a lattice sample, read by cubics
        coarse = min(scale, NETWORK_RENDER)
        sizes = sdf.field_extent(source, max(2, round(coarse * max(source.extent))))
        rendered = module.render(header.layout, header.geometry, (coarse,) * 3, ((0, 0, 0), sizes))[..., 0]
        field = sdf_grid.render(rendered, 1.0, [(p + 0.5) * coarse - 0.5 for p in positions])
    if not np.all(np.isfinite(field)):
        raise InrError("corrupt file: it renders to values that are not finite")
    return field, target


def decode_mesh(data: bytes, resolution: int = DEFAULT_RESOLUTION) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3) float64, faces (F, 3) int64) of a shape file: marching cubes of its SDF on a
    lattice of `resolution` samples along the longest side, in the input mesh's coordinates, faces
    wound outward. A field with no zero crossing gives an empty mesh."""
    return sdf.field_mesh(*decode_field(data, resolution))


def evaluate_sdf(data: bytes, points) -> np.ndarray:
    """(N,) decoded signed distances at (N, 3) points in the input's coordinates. `pyramid` gives the
    SDF up to `methods.lattice.CLAMP_CELLS` lattice samples from the surface and that distance beyond; networks give
    it up to about 3 bands (band * atanh of the squashed value)."""
    header = read_header(data)
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or not np.all(np.isfinite(points)):
        raise InrError(f"expected (N, 3) finite points, got {points.dtype} {points.shape}")
    index = header.lattice.indices(points)
    module = methods.get(header.method, "shape")
    if header.method == "pyramid":
        return sdf_grid.evaluate(module.grid_of(header.layout, header.lattice.extent), header.layout.step, index)
    band = NETWORK_BAND_CELLS * header.lattice.spacing
    squashed = np.clip(2.0 * module.render_points(header.layout, header.geometry, index)[:, 0].astype(np.float64),
                       -0.999, 0.999)
    return band * np.arctanh(squashed)


def encode_signal(mesh: tuple[np.ndarray, np.ndarray], n_bytes: int, method: str | None = None, config=None) -> bytes:
    """`encode_mesh` of (vertices, faces), as every modality's record offers it."""
    return encode_mesh(*mesh, int(n_bytes), method, config)


def write_signal(path: str, mesh: tuple[np.ndarray, np.ndarray]) -> bytes:
    """`write_mesh` of (vertices, faces), as every modality's record offers it."""
    return write_mesh(path, *mesh)


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


read, decode_signal = sdf.read_mesh, decode_mesh  # as every modality's record offers them
