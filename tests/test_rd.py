"""Rate–distortion analysis: Bjøntegaard deltas against published values and exact cases, the tidy
tables, the RD plot, and comparisons of results files (written here, in the bench's shape) with each
other and with the published anchors the repository ships (experiments/anchors/)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from inrcodec import InrError, cli
from inrcodec.eval import rd

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT / "experiments" / "anchors"
METHODS = list(rd.MIN_POINTS)

# Two pairs of 4-point curves (rate in kbit/s, Y-PSNR in dB: anchor, test) from JCTVC-E137, with the
# BD-rates of the JCT-VC piecewise-cubic sheet as published in Netflix/vmaf,
# python/test/calculate_bd_rate_test.py (class CalculateBdRateJCTVCTest; the same numbers in
# python/test/bd_rate_calculator_test.py), there as fractions: -0.00465215420752807 and
# -0.018779823450567612. Only the numbers are copied.
JCTVC_E137 = [
    (([108048.8736, 61279.976, 33905.6656, 18883.6928], [43.6471, 40.3953, 37.247, 34.2911]),
     ([108061.2784, 61299.9936, 33928.7472, 18910.912], [43.6768, 40.4232, 37.2761, 34.3147]),
     -0.465215420752807),
    (([40433.8848, 7622.7456, 2394.488, 1017.6184], [37.5761, 35.3756, 33.8977, 32.0603]),
     ([40370.12, 7587.0024, 2390.0944, 1017.0984], [37.5982, 35.4025, 33.9194, 32.0822]),
     -1.8779823450567612),
]
RATES = np.array([0.1, 0.2, 0.4, 0.8, 1.6])
PSNR = np.array([24.0, 27.5, 30.5, 33.0, 35.0])


@pytest.mark.parametrize("anchor, test, published", JCTVC_E137)
def test_pchip_matches_the_published_jctvc_sheet_values(anchor, test, published):
    """The JCTVC-E137 curves and BD-rates published in github.com/Netflix/vmaf,
    python/test/calculate_bd_rate_test.py (CalculateBdRateJCTVCTest): that test asserts 4 places of
    the fraction; we agree with the published digits to about 1e-13 percent. No cubic-fit value is
    published for these curves."""
    assert rd.bd_rate(*anchor, *test) == pytest.approx(published, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_polynomial_curves_give_the_exact_integral(method):
    """log(rate) a cubic of PSNR for both curves (sampled at different PSNRs): both methods are then
    close to the exact mean difference over the overlap, and the cubic fit reproduces it exactly."""
    anchor = np.polynomial.Polynomial([-9.0, 0.25, 0.001, 0.00004])
    test = np.polynomial.Polynomial([-9.3, 0.26, 0.0008, 0.00005])
    psnr_anchor, psnr_test = np.array([25.0, 29.0, 33.0, 36.0, 40.0]), np.array([27.0, 30.0, 34.0, 38.0, 42.0])
    mean = quad(lambda q: test(q) - anchor(q), 27.0, 40.0)[0] / 13.0
    got = rd.bd_rate(np.exp(anchor(psnr_anchor)), psnr_anchor, np.exp(test(psnr_test)), psnr_test, method=method)
    assert got == pytest.approx(100 * math.expm1(mean), abs=1e-9 if method == "cubic" else 0.1)


@pytest.mark.parametrize("method", METHODS)
def test_identical_curves_differ_by_nothing(method):
    assert rd.bd_rate(RATES, PSNR, RATES, PSNR, method=method) == pytest.approx(0.0, abs=1e-12)
    assert rd.bd_psnr(RATES, PSNR, RATES, PSNR, method=method) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_half_the_rate_for_the_same_quality_is_minus_50_percent(method):
    assert rd.bd_rate(RATES, PSNR, RATES / 2, PSNR, method=method) == pytest.approx(-50.0, abs=1e-9)
    assert rd.bd_rate(RATES / 2, PSNR, RATES, PSNR, method=method) == pytest.approx(100.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_one_db_more_at_every_rate_is_plus_one_db(method):
    assert rd.bd_psnr(RATES, PSNR, RATES, PSNR + 1, method=method) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("anchor, test, _", JCTVC_E137)
def test_swapping_the_curves_inverts_the_rate_ratio(method, anchor, test, _):
    forward = rd.bd_rate(*anchor, *test, method=method) / 100
    backward = rd.bd_rate(*test, *anchor, method=method) / 100
    assert backward == pytest.approx(1 / (1 + forward) - 1, rel=1e-9)
    assert rd.bd_psnr(*test, *anchor, method=method) == pytest.approx(-rd.bd_psnr(*anchor, *test, method=method))


def test_points_may_come_in_any_order():
    (rate_a, psnr_a), (rate_t, psnr_t), _ = JCTVC_E137[0]
    reversed_anchor = rd.bd_rate(rate_a[::-1], psnr_a[::-1], rate_t, psnr_t)
    assert reversed_anchor == pytest.approx(rd.bd_rate(rate_a, psnr_a, rate_t, psnr_t), rel=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_a_stated_range_is_clipped_to_the_overlap_and_changes_the_average(method):
    """log(rate) of the test exceeds the anchor's by (PSNR - 30)/20, linear: both methods are exact."""
    psnr = np.array([30.0, 32.0, 35.0, 38.0, 40.0])
    anchor, test = np.exp(psnr / 10), np.exp(psnr / 10 + (psnr - 30) / 20)
    whole, clipped = 100 * math.expm1(0.25), 100 * math.expm1(0.05)
    assert rd.bd_rate(anchor, psnr, test, psnr, method=method) == pytest.approx(whole)
    assert rd.bd_rate(anchor, psnr, test, psnr, method=method, dist_range=(0, 99)) == pytest.approx(whole)
    assert rd.bd_rate(anchor, psnr, test, psnr, method=method, dist_range=(30, 32)) == pytest.approx(clipped)
    with pytest.raises(ValueError, match="misses the overlap"):
        rd.bd_rate(anchor, psnr, test, psnr, method=method, dist_range=(41, 45))
    assert rd.bd_psnr(RATES, PSNR, RATES, PSNR + 1, method=method, rate_range=(0.01, 0.5)) == pytest.approx(1.0)


def test_a_distance_is_passed_negated():
    """Chamfer falls with rate: negated, half the bytes for the same distance is -50%, and a distance
    smaller by 0.001 at every size is a BD gain of +0.001."""
    size, chamfer = np.array([1e3, 2e3, 4e3, 8e3]), np.array([0.004, 0.0025, 0.0017, 0.0012])
    assert rd.bd_rate(size, -chamfer, size / 2, -chamfer) == pytest.approx(-50.0)
    assert rd.bd_psnr(size, -chamfer, size, -(chamfer - 0.001)) == pytest.approx(0.001)
    with pytest.raises(ValueError, match="not monotone"):
        rd.bd_rate(size, chamfer, size / 2, chamfer)


@pytest.mark.parametrize("rates, psnr, method, message", [
    ([0.1], [30.0], "pchip", "at least 2 points"),
    ([0.1, 0.2, 0.4], [30.0, 32.0, 34.0], "cubic", "at least 4 points"),
    ([0.1, 0.2, 0.4], [30.0, 34.0, 32.0], "pchip", "not monotone"),
    ([0.1, 0.2, 0.2], [30.0, 32.0, 34.0], "pchip", "share the rate"),
    ([0.0, 0.2, 0.4], [30.0, 32.0, 34.0], "pchip", "positive"),
    ([0.1, 0.2, 0.4], [30.0, 32.0, float("nan")], "pchip", "finite"),
    ([0.1, 0.2], [30.0, 32.0, 34.0], "pchip", "one length"),
    ([0.1, 0.2, 0.4, 0.8], [30.0, 32.0, 34.0, 36.0], "akima", "unknown method"),
])
def test_bad_curves_are_refused(rates, psnr, method, message):
    with pytest.raises(ValueError, match=message):
        rd.bd_rate(rates, psnr, RATES, PSNR, method=method)


def test_curves_that_do_not_overlap_are_refused():
    with pytest.raises(ValueError, match="do not overlap in quality"):
        rd.bd_rate(RATES, PSNR, RATES, PSNR + 20)
    with pytest.raises(ValueError, match="do not overlap in log rate"):
        rd.bd_psnr(RATES, PSNR, RATES * 100, PSNR)


def write_results(path: Path, name: str, unit: str, item_key: str, rows: list[dict]) -> Path:
    """A results file in the bench's shape, with per-item `rows` and their mean curve over targets."""
    targets = sorted({row[f"target_{unit}"] for row in rows})
    at = {target: [row for row in rows if row[f"target_{unit}"] == target] for target in targets}
    metrics = [key for key in rows[0] if key not in (item_key, "stats") and not key.startswith("target_")]
    results = {f"target_{unit}": targets, "n_images": [len(at[t]) for t in targets],
               **{key: [float(np.mean([row[key] for row in at[t]])) for t in targets] for key in metrics}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": name, "description": "test", "results": results, "per_image": rows}))
    return path


def image_rows(offset_db: float, images=("a.png", "b.png"), targets=(0.1, 0.2, 0.4, 0.8)) -> list[dict]:
    """Per-image rows with PSNR = 20 + 10 log10(10 * bpp / 0.98) + offset_db + the image's index: one
    more dB is 10^-0.1 times the bits."""
    return [{"image": image, "target_bpp": target, "bytes": int(target * 1000), "bpp": target * 0.98,
             "psnr": 20 + 10 * math.log10(10 * target) + offset_db + index, "encoding_time": 1.5,
             "decoding_time": 0.1, "stats": {"step": 0.5}}
            for index, image in enumerate(images) for target in targets]


ONE_DB_RATE = 100 * (10 ** -0.1 - 1)  # percent: the BD-rate of a curve 1 dB above its anchor on these rows


@pytest.fixture
def kodak(tmp_path) -> Path:
    """A folder of two results files in the bench's shape, 2 images at 5 targets each (0.098 to 1.57
    bpp): `pyramid` is 1 dB above `jpeg2000` at every rate (mean curves from 20.5 to 32.5 dB and from
    21.5 to 33.5 dB)."""
    folder = tmp_path / "kodak"
    for name, offset in (("pyramid", 1.0), ("jpeg2000", 0.0)):
        write_results(folder / f"{name}.json", name, "bpp", "image",
                      image_rows(offset, targets=(0.1, 0.2, 0.4, 0.8, 1.6)))
    return folder


def test_table_is_tidy_with_scalar_metrics_only(tmp_path):
    images = write_results(tmp_path / "kodak" / "ours.json", "ours", "bpp", "image", image_rows(0.0))
    clips = write_results(tmp_path / "audio" / "ours.json", "ours", "kbps", "clip",
                          [{"clip": "x.wav", "target_kbps": kbps, "bytes": 100 * kbps, "kbps": kbps, "psnr": 30 + kbps,
                            "si_snr": 5.0 + kbps, "pesq": 2.0, "stoi": 0.9, "encoding_time": 1.0,
                            "decoding_time": 0.1, "stats": {"files": 4}} for kbps in (8.0, 16.0)])
    frame = rd.table([images, clips])
    assert list(frame.columns[:6]) == ["dataset", "method", "item", "rate_unit", "target", "rate"]
    assert {"psnr", "si_snr", "pesq", "stoi", "bytes", "encoding_time", "decoding_time"} <= set(frame.columns)
    assert not {"stats", "image", "clip", "bpp", "kbps", "target_bpp"} & set(frame.columns)
    assert len(frame) == 8 + 2
    audio = frame[frame.dataset == "audio"]
    assert audio.rate_unit.tolist() == ["kbps", "kbps"] and audio.rate.tolist() == [8.0, 16.0]
    assert frame[frame.dataset == "kodak"].si_snr.isna().all()
    row = frame[(frame.item == "b.png") & (frame.target == 0.4)].iloc[0]
    assert row.rate == pytest.approx(0.392) and row.bytes == 400


def test_table_of_several_results_files(kodak):
    paths = sorted(kodak.glob("*.json"))
    frame = rd.table(paths)
    documents = [json.loads(path.read_text()) for path in paths]
    assert len(frame) == sum(len(document["per_image"]) for document in documents)
    assert set(frame.method) == {document["name"] for document in documents} == {"pyramid", "jpeg2000"}
    assert (frame.dataset == "kodak").all() and (frame.rate_unit == "bpp").all()
    assert "stats" not in frame.columns and frame.psnr.notna().all()
    by_method = frame.groupby("method").psnr.mean()
    assert by_method["pyramid"] - by_method["jpeg2000"] == pytest.approx(1.0)


def test_anchors_table(tmp_path):
    path = tmp_path / "kodak" / "codec.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"name": "codec", "dataset": "kodak", "source": "s", "note": "n",
                                "results": {"bpp": [0.25, 0.5], "psnr": [29.0, 32.0], "ms-ssim": [0.9, 0.95]}}))
    frame = rd.anchors([path])
    assert frame.to_dict("list") == {"dataset": ["kodak", "kodak"], "method": ["codec", "codec"],
                                     "rate_unit": ["bpp", "bpp"], "rate": [0.25, 0.5], "psnr": [29.0, 32.0],
                                     "ms-ssim": [0.9, 0.95]}


def test_anchors_table_of_the_shipped_published_curves():
    paths = sorted(ANCHORS.glob("*/*.json"))
    assert paths, f"no published anchors at {ANCHORS}"
    frame = rd.anchors(paths)
    assert len(frame) == sum(len(json.loads(path.read_text())["results"]["psnr"]) for path in paths)
    assert set(frame.rate_unit) == {"bpp", "kbps"} and frame.psnr.notna().all()


def test_curve_is_the_mean_curve_sorted_by_rate(tmp_path):
    path = tmp_path / "shuffled.json"
    path.write_text(json.dumps({"name": "shuffled", "results": {"target_bpp": [0.4, 0.1, 0.8, 0.2],
                                                                "bpp": [0.39, 0.1, 0.78, 0.2],
                                                                "psnr": [30.0, 24.0, 33.0, 27.0],
                                                                "ssim": [0.9, 0.7, 0.95, 0.8]}}))
    rates, psnr = rd.curve(path)
    assert rates.tolist() == [0.1, 0.2, 0.39, 0.78] and psnr.tolist() == [24.0, 27.0, 30.0, 33.0]
    assert rd.curve(path, "ssim")[1].tolist() == [0.7, 0.8, 0.9, 0.95]
    with pytest.raises(InrError, match="no 'ms-ssim' in its results"):
        rd.curve(path, "ms-ssim")


def test_compare_two_results_files(kodak):
    mean = rd.compare(kodak / "pyramid.json", kodak / "jpeg2000.json")
    per_image = rd.compare(kodak / "pyramid.json", kodak / "jpeg2000.json", per_item=True, method="cubic")
    for result in (mean, per_image):
        assert result["bd_rate_percent"] == pytest.approx(ONE_DB_RATE, abs=1e-6)
        assert result["bd_psnr_db"] == pytest.approx(1.0, abs=1e-6)
        assert result["test"] == "pyramid" and result["anchor"] == "jpeg2000" and result["rate_unit"] == "bpp"
    assert mean["dist_range"] == pytest.approx([21.5, 20.5 + 10 * math.log10(16)])  # the curves' overlap
    assert mean["points"] == {"test": 5, "anchor": 5} and mean["mode"] == "mean"
    assert per_image["mode"] == "per_item" and (per_image["items"], per_image["items_skipped"]) == (2, 0)
    assert per_image["points"] == {"test": 10, "anchor": 10}


def test_compare_per_item_averages_log_rate_deltas(tmp_path):
    """Image a needs 0.8x the anchor's bits, image b 1.25x: the mean log-rate delta is 0, so 0%."""
    anchor_rows = image_rows(0.0)
    test_rows = [{**row, "bpp": row["bpp"] * (0.8 if row["image"] == "a.png" else 1.25)} for row in anchor_rows]
    anchor = write_results(tmp_path / "kodak" / "anchor.json", "anchor", "bpp", "image", anchor_rows)
    test = write_results(tmp_path / "kodak" / "test.json", "test", "bpp", "image", test_rows)
    result = rd.compare(test, anchor, per_item=True)
    assert result["bd_rate_percent"] == pytest.approx(0.0, abs=1e-9)
    assert result["bd_psnr_db"] == pytest.approx(0.0, abs=1e-9)
    assert (result["items"], result["items_skipped"]) == (2, 0)
    only_a = rd.compare(test, anchor, per_item=True, items=["a.png"])
    assert only_a["bd_rate_percent"] == pytest.approx(-20.0) and only_a["items"] == 1


def test_compare_with_a_published_anchor(kodak):
    anchor = ANCHORS / "kodak" / "jpeg2000.json"
    result = rd.compare(kodak / "pyramid.json", anchor)
    assert math.isfinite(result["bd_rate_percent"]) and result["anchor"] == "jpeg2000"
    low, high = result["dist_range"]
    assert low == pytest.approx(max(rd.curve(anchor)[1][0], 21.5)) and high == pytest.approx(21.5 + 10 * math.log10(16))
    with pytest.raises(InrError, match="no per-item results"):
        rd.compare(kodak / "pyramid.json", anchor, per_item=True)


def test_plot_rd_writes_a_png(tmp_path, kodak):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    anchor = tmp_path / "webp.json"
    anchor.write_text(json.dumps({"name": "webp", "results": {"bpp": [0.1, 0.5, 1.0], "psnr": [26.0, 31.0, 34.0]}}))
    figure = Figure()
    FigureCanvasAgg(figure)
    ax = rd.plot_rd(figure.add_subplot(), [kodak / "pyramid.json", kodak / "jpeg2000.json"], [anchor])
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["pyramid", "jpeg2000", "webp (published)"]
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "-", "--"]
    assert "bits per pixel" in ax.get_xlabel() and ax.get_ylabel() == "PSNR (dB)"
    figure.savefig(tmp_path / "rd.png")
    assert (tmp_path / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InrError, match="rates in bpp"):
        rd.plot_rd(figure.add_subplot(), [kodak / "pyramid.json"], rate_unit="kbps")


def test_the_command_prints_one_line_of_json(kodak, capsys):
    assert cli.main(["bd-rate", str(kodak / "pyramid.json"), str(kodak / "jpeg2000.json"), "--method", "cubic",
                     "--range", "26", "30"]) == 0
    output = capsys.readouterr().out
    assert output.count("\n") == 1
    result = json.loads(output)
    assert result["method"] == "cubic" and result["dist_range"] == [26.0, 30.0]
    assert result["bd_rate_percent"] == pytest.approx(ONE_DB_RATE, abs=1e-6)


def test_the_commands_errors_are_one_line(tmp_path, kodak, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    far = write_results(tmp_path / "kodak" / "far.json", "far", "bpp", "image", image_rows(40.0))
    for arguments, message in [([str(tmp_path / "missing.json"), str(bad)], "no such file"),
                               ([str(bad), str(bad)], "not JSON"),
                               ([str(kodak / "pyramid.json"), str(far)], "do not overlap")]:
        assert cli.main(["bd-rate", *arguments]) == 1
        error = capsys.readouterr().err
        assert error.startswith("inrcodec: error: ") and message in error and error.count("\n") == 1
