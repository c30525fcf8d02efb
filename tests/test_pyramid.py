"""The `pyramid` method: latent grids, their context entropy model, the post-filter and rate control."""

import math

import numpy as np
import pytest

import inrcodec
from inrcodec import context, postfilter, pyramid, ratecontrol
from inrcodec.errors import InrError
from inrcodec.eval.metrics import psnr
from inrcodec.methods.pyramid import PyramidConfig

# effort 1's steps: test_effort, test_cli and test_bad_input code images of the crop's shape in as many,
# and the context fit is compiled once per shape and step count
FAST = PyramidConfig(steps=5)


@pytest.fixture(scope="module")
def crop_file(crop) -> bytes:
    return inrcodec.encode(crop, 1.0, "pyramid", FAST)


def test_the_cap_holds_is_mostly_used_and_quality_grows_with_it(crop, crop_file):
    budget = math.floor(1.0 * 40 * 56 / 8)
    assert budget * 0.9 <= len(crop_file) <= budget
    richer = inrcodec.encode(crop, 3.0, "pyramid", FAST)
    assert len(richer) <= math.floor(3.0 * 40 * 56 / 8)
    low, high = (psnr(inrcodec.decode(data), crop) for data in (crop_file, richer))
    assert 22.0 < low < high


def test_encoding_is_deterministic(crop, crop_file):
    assert inrcodec.encode(crop, 1.0, "pyramid", FAST) == crop_file


def test_grayscale_round_trip(crop):
    gray = crop[..., :1].copy()
    data = inrcodec.encode(gray, 1.5, "pyramid", FAST)
    decoded = inrcodec.decode(data)
    assert decoded.shape == gray.shape and len(data) <= math.floor(1.5 * 40 * 56 / 8)
    assert psnr(decoded, gray) > 25.0


def test_a_crop_is_the_same_region_of_the_full_render(crop_file):
    full = inrcodec.decode(crop_file).astype(int)
    part = inrcodec.decode(crop_file, crop=(10, 7, 30, 20)).astype(int)
    assert np.abs(part - full[7:27, 10:40]).max() <= 1  # float32 sums in another order
    corner = inrcodec.decode(crop_file, crop=(0, 0, 5, 4)).astype(int)
    assert np.abs(corner - full[:4, :5]).max() <= 1


def test_the_field_renders_at_other_scales(crop_file):
    full = inrcodec.decode(crop_file).astype(float)
    double = inrcodec.decode(crop_file, scale=2.0).astype(float)
    half = inrcodec.decode(crop_file, scale=0.5)
    assert double.shape == (80, 112, 3) and half.shape == (20, 28, 3)
    pooled = double.reshape(40, 2, 56, 2, 3).mean(axis=(1, 3))
    assert np.mean(np.abs(pooled - full)) < 4.0


def test_context_coding_round_trips_any_integers():
    rng = np.random.default_rng(0)
    shapes = pyramid.image_geometry(37, 53, 3).shapes()
    grids = [np.round(rng.laplace(size=s) * rng.uniform(0.1, 30)).astype(np.int32) for s in shapes]
    grids[2][...] = 0  # an all-zero level costs nothing
    grids[1][...] = 0
    grids[1][5, 7, 1] = -3  # one active run among inactive ones
    grids[0][3, 4, 0] = 1000  # and an outlier
    params = rng.integers(-40, 40, size=(len(context.channel_planes(grids)), context.N_PARAMS))
    bounds = [int(np.abs(plane).max()) for plane, _ in context.channel_planes(grids)]
    model = context.Fitted(params)
    data = context.encode(grids, model, bounds)
    decoded = dict(context.decode(data, shapes, model, bounds))
    assert all(np.array_equal(decoded[k], grid) for k, grid in enumerate(grids))
    with pytest.raises(InrError, match="more data"):
        dict(context.decode(data + bytes([1, 0, 0, 0]), shapes, model, bounds))
    with pytest.raises(InrError, match="corrupt"):
        dict(context.decode(data + bytes(4), shapes, model, bounds))


def test_a_cells_model_reads_only_cells_decoded_before_it():
    rng = np.random.default_rng(1)
    plane = rng.integers(-5, 6, size=(9, 11))
    parent = context.parent_context(rng.integers(-5, 6, size=(5, 6)), plane.shape)
    phases = context.phase_of(plane.shape)
    params = rng.integers(-20, 20, size=context.N_PARAMS)
    for phase in range(context.PHASES):
        changed = np.where(phases >= phase, rng.integers(-5, 6, size=plane.shape), plane)
        for a, b in zip(context.phase_laplace(plane, parent, phase, params),
                        context.phase_laplace(changed, parent, phase, params)):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("shape, parent_shape", [((9, 11), (5, 6)), ((1, 41), (1, 21)), ((7, 1), (4, 1))])
def test_the_coders_features_at_chosen_cells_equal_the_encoders_whole_plane_features(shape, parent_shape):
    rng = np.random.default_rng(3)
    plane, parent = rng.integers(-5, 6, size=shape), rng.integers(-9, 10, size=parent_shape)
    for phase in context.coded_phases(shape):
        rows, cols = context.phase_cells(shape, phase)
        whole = context.phase_features(plane, context.parent_context(parent, shape), phase)
        chosen = rng.random(len(rows)) < 0.5
        at_cells = context.cell_features(plane, context.parent_sources(parent, shape), phase, rows[chosen], cols[chosen])
        np.testing.assert_allclose(at_cells, whole[:, chosen], rtol=1e-12, atol=1e-12)


def test_runs_of_zeros_are_flagged_not_coded():
    values = np.zeros(3 * context.RUN + 5, np.int32)
    values[context.RUN + 7] = 2
    active = context.active_runs(values)
    assert active.tolist() == [False, True, False, False]
    cells = context.run_cells(active, len(values))
    assert cells.sum() == context.RUN and cells[context.RUN + 7]


def test_the_encoder_flags_runs_only_where_that_is_cheaper():
    rng = np.random.default_rng(4)
    cells = 40 * context.RUN
    mu, b = np.zeros(cells), np.full(cells, 0.05)  # a model sure of zeros: they cost next to nothing
    sparse = np.zeros(cells, np.int32)
    sparse[[5, 2000]] = 1  # 2 active runs of 40
    assert context.coded_runs(sparse, mu, np.full(cells, 1.0)).sum() == 2  # zeros at 1.5 bits each: flag runs
    busy = np.where(rng.random(cells) < 0.2, rng.integers(1, 3, cells), 0).astype(np.int32)
    busy[:context.RUN] = 0  # one idle run
    assert context.coded_runs(busy, mu, b).all()  # its flags would cost more than its cheap zeros


def test_the_post_filter_recovers_a_known_blur():
    rng = np.random.default_rng(2)
    sharp = rng.normal(size=(60, 70, 1)).astype(np.float32)
    blurred = sharp.copy()
    blurred[1:-1, :, 0] = 0.6 * sharp[1:-1, :, 0] + 0.2 * (sharp[:-2, :, 0] + sharp[2:, :, 0])
    weights = postfilter.fit(blurred, sharp)
    restored = postfilter.apply(blurred, weights)
    assert np.mean((restored - sharp) ** 2) < 0.5 * np.mean((blurred - sharp) ** 2)


@pytest.mark.parametrize("strides", [(1, 1), (2, 2), (4, 4), (8, 8), (1, 4)])
def test_the_projection_is_the_least_squares_of_the_levels_interpolation(strides):
    values = np.random.default_rng(3).normal(size=(19, 27, 2)).astype(np.float32)
    cells = pyramid.projection(values, strides)
    shape = (-(-19 // strides[0]), -(-27 // strides[1]), 2)
    assert cells.shape == shape
    # the rendering of each cell alone, at scale 1: the columns of the interpolation
    basis = np.stack([pyramid.level_values(np.eye(shape[0] * shape[1])[i].reshape(shape[:2] + (1,)), strides, 1.0,
                                           (1.0, 1.0), (0, 0, 19, 27)).ravel() for i in range(shape[0] * shape[1])], 1)
    for c in range(2):
        expected = np.linalg.lstsq(basis, values[..., c].ravel().astype(np.float64), rcond=None)[0]
        np.testing.assert_allclose(cells[..., c].ravel(), expected, atol=1e-5)


def test_secant_search_lands_under_the_cap_and_near_it():
    calls = []

    def make_file(knob: float) -> bytes:
        calls.append(knob)
        return bytes(int(50 * knob**1.7))

    knob, data = ratecontrol.secant_fitting(make_file, 10_000, 0.5, 4096.0, 3.0, 2.0, 10, fill=0.99)
    assert 9_900 <= len(data) <= 10_000 and len(calls) <= 10
    with pytest.raises(InrError, match="too small"):
        ratecontrol.secant_fitting(make_file, 5, 0.5, 4096.0, 3.0, 2.0, 10)


def test_effort_scales_the_context_fit():
    assert inrcodec.default_config("pyramid", 1).steps < inrcodec.default_config("pyramid").steps


def test_a_tiny_cap_is_refused_before_any_work(crop):
    with pytest.raises(InrError, match="too small: the smallest pyramid file of a 56x40 image"):
        inrcodec.encode(crop, 0.01, "pyramid", FAST)
