"""Shapes: a mesh coded as its signed distance function, within its cap, decoded to a mesh or queried at points."""

import numpy as np
import pytest
import trimesh

from inrcodec import InrError, bitstream, sdf
from inrcodec.eval import metrics as shape_metrics
from inrcodec.modalities import shape as shapes
from inrcodec.cli import main

CAP = 400  # bytes: small enough that the lattice search stops after a few sizes


@pytest.fixture(scope="module")
def capsule():
    mesh = trimesh.creation.capsule(height=1.0, radius=0.4, count=[24, 24])
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


@pytest.fixture(scope="module")
def encoded(capsule):
    stats = {}
    return shapes.encode_mesh(*capsule, CAP, stats=stats), stats


def test_a_file_is_within_its_cap_and_decodes_close_to_the_input(capsule, encoded):
    data, stats = encoded
    assert len(data) <= CAP and shapes.read_header(data).method == "pyramid"
    vertices, faces = shapes.decode_mesh(data, 64)
    scores = shape_metrics.compare(shape_metrics.prepare(*capsule, samples=5000), (vertices, faces))
    assert scores["chamfer_l1"] < 0.01 and scores["iou"] > 0.9
    assert trimesh.Trimesh(vertices, faces).volume > 0  # faces wound outward


def test_the_decoded_sdf_is_negative_inside_and_near_zero_on_the_surface(capsule, encoded):
    data, _ = encoded
    values = shapes.evaluate_sdf(data, np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.4, 0.0, 0.0]]))
    assert values[0] < -0.2 and values[1] > 0 and abs(values[2]) < 0.05


def test_decoding_is_deterministic_and_resolution_sets_the_lattice(encoded):
    data, _ = encoded
    first, second = shapes.decode_field(data, 32), shapes.decode_field(data, 32)
    assert np.array_equal(first[0], second[0]) and max(first[0].shape) == 32
    assert max(shapes.decode_field(data, 48)[0].shape) == 48


@pytest.mark.parametrize("method", ["coin", "meta"])
def test_a_network_file_of_a_shape_round_trips(capsule, method):
    from dataclasses import replace

    config = shapes.default_config(method)
    config = replace(config, fit=replace(config.fit, steps=50))
    data = shapes.encode_mesh(*capsule, 600, method, config)
    assert len(data) <= 600 and shapes.read_header(data).method == method
    field, _ = shapes.decode_field(data, 24)
    inside = shapes.evaluate_sdf(data, np.zeros((1, 3)))
    assert np.all(np.isfinite(field)) and np.isfinite(inside).all()


@pytest.mark.parametrize("vertices, faces, message", [
    (np.zeros((0, 3)), np.zeros((0, 3), int), "no faces"),
    (np.random.default_rng(0).random((10, 3)), np.zeros((0, 3), int), "no faces"),
    (np.array([[0, 0, 0], [1, 0, 0], [0, 1, np.nan]]), np.array([[0, 1, 2]]), "not finite"),
    (np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], float), np.array([[0, 1, 2], [1, 3, 2]]), "flat"),
    (np.zeros((3, 3)), np.array([[0, 1, 5]]), "does not exist"),
])
def test_bad_meshes_are_refused_with_one_line(vertices, faces, message):
    with pytest.raises(InrError, match=message):
        shapes.encode_mesh(vertices, faces, 1024)


def test_too_many_faces_are_refused_naming_the_limit():
    with pytest.raises(InrError, match=str(sdf.MAX_FACES)):
        sdf.check_mesh(np.zeros((3, 3)), np.zeros((sdf.MAX_FACES + 1, 3), int))


def test_a_file_of_another_type_and_a_point_cloud_file_are_refused(tmp_path):
    text = tmp_path / "notes.obj"
    text.write_text("this is not a mesh\n")
    with pytest.raises(InrError):
        sdf.read_mesh(text)
    cloud = tmp_path / "cloud.ply"
    trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(cloud)
    with pytest.raises(InrError, match="no surface|no faces"):
        sdf.read_mesh(cloud)
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(InrError, match="not a mesh file"):
        sdf.read_mesh(png)


def test_a_corrupted_header_is_refused(encoded):
    data, _ = encoded
    body = bytearray(bitstream.unpack(data).data)
    body[2] = 1  # lattice size along x
    with pytest.raises(InrError, match="lattice"):
        shapes.read_header(bitstream.pack(bytes(body)))
    body[2:5] = b"\x7f\x7f\x7f"  # a lattice of 127^3 samples in a file of a few hundred bytes
    with pytest.raises(InrError, match="too few"):
        shapes.read_header(bitstream.pack(bytes(body)))


def test_command_line_encode_info_decode(capsule, tmp_path, capsys):
    source = tmp_path / "capsule.ply"
    trimesh.Trimesh(*capsule).export(source)
    assert main(["encode", str(source), "-o", str(tmp_path / "c.inr"), "--bytes", str(CAP), "-q"]) == 0
    assert (tmp_path / "c.inr").stat().st_size <= CAP
    assert main(["info", str(tmp_path / "c.inr")]) == 0 and "pyramid" in capsys.readouterr().out
    assert main(["decode", str(tmp_path / "c.inr"), "-o", str(tmp_path / "c.obj"), "--resolution", "40"]) == 0
    assert len(trimesh.load(tmp_path / "c.obj", force="mesh").faces) > 100
    assert main(["decode", str(tmp_path / "c.inr"), "-o", str(tmp_path / "c.png")]) == 1
    assert not (tmp_path / "c.png").exists()


def test_the_integer_search_finds_the_largest_knob_whose_file_fits():
    from inrcodec.ratecontrol import largest_integer_fitting

    sizes = []

    def make(knob: int) -> bytes:
        sizes.append(knob)
        return bytes(10 * knob)

    assert largest_integer_fitting(make, 95, 2, 64) == (9, bytes(90))
    assert largest_integer_fitting(make, 95, 40, 64)[0] == 9
    assert largest_integer_fitting(make, 10_000, 3, 64)[0] == 64
    assert len(sizes) < 30
    with pytest.raises(InrError, match="too small"):
        largest_integer_fitting(make, 5, 4, 64)


@pytest.mark.parametrize("extent", [(2, 9, 33), (3, 2, 17), (5, 40, 2)])
def test_lattices_with_a_short_axis_round_trip(extent):
    from inrcodec import sdf_grid

    q = np.clip(np.round(np.random.default_rng(0).normal(0, 3, extent)), -4, 4).astype(np.int64)
    params = sdf_grid.fit_params(sdf_grid.residuals(q, 4), 4)
    assert np.array_equal(sdf_grid.decode(sdf_grid.encode(q, 4, params), extent, 4, params), q)
