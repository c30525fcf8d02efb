"""Effort presets, as cjxl's `-e`: 1 (fastest) to 9 (best), trading encoding time for quality.

An effort scales the fitting steps of a method's configuration (for `sparse`, its gated phase
too; for `pyramid`, `network` (which has no steps) and `regions` (its sample's search), below the
default, also how closely its rate search fills the cap, and for `network` its passes of re-analysis; for the
shapes' lattice search, how many lattice sizes it tries past the best and its surface probes); the
default effort leaves them as configured. Steps, not seconds: the same input and effort
give the same file on every machine. Encoding time grows about in proportion to the steps, plus a
fixed cost for compiling (paid once per image shape with the compilation cache).
"""

import dataclasses

from .errors import InrError

DEFAULT_EFFORT = 7  # the methods' configured step counts
# share of the configured steps at each effort, about x1.6 a level
STEP_SHARES = {1: 1 / 16, 2: 1 / 10, 3: 1 / 6, 4: 1 / 4, 5: 0.4, 6: 0.63, 7: 1.0, 8: 1.6, 9: 2.5}
# `pyramid` below the default: (share of the cap a file must fill to end the search, most files)
MIN_PROBES, MAX_PROBES = 4000, 50_000  # a lattice search's surface points at any effort
PYRAMID_SEARCH = {1: (0.9, 3), 2: (0.93, 4), 3: (0.95, 5), 4: (0.97, 6), 5: (0.98, 8), 6: (0.98, 8)}


def check_effort(effort) -> int:
    """`effort` as an int in 1..9, or InrError."""
    if isinstance(effort, bool) or not isinstance(effort, int) or effort not in STEP_SHARES:
        raise InrError(f"effort must be an integer from 1 to 9, got {effort!r}")
    return effort


def _scaled(fit, share: float):
    return dataclasses.replace(fit, steps=max(1, round(fit.steps * share)))


def apply_effort(config, effort: int):
    """`config` (CoinConfig, SparseConfig, LatentConfig, PyramidConfig, RegionsConfig, NetworkConfig,
    LatticeConfig or HyperConfig) with its steps (a lattice search: its patience and probes) scaled for `effort`."""
    share = STEP_SHARES[check_effort(effort)]
    if hasattr(config, "refine"):  # HyperConfig: the meta-learned refinement from effort 4, the start alone below
        return dataclasses.replace(config, refine=effort >= 4)
    if hasattr(config, "patience"):  # LatticeConfig: lattice sizes tried past the best, surface points scoring them
        return dataclasses.replace(config, patience=max(1, round(config.patience * share)),
                                   probes=min(MAX_PROBES, max(MIN_PROBES, round(config.probes * share))))
    if hasattr(config, "dense"):  # SparseConfig: a dense fit with a gated phase first
        dense = dataclasses.replace(config.dense, fit=_scaled(config.dense.fit, share))
        return dataclasses.replace(config, dense=dense, gated_steps=max(1, round(config.gated_steps * share)))
    if hasattr(config, "fit"):
        return dataclasses.replace(config, fit=_scaled(config.fit, share))
    if effort in PYRAMID_SEARCH:  # PyramidConfig, RegionsConfig, NetworkConfig: its own fits' steps, its search
        fill, files = PYRAMID_SEARCH[effort]
        config = dataclasses.replace(config, fill=fill, search_iterations=files)
    if hasattr(config, "refine_passes"):  # NetworkConfig: its passes of re-analysis
        config = dataclasses.replace(config, refine_passes=round(config.refine_passes * share))
    return _scaled(config, share) if hasattr(config, "steps") else config  # NetworkConfig fits nothing
