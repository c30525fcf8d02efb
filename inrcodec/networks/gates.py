"""Hard-concrete L0 gates (Louizos, Welling & Kingma 2018).

Each gated value w has a learned log_alpha; its gate z in [0, 1] is a stretched, clamped concrete
sample during training and a deterministic function of log_alpha at the end. All functions work
elementwise on arrays of any shape, so one call gates every layer (or every tile) at once.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

BETA = 2.0 / 3.0  # concrete temperature
GAMMA, ZETA = -0.1, 1.1  # stretch interval (gamma, zeta) around [0, 1]
LOG_RATIO = jnp.log(-GAMMA / ZETA)  # log(-gamma/zeta), appears in the probability of a non-zero gate


def sample(key: jax.Array, log_alpha: jax.Array) -> jax.Array:
    """Training gates: z = clip(sigmoid((log u - log(1-u) + log_alpha) / beta) * (zeta - gamma) + gamma, 0, 1)."""
    u = jax.random.uniform(key, log_alpha.shape, minval=1e-6, maxval=1.0 - 1e-6)
    s = jax.nn.sigmoid((jnp.log(u) - jnp.log1p(-u) + log_alpha) / BETA)
    return jnp.clip(s * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def deterministic(log_alpha: jax.Array) -> jax.Array:
    """Test-time gates: z = clip(sigmoid(log_alpha) * (zeta - gamma) + gamma, 0, 1); exact zeros are pruned."""
    return jnp.clip(jax.nn.sigmoid(log_alpha) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def probability_nonzero(log_alpha: jax.Array) -> jax.Array:
    """P(z != 0) = sigmoid(log_alpha - beta * log(-gamma/zeta)), elementwise: the expected L0 per value."""
    return jax.nn.sigmoid(log_alpha - BETA * LOG_RATIO)


def expected_density(log_alpha: jax.Array | list[jax.Array]) -> jax.Array:
    """Expected fraction of non-zero gates over one array or all arrays of a list (a scalar in [0, 1])."""
    arrays = log_alpha if isinstance(log_alpha, list) else [log_alpha]
    return sum(jnp.sum(probability_nonzero(a)) for a in arrays) / sum(a.size for a in arrays)


def init_log_alpha(shape: tuple[int, ...], density: float) -> jax.Array:
    """log_alpha filled so that every gate starts open with probability `density`."""
    p = jnp.clip(density, 1e-4, 1.0 - 1e-4)
    return jnp.full(shape, jnp.log(p) - jnp.log1p(-p) + BETA * LOG_RATIO)


def binary_entropy(p: float) -> float:
    """H2(p) in bits."""
    return 0.0 if p <= 0 or p >= 1 else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def keep_top(log_alpha: list, density: float) -> list:
    """0/1 masks keeping the round(density * N) gates with the largest log_alpha over all layers."""
    flat = np.concatenate([np.asarray(a).ravel() for a in log_alpha])
    keep = int(round(density * flat.size))
    threshold_order = np.argsort(-flat, kind="stable")[:keep]
    chosen = np.zeros(flat.size, bool)
    chosen[threshold_order] = True
    masks, offset = [], 0
    for a in log_alpha:
        masks.append(chosen[offset:offset + a.size].reshape(a.shape))
        offset += a.size
    return masks
