"""Per-signal fitting: jit-compiled Adam steps on random sample batches, run in `lax.scan` chunks.

The fit ends with quantization-aware training: for the last `qat_fraction` of the steps the
forward pass sees every tensor rounded to the step the rate budget implies (straight-through).
"""

import dataclasses
import time
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import quantize
from . import constrained, gates
from .constrained import DualConfig
from ..progress import progress
from .siren import tiled_apply
from ..tiles import sample_centres

CHUNK = 25  # steps per compiled scan call; the progress bar and the time limit advance per chunk


@dataclass(frozen=True)
class FitConfig:
    steps: int = 5000  # Adam steps in all (fewer if `seconds` runs out first)
    batch: int = 1024  # samples (pixels) drawn per tile per step
    learning_rate: float = 1e-3  # peak Adam learning rate, cosine-decayed to 5% of it
    qat_fraction: float = 0.2  # last fraction of the steps trained through rounding (straight-through)
    seconds: float | None = None  # wall-clock limit on the fit in seconds; None for no limit
    seed: int = 0  # PRNG seed for initialisation and sample drawing


def cosine_learning_rate(peak: float, step: jax.Array, total: jax.Array) -> jax.Array:
    """Cosine decay from `peak` at step 0 to 5% of it at step `total`."""
    progress = jnp.minimum(step / total, 1.0)
    return peak * (0.05 + 0.95 * 0.5 * (1.0 + jnp.cos(jnp.pi * progress)))


def run_chunks(step_chunk, carry, data, config: FitConfig, *, quiet: bool, desc: str):
    """Call `step_chunk(carry, start, total, data) -> (carry, mean loss)`, CHUNK steps a call, until done.

    `total` is config.steps rounded up to whole chunks, or fewer when config.seconds would run out
    first: after every chunk it is re-estimated from the mean duration of the chunks after the
    first (which compiles), so the learning-rate schedule and the quantization-aware phase still
    fit in the time given. Returns (carry, steps run). Shows a progress bar unless `quiet`.
    """
    limit = -(-config.steps // CHUNK) * CHUNK
    total = limit
    start_time = time.perf_counter()
    first_done = None  # when the first (compiling) chunk finished
    done = 0
    with progress(total, desc, unit="step", quiet=quiet, leave=False) as bar:
        while done < total:
            carry, loss = step_chunk(carry, jnp.int32(done), jnp.int32(total), data)
            loss = float(loss)
            done += CHUNK
            now = time.perf_counter()
            if config.seconds is not None:
                if first_done is None:
                    first_done = now
                else:
                    per_chunk = (now - first_done) / (done / CHUNK - 1)
                    chunks_left = max(0, int((config.seconds - (now - start_time)) / per_chunk))
                    total = min(limit, done + chunks_left * CHUNK)
                    bar.total = total
            bar.update(CHUNK)
            bar.set_postfix(psnr=f"{-10 * np.log10(max(loss, 1e-12)):.2f}")
    return carry, done


def phase_config(config: FitConfig, share: float, qat_fraction: float, seconds: float | None) -> FitConfig:
    """The settings of one phase of a fit: `share` of its steps, its own QAT fraction and time limit."""
    return dataclasses.replace(config, steps=max(1, round(config.steps * share)), qat_fraction=qat_fraction,
                               seconds=seconds)


def tile_data(tiles: np.ndarray, valid: np.ndarray, tile: int) -> dict:
    """What `batch_mse` reads, as arrays passed to the compiled step (not baked into it, so one
    compiled step serves every signal of a shape): {"centres": (T**dims, dims), "targets":
    (n_tiles, T**dims, C), "valid": (n_tiles, dims)}. tiles: centred values (0 is mid-range); valid:
    samples of each tile inside the signal along each axis (`tiles.split`)."""
    dims = valid.shape[1]
    return {"centres": jnp.asarray(sample_centres(tile, (None,) * dims)), "targets": jnp.asarray(tiles, jnp.float32),
            "valid": jnp.asarray(valid)}


def batch_mse(params, key, data: dict, batch: int) -> jax.Array:
    """MSE of a tiled SIREN on `batch` random in-signal samples per tile of `data` (see `tile_data`)."""
    targets, valid = data["targets"], data["valid"]
    dims = valid.shape[1]
    tile = round(targets.shape[1] ** (1 / dims))
    u = jax.random.uniform(key, (targets.shape[0], batch, dims))
    rc = jnp.floor(u * valid[:, None, :]).astype(jnp.int32)
    index = rc[..., 0]
    for axis in range(1, dims):
        index = index * tile + rc[..., axis]
    batch_targets = jnp.take_along_axis(targets, index[..., None], axis=1)
    return jnp.mean(jnp.square(tiled_apply(params, data["centres"][index]) - batch_targets))


def adam_chunks(loss_fn, learning_rates):
    """A jitted `step_chunk(carry, start, total, data)` running CHUNK Adam steps on
    loss_fn(x, key, step, total, aux, data).

    carry = (x, adam state, key, aux); loss_fn returns (loss, (reported loss, new aux)), where aux
    is state updated outside the gradient (such as Lagrange multipliers); data is a pytree of the
    signal's arrays, an argument rather than a constant so that the compiled step is the same for
    every signal of a shape (and found in the persistent compilation cache). `learning_rates(step,
    total, data)` gives a pytree of learning rates shaped like x.
    """
    adam = optax.scale_by_adam()

    @jax.jit
    def step_chunk(carry, start, total, data):
        def one_step(carry, step):
            x, adam_state, key, aux = carry
            key, sub = jax.random.split(key)
            grads, (loss, aux) = jax.grad(loss_fn, has_aux=True)(x, sub, step, total, aux, data)
            updates, adam_state = adam.update(grads, adam_state)
            x = jax.tree.map(lambda w, u, r: w - r * u, x, updates, learning_rates(step, total, data))
            return (x, adam_state, key, aux), loss

        carry, losses = jax.lax.scan(one_step, carry, start + jnp.arange(CHUNK))
        return carry, jnp.mean(losses)

    return step_chunk, adam.init


def fit_tiles(params, tiles: np.ndarray, valid: np.ndarray, tile: int, bits_per_value: float,
              config: FitConfig, *, mask=None, quiet: bool = False):
    """Fit a tiled SIREN to a signal's tiles by MSE, the last `qat_fraction` of steps through rounding.

    params: tiled SIREN pytree (leading axis n_tiles); tiles, valid: as for `batch_mse`;
    bits_per_value sets the quantization-aware phase's step (`quantize.ratio_for_bits`); mask, if
    given, is a pytree of 0/1 arrays like params: masked-out values stay zero. Returns fitted params.
    """
    ratio = quantize.ratio_for_bits(bits_per_value)
    mask = mask if mask is not None else jax.tree.map(jnp.ones_like, params)
    data = {**tile_data(tiles, valid, tile), "mask": mask}

    def loss_fn(p, key, step, total, aux, data):
        p = jax.tree.map(jnp.multiply, p, data["mask"])
        quantized = quantize.fake_quantize(p, quantize.steps_for_ratio(p, ratio, data["mask"]))
        qat = step >= total * (1.0 - config.qat_fraction)
        loss = batch_mse(jax.tree.map(lambda a, b: jnp.where(qat, a, b), quantized, p), key, data, config.batch)
        return loss, (loss, aux)

    def learning_rates(step, total, data):
        rate = cosine_learning_rate(config.learning_rate, step, total)
        return jax.tree.map(lambda _: rate, data["mask"])

    step_chunk, adam_init = adam_chunks(loss_fn, learning_rates)
    carry = (params, adam_init(params), jax.random.PRNGKey(config.seed + 1), ())
    (params, _, _, _), _ = run_chunks(step_chunk, carry, data, config, quiet=quiet, desc="fit")
    return jax.tree.map(jnp.multiply, params, mask)


@dataclass(frozen=True)
class GateConfig:
    learning_rate: float = 0.05  # Adam learning rate of the gates' log_alpha (constant)
    # the density constraint's dual ascent; fast enough to meet the target within the gated steps
    dual: DualConfig = field(default_factory=lambda: DualConfig(step=0.2, penalty=20.0))


def fit_gated_tiles(params, log_alpha, tiles: np.ndarray, valid: np.ndarray, tile: int, target_density: float,
                    config: FitConfig, gate: GateConfig, *, quiet: bool = False):
    """Fit a tiled SIREN whose weight matrices carry hard-concrete gates, under a density constraint.

    Minimises log MSE subject to expected density (fraction of non-zero gates over all gated
    weights) = target_density, by the Lagrangian of `constrained`. An equality, not "<=": the
    budget is to be used, and left alone the gates close below the target (their noise costs
    distortion), which an inequality would accept. log_alpha: one array per layer shaped like
    that layer's "w". Returns (params, log_alpha, multipliers).
    """
    data = {**tile_data(tiles, valid, tile), "target_density": jnp.float32(target_density)}
    shapes = [a.shape for a in log_alpha]
    split_at = np.cumsum([a.size for a in log_alpha])[:-1]

    def unflatten(flat):
        return [part.reshape(shape) for part, shape in zip(jnp.split(flat, split_at), shapes)]

    def loss_fn(x, key, step, total, multipliers, data):
        p, la = x  # la: every layer's log_alpha in one flat vector, sampled in one call
        gate_key, sample_key = jax.random.split(key)
        gated = [{"w": layer["w"] * z, "b": layer["b"]} for layer, z in zip(p, unflatten(gates.sample(gate_key, la)))]
        error = batch_mse(gated, sample_key, data, config.batch)
        violation = jnp.stack([gates.expected_density(la) - data["target_density"]])
        objective = constrained.lagrangian(jnp.log(error), violation, multipliers, gate.dual)
        multipliers = constrained.dual_update(multipliers, jax.lax.stop_gradient(violation), gate.dual, equality=True)
        return objective, (error, multipliers)

    def learning_rates(step, total, data):
        weight_rate = cosine_learning_rate(config.learning_rate, step, total)
        return (jax.tree.map(lambda _: weight_rate, params), gate.learning_rate)

    step_chunk, adam_init = adam_chunks(loss_fn, learning_rates)
    x = (params, jnp.concatenate([jnp.ravel(a) for a in log_alpha]))
    carry = (x, adam_init(x), jax.random.PRNGKey(config.seed + 2), constrained.init_multipliers(1, gate.dual))
    ((params, flat), _, _, multipliers), _ = run_chunks(step_chunk, carry, data, config, quiet=quiet, desc="fit gated")
    log_alpha = unflatten(flat)
    return params, log_alpha, multipliers
