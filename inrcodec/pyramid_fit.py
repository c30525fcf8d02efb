"""The encoder's side of the `pyramid` method: integer grids and context parameters for one step.

    grids, params = fit_pyramid(pixels, step, PyramidConfig())
"""

from dataclasses import dataclass

import numpy as np

from . import context, postfilter, pyramid


@dataclass(frozen=True)
class PyramidConfig:
    steps: int = 80  # Adam steps fitting the context model's parameters to each candidate's code length
    search_iterations: int = 10  # bisection steps of the rate control over the global step
    rd_slope: float = 0.12  # lambda of the finest level's rate-distortion rounding, in squared steps per bit


def fit_pyramid(pixels: np.ndarray, step: float,
                config: PyramidConfig) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """What a `pyramid` file of (H, W, C) uint8 pixels at the global quantization step `step` holds:
    int32 grids (finest first), (planes in coding order, context.N_PARAMS) int context parameters
    and (C, taps) int post-filter weights."""
    grids, unrounded = pyramid.analyse(pixels, step)
    params = context.fit_params(grids, config.steps)
    if config.rd_slope > 0:
        grids[0] = rd_round(grids, unrounded, params[-grids[0].shape[-1]:], config.rd_slope)
        params = context.fit_params(grids, config.steps)
    height, width, channels = pixels.shape
    rendered = pyramid.render_ycbcr(grids, step, 1.0, (0, 0, height, width))[..., :channels]
    weights = postfilter.fit(rendered, pyramid.to_ycbcr(pixels)[..., :channels])
    return grids, params, weights


def rd_round(grids: list[np.ndarray], unrounded: np.ndarray, params: np.ndarray, rd_slope: float) -> np.ndarray:
    """The finest grid re-rounded cell by cell to the cheaper of its rounding and the next integer
    towards zero, by squared error (in steps) + rd_slope * bits under the context model of `params`
    (each cell's context taken from the grids as they are). Its cells are single pixels, so the
    squared error of a cell is exact."""
    finest = grids[0].copy()
    planes = context.channel_planes(grids)[-finest.shape[-1]:]
    for c, ((plane, parent), plane_params) in enumerate(zip(planes, params)):
        phases = context.phase_of(plane.shape)
        for phase in range(context.PHASES):
            cells = phases == phase
            mu, b = context.phase_laplace(plane, parent, phases, phase, plane_params)
            value, target = plane[cells], unrounded[..., c][cells]
            lower = value - np.sign(value)
            cost = lambda v: (target - v) ** 2 + rd_slope * np.asarray(context.laplace_bits(v, mu, b))
            finest[..., c][cells] = np.where(cost(lower) < cost(value), lower, value)
    return finest

