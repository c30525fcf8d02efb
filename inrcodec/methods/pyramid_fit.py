"""The encoder's side of the `pyramid` method: integer grids, context parameters and post-filter
weights for one global step.

    grids, params, weights = fit_pyramid(field, geometry, step, config)   # config: methods.pyramid.PyramidConfig
    regions, params, weights = fit_regions(fields, geometries, step, config)  # one model for many regions
"""

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import context, postfilter, pyramid
from ..context import (
    MAX_PARAM,
    N_PARAMS,
    PARAM_RESOLUTION,
    PHASE_PARAMS,
    PHASES,
    STORED,
    channel_planes,
    coded_runs,
    laplace,
    laplace_bits,
    parent_context,
    phase_cells,
    phase_features,
    phase_runs,
    run_cells,
    unpack_params,
)

INITIAL_PARAMS = (0.0, 0.5, 0.0, 0.5, 0.0, 0.0)  # where the fit of the context parameters starts, every phase
FIT_LEARNING_RATE = 0.1  # Adam learning rate of that fit
FIT_ROW = 256  # cells a row of the fit's layout: each plane-phase group fills whole rows
WARM_SHARE = 0.5  # share of the steps of a fit of the context parameters from those of a nearby step


def fit_pyramid(field: np.ndarray, geometry: pyramid.Geometry, step: float,
                config) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """What a `pyramid` file of a (H, W, C) float32 field (see `pyramid`) at the global quantization
    step `step` holds: int32 grids (finest first), (planes in coding order, context.N_PARAMS) int
    context parameters and (C, taps) int post-filter weights (all 0: none)."""
    (grids,), params, weights = fit_regions([field], [geometry], step, config)
    return grids, params, weights


def fit_regions(fields: list[np.ndarray], geometries: list[pyramid.Geometry], step: float,
                config, start: np.ndarray | None = None) -> tuple[list[list[np.ndarray]], np.ndarray, np.ndarray]:
    """`fit_pyramid` of regions of one signal, (h, w, C) fields each with its pyramid, under one
    context model and one post-filter: each region's grids, the shared parameters and weights.

    Grids rounded to the nearest integer give a first context model; with it (when rd_slope > 0)
    the grids are analysed again, rounded for rate and distortion, and the model refitted from it.
    With `start`, parameters fitted at a nearby step, the grids are rounded under those at once and
    the model refitted from them in WARM_SHARE of the steps.
    """
    if start is not None and config.rd_slope > 0:
        regions = [rd_analyse(field, geometry, step, context.Fitted(start), config.rd_slope)
                   for field, geometry in zip(fields, geometries)]
        params = fit_params(regions, max(1, round(config.steps * WARM_SHARE)), start)
        return regions, params, fit_filter(fields, geometries, step, regions, config)
    regions = [pyramid.analyse(field, geometry, step) for field, geometry in zip(fields, geometries)]
    params = fit_params(regions, config.steps)
    if config.rd_slope > 0:
        regions = [rd_analyse(field, geometry, step, context.Fitted(params), config.rd_slope)
                   for field, geometry in zip(fields, geometries)]
        params = fit_params(regions, config.steps, params)
    return regions, params, fit_filter(fields, geometries, step, regions, config)


def fit_filter(fields: list[np.ndarray], geometries: list[pyramid.Geometry], step: float,
               regions: list[list[np.ndarray]], config) -> np.ndarray:
    """(C, taps) int post-filter weights of regions' grids against their (h, w, C) fields, each region
    rendered and filtered on its own; all 0 (none) for fewer than config.filter_min_pixels pixels."""
    channels = fields[0].shape[-1]
    if sum(field.shape[0] * field.shape[1] for field in fields) < config.filter_min_pixels:
        return np.zeros((channels, len(postfilter.OFFSETS)), np.int64)
    grams, sides = 0, 0
    for field, geometry, grids in zip(fields, geometries, regions):
        box = (0, 0, geometry.height, geometry.width)
        rendered = pyramid.render(enumerate(grids), geometry, step, (1.0, 1.0), box)[..., :channels]
        gram, side = postfilter.normal_equations(rendered, field)
        grams, sides = grams + gram, sides + side
    return postfilter.solve(grams, sides)


def fit_under(field: np.ndarray, geometry: pyramid.Geometry, step: float, config,
              model) -> tuple[list[np.ndarray], np.ndarray]:
    """Int32 grids (finest first) of a (H, W, C) float32 field at `step`, rounded for rate and
    distortion under a shipped entropy model (`context.Fitted`'s kind) and re-analysed
    config.refine_passes times (`reanalyse`), and their (C, taps) int post-filter weights: what a
    `network` file holds."""
    grids = rd_analyse(field, geometry, step, model, config.rd_slope)
    grids = reanalyse(field, geometry, step, grids, model, config.rd_slope, config.refine_passes,
                      config.projection_share)
    return grids, fit_filter([field], [geometry], step, [grids], config)


def reanalyse(field: np.ndarray, geometry: pyramid.Geometry, step: float, grids: list[np.ndarray], model,
              rd_slope: float, passes: int, projection_share: float) -> list[np.ndarray]:
    """Int32 grids (finest first) of a (H, W, C) field analysed `passes` more times: each level, coarsest
    first, again fitted (in its steps) to what all the other levels leave, rounded for rate and distortion
    under `model` (`rd_round`): `projection_share` of the least squares (`pyramid.projection`) and the rest
    of the area average. The greedy analysis gives a coarse level what the coarser ones leave; passes move
    to the coarse levels what their finer levels carried (block Gauss-Seidel on the levels)."""
    if passes == 0:
        return grids  # nothing to render
    box = (0, 0, geometry.height, geometry.width)
    steps = geometry.steps(step)
    grids = list(grids)
    rendered = [pyramid.level_values(g, geometry.strides(k), steps[k], (1.0, 1.0), box) for k, g in enumerate(grids)]
    residual = field.copy()
    for values in rendered:
        residual[..., :values.shape[-1]] -= values
    for _ in range(passes):
        for k in reversed(range(len(grids))):
            channels = grids[k].shape[-1]
            residual[..., :channels] += rendered[k]  # what all the other levels leave
            left, strides = residual[..., :channels], geometry.strides(k)
            values = (projection_share * pyramid.projection(left, strides)
                      + (1 - projection_share) * pyramid.area_average(left, strides)) / steps[k]
            grids[k] = rd_round(k, values, grids, model, rd_slope).astype(np.int32)
            rendered[k] = pyramid.level_values(grids[k], geometry.strides(k), steps[k], (1.0, 1.0), box)
            residual[..., :channels] -= rendered[k]
    return grids


def rd_analyse(field: np.ndarray, geometry: pyramid.Geometry, step: float, model,
               rd_slope: float) -> list[np.ndarray]:
    """Integer grids (finest first) of a (H, W, C) field at `step`, rounded for rate and distortion
    under the entropy `model` (`rd_round`; rd_slope 0: to the nearest integer)."""
    if rd_slope == 0:
        return pyramid.analyse(field, geometry, step)
    return pyramid.analyse(field, geometry, step, partial(rd_round, model=model, rd_slope=rd_slope))


def rd_round(k: int, values: np.ndarray, grids: list, model, rd_slope: float) -> np.ndarray:
    """Level k's (rows, cols, c) `values` (in its steps) rounded cell by cell, phase by phase as the
    decoder reads them, to the cheaper of the nearest integer and the next one towards zero, by
    squared error (in steps) + rd_slope * bits under the entropy `model` (every cell coded). With
    equal-slope steps a step of error weighs the same at every level; at the finest level (single
    pixels) the squared error is exact, at coarser ones it ignores overlap."""
    rounded = np.round(values)
    current = [rounded if j == k else grid for j, grid in enumerate(grids)]  # channels rounded in coding order
    first_plane = sum(g.shape[-1] for g in grids[k + 1:])  # coding order: coarser levels first
    for c in range(values.shape[-1]):
        plane_model = model.plane(current, k, c, first_plane + c)
        plane = rounded[..., c]
        for phase in context.coded_phases(plane.shape):
            rows, cols, mu, b = plane_model.laplace(phase, np.ones(phase_runs(plane.shape, phase), bool))
            value, target = plane[rows, cols], values[rows, cols, c]
            lower = value - np.sign(value)
            cost = lambda v: (target - v) ** 2 + rd_slope * context.laplace_bits(np, v, mu, b)
            plane[rows, cols] = np.where(cost(lower) < cost(value), lower, value)
    return rounded


@jax.jit
def _fit(symbols, features, counted, owner, initial, steps):
    """Adam on the code length of integers `symbols` (rows, FIT_ROW) whose cells have `features`
    (5, rows, FIT_ROW), cells with `counted` 0 left out, each row belonging to group `owner[row]`
    (one per plane and phase): (groups, PHASE_PARAMS) parameters from `initial` after `steps` (a
    traced int) steps. Only the row and group counts shape the program, so signals of similar sizes
    share one; each row gathers its group's parameters (a gather per row, not per cell: its
    gradient's scatter stays cheap on CPUs)."""

    def bits(params):
        mu, b = laplace(jnp, params[owner][:, None], features)
        return jnp.sum(laplace_bits(jnp, symbols, mu, b) * counted)

    adam = optax.adam(FIT_LEARNING_RATE)

    def step(_, carry):
        params, state = carry
        updates, state = adam.update(jax.grad(bits)(params), state)
        return optax.apply_updates(params, updates), state

    return jax.lax.fori_loop(0, steps, step, (initial, adam.init(initial)))[0]


def padded_size(count: int) -> int:
    """`count` rounded up to one of 8 sizes an octave, so that signals of similar sizes share one
    compiled fit (at most 1/8 more rows to sum)."""
    grain = 1 << max(0, count.bit_length() - 4)
    return -(-count // grain) * grain


def fit_params(regions: list[list[np.ndarray]], steps: int, start: np.ndarray | None = None) -> np.ndarray:
    """(n_planes, N_PARAMS) int parameters (units of 1 / PARAM_RESOLUTION) fitted to the code length
    of the grids of every region (one list of grids each, alike in planes) by `steps` Adam steps,
    from stored parameters `start` (None: `initial_params`)."""
    planes = [channel_planes(grids) for grids in regions]
    symbols, features, counted = [], [], []
    for index in range(len(planes[0])):
        parents = [(plane, parent_context(parent, plane.shape))
                   for plane, parent in (region[index] for region in planes)]
        for phase in range(PHASES):
            parts = []  # (integers, features, counted) of each region's cells of this plane and phase
            for plane, parent in parents:
                cells = plane[phase_cells(plane.shape, phase)]
                found = phase_features(plane, parent, phase)
                runs = (np.ones(phase_runs(plane.shape, phase), bool) if start is None  # the runs coded under `start`
                        else coded_runs(cells, *laplace(np, unpack_params(start[index])[phase], found)))
                parts.append((cells, found, run_cells(runs, len(cells))))  # runs left out cost no bits
            symbols.append(np.concatenate([part[0] for part in parts]))
            features.append(np.concatenate([part[1] for part in parts], axis=1))
            counted.append(np.concatenate([part[2] for part in parts]))
    initial = (np.array([initial_params(y, f) for y, f in zip(symbols, features)]).reshape(-1, PHASE_PARAMS)
               if start is None else np.concatenate([unpack_params(a) for a in start]))
    rows = np.array([-(-len(y) // FIT_ROW) for y in symbols])  # each group fills whole rows
    # spare rows count no cell, spare groups own no row
    total, groups = padded_size(int(rows.sum())), padded_size(len(symbols))
    owner = np.zeros(total, np.int32)
    owner[:rows.sum()] = np.repeat(np.arange(len(symbols)), rows)

    def layout(arrays: list[np.ndarray]) -> np.ndarray:
        """(..., total, FIT_ROW) float32: every group's (..., n) cells zero-padded to its rows, rows stacked."""
        out = np.zeros((*arrays[0].shape[:-1], total * FIT_ROW), np.float32)
        for values, first in zip(arrays, (np.cumsum(rows) - rows) * FIT_ROW):
            out[..., first:first + values.shape[-1]] = values
        return out.reshape(*out.shape[:-1], total, FIT_ROW)

    fitted = _fit(layout(symbols), layout(features), layout(counted), owner,
                  np.pad(initial, ((0, groups - len(initial)), (0, 0))).astype(np.float32), np.int32(steps))
    fitted = np.asarray(fitted, np.float64)[:len(symbols)].reshape(len(planes[0]), PHASES, PHASE_PARAMS)
    diverged = ~np.all(np.isfinite(fitted), axis=(1, 2))  # a plane of huge integers can overflow the fit
    fitted[diverged] = INITIAL_PARAMS
    limit = MAX_PARAM * PARAM_RESOLUTION
    fitted = np.clip(np.round(fitted * PARAM_RESOLUTION), -limit, limit).astype(np.int64)
    return np.array([[plane[phase, index] for phase, kept in enumerate(STORED) for index in kept] for plane in fitted],
                    np.int64).reshape(len(planes[0]), N_PARAMS)


def initial_params(symbols: np.ndarray, features: np.ndarray) -> np.ndarray:
    """(PHASE_PARAMS,) INITIAL_PARAMS with a0 set so that the mean predicted log b of cells with
    `features` (5, n) is the log of their integers' mean magnitude (a Laplace's b is its mean |y|)."""
    a = np.array(INITIAL_PARAMS)
    if len(symbols):
        a[0] = (math.log(max(float(np.mean(np.abs(symbols))), 0.05)) - a[1] * features[0].mean()
                - a[3] * features[2].mean())
    return a
