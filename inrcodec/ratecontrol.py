"""Landing a file under a byte budget by searching one monotone knob.

The knob (for example the rms/step ratio of every tensor) makes files larger as it grows; the
search returns the file from the largest knob value whose file fits the budget.
"""

import math
from collections.abc import Callable

from .errors import InrError

MAX_LOG_MOVE = math.log(8.0)  # largest change of log(knob) in one step of `secant_fitting` before a bracket


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


def secant_fitting(make_file: Callable[[float], bytes], budget: int, low: float, high: float, start: float,
                   slope: float, iterations: int, fill: float = 0.99) -> tuple[float, bytes]:
    """Search knob in [low, high] from `start` for a file of at most `budget` bytes and, when it can,
    at least `fill` of it, for knobs whose file size grows about as knob**slope.

    Each step aims at the middle of [fill * budget, budget] by the secant of log(size) in log(knob)
    through the closest fitting and the closest oversized files seen, kept inside that bracket; while
    only one side is known, by the secant through the last two files (the `slope` guess at first).
    Returns (knob, file) of the largest fitting file found within `iterations` files. Raises InrError
    if even `low` gives a file over the budget.
    """
    lo, hi = math.log(low), math.log(high)
    target = math.log(budget * (1 + fill) / 2)
    under = over = previous = None  # (log knob, log size, file): largest fitting, smallest oversized, last
    x = min(max(math.log(start), lo), hi)
    for _ in range(iterations):
        data = make_file(math.exp(x))
        point = (x, math.log(max(len(data), 1)), data)
        if len(data) <= budget:
            under = point if under is None or x > under[0] else under
            if len(data) >= fill * budget or x >= hi:
                break
        else:
            over = point if over is None or x < over[0] else over
            if x <= lo:
                raise InrError(f"budget of {budget} bytes is too small: the coarsest setting needs {len(data)} bytes")
        if under and over:
            measured = (over[1] - under[1]) / (over[0] - under[0])
            step = (target - under[1]) / max(measured, 1e-3)
            x = min(max(under[0] + step, under[0] + 0.05 * (over[0] - under[0])), over[0] - 0.05 * (over[0] - under[0]))
        else:  # one side only: the secant through the last two files (the guess at first), at most x8 a step
            if previous is not None and abs(point[0] - previous[0]) > 1e-6:
                slope = max((point[1] - previous[1]) / (point[0] - previous[0]), 0.05)
            move = min(max((target - point[1]) / slope, -MAX_LOG_MOVE), MAX_LOG_MOVE)
            x = min(max(point[0] + move, lo), hi)
        previous = point
        if over and under and over[0] - under[0] < 1e-4:
            break
    if under is None:
        data = make_file(low)
        if len(data) > budget:
            raise InrError(f"budget of {budget} bytes is too small: the coarsest setting needs {len(data)} bytes")
        return low, data
    return math.exp(under[0]), under[2]


def largest_integer_fitting(make_file: Callable[[int], bytes], budget: int, guess: int,
                            limit: int) -> tuple[int, bytes]:
    """(knob, file) of the largest whole knob in 1..limit whose file is at most `budget` bytes: from
    `guess`, doubling or halving until the budget is bracketed, then bisecting. Raises InrError if
    even knob 1 gives a file over the budget."""
    files = {}

    def fits(knob: int) -> bool:
        files[knob] = make_file(knob)
        return len(files[knob]) <= budget

    under, over, knob = 0, limit + 1, min(max(guess, 1), limit)
    while under == 0 or over == limit + 1:
        if fits(knob):
            under, knob = knob, min(2 * knob, over - 1)
        elif knob == 1:
            raise InrError(f"budget of {budget} bytes is too small: the coarsest setting needs {len(files[1])} bytes")
        else:
            over, knob = knob, max(knob // 2, under + 1)
        if knob in files:
            break
    while under + 1 < over:
        middle = (under + over) // 2
        under, over = (middle, over) if fits(middle) else (under, middle)
    return under, files[under]
