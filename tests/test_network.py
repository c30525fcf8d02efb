"""The `network` method: `pyramid`'s grids coded under the shipped context network (`context_net`) in
fixed point, and corrected by the shipped synthesis network (`synthesis_net`) where a file asks."""

import math
import struct
from pathlib import Path

import numpy as np
import pytest

import inrcodec
from inrcodec import bitstream, context, context_net, fixed, pyramid, synthesis_net
from inrcodec.errors import InrError
from inrcodec.eval.metrics import psnr
from inrcodec.modalities import image


@pytest.fixture(scope="module")
def network_file(crop) -> bytes:
    return inrcodec.encode(crop, 1.0, "network")


@pytest.fixture(scope="module")
def synthesis_file(sample) -> bytes:
    """A 128 x 128 crop of kodim23 at 0.5 bpp, where the synthesis pays."""
    return inrcodec.encode(sample[100:228, 500:628], 0.5, "network")


def test_the_cap_holds_quality_grows_and_encoding_is_deterministic(crop, network_file):
    assert inrcodec.read_header(network_file).method == "network"
    assert inrcodec.default_config("network") == inrcodec.NetworkConfig()
    assert math.floor(1.0 * 40 * 56 / 8) * 0.9 <= len(network_file) <= math.floor(1.0 * 40 * 56 / 8)
    richer = inrcodec.encode(crop, 3.0, "network")
    low, high = (psnr(inrcodec.decode(data), crop) for data in (network_file, richer))
    assert 22.0 < low < high
    assert inrcodec.encode(crop, 1.0, "network") == network_file


def test_grayscale_and_other_scales(crop, network_file):
    gray = crop[..., :1].copy()
    data = inrcodec.encode(gray, 1.5, "network")
    assert psnr(inrcodec.decode(data), gray) > 25.0
    assert inrcodec.decode(network_file, scale=2.0).shape == (80, 112, 3)


def test_the_context_network_codes_any_integers_and_refuses_extra_data():
    rng = np.random.default_rng(0)
    shapes = pyramid.image_geometry(37, 53, 3).shapes()
    grids = [np.round(rng.laplace(size=s) * rng.uniform(0.1, 30)).astype(np.int32) for s in shapes]
    grids[1][...] = 0
    grids[1][5, 7, 1] = -3  # one active run among inactive ones
    grids[0][3, 4, 0] = 100_000  # and an outlier beyond the inputs' range
    bounds = [int(np.abs(plane).max()) for plane, _ in context.channel_planes(grids)]
    base = context_net.load()
    data = context.encode(grids, base, bounds)
    decoded = dict(context.decode(data, shapes, base, bounds))
    assert all(np.array_equal(decoded[k], grid) for k, grid in enumerate(grids))
    with pytest.raises(InrError, match="more data"):
        dict(context.decode(data + bytes([1, 0, 0, 0]), shapes, base, bounds))


def test_the_folded_route_computes_the_full_networks_integers():
    """The decoder's first layer reads only the inputs that are not 0 and adds the one-hots' rows to its
    bias; the same integers as the network over all FEATURES inputs, in plain int64 arithmetic."""
    base, rng = context_net.load(), np.random.default_rng(1)
    for phase, k, c in [(0, 6, 0), (1, 3, 1), (2, 0, 0), (2, 2, 2)]:
        x = np.round(rng.normal(0, 3000, (500, len(context_net.used(phase, c)))))
        mu, b = base.laplace(x, phase, k, c)
        full = context_net.network_inputs(phase, k, c, x).astype(np.int64)
        for i, name in enumerate(context_net.LAYERS):
            full = fixed.rescale(full @ base.arrays[f"{name}.kernel"].astype(np.int64) + base.arrays[f"{name}.bias"])
            if i < len(context_net.LAYERS) - 1:
                full = np.maximum(full, 0)
        assert np.array_equal(mu, full[:, 0] / 2.0 ** fixed.ACT_BITS)
        expected = np.exp(np.clip(full[:, 1] / 2.0 ** fixed.ACT_BITS, context.LOG_SCALE_MIN, context.LOG_SCALE_MAX))
        assert np.array_equal(b, expected)


def test_a_subset_of_cells_gets_the_same_numbers_in_any_chunks(monkeypatch):
    """Both coder sides evaluate the cells of a phase's active runs by the cell-wise route: the numbers
    of a cell do not depend on which others are evaluated with it (nor on the whole-plane route but for
    rounding)."""
    rng = np.random.default_rng(2)
    grids = [np.round(rng.laplace(size=s) * 3).astype(np.int32) for s in pyramid.image_geometry(70, 90, 3).shapes()]
    plane = context_net.load().plane(grids, 1, 2, 0)
    runs = context.phase_runs(plane.plane.shape, 2)
    active = np.arange(runs) % 3 > 0
    rows, cols, mu, b = plane.laplace(2, active)
    monkeypatch.setattr(context_net, "CHUNK", 5)
    fewer = np.arange(runs) % 3 == 1
    some_rows, some_cols, some_mu, some_b = plane.laplace(2, fewer)
    cells = context.run_cells(fewer, len(context.phase_cells(plane.plane.shape, 2)[0]))[
        context.run_cells(active, len(context.phase_cells(plane.plane.shape, 2)[0]))]
    assert np.array_equal(rows[cells], some_rows) and np.array_equal(mu[cells], some_mu)
    assert np.array_equal(b[cells], some_b)
    _, _, every_mu, every_b = plane.laplace(2, np.ones(runs, bool))
    assert np.allclose(every_mu[context.run_cells(active, len(every_mu))], mu, atol=2e-3)


@pytest.mark.parametrize("active_share", [1.0, 0.5])
def test_cells_far_from_any_nonzero_integer_get_the_networks_own_numbers(active_share):
    """Where a plane is mostly 0 the network runs only near its nonzero integers (`stirred_around`, the
    window's): every cell still gets exactly the numbers the network gives its features."""
    rng = np.random.default_rng(3)
    shapes = pyramid.image_geometry(120, 150, 3).shapes()
    grids = [np.where(rng.random(s) < 0.01, np.round(rng.laplace(size=s) * 4), 0).astype(np.int32) for s in shapes]
    base = context_net.load()
    for k, c in [(0, 0), (1, 0), (1, 1), (1, 2), (3, 2), (6, 0)]:
        plane = base.plane(grids, k, c, 0)
        for phase in context.coded_phases(plane.plane.shape):
            runs = context.phase_runs(plane.plane.shape, phase)
            active = rng.random(runs) < active_share
            rows, cols, mu, b = plane.laplace(phase, active)
            planes = [context_net.slog_plane(grids[k][..., j]) for j in range(c + 1)]
            parent = plane.whole[:, rows, cols] if active.all() else context.cell_parent(plane.sources, rows, cols)
            x = context_net.features(planes, phase, rows, cols, parent)
            expected = base.scaled(base.network(x, phase, k, c))
            assert np.array_equal(mu, expected[0]) and np.array_equal(b, expected[1])
            assert 0 < np.mean(~x.any(axis=1)) < 1 or len(x) < 50  # both kinds of cells were met


def test_files_name_their_context_network_and_those_of_round_2_decode(network_file):
    """The encoder codes under round 3's base; a file of round 2's (a seed made before) names it and decodes
    as it did (`test_structure`'s digests)."""
    assert inrcodec.read_header(network_file).layout.model() is context_net.load(context_net.SHIPPED[0])
    older = (Path(__file__).parent / "fuzz_seeds" / "network-rgb.inr").read_bytes()
    assert inrcodec.read_header(older).layout.model() is context_net.load(context_net.SHIPPED[-1])
    assert context_net.load(context_net.SHIPPED[0]).identity != context_net.load(context_net.SHIPPED[-1]).identity


def test_a_file_of_another_base_is_refused(network_file):
    body = bytearray(network_file[bitstream.OVERHEAD - 4:-4])
    position = body.index(context_net.load().identity)
    body[position] ^= 1
    with pytest.raises(InrError, match="another context network"):
        inrcodec.decode(bitstream.pack(bytes(body)))


def test_a_tiny_cap_is_refused_before_any_work(crop):
    with pytest.raises(InrError, match="too small: the smallest network file of a 56x40 image"):
        inrcodec.encode(crop, 0.01, "network")


def test_a_file_declaring_more_cells_than_its_bytes_allow_is_refused(network_file):
    """A decoder evaluates the network at every cell a file declares: at most network.VALUES_PER_BYTE a byte."""
    from inrcodec import methods
    from inrcodec.methods import network

    head = bitstream.varints(bitstream.IMAGE, methods.CODES["network"], 40, 56, 3)
    body = network_file[bitstream.OVERHEAD - 4:-4]
    assert body.startswith(head)
    large = bitstream.varints(bitstream.IMAGE, methods.CODES["network"], 600, 600, 3) + body[len(head):]
    assert 2 * 600 * 600 > network.VALUES_PER_BYTE * (len(large) + bitstream.OVERHEAD)  # 2 grid values a pixel
    with pytest.raises(InrError, match="too few for a network file"):
        inrcodec.decode(bitstream.pack(large))


def test_info_names_the_method_and_its_bases(network_file, synthesis_file, tmp_path, capsys):
    from inrcodec.cli import main

    path = tmp_path / "network.inr"
    path.write_bytes(network_file)
    main(["info", str(path)])
    out = capsys.readouterr().out
    assert "method:       network: step" in out and context_net.load().identity.hex() in out
    assert "synthesis network" not in out
    path.write_bytes(synthesis_file)
    main(["info", str(path)])
    out = capsys.readouterr().out
    gains = inrcodec.read_header(synthesis_file).layout.synthesis.gains.tolist()
    assert f"synthesis network {synthesis_net.load().identity.hex()} (gains {gains})" in out


def test_the_default_for_a_kodak_image_is_network_and_beats_pyramids_measurement(sample):
    """kodim23 at 0.3 bpp by default: `network`, within the cap and filling it, above `pyramid`'s 33.97 dB
    (its Kodak bench row; `network` measured 34.59)."""
    budget = math.floor(0.3 * sample.shape[0] * sample.shape[1] / 8)
    data = inrcodec.encode(sample, bpp=0.3)
    assert inrcodec.read_header(data).method == "network"
    assert 0.97 * budget <= len(data) <= budget
    assert psnr(sample, inrcodec.decode(data)) > 34.2


def test_the_synthesis_corrects_where_it_pays_and_renders_any_crop_alike(sample, synthesis_file):
    """The file asks for the synthesis, which it gains by; decoded over a crop (at scale 1 and 2) it gives
    the same pixels as the whole decode there: its bands and margins join."""
    from dataclasses import replace

    from inrcodec.modalities import image

    pixels = sample[100:228, 500:628]
    header = image.read_header(synthesis_file)
    assert header.layout.synthesis.base.identity == synthesis_net.load().identity
    plain = replace(header, layout=replace(header.layout, synthesis=None))
    decoded = inrcodec.decode(synthesis_file)
    assert psnr(pixels, decoded) > psnr(pixels, image.render(plain)) + 0.05
    for scale in (1, 2):
        whole = inrcodec.decode(synthesis_file, scale=scale)
        left, top, width, height = 37, 41, 50, 33
        part = inrcodec.decode(synthesis_file, scale=scale, crop=(left, top, width, height))
        assert np.array_equal(part, whole[scale * top:scale * (top + height), scale * left:scale * (left + width)])
    assert inrcodec.decode(synthesis_file, scale=0.25).shape == (32, 32, 3)  # no filter, no synthesis


def test_the_encoder_goes_without_the_synthesis_where_it_would_not_pay(crop):
    """A grayscale image never asks for it; a colour one goes without where its bytes cost more."""
    from inrcodec.methods.network import fit_synthesis

    geometry = pyramid.image_geometry(40, 56, 3)
    field = pyramid.to_ycbcr(crop)
    grids = pyramid.analyse(field, geometry, 0.05)
    weights = np.zeros((3, 24), np.int64)
    for name in synthesis_net.SHIPPED:
        assert fit_synthesis(field, geometry, 0.05, grids, weights, 10**6, name).base == synthesis_net.load(name)
        assert fit_synthesis(field, geometry, 0.05, grids, weights, 10, name) is None
    assert fit_synthesis(field[..., :1], pyramid.image_geometry(40, 56, 1), 0.05, grids, weights[:1], 10**6) is None
    assert inrcodec.read_header(inrcodec.encode(crop, 1.0, "network", inrcodec.NetworkConfig(synthesis=""))
                                ).layout.synthesis is None


def test_the_gains_are_the_least_squares_of_the_rgb_error():
    """`gain_equations` solves to the gains that minimise the squared RGB error, as a dense least squares
    over every pixel's three RGB errors finds them."""
    rng = np.random.default_rng(5)
    corrections, errors = rng.normal(size=(200, 3, 4)), rng.normal(size=(200, 3))
    gram, right = synthesis_net.gain_equations(corrections, errors)
    rgb = pyramid.YCBCR_TO_RGB
    design = np.einsum("rc,nck->nrck", rgb, corrections).reshape(600, 12)  # RGB of each gain's correction
    expected = np.linalg.lstsq(design, (errors @ rgb.T).ravel(), rcond=None)[0]
    assert np.allclose(np.linalg.solve(gram, right), expected)


def test_a_synthesis_file_of_another_base_is_refused(synthesis_file):
    body = bytearray(synthesis_file[bitstream.OVERHEAD - 4:-4])
    position = body.index(synthesis_net.load().identity)
    changed = body.copy()
    changed[position] ^= 1
    with pytest.raises(InrError, match="synthesis network this version does not ship"):
        inrcodec.decode(bitstream.pack(bytes(changed)))


def test_a_file_of_the_first_synthesis_base_decodes_with_it(synthesis_file):
    """Files made before the meta-learned base name the first one (one head, gains 0..MAX_GAIN); the encoder
    may still make them; each base's gains are read back as written (signed for a base of several heads)."""
    from pathlib import Path

    from inrcodec import methods
    from inrcodec.methods import network

    seed = image.read_header((Path(__file__).parent / "fuzz_seeds" / "network-synthesis.inr").read_bytes())
    assert seed.layout.synthesis.base == synthesis_net.load(synthesis_net.SHIPPED[-1])
    assert image.read_header(synthesis_file).layout.synthesis.base.heads > 1
    geometry = pyramid.image_geometry(24, 32, 3)
    zeros = [np.zeros(shape, np.int32) for shape in geometry.shapes()]
    head = bitstream.varints(bitstream.IMAGE, methods.CODES["network"], 24, 32, 3)
    for base in map(synthesis_net.load, synthesis_net.SHIPPED):
        gains = np.arange(3 * base.heads).reshape(3, -1) * (-1 if base.signed else 1) + synthesis_net.MAX_GAIN // 2
        body = network.write(geometry, 0.01, zeros, np.zeros((3, 24), np.int64),
                             synthesis_net.Synthesis(base, gains, 0.01), context_net.load())
        data = bitstream.pack(head + body)
        synthesis = image.read_header(data).layout.synthesis
        assert synthesis.base == base and np.array_equal(synthesis.gains, gains)
        assert np.isfinite(inrcodec.decode(data)).all()


OUTSIDE = "outside the encoder's range"


# steps 2**(code / 256) beyond 1/4096 .. 64: a large one's values are over the bound before the step is checked
@pytest.mark.parametrize("code, message", [(-32768, OUTSIDE), (-3073, OUTSIDE), (1537, f"{OUTSIDE}|exceed"),
                                           (32767, "exceed")])
def test_a_synthesis_file_with_a_step_the_encoder_never_makes_is_refused(synthesis_file, code, message):
    reader = bitstream.unpack(synthesis_file)
    image.parse_header(reader, len(synthesis_file))
    start = next(field[0] for field in reader.fields if field[2] == "step")
    body = bytearray(synthesis_file[bitstream.OVERHEAD - 4:-4])
    body[start:start + 2] = struct.pack("<h", code)
    with pytest.raises(InrError, match=message):
        inrcodec.decode(bitstream.pack(bytes(body)))


def test_a_grayscale_file_asking_for_the_synthesis_is_refused(crop):
    from inrcodec.modalities import image

    data = inrcodec.encode(crop[..., :1].copy(), 1.5, "network")
    reader = bitstream.unpack(data)
    image.parse_header(reader, len(data))
    identity = next(i for i, field in enumerate(reader.fields) if field[2] == "raw")
    flags = reader.fields[identity + 1 + 7][0]  # after the base's identity and the 7 grid channels' bounds
    body = bytearray(data[bitstream.OVERHEAD - 4:-4])
    assert body[flags] in (0, 1)
    body[flags] |= 2
    with pytest.raises(InrError, match="colour images only"):
        inrcodec.decode(bitstream.pack(bytes(body)))


def test_the_synthesis_features_and_network_are_integers_in_range():
    """Inputs are whole fixed-point numbers within +-INPUT_LIMIT steps; the network's output is whole
    too and does not depend on how many pixels run at once."""
    rng = np.random.default_rng(3)
    parts = [rng.normal(0, 0.05, (6, 9, c)).astype(np.float32) for c in pyramid.image_geometry(6, 9, 3).channels]
    output = rng.normal(0, 0.3, (10, 13, 3)).astype(np.float32)
    output[2, 2, 0] = 1e6  # the first pixel's own value
    x = synthesis_net.features(parts, output, 0.01, (1, 1))
    assert x.shape == (54, synthesis_net.FEATURES) and np.array_equal(x, np.round(x))
    assert np.abs(x).max() == synthesis_net.INPUT_LIMIT << fixed.ACT_BITS
    base = synthesis_net.load()
    whole = base.correction(x)
    assert np.array_equal(np.concatenate([base.correction(x[:20]), base.correction(x[20:])]), whole)
    assert np.array_equal(whole * 2 ** fixed.ACT_BITS, np.round(whole * 2 ** fixed.ACT_BITS))


def test_the_cells_a_byte_also_bound_the_synthesis_work():
    """A decoder runs the synthesis at every pixel: the grid values a file may declare a byte keep that
    work within the multiply-adds a byte any file may ask for."""
    from inrcodec.methods import network

    geometry = pyramid.image_geometry(1000, 1000, 3)
    values_per_pixel = sum(math.prod(s) for s in geometry.shapes()) / 1e6
    pixels_per_byte = network.VALUES_PER_BYTE / values_per_pixel
    work = pixels_per_byte * (pyramid.MACS_PER_PIXEL + max(synthesis_net.load(n).macs for n in synthesis_net.SHIPPED))
    assert work <= bitstream.MAX_MACS_PER_BYTE


def test_meta_training_learns_corrections_each_photo_combines_by_its_gains():
    """Photos whose targets mix the same two functions of the features differently: the heads, trained
    through each photo's least squares (`networks.synthesis`), learn them, so that every photo's gains,
    fitted as the encoder fits them, leave little of its error; `fitted_gains` is the encoder's solve."""
    from inrcodec.networks.batches import TrainConfig
    from inrcodec.networks.synthesis import SynthesisMLP, adapted_error, fitted_gains, train

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 256, synthesis_net.FEATURES)).astype(np.float32)
    functions = np.stack([x[..., 0], np.maximum(x[..., 1], 0)], -1)  # (photos, pixels, 2)
    y = np.einsum("pnk,pck->pnc", functions, rng.normal(size=(16, 3, 2))).astype(np.float32)
    config = TrainConfig(width=16, steps=400, batch=8 * 64, learning_rate=3e-3, group=64, log_every=10**6)
    params = train(x, y, config, heads=2, log=lambda line: None)
    total = float(np.mean(np.einsum("pnc,cd,pnd->pn", y, synthesis_net.RGB_METRIC, y)))
    assert float(adapted_error(SynthesisMLP(16, 2), params, x, y)) < 0.1 * total  # 0.96 of it at initialisation
    c, e = rng.normal(size=(1, 256, 3, 2)), y[:1].astype(np.float64)
    gram, right = synthesis_net.gain_equations(c, e)
    expected = np.linalg.solve(gram[0], right[0]).reshape(3, 2)
    assert np.allclose(fitted_gains(c, e, np)[0], expected, rtol=0.05, atol=1e-3)

