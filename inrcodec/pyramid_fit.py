"""The encoder's side of the `pyramid` method: integer grids and context parameters for one step.

    grids, params = fit_pyramid(pixels, step, PyramidConfig())
"""

from dataclasses import dataclass

import numpy as np

from . import context, pyramid


@dataclass(frozen=True)
class PyramidConfig:
    steps: int = 80  # Adam steps fitting the context model's parameters to each candidate's code length
    search_iterations: int = 10  # bisection steps of the rate control over the global step


def fit_pyramid(pixels: np.ndarray, step: float, config: PyramidConfig) -> tuple[list[np.ndarray], np.ndarray]:
    """(int32 grids finest first, (channels in coding order, 6) int context parameters) of (H, W, C)
    uint8 pixels at the global quantization step `step`."""
    grids = pyramid.analyse(pixels, step)
    return grids, context.fit_params(grids, config.steps)
