"""Effort presets: steps scale with the effort, bad efforts are refused, every effort makes a valid file."""

import pytest

import inrcodec
from inrcodec import effort


@pytest.mark.parametrize("method", ["coin", "sparse", "meta"])
def test_steps_grow_with_effort_and_the_default_is_the_configured_one(method):
    configs = [inrcodec.default_config(method, e) for e in range(1, 10)]
    dense = [getattr(c, "dense", c).fit.steps for c in configs]
    assert dense == sorted(dense) and len(set(dense)) == 9
    base = {"coin": inrcodec.CoinConfig, "sparse": inrcodec.SparseConfig, "meta": inrcodec.LatentConfig}[method]()
    assert configs[effort.DEFAULT_EFFORT - 1] == base
    if method == "sparse":
        assert configs[0].gated_steps < configs[-1].gated_steps


def test_pyramid_efforts_fit_longer_and_fill_the_cap_closer_as_they_grow():
    configs = [inrcodec.default_config("pyramid", e) for e in range(1, 10)]
    steps, fills = [c.steps for c in configs], [c.fill for c in configs]
    assert steps == sorted(steps) and len(set(steps)) == 9 and fills == sorted(fills)
    assert [c.search_iterations for c in configs] == sorted(c.search_iterations for c in configs)
    assert configs[effort.DEFAULT_EFFORT - 1] == inrcodec.PyramidConfig()


def test_network_efforts_reanalyse_more_and_fill_the_cap_closer_as_they_grow():
    configs = [inrcodec.default_config("network", e) for e in range(1, 10)]
    passes = [c.refine_passes for c in configs]
    assert passes == sorted(passes) and passes[0] == 0 and passes[-1] > passes[effort.DEFAULT_EFFORT - 1]
    assert [c.fill for c in configs] == sorted(c.fill for c in configs)
    assert configs[effort.DEFAULT_EFFORT - 1] == inrcodec.default_config("network")


@pytest.mark.parametrize("bad", [0, 10, -1, 5.0, "5", True, None])
def test_bad_efforts_are_refused(bad, crop):
    with pytest.raises(inrcodec.InrError, match="effort"):
        inrcodec.encode(crop, 1.0, effort=bad)
    with pytest.raises(inrcodec.InrError, match="effort"):
        inrcodec.encode_batch(crop[None], 1.0, effort=bad)


def test_the_lowest_effort_makes_a_file_within_the_cap(crop):
    data = inrcodec.encode(crop, 2.0, effort=1)
    assert len(data) <= 2.0 * crop.shape[0] * crop.shape[1] / 8
    assert inrcodec.decode(data).shape == crop.shape
