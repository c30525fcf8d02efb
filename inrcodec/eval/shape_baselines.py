"""The classical baselines for meshes, each the best file under a byte cap: Draco, and an SDF grid with lzma
(`baselines.BASELINES` wraps them).

The SDF grid (`sdf_grid_lzma`): the signed distance on a lattice (`sdf.Lattice`) clipped
CLAMP_CELLS samples from the surface, quantized, one int8 a sample (or int16), compressed by lzma
(raw LZMA2, preset 9 extreme) behind a 23-byte head (HEAD: lattice extent, centre, spacing, step),
and decoded (`decode_sdf_grid`) by the same cubic interpolation and marching cubes as inrcodec's
`pyramid`; the search tries the lattice sizes of RESOLUTIONS (CLAMP_CELLS and RESOLUTIONS are
`methods.lattice`'s), searches the finest step (as `pyramid` does: the largest bound of the
integers over CLAMP_CELLS samples) whose file fits the cap, until PATIENCE sizes score worse than
the best, and keeps the lowest Chamfer-L1 against the reference.

Draco's knob is the quantization of the vertex positions (bits per coordinate over the bounding
cube; files grow with it). Under a cap that even its coarsest useful quantization (Q_MIN bits) of
the whole mesh is over, the mesh must lose faces first: quadric decimation (fast_simplification).

The search walks a ladder of face counts from the whole mesh down, LADDER a step, after merging
vertices at the same position (so that decimation does not tear texture seams open). A count is
skipped when its file would be over the cap even at Q_MIN bits, judged from the bytes per face of
the last count found over it (they only grow as faces get fewer). At each count it bisects the most
bits in [Q_MIN, Q_MAX] whose file fits, decodes that file and scores it by Chamfer-L1 against the
reference (`shape_metrics`, SEARCH_SAMPLES points unless given a reference). The walk goes on below
the first count that fits, since fewer faces at more bits can beat more faces at fewer; it stops
PATIENCE counts after the best so far, at a count that fits at Q_MAX (coarser meshes gain no bits),
or at MIN_FACES, and keeps the best file. Files are Draco's own (`compression_level=10`); the rate
is their length. DracoPy and fast-simplification are optional (`inrcodec[baselines]`), imported when used.
"""

import importlib
import lzma
import struct

import numpy as np

from .. import sdf
from ..errors import InrError
from ..ratecontrol import largest_integer_fitting
from .metrics import Reference, check_mesh, compare, prepare

Q_MIN, Q_MAX = 6, 16  # coarsest and finest quantization tried, bits per coordinate
COMPRESSION_LEVEL = 10  # Draco's slowest, smallest setting
LADDER = 2 ** -0.25  # ratio of successive face counts in the search
MIN_FACES = 16  # fewest faces a decimated mesh is given
PATIENCE = 3  # face counts tried after the best so far before the search stops
SEARCH_SAMPLES = 20_000  # points per surface of the reference the search builds when it is given none


class _Search:
    """The best-scoring file so far (lowest Chamfer-L1) and how many files have scored worse since it."""

    def __init__(self):
        self.best, self.score, self.misses = None, np.inf, 0

    def offer(self, data: bytes, score: float) -> None:
        if score < self.score:
            self.best, self.score, self.misses = data, score, 0
        else:
            self.misses += 1


def _needed(module: str, package: str):
    """The module `module` of the optional package `package`, imported where Draco first needs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InrError(f"the Draco baseline needs {package}: pip install 'inrcodec[baselines]'") from None


def _encode(vertices: np.ndarray, faces: np.ndarray, bits: int) -> bytes:
    return _needed("DracoPy", "DracoPy").encode(vertices, faces, quantization_bits=bits,
                                                 compression_level=COMPRESSION_LEVEL)


def decompress(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3) float64, faces (F, 3) int64) of a Draco mesh file's bytes."""
    DracoPy = _needed("DracoPy", "DracoPy")
    try:
        mesh = DracoPy.decode(data)
    except (DracoPy.FileTypeException, ValueError):
        raise InrError("not a Draco file") from None
    if not hasattr(mesh, "faces"):
        raise InrError("the Draco file holds a point cloud, not a mesh")
    vertices = np.asarray(mesh.points, dtype=np.float64).reshape(-1, 3)
    return vertices, np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)


def _merged(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mesh with vertices at the same position made one, and vertices of no face dropped."""
    unique, inverse = np.unique(vertices[faces].reshape(-1, 3), axis=0, return_inverse=True)
    return unique, inverse.reshape(-1, 3)


def _largest_fitting(vertices: np.ndarray, faces: np.ndarray, budget: int) -> tuple[int, bytes]:
    """(bits, file) of the most quantization bits in [Q_MIN, Q_MAX] whose file is at most `budget`
    bytes, by bisection; (Q_MIN - 1, file at Q_MIN) when even that is over."""
    data = _encode(vertices, faces, Q_MIN)
    if len(data) > budget:
        return Q_MIN - 1, data
    low, high = Q_MIN, Q_MAX + 1  # fits at `low`; over at `high` (or past the range)
    while high - low > 1:
        bits = (low + high) // 2
        candidate = _encode(vertices, faces, bits)
        if len(candidate) <= budget:
            low, data = bits, candidate
        else:
            high = bits
    return low, data


def draco(vertices: np.ndarray, faces: np.ndarray, budget: int, reference: Reference | None = None) -> bytes:
    """The Draco file of the mesh (V, 3), (F, 3) of at most `budget` bytes with the lowest Chamfer-L1
    against `reference` (by default the mesh itself, SEARCH_SAMPLES points). InrError if none fits."""
    vertices, faces = _merged(*check_mesh(vertices, faces, "input"))
    if not len(faces):
        raise InrError("input mesh has no triangle of nonzero area")
    if reference is None:
        reference = prepare(vertices, faces, samples=SEARCH_SAMPLES)
    total = len(faces)
    counts = [total]
    while round(counts[-1] * LADDER) >= MIN_FACES:
        counts.append(round(counts[-1] * LADDER))
    search = _Search()
    floor = 0.0  # bytes per face at Q_MIN bits of the last mesh over the cap: coarser meshes need more
    for count in counts:
        if count * floor > budget and count != counts[-1]:
            continue
        if count == total:
            mesh = vertices, faces
        else:
            mesh = _needed("fast_simplification", "fast-simplification").simplify(
                vertices, faces, target_reduction=1 - count / total)
        bits, data = _largest_fitting(*mesh, budget)
        if bits < Q_MIN:
            floor = len(data) / len(mesh[1])
            smallest = f"{len(mesh[1])} faces at {Q_MIN} bits take {len(data)} bytes"
            continue
        search.offer(data, compare(reference, decompress(data))["chamfer_l1"])
        if search.misses >= PATIENCE or bits == Q_MAX:
            break
    if search.best is None:
        raise InrError(f"budget of {budget} bytes is too small for Draco ({smallest})")
    return search.best


LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]  # raw stream: no container bytes
HEAD = "<3B5f"  # an SDF-grid file's head: lattice extent, centre and spacing, step


def _grid_file(grid: np.ndarray, lattice: sdf.Lattice, bound: int) -> bytes:
    """The file of a lattice SDF as integers in [-bound, bound] spanning CLAMP_CELLS samples."""
    from ..methods.lattice import CLAMP_CELLS

    step = float(np.float32(CLAMP_CELLS * lattice.spacing / bound))
    q = np.clip(np.round(grid / step), -bound, bound).astype(np.int8 if bound < 128 else np.int16)
    head = struct.pack(HEAD, *lattice.extent, *lattice.centre, lattice.spacing, step)
    return head + lzma.compress(q.tobytes(), lzma.FORMAT_RAW, filters=LZMA_FILTERS)


def decode_sdf_grid(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The mesh of an SDF-grid file: its integers meshed as `pyramid`'s (`sdf.grid_mesh` at sdf.DEFAULT_RESOLUTION)."""
    try:
        *extent, x, y, z, spacing, step = struct.unpack_from(HEAD, data)
        raw = lzma.decompress(data[struct.calcsize(HEAD):], lzma.FORMAT_RAW, filters=LZMA_FILTERS)
        q = np.frombuffer(raw, np.int8 if len(raw) == np.prod(extent) else np.int16).reshape(extent)
    except (struct.error, lzma.LZMAError, ValueError):
        raise InrError("not an SDF-grid file") from None
    return sdf.grid_mesh(q, step, sdf.Lattice((x, y, z), spacing, tuple(extent)), sdf.DEFAULT_RESOLUTION)


def sdf_grid_lzma(vertices: np.ndarray, faces: np.ndarray, budget: int, reference: Reference | None = None) -> bytes:
    """The SDF-grid file of at most `budget` bytes with the lowest Chamfer-L1 against `reference`
    (by default the mesh, SEARCH_SAMPLES points). InrError if none fits."""
    from ..methods.lattice import CLAMP_CELLS, FIRST_BOUND, MAX_BOUND, RESOLUTIONS

    vertices, faces = check_mesh(vertices, faces, "input")
    if reference is None:
        reference = prepare(vertices, faces, samples=SEARCH_SAMPLES)
    search = _Search()
    for longest in RESOLUTIONS:
        lattice = sdf.lattice_for(vertices, faces, longest)
        grid = sdf.lattice_sdf(vertices, faces, lattice, CLAMP_CELLS * lattice.spacing)
        try:
            bound, data = largest_integer_fitting(lambda b: _grid_file(grid, lattice, b), budget, FIRST_BOUND,
                                                  MAX_BOUND)
        except InrError:
            break
        search.offer(data, compare(reference, decode_sdf_grid(data))["chamfer_l1"])
        if bound == 1 or search.misses >= PATIENCE:
            break
    if search.best is None:
        raise InrError(f"budget of {budget} bytes is too small for an SDF grid with lzma")
    return search.best
