import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inrcodec import entropy
from inrcodec.bitstream import Reader, Writer


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-3000, 3000), min_size=0, max_size=300), min_size=1, max_size=5))
def test_round_trip_is_exact(lists):
    arrays = [np.array(values, np.int32) for values in lists]
    models = [entropy.choose_model(a) for a in arrays]
    data = entropy.encode(arrays, models)
    decoded = entropy.decode(data, models, [a.size for a in arrays])
    for a, b in zip(arrays, decoded):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("spread", [0.3, 3.0, 40.0])
@pytest.mark.parametrize("sampler", ["normal", "laplace", "uniform"])
def test_estimated_bits_match_real_size(spread, sampler):
    rng = np.random.default_rng(7)
    draw = {"normal": rng.normal, "laplace": rng.laplace,
            "uniform": lambda loc, scale, n: rng.uniform(-2 * scale, 2 * scale, n)}[sampler]
    symbols = np.round(draw(0.0, spread, 20000)).astype(np.int32)
    model = entropy.choose_model(symbols)
    real = len(entropy.encode([symbols], [model])) * 8
    estimate = model.information_bits(symbols)
    assert abs(real - estimate) <= 0.05 * real + 64


def test_model_family_follows_the_data():
    rng = np.random.default_rng(1)
    gaussian = np.round(rng.normal(0, 10, 5000)).astype(np.int32)
    laplace = np.round(rng.laplace(0, 10, 5000)).astype(np.int32)
    assert entropy.choose_model(gaussian).family == entropy.GAUSSIAN
    assert entropy.choose_model(laplace).family == entropy.LAPLACE


def test_model_serialisation_round_trip():
    model = entropy.choose_model(np.array([-5, 3, 0, 2], np.int32))
    writer = Writer()
    entropy.write_model(writer, model)
    assert entropy.read_model(Reader(bytes(writer.buffer))) == model
