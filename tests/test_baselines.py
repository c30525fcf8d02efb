import math

import pytest

from inrcodec.eval import baselines
from inrcodec.errors import InrError
from inrcodec.eval.metrics import psnr


@pytest.mark.parametrize("codec", sorted(baselines.BASELINES))
def test_baseline_is_under_the_cap_and_decodes(sample, codec):
    image = sample[:128, :192]
    budget = math.floor(0.5 * 128 * 192 / 8)
    data = baselines.compress(image, codec, budget)
    assert 0.5 * budget <= len(data) <= budget
    assert psnr(image, baselines.decompress(data, 3)) > 22.0


def test_impossible_cap_is_an_error(sample):
    with pytest.raises(InrError):
        baselines.compress(sample[:64, :64], "jpeg", 10)
