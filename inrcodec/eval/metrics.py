"""The metrics of every modality: images' PSNR (CompressAI's), audio's PSNR (COIN++'s), SI-SNR,
PESQ and STOI, and shapes' distances between a decoded mesh and its reference, as Occupancy
Networks and DeepSDF report them.

Shapes: distances between a decoded mesh and its reference, as Occupancy Networks and DeepSDF report them.

A mesh is a pair (vertices (V, 3) float64, faces (F, 3) int64). Both surfaces are sampled,
area-weighted, with a fixed seed; every distance is point-to-mesh (to the closest point of the
other mesh's triangles, not to its samples) and is reported in units of the reference's
bounding-box diagonal:

- accuracy: mean distance from the decoded surface's points to the reference mesh;
  completeness: from the reference's points to the decoded mesh; chamfer_l1: their mean;
  hausdorff: the largest distance either way.
- normal_consistency: mean |dot| of a point's triangle normal with the normal of the closest
  triangle of the other mesh, averaged over the two directions (1: parallel everywhere).
- iou: volumetric intersection over union on points uniform in the reference's bounding box padded
  by 5% per side; a point is inside a mesh where its generalized winding number is above 1/2, so
  that open scans (a bunny without its base) have an inside too; 1 when neither mesh has an inside.
- f_score: harmonic mean of precision (share of decoded points within F_SCORE_TAU of the reference)
  and recall (share of reference points within F_SCORE_TAU of the decoded mesh); 0 when both are 0.

Zero-area triangles are dropped first: they have no normal and no area to sample. A decoded mesh
with no triangle left scores as if it had collapsed to the reference's bounding-box centre:
accuracy, completeness and chamfer_l1 are the mean distance from the reference's points to that
centre, hausdorff the largest, and iou, f_score and normal_consistency are 0 (finite, so JSON holds
them). `prepare` samples a reference once; `compare` scores any number of decoded meshes against it.
"""

import math
from dataclasses import dataclass

import igl
import numpy as np

from ..errors import InrError

SAMPLES = 100_000  # points sampled on each surface, and uniform points in the box for the IoU
BOX_PADDING = 0.05  # the IoU's box: the reference's bounding box grown by this share of its extent per side
F_SCORE_TAU = 0.01  # F-score distance threshold, in units of the reference's bounding-box diagonal
INSIDE = 0.5  # generalized winding number above which a point is inside a mesh
PESQ_RATE = 16000  # wide-band PESQ scores 16 kHz audio: other rates are resampled to it


def psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of equal shape (CompressAI convention, peak 255)."""
    mse = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def audio_psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB as COIN++ reports it for audio: both waveforms mapped from [-1, 1] to [0, 1]."""
    mse = np.mean(((reference - decoded) / 2.0) ** 2)
    return math.inf if mse == 0 else float(-10 * np.log10(mse))


def si_snr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Scale-invariant SNR in dB (per channel, mean-removed, then averaged over channels)."""
    values = []
    for ref, dec in zip(np.atleast_2d(reference.T), np.atleast_2d(decoded.T)):
        ref, dec = ref - ref.mean(), dec - dec.mean()
        target = ref * np.dot(dec, ref) / max(np.dot(ref, ref), 1e-20)
        noise = dec - target
        values.append(10 * np.log10(max(np.dot(target, target), 1e-20) / max(np.dot(noise, noise), 1e-20)))
    return float(np.mean(values))



def perceptual(reference: np.ndarray, decoded: np.ndarray, rate: int) -> dict:
    """Wide-band PESQ and STOI of the first channel, each where its package is installed."""
    scores = {}
    try:
        from pesq import pesq
        from scipy.signal import resample_poly

        ref, dec = reference[:, 0], decoded[:, 0]
        if rate != PESQ_RATE:
            ref, dec = (resample_poly(x, PESQ_RATE, rate) for x in (ref, dec))
        scores["pesq"] = float(pesq(PESQ_RATE, ref, dec, "wb"))
    except ImportError:
        pass
    except Exception as err:  # the pesq package raises its own errors on silent or short clips
        scores["pesq_error"] = str(err)
    try:
        from pystoi import stoi

        scores["stoi"] = float(stoi(reference[:, 0], decoded[:, 0], rate))
    except ImportError:
        pass
    return scores


@dataclass(frozen=True, eq=False)
class Reference:
    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64, triangles of nonzero area only
    face_normals: np.ndarray  # (F, 3) unit normals of `faces`
    tree: igl.AABB  # closest-triangle search over (vertices, faces)
    diagonal: float  # length of the bounding box's diagonal, in mesh units: the unit of every distance
    centre: np.ndarray  # (3,) centre of the bounding box, in mesh units
    points: np.ndarray  # (samples, 3) area-weighted points on the surface, in mesh units
    normals: np.ndarray  # (samples, 3) unit normal of the triangle each point lies on
    box: np.ndarray  # (samples, 3) points uniform in the padded bounding box, in mesh units
    inside: np.ndarray  # (samples,) bool: `box` points inside the reference (winding number > 1/2)
    seed: int  # seed of every random draw, the decoded surface's samples included


def check_mesh(vertices, faces, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3) float64, faces (F', 3) int64) of a mesh, its zero-area faces dropped; InrError
    naming the `what` mesh for arrays of the wrong shape or type, or face indices out of range."""
    vertices, faces = np.asarray(vertices), np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.issubdtype(vertices.dtype, np.number):
        raise InrError(f"{what} mesh: vertices must be a (V, 3) array of numbers, got shape {vertices.shape}")
    if faces.size and (faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer)):
        raise InrError(f"{what} mesh: faces must be a (F, 3) array of integers, "
                       f"got {faces.dtype} of shape {faces.shape}")
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    faces = np.ascontiguousarray(faces, dtype=np.int64).reshape(-1, 3)
    if not np.isfinite(vertices).all():
        raise InrError(f"{what} mesh: vertices must be finite")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise InrError(f"{what} mesh: face indices must lie in [0, {len(vertices)})")
    return vertices, np.ascontiguousarray(faces[np.linalg.norm(_cross(vertices, faces), axis=1) > 0])


def _cross(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) cross products of each face's two edges from its first corner: twice its area times its normal."""
    corners = vertices[faces]
    return np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])


def _unit_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) unit normals of faces of nonzero area."""
    cross = _cross(vertices, faces)
    return cross / np.linalg.norm(cross, axis=1, keepdims=True)


def _sample(vertices: np.ndarray, faces: np.ndarray, count: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(points (count, 3), index (count,) of the face each lies on): uniform on the surface by area."""
    cumulative = np.cumsum(np.linalg.norm(_cross(vertices, faces), axis=1))
    index = np.minimum(np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right"), len(faces) - 1)
    u, v = rng.random((2, count))
    flip = u + v > 1  # reflect the far half of the unit square onto the triangle
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    a, b, c = (vertices[faces[index, k]] for k in range(3))
    return a + u[:, None] * (b - a) + v[:, None] * (c - a), index


def _tree(vertices: np.ndarray, faces: np.ndarray) -> igl.AABB:
    tree = igl.AABB()
    tree.init(vertices, faces)
    return tree


def _streams(seed: int) -> list[np.random.Generator]:
    """Independent generators for the reference's surface, the box, and the decoded surface."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]


def prepare(vertices: np.ndarray, faces: np.ndarray, samples: int = SAMPLES, seed: int = 0) -> Reference:
    """The reference mesh (V, 3), (F, 3) sampled once for `compare`: `samples` points on its surface
    and as many in its padded bounding box, with the seed `seed`."""
    if samples < 1:
        raise InrError(f"samples must be positive, got {samples}")
    vertices, faces = check_mesh(vertices, faces, "reference")
    if not len(faces):
        raise InrError("reference mesh has no triangle of nonzero area")
    face_normals = _unit_normals(vertices, faces)
    used = vertices[faces].reshape(-1, 3)
    low, high = used.min(axis=0), used.max(axis=0)
    surface_rng, box_rng, _ = _streams(seed)
    points, index = _sample(vertices, faces, samples, surface_rng)
    pad = BOX_PADDING * (high - low)
    box = box_rng.uniform(low - pad, high + pad, (samples, 3))
    return Reference(vertices=vertices, faces=faces, face_normals=face_normals, tree=_tree(vertices, faces),
                     diagonal=float(np.linalg.norm(high - low)), centre=(low + high) / 2, points=points,
                     normals=face_normals[index], box=box,
                     inside=igl.fast_winding_number(vertices, faces, box) > INSIDE, seed=seed)


def _collapsed(reference: Reference) -> dict[str, float]:
    """The scores of a decoded mesh with no triangle (see the module's docstring)."""
    distance = np.linalg.norm(reference.points - reference.centre, axis=1) / reference.diagonal
    mean = float(distance.mean())
    return {"chamfer_l1": mean, "accuracy": mean, "completeness": mean, "hausdorff": float(distance.max()),
            "normal_consistency": 0.0, "iou": 0.0, "f_score": 0.0}


def compare(reference: Reference, decoded: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """Scores of the decoded mesh (vertices (V, 3), faces (F, 3)) against `reference` (from `prepare`),
    sampled with as many points and the same seed: {"chamfer_l1", "accuracy", "completeness",
    "hausdorff"} in units of the reference's bounding-box diagonal, {"normal_consistency", "iou",
    "f_score"} in [0, 1]."""
    vertices, faces = check_mesh(*decoded, "decoded")
    if not len(faces):
        return _collapsed(reference)
    face_normals = _unit_normals(vertices, faces)
    points, index = _sample(vertices, faces, len(reference.points), _streams(reference.seed)[2])
    to_reference, nearest_reference, _ = reference.tree.squared_distance(reference.vertices, reference.faces, points)
    to_decoded, nearest_decoded, _ = _tree(vertices, faces).squared_distance(vertices, faces, reference.points)
    to_reference = np.sqrt(to_reference) / reference.diagonal
    to_decoded = np.sqrt(to_decoded) / reference.diagonal
    accuracy, completeness = float(to_reference.mean()), float(to_decoded.mean())
    normals = face_normals[index]
    consistency = (np.abs(np.sum(normals * reference.face_normals[nearest_reference], axis=1)).mean()
                   + np.abs(np.sum(reference.normals * face_normals[nearest_decoded], axis=1)).mean()) / 2
    inside = igl.fast_winding_number(vertices, faces, reference.box) > INSIDE
    union = np.count_nonzero(inside | reference.inside)
    iou = np.count_nonzero(inside & reference.inside) / union if union else 1.0
    precision, recall = np.mean(to_reference <= F_SCORE_TAU), np.mean(to_decoded <= F_SCORE_TAU)
    f_score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"chamfer_l1": (accuracy + completeness) / 2, "accuracy": accuracy, "completeness": completeness,
            "hausdorff": float(max(to_reference.max(), to_decoded.max())),
            "normal_consistency": float(consistency), "iou": float(iou), "f_score": float(f_score)}
