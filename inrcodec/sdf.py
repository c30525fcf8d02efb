"""Meshes and their signed distance functions: reading through trimesh, checks, and the SDF on a lattice.

A mesh is a pair (vertices (V, 3) float64, faces (F, 3) int64). Its signed distance function is
negative inside, positive outside (DeepSDF's convention): the distance comes from libigl's
point-to-mesh query, the sign from generalized winding numbers (libigl's fast_winding_number,
inside where it exceeds 1/2), so a scan open at the base (the Stanford bunny) is signed right
where ray parity would not be.

A shape is coded in its lattice's frame: a lattice of `extent` = (nx, ny, nz) samples spaced
`spacing` apart, centred on the mesh's bounding-box centre, covering the box and MARGIN samples
beyond it on every side (so every surface closes inside the lattice). Sample index u (a float,
per axis) lies at centre + (u - (n - 1) / 2) * spacing.
"""

import math
import os
from dataclasses import dataclass

import numpy as np

from . import sdf_grid
from .errors import InrError, reading

MAX_FACES = 2_000_000  # most faces a mesh may have (a 10-million-face scan is refused, not attempted)
MAX_FILE_BYTES = 256 << 20  # largest mesh file read (checked before it is parsed)
MIN_RELATIVE_THICKNESS = 1e-4  # a mesh thinner than this fraction of its longest side along any axis is flat
MARGIN = 2  # lattice samples beyond the bounding box on every side
SUFFIXES = {".obj", ".ply", ".stl", ".off", ".glb"}  # mesh files read by the command line and the bench
INSIDE = 0.5  # winding number above which a point is inside
MAX_LATTICE = 512  # most lattice samples a file may declare along an axis
MAX_SAMPLES_PER_BYTE = 2048  # most lattice samples a file may declare per byte of itself
DEFAULT_RESOLUTION = 256  # samples along the longest side of the lattice a shape is decoded on
PRUNE = 4  # the lattice SDF computes distances exactly on every PRUNE-th sample first, then only near the surface


def check_mesh(vertices, faces, what: str = "mesh") -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3) float64, faces (F, 3) int64) of any arrays that make a usable surface, or InrError."""
    vertices, faces = np.asarray(vertices), np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.issubdtype(vertices.dtype, np.number):
        raise InrError(f"{what}: vertices must be a (V, 3) array of numbers, got {vertices.dtype} {vertices.shape}")
    if faces.size == 0:
        raise InrError(f"{what}: no faces (a point cloud or an empty mesh; inrcodec codes surfaces)")
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise InrError(f"{what}: faces must be a (F, 3) array of vertex indices, got {faces.dtype} {faces.shape}")
    if len(faces) > MAX_FACES:
        raise InrError(f"{what}: {len(faces)} faces, more than the {MAX_FACES} a mesh may have (decimate it first)")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise InrError(f"{what}: a face refers to a vertex that does not exist")
    vertices = vertices.astype(np.float64)
    if not np.all(np.isfinite(vertices)):
        raise InrError(f"{what}: vertices that are not finite (NaN or infinity)")
    used = vertices[np.unique(faces)]
    sides = used.max(axis=0) - used.min(axis=0)
    if sides.max() <= 0 or sides.min() <= MIN_RELATIVE_THICKNESS * sides.max():
        raise InrError(f"{what}: a flat or degenerate mesh (its box is {' x '.join(f'{s:.3g}' for s in sides)}): "
                       f"it encloses no volume")
    return vertices, faces.astype(np.int64)


def read_mesh(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) of an OBJ, PLY, STL, OFF or GLB file (a scene's meshes joined), checked."""
    import trimesh

    with reading(path, "mesh"):
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise InrError(f"{path}: {size} bytes, more than the {MAX_FILE_BYTES} a mesh file may have")
        suffix = os.path.splitext(str(path))[1].lower()
        if suffix not in SUFFIXES:
            raise InrError(f"{path}: not a mesh file inrcodec reads ({', '.join(sorted(SUFFIXES))})")
        try:
            loaded = trimesh.load(path, file_type=suffix[1:], force="mesh", process=False)
        except Exception as err:  # trimesh's parsers raise many types on malformed files
            raise InrError(f"{path}: not a readable mesh ({type(err).__name__}: {str(err)[:200]})") from None
    if not isinstance(loaded, trimesh.Trimesh):
        raise InrError(f"{path}: no surface in this file (a point cloud or an empty scene)")
    return check_mesh(loaded.vertices, loaded.faces, str(path))


def signed_distance(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) signed distances of (N, 3) points to the mesh, negative inside."""
    import igl

    points = np.ascontiguousarray(points, np.float64)
    squared, _, _ = igl.point_mesh_squared_distance(points, vertices, faces)
    return np.sqrt(squared) * np.where(inside(vertices, faces, points), -1.0, 1.0)


def inside(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) whether each of (N, 3) points is inside the mesh, by generalized winding number."""
    import igl

    return igl.fast_winding_number(vertices, faces, np.ascontiguousarray(points, np.float64)) > INSIDE


@dataclass(frozen=True)
class Lattice:
    """Where a shape's lattice lies in the mesh's coordinates."""
    centre: tuple[float, float, float]  # centre of the lattice (float32 values, as stored)
    spacing: float  # distance between neighbouring samples (a float32 value, as stored)
    extent: tuple[int, int, int]  # samples along x, y, z

    def positions(self, index: np.ndarray) -> np.ndarray:
        """(..., 3) mesh coordinates of (..., 3) sample indices (floats: any point of the lattice's box)."""
        half = (np.array(self.extent) - 1) / 2.0
        return np.asarray(self.centre) + (index - half) * self.spacing

    def indices(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) sample indices (floats) of (..., 3) mesh coordinates."""
        half = (np.array(self.extent) - 1) / 2.0
        return (np.asarray(points, np.float64) - np.asarray(self.centre)) / self.spacing + half


def lattice_for(vertices: np.ndarray, faces: np.ndarray, longest: int) -> Lattice:
    """The lattice of `longest` samples along the mesh's longest box side (MARGIN included)."""
    used = vertices[np.unique(faces)]
    low, high = used.min(axis=0), used.max(axis=0)
    spacing = float(np.float32((high - low).max() / (longest - 1 - 2 * MARGIN)))
    extent = tuple(int(min(longest, math.ceil((side / spacing) - 1e-9) + 1 + 2 * MARGIN)) for side in high - low)
    centre = tuple(float(c) for c in np.float32((low + high) / 2))
    return Lattice(centre, spacing, extent)


def lattice_sdf(vertices: np.ndarray, faces: np.ndarray, lattice: Lattice, clamp: float) -> np.ndarray:
    """(nx, ny, nz) signed distances at the lattice's samples, clipped to [-clamp, clamp].

    Distances are computed on every PRUNE-th sample first; a sample whose nearest such sample lies
    farther from the surface than `clamp` plus their distance (the SDF is 1-Lipschitz) is clipped
    without its own query. Signs come from the winding number at every sample.
    """
    grids = np.meshgrid(*[np.arange(n) for n in lattice.extent], indexing="ij")
    index = np.stack(grids, axis=-1).reshape(-1, 3)
    points = lattice.positions(index.astype(np.float64))
    sign = np.where(inside(vertices, faces, points), -1.0, 1.0)
    coarse_axes = [np.arange(0, n, PRUNE) for n in lattice.extent]
    coarse_index = np.stack(np.meshgrid(*coarse_axes, indexing="ij"), axis=-1).reshape(-1, 3)
    coarse = np.abs(signed_distance(vertices, faces, lattice.positions(coarse_index.astype(np.float64))))
    coarse = coarse.reshape([len(a) for a in coarse_axes])
    nearest = tuple(np.minimum(np.round(index[:, a] / PRUNE).astype(int), len(coarse_axes[a]) - 1) for a in range(3))
    offset = np.linalg.norm(index - np.stack([coarse_axes[a][nearest[a]] for a in range(3)], axis=-1), axis=-1)
    near = coarse[nearest] - offset * lattice.spacing < clamp
    distance = np.full(len(index), clamp)
    if near.any():
        import igl

        squared, _, _ = igl.point_mesh_squared_distance(np.ascontiguousarray(points[near]), vertices, faces)
        distance[near] = np.minimum(np.sqrt(squared), clamp)
    return (sign * distance).reshape(lattice.extent)


def field_extent(lattice: Lattice, resolution: int) -> tuple[int, int, int]:
    """Samples per axis of the lattice a shape is rendered on at `resolution` (its longest side)."""
    return tuple(max(2, round(n * resolution / max(lattice.extent))) for n in lattice.extent)


def rendering(source: Lattice, resolution: int) -> tuple[Lattice, list[np.ndarray]]:
    """(the lattice of `resolution` samples along the longest side centred as `source`, and per axis
    its samples' indices on `source`): where a shape is rendered, so that a sample's position and the
    point its value is computed at agree on every axis."""
    scale = resolution / max(source.extent)
    target = Lattice(source.centre, source.spacing / scale, field_extent(source, resolution))
    return target, [(np.arange(n) - (n - 1) / 2) / scale + (m - 1) / 2 for n, m in zip(target.extent, source.extent)]


def field_mesh(field: np.ndarray, lattice: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3) float64, faces (F, 3) int64) of the zero level of a field on `lattice` by
    marching cubes, faces wound outward; empty where the field does not cross zero."""
    from skimage.measure import marching_cubes

    if field.min() >= 0 or field.max() <= 0:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    vertices, faces, _, _ = marching_cubes(field, 0.0)
    return lattice.positions(vertices.astype(np.float64)), faces.astype(np.int64)


def grid_mesh(q: np.ndarray, step: float, lattice: Lattice, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The mesh of integers q on `lattice` at `step`, interpolated to `resolution` samples along the longest side."""
    target, positions = rendering(lattice, resolution)
    return field_mesh(sdf_grid.render(q, step, positions), target)
