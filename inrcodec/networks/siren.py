"""SIREN (Sitzmann et al. 2020): a sine-activated MLP from coordinates to values.

The network is a Flax module (`Siren`); its parameters travel through the codec as a plain pytree, a
list of layers, each ``{"w": (fan_in, fan_out), "b": (fan_out,)}`` (what the methods quantise, mask
and store), given to the module as its Dense layers' kernels and biases.
A *tiled* SIREN is the same pytree with a leading tile axis on every array, one network per tile,
evaluated with ``jax.vmap``.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

OMEGA0 = 30.0  # frequency factor of every sine layer (SIREN's omega_0)


def layer_sizes(in_dim: int, width: int, depth: int, out_dim: int) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of each linear layer: `depth` sine layers of `width`, then a linear output."""
    dims = [in_dim] + [width] * depth + [out_dim]
    return list(zip(dims[:-1], dims[1:]))


def count_params(in_dim: int, width: int, depth: int, out_dim: int) -> int:
    """Number of scalars in one SIREN."""
    return sum(i * o + o for i, o in layer_sizes(in_dim, width, depth, out_dim))


def count_macs(in_dim: int, width: int, depth: int, out_dim: int) -> int:
    """Multiply-accumulates of one SIREN evaluation (its weight matrices' sizes)."""
    return sum(i * o for i, o in layer_sizes(in_dim, width, depth, out_dim))


def init_siren(key: jax.Array, in_dim: int, width: int, depth: int, out_dim: int) -> list[dict]:
    """SIREN initialisation: first layer U(±1/fan_in), later layers U(±sqrt(6/fan_in)/omega0)."""
    params = []
    for index, (fan_in, fan_out) in enumerate(layer_sizes(in_dim, width, depth, out_dim)):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / fan_in if index == 0 else (6.0 / fan_in) ** 0.5 / OMEGA0
        params.append({
            "w": jax.random.uniform(kw, (fan_in, fan_out), minval=-bound, maxval=bound),
            "b": jax.random.uniform(kb, (fan_out,), minval=-bound, maxval=bound),
        })
    return params


class Siren(nn.Module):
    """SIREN as a Flax module: coords (..., in_dim) -> values (..., out_dim), `depth` sine layers of
    `width` (each optionally shifted: COIN++'s shift modulations), then a linear output."""
    width: int  # neurons per sine layer
    depth: int  # sine layers
    out_dim: int  # values per coordinate

    @nn.compact
    def __call__(self, coords: jax.Array, shifts: list[jax.Array] | None = None) -> jax.Array:
        h = coords
        for index in range(self.depth):
            pre = nn.Dense(self.width, name=f"layer_{index}")(h)
            if shifts is not None:
                pre = pre + shifts[index]
            h = jnp.sin(OMEGA0 * pre)
        return nn.Dense(self.out_dim, name=f"layer_{self.depth}")(h)


def siren_apply(params: list[dict], coords: jax.Array, shifts: list[jax.Array] | None = None) -> jax.Array:
    """Evaluate one SIREN (`Siren`) of the project's layer list. coords: (..., in_dim) in [-1, 1] -> values
    (..., out_dim).

    `shifts`, if given, holds one (..., width) array per sine layer added to its pre-activation
    (COIN++ shift modulations).
    """
    module = Siren(width=params[0]["w"].shape[-1], depth=len(params) - 1, out_dim=params[-1]["w"].shape[-1])
    variables = {f"layer_{index}": {"kernel": layer["w"], "bias": layer["b"]} for index, layer in enumerate(params)}
    return module.apply({"params": variables}, coords, shifts)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))  # compiled once per shape, not op by op (4 s a call)
def init_tiled(key: jax.Array, n_tiles: int, in_dim: int, width: int, depth: int, out_dim: int) -> list[dict]:
    """One independently initialised SIREN per tile, stacked on a leading axis of size n_tiles."""
    keys = jax.random.split(key, n_tiles)
    return jax.vmap(lambda k: init_siren(k, in_dim, width, depth, out_dim))(keys)


tiled_apply = jax.vmap(siren_apply)
"""Evaluate a tiled SIREN: params with leading tile axis, coords (tiles, N, in_dim) -> (tiles, N, out_dim)."""
