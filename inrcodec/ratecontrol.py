"""Landing a file under a byte budget by searching one monotone knob.

The knob (for example the rms/step ratio of every tensor) makes files larger as it grows; the
search returns the file from the largest knob value whose file fits the budget.
"""

import math
from collections.abc import Callable

from .errors import InrError


def largest_fitting(make_file: Callable[[float], bytes], budget: int, low: float, high: float,
                    iterations: int = 24) -> tuple[float, bytes]:
    """Bisect log(knob) in [low, high] for the largest knob whose file is at most `budget` bytes.

    Returns (knob, file). Raises InrError if even `low` gives a file over the budget.
    """
    best = make_file(low)
    if len(best) > budget:
        raise InrError(f"budget of {budget} bytes is too small: the coarsest setting needs {len(best)} bytes")
    best_knob = low
    top = make_file(high)
    if len(top) <= budget:
        return high, top
    lo, hi = math.log(low), math.log(high)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        candidate = make_file(math.exp(mid))
        if len(candidate) <= budget:
            lo, best, best_knob = mid, candidate, math.exp(mid)
        else:
            hi = mid
    return best_knob, best
