"""The SDF lattice coder, the `pyramid` method of shapes: a mesh's signed distance on a lattice as
integers clipped CLAMP_CELLS samples from the surface, coded coarse to fine (`sdf_grid`). The encoder
searches the lattice's resolution and the quantization step for the least surface error under the
cap; the lattice is the shape modality's head, so this coder takes the mesh and a function from a
lattice to that head.

Body (after the modality's head): step | bound | sdf_grid.N_PARAMS parameters (signed varints) | payload
"""

import math
from dataclasses import dataclass

import numpy as np

from .. import bitstream, sdf, sdf_grid
from ..errors import InrError
from ..progress import progress
from ..ratecontrol import largest_integer_fitting
from . import Budget

CLAMP_CELLS = 1.25  # SDF clipped this many lattice samples from the surface (1.25 and 1: the most accurate clips tried)
# samples farther than NEAR_CELLS lattice samples from the surface keep their prediction
# when it is within TOLERANCE_CELLS of their value (`sdf_grid.quantize`), saving their residuals' bits;
# the pair of least surface error tried
NEAR_CELLS, TOLERANCE_CELLS = 1.0, 0.3
LOW_BOUND = 4  # the search stops after one worse size once the bound is this coarse (finer lattices only get coarser)
# the search starts at the lattice size nearest FIRST_RESOLUTION * (cap / 1 KB)^(1/3), below the
# dragon's best sizes so that simpler shapes start coarse enough
FIRST_RESOLUTION = 20
# the integers of each lattice size span [-bound, bound] over CLAMP_CELLS samples (step =
# CLAMP_CELLS * spacing / bound; a step between two bounds' only shrinks the clip: a file costs more at
# bound b + 1 but less as the step falls towards the next); the largest bound that fits is searched from
# FIRST_BOUND, later sizes from the last size's bound times the sizes' ratio^-2.5
FIRST_BOUND = 8
MAX_BOUND = 64  # the finest step searched: CLAMP_CELLS * spacing / 64
RESOLUTIONS = (16, 20, 25, 32, 40, 50, 64, 80, 101, 128)  # lattice sizes (longest side) searched
COARSEST_USEFUL = 2  # the search stops at the first lattice size whose bound falls below this


@dataclass(frozen=True)
class LatticeConfig:
    patience: int = 2  # the search stops after this many lattice sizes scoring worse than the best
    probes: int = 20_000  # points on each surface scoring a candidate lattice (`_surface_error`)
    score_resolution: int = 128  # lattice size (longest side) a candidate is meshed on to be scored


DEFAULTS = {"shape": LatticeConfig()}  # modality -> configuration


@dataclass(frozen=True)
class Layout:
    """What a lattice body says about itself, with its payload."""
    step: float  # quantization step of the SDF, in the input's units
    bound: int  # the integers lie in [-bound, bound]
    params: np.ndarray  # (sdf_grid.N_PARAMS,) int context-model parameters
    payload: bytes  # the integers, coarse to fine


def _body(grid: np.ndarray, spacing: float, bound: int) -> bytes:
    """The body of a lattice SDF as integers in [-bound, bound] spanning CLAMP_CELLS samples."""
    writer = bitstream.Writer()
    step = writer.log_step(CLAMP_CELLS * spacing / bound)
    q = sdf_grid.quantize(grid, step, bound, NEAR_CELLS * spacing, TOLERANCE_CELLS * spacing)
    params = sdf_grid.fit_params(sdf_grid.residuals(q, bound), bound)
    writer.varint(bound)
    for a in params:
        writer.signed(int(a))
    writer.raw(sdf_grid.encode(q, bound, params))
    return bytes(writer.buffer)


def encode(vertices: np.ndarray, faces: np.ndarray, cap: int, head, config: LatticeConfig, quiet: bool,
           stats: dict | None) -> tuple[sdf.Lattice, bytes]:
    """(lattice, body) of least surface error whose file, after `head(lattice)` (the modality's
    fields), is within `cap` bytes: lattice sizes from one guessed from the cap upward until
    `config.patience` sizes score worse than the best, each at the finest step that fits."""
    probes = surface_points(vertices, faces, config.probes)
    best, misses = None, 0  # (error, file, stats), lattice sizes tried since the best
    first = min(range(len(RESOLUTIONS)), key=lambda i: abs(RESOLUTIONS[i] - FIRST_RESOLUTION * (cap / 1024) ** (1 / 3)))
    guess = FIRST_BOUND  # where the search of the next lattice size's bound starts
    tried = []  # (lattice size, bound, error) of every size tried
    with progress(len(RESOLUTIONS) - first, "lattice", unit="size", quiet=quiet, leave=False) as bar:
        for index in range(first, len(RESOLUTIONS)):
            lattice = sdf.lattice_for(vertices, faces, RESOLUTIONS[index])
            if math.prod(lattice.extent) > sdf.MAX_SAMPLES_PER_BYTE * cap:
                break
            grid = sdf.lattice_sdf(vertices, faces, lattice, CLAMP_CELLS * lattice.spacing)
            budget = Budget(head(lattice), cap)
            try:
                bound, data = largest_integer_fitting(lambda b: budget.file(_body(grid, lattice.spacing, b)), cap,
                                                      guess, MAX_BOUND)
            except InrError:
                break
            guess = round(bound * (RESOLUTIONS[index] / RESOLUTIONS[min(index + 1, len(RESOLUTIONS) - 1)]) ** 2.5)
            layout = read_layout(bitstream.Reader(budget.body(data)))
            q = grid_of(layout, lattice.extent)
            error = _surface_error(vertices, faces, probes, q, layout.step, lattice, config.score_resolution)
            tried.append((RESOLUTIONS[index], bound, error))
            if best is None or error < best[0]:
                best, misses = (error, (lattice, budget.body(data)), dict(lattice=list(lattice.extent), bound=bound)), 0
            else:
                misses += 1
            bar.update()
            if bound < COARSEST_USEFUL or misses >= config.patience or misses and bound <= LOW_BOUND:
                break
    if best is None:
        raise InrError(f"a cap of {cap} bytes is too small for this shape (the coarsest lattice does not fit)")
    if stats is not None:
        stats.update(best[2], probe_error=best[0], tried=tried)
    return best[1]


def read_layout(reader: bitstream.Reader, geometry=None, n_bytes: int | None = None) -> Layout:
    """The step, bound and model parameters of a body, validated, and its payload (the shape's head
    has bounded the lattice by the file's size: `geometry` and `n_bytes` add nothing)."""
    step = reader.log_step()
    bound = reader.varint(1 << 16, "SDF bound")
    if bound < 1 or bound * step > 1e30:
        raise InrError(f"corrupt file: SDF bound {bound} at step {step:.3g}")
    limit = int(sdf_grid.MAX_PARAM * sdf_grid.PARAM_RESOLUTION)
    params = np.array([reader.signed(limit, "model parameter") for _ in range(sdf_grid.N_PARAMS)], np.int64)
    return Layout(step, bound, params, reader.rest())


def grid_of(layout: Layout, extent: tuple[int, int, int]) -> np.ndarray:
    """The decoded integers of a body on a lattice of `extent` samples."""
    return sdf_grid.decode(layout.payload, extent, layout.bound, layout.params)


def _surface_error(vertices, faces, probes, q, step: float, lattice: sdf.Lattice, resolution: int) -> float:
    """The encoder's score of a candidate grid: the mean of |decoded SDF| at points on the input's
    surface (completeness) and the distance from points on the decoded surface, meshed at
    `resolution`, to the input (accuracy)."""
    import igl

    completeness = float(np.mean(np.abs(sdf_grid.evaluate(q, step, lattice.indices(probes)))))
    decoded, triangles = sdf.grid_mesh(q, step, lattice, resolution)
    if not len(triangles):
        return math.inf
    points = surface_points(decoded, triangles, len(probes))
    accuracy = float(np.mean(np.sqrt(igl.point_mesh_squared_distance(points, vertices, faces)[0])))
    return (completeness + accuracy) / 2


def surface_points(vertices, faces, count: int, seed: int = 0) -> np.ndarray:
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


