"""Constrained optimisation by a Lagrangian: minimise f(x) subject to g_i(x) <= 0 (or = 0) for every i.

    L(x, lambda) = f(x) + sum_i lambda_i * g_i(x) + (rho / 2) * sum_i g_i(x)^2,   lambda_i >= 0 for inequalities

Primal descent on x uses grad_x L with the multipliers held fixed; dual ascent moves
lambda_i <- lambda_i + eta * g_i(x), projected on lambda_i >= 0 for an inequality, so a violated
constraint gains weight until it is met and a slack one loses it (Gallego-Posada et al. 2022,
"controlled sparsity"); an equality's multiplier may turn negative and pull the other way. The
optional quadratic term (an augmented Lagrangian, here for equalities) damps the oscillation of
plain gradient descent-ascent around the constraint.
Nothing here knows what f and g are: a density, a rate or a distortion constraint all reuse it.
"""

from dataclasses import dataclass

import jax.numpy as jnp


@dataclass(frozen=True)
class DualConfig:
    step: float = 0.05  # eta: dual ascent step size per update (measured on Kodak: 0.05 with rho 20 holds the target)
    initial: float = 0.0  # starting multiplier value
    penalty: float = 0.0  # rho: weight of the augmented Lagrangian's (rho / 2) * g^2 term; 0 for none


def init_multipliers(n_constraints: int, config: DualConfig) -> jnp.ndarray:
    """(n_constraints,) multipliers at their starting value."""
    return jnp.full((n_constraints,), config.initial)


def lagrangian(objective: jnp.ndarray, violations: jnp.ndarray, multipliers: jnp.ndarray,
               config: DualConfig) -> jnp.ndarray:
    """f + lambda . g + (rho/2) |g|^2: differentiate w.r.t. the primal variables only (multipliers are data)."""
    return objective + jnp.dot(multipliers, violations) + 0.5 * config.penalty * jnp.sum(jnp.square(violations))


def dual_update(multipliers: jnp.ndarray, violations: jnp.ndarray, config: DualConfig,
                equality: bool = False) -> jnp.ndarray:
    """Gradient ascent on the multipliers, lambda + eta * g, projected on lambda >= 0 unless `equality`."""
    raised = multipliers + config.step * violations
    return raised if equality else jnp.maximum(0.0, raised)
