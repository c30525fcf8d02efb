"""Constrained optimisation by a Lagrangian: minimise f(x) subject to g_i(x) <= 0 for every i.

    L(x, lambda) = f(x) + sum_i lambda_i * g_i(x),   lambda_i >= 0

Primal descent on x uses grad_x L with the multipliers held fixed; projected dual ascent moves
lambda_i <- max(0, lambda_i + eta * g_i(x)), so a violated constraint gains weight until it is
met and a slack one loses it (Gallego-Posada et al. 2022, "controlled sparsity"). Nothing here
knows what f and g are: a density, a rate or a distortion constraint all reuse it.
"""

from dataclasses import dataclass

import jax.numpy as jnp


@dataclass(frozen=True)
class DualConfig:
    step: float = 0.05  # eta: dual ascent step size per update
    initial: float = 0.0  # starting multiplier value


def init_multipliers(n_constraints: int, config: DualConfig) -> jnp.ndarray:
    """(n_constraints,) multipliers at their starting value."""
    return jnp.full((n_constraints,), config.initial)


def lagrangian(objective: jnp.ndarray, violations: jnp.ndarray, multipliers: jnp.ndarray) -> jnp.ndarray:
    """f + lambda . g: differentiate this w.r.t. the primal variables only (multipliers are data)."""
    return objective + jnp.dot(multipliers, violations)


def dual_update(multipliers: jnp.ndarray, violations: jnp.ndarray, config: DualConfig) -> jnp.ndarray:
    """Projected gradient ascent on the multipliers: max(0, lambda + eta * g)."""
    return jnp.maximum(0.0, multipliers + config.step * violations)
