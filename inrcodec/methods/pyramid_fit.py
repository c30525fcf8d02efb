"""The encoder's side of the `pyramid` method: integer grids, context parameters and post-filter
weights for one global step.

    grids, params, weights = fit_pyramid(field, geometry, step, PyramidConfig())
"""

from functools import partial

import numpy as np

from .. import context, postfilter, pyramid
from .pyramid import PyramidConfig


def fit_pyramid(field: np.ndarray, geometry: pyramid.Geometry, step: float,
                config: PyramidConfig) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """What a `pyramid` file of a (H, W, C) float32 field (see `pyramid`) at the global quantization
    step `step` holds: int32 grids (finest first), (planes in coding order, context.N_PARAMS) int
    context parameters and (C, taps) int post-filter weights (all 0: none).

    Grids rounded to the nearest integer give a first context model; with it (when rd_slope > 0)
    the grids are analysed again, rounded for rate and distortion, and the model refitted from it.
    """
    grids = pyramid.analyse(field, geometry, step)
    params = context.fit_params(grids, config.steps)
    if config.rd_slope > 0:
        grids = pyramid.analyse(field, geometry, step, partial(rd_round, params=params, rd_slope=config.rd_slope))
        params = context.fit_params(grids, config.steps, params)
    height, width, channels = field.shape
    if height * width < config.filter_min_pixels:
        return grids, params, np.zeros((channels, len(postfilter.OFFSETS)), np.int64)
    rendered = pyramid.render(enumerate(grids), geometry, step, (1.0, 1.0), (0, 0, height, width))[..., :channels]
    return grids, params, postfilter.fit(rendered, field)


def rd_round(k: int, values: np.ndarray, grids: list, params: np.ndarray, rd_slope: float) -> np.ndarray:
    """Level k's (rows, cols, c) `values` (in its steps) rounded cell by cell, phase by phase as the
    decoder reads them, to the cheaper of the nearest integer and the next one towards zero, by
    squared error (in steps) + rd_slope * bits under the context model of `params` (all planes', in
    coding order). With equal-slope steps a step of error weighs the same at every level; at the
    finest level (single pixels) the squared error is exact, at coarser ones it ignores overlap."""
    rounded = np.round(values)
    first_plane = sum(g.shape[-1] for g in grids[k + 1:])  # coding order: coarser levels first
    for c in range(values.shape[-1]):
        parent = context.parent_context(context.parent_plane(grids, k, c), values.shape[:2])
        plane, phases = rounded[..., c], context.phase_of(values.shape[:2])
        for phase in range(context.PHASES):
            cells = phases == phase
            mu, b = context.phase_laplace(plane, parent, phase, params[first_plane + c])
            value, target = plane[cells], values[..., c][cells]
            lower = value - np.sign(value)
            cost = lambda v: (target - v) ** 2 + rd_slope * context.laplace_bits(np, v, mu, b)
            plane[cells] = np.where(cost(lower) < cost(value), lower, value)
    return rounded
