import math
from pathlib import Path

import numpy as np
import pytest
import trimesh

from inrcodec.eval import shape_baselines
from inrcodec.eval import metrics as shape_metrics
from inrcodec.errors import InrError

MESHES = Path(__file__).resolve().parents[2] / "shared" / "data" / "meshes"
SAMPLES = 20_000  # points per set: enough for the tolerances below, fast


def _pair(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


@pytest.fixture(scope="module")
def sphere() -> tuple[np.ndarray, np.ndarray]:
    return _pair(trimesh.creation.icosphere(subdivisions=4))


@pytest.fixture(scope="module")
def reference(sphere) -> shape_metrics.Reference:
    return shape_metrics.prepare(*sphere, samples=SAMPLES)


@pytest.fixture(scope="module")
def torus() -> tuple[np.ndarray, np.ndarray]:
    return _pair(trimesh.creation.torus(1.0, 0.3, major_sections=64, minor_sections=32))


def test_a_mesh_matches_itself(sphere, reference):
    scores = shape_metrics.compare(reference, sphere)
    assert set(scores) == {"chamfer_l1", "accuracy", "completeness", "hausdorff", "normal_consistency", "iou",
                           "f_score"}
    assert all(isinstance(value, float) for value in scores.values())
    assert scores["chamfer_l1"] < 1e-9 and scores["hausdorff"] < 1e-9
    assert scores["iou"] == 1.0 and scores["f_score"] == 1.0
    assert scores["normal_consistency"] > 1 - 1e-9


def test_scaled_sphere_is_off_by_the_radius_difference(sphere, reference):
    vertices, faces = sphere
    scale = 1.01
    scores = shape_metrics.compare(reference, (vertices * scale, faces))
    diagonal = np.linalg.norm(np.ptp(vertices, axis=0))
    # the faces are parallel, scale - 1 times their distance from the centre apart (0.998 on average)
    expected = (scale - 1) / diagonal
    for key in ("accuracy", "completeness", "chamfer_l1"):
        assert scores[key] == pytest.approx(expected, rel=0.03)
    assert 0.95 * expected < scores["hausdorff"] <= expected * (1 + 1e-9)
    assert scores["iou"] == pytest.approx(scale ** -3, abs=0.01)
    assert scores["f_score"] == 1.0  # 1% of the diagonal is 0.035 radii, above the 0.01 offset
    assert scores["normal_consistency"] > 0.999


def test_open_mesh_has_an_inside_by_winding_number(sphere, reference):
    vertices, faces = sphere
    kept = faces[vertices[faces].mean(axis=1)[:, 2] > -0.8]  # a hole at the bottom, as a scan's base
    assert len(kept) < len(faces)
    scores = shape_metrics.compare(reference, (vertices, kept))
    assert scores["iou"] > 0.95
    opened = shape_metrics.prepare(vertices, kept, samples=SAMPLES)
    assert np.mean(opened.inside == (np.linalg.norm(opened.box, axis=1) < 1)) > 0.98  # the unit ball


def test_empty_decoded_mesh_scores_worst_and_finite(reference):
    for vertices, faces in [(np.zeros((0, 3)), np.zeros((0, 3), np.int64)),
                            (np.zeros((3, 3)), np.array([[0, 1, 2]]))]:  # one zero-area triangle
        scores = shape_metrics.compare(reference, (vertices, faces))
        assert all(math.isfinite(value) for value in scores.values())
        assert scores["iou"] == scores["f_score"] == scores["normal_consistency"] == 0.0
        # the reference's points lie about 1 from its centre
        assert scores["chamfer_l1"] == pytest.approx(1 / reference.diagonal, rel=0.01)
        assert scores["hausdorff"] >= scores["chamfer_l1"]


def test_scores_are_deterministic(sphere):
    vertices, faces = sphere
    decoded = (vertices * 1.02 + 0.01, faces)
    first = shape_metrics.compare(shape_metrics.prepare(*sphere, samples=2000, seed=3), decoded)
    assert first == shape_metrics.compare(shape_metrics.prepare(*sphere, samples=2000, seed=3), decoded)
    assert first != shape_metrics.compare(shape_metrics.prepare(*sphere, samples=2000, seed=4), decoded)


@pytest.mark.parametrize("vertices, faces", [(np.zeros((4, 2)), np.array([[0, 1, 2]])),
                                             (np.eye(3), np.array([[0, 1, 3]])),
                                             (np.eye(3), np.array([[0.0, 1.0, 2.0]])),
                                             (np.full((3, 3), np.nan), np.array([[0, 1, 2]]))])
def test_bad_meshes_are_errors(reference, vertices, faces):
    with pytest.raises(InrError):
        shape_metrics.compare(reference, (vertices, faces))
    with pytest.raises(InrError):
        shape_metrics.prepare(vertices, faces)


def test_reference_without_area_is_an_error():
    with pytest.raises(InrError):
        shape_metrics.prepare(np.zeros((3, 3)), np.array([[0, 1, 2]]))


def test_draco_file_fits_the_cap_and_decodes_close(torus):
    data = shape_baselines.draco(*torus, 3000)
    assert 2000 < len(data) <= 3000
    decoded = shape_baselines.decompress(data)
    assert len(decoded[1]) == len(torus[1])  # the whole mesh fits at some quantization
    scores = shape_metrics.compare(shape_metrics.prepare(*torus, samples=SAMPLES), decoded)
    assert scores["chamfer_l1"] < 5e-4 and scores["iou"] > 0.98


def test_draco_decimates_under_a_small_cap(torus):
    data = shape_baselines.draco(*torus, 600)
    assert len(data) <= 600
    decoded = shape_baselines.decompress(data)
    assert len(decoded[1]) < len(torus[1]) / 2
    scores = shape_metrics.compare(shape_metrics.prepare(*torus, samples=SAMPLES), decoded)
    assert scores["chamfer_l1"] < 0.01


def test_draco_impossible_cap_is_an_error(torus):
    with pytest.raises(InrError, match="50 bytes"):
        shape_baselines.draco(*torus, 50)


def test_draco_decompress_rejects_other_bytes():
    with pytest.raises(InrError):
        shape_baselines.decompress(b"not a draco file")


@pytest.mark.skipif(not MESHES.is_dir(), reason="evaluation meshes not present")
def test_open_scan_has_an_inside():
    vertices, faces = _pair(trimesh.load(MESHES / "bun_zipper.ply", force="mesh"))
    bunny = shape_metrics.prepare(vertices, faces, samples=SAMPLES)
    assert 0.1 < bunny.inside.mean() < 0.5  # its base is open: a ray parity test would see noise
    assert shape_metrics.compare(bunny, (vertices, faces))["iou"] == 1.0
