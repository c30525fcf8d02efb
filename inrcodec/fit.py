"""Per-signal fitting: jit-compiled Adam steps on random pixel batches, run in `lax.scan` chunks.

The fit ends with quantization-aware training: for the last `qat_fraction` of the steps the
forward pass sees every tensor rounded to the step the rate budget implies (straight-through).
"""

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from . import quantize
from .siren import tiled_apply

CHUNK = 25  # steps per compiled scan call; the progress bar and the time limit advance per chunk


@dataclass(frozen=True)
class FitConfig:
    steps: int = 5000  # Adam steps in all (fewer if `seconds` runs out first)
    batch: int = 1024  # pixels sampled per tile per step
    learning_rate: float = 1e-3  # peak Adam learning rate, cosine-decayed to 5% of it
    qat_fraction: float = 0.2  # last fraction of the steps trained through rounding (straight-through)
    seconds: float | None = None  # wall-clock limit on the fit in seconds; None for no limit
    seed: int = 0  # PRNG seed for initialisation and pixel sampling


def cosine_learning_rate(peak: float, step: jax.Array, total: jax.Array) -> jax.Array:
    """Cosine decay from `peak` at step 0 to 5% of it at step `total`."""
    progress = jnp.minimum(step / total, 1.0)
    return peak * (0.05 + 0.95 * 0.5 * (1.0 + jnp.cos(jnp.pi * progress)))


def run_chunks(step_chunk, carry, config: FitConfig, *, quiet: bool, desc: str):
    """Call `step_chunk(carry, start, total) -> (carry, mean loss)`, CHUNK steps a call, until done.

    `total` is config.steps rounded up to whole chunks, or fewer when config.seconds would run out
    first: it is re-estimated once from the second chunk's duration (the first one compiles), so
    the learning-rate schedule and the quantization-aware phase still fit in the time given.
    Returns (carry, steps run). Shows a progress bar with the PSNR of the loss unless `quiet`.
    """
    total = -(-config.steps // CHUNK) * CHUNK
    start_time = time.perf_counter()
    done = 0
    with tqdm(total=total, desc=desc, disable=quiet, unit="step", leave=False) as bar:
        while done < total:
            chunk_start = time.perf_counter()
            carry, loss = step_chunk(carry, jnp.int32(done), jnp.int32(total))
            loss = float(loss)
            done += CHUNK
            if config.seconds is not None and done == 2 * CHUNK:
                remaining = config.seconds - (time.perf_counter() - start_time)
                chunks_left = max(0, int(remaining / (time.perf_counter() - chunk_start)))
                total = min(total, done + chunks_left * CHUNK)
                bar.total = total
            bar.update(CHUNK)
            bar.set_postfix(psnr=f"{-10 * np.log10(max(loss, 1e-12)):.2f}")
    return carry, done


def fit_tiles(params, tiles: np.ndarray, valid: np.ndarray, tile: int, bits_per_value: float,
              config: FitConfig, *, quiet: bool = False):
    """Fit a tiled SIREN to image tiles by MSE.

    params: tiled SIREN pytree (leading axis n_tiles); tiles: (n_tiles, T*T, C) values in [0, 1];
    valid: (n_tiles, 2) rows/cols of each tile inside the image; bits_per_value sets the
    quantization-aware phase's step (see `quantize.ratio_for_bits`). Returns fitted params.
    """
    from .tiles import pixel_centres

    adam = optax.scale_by_adam()
    centres = jnp.asarray(pixel_centres(tile))
    targets = jnp.asarray(tiles, jnp.float32) - 0.5
    valid = jnp.asarray(valid)
    ratio = quantize.ratio_for_bits(bits_per_value)

    def loss_fn(p, key, qat):
        quantized = quantize.fake_quantize(p, quantize.steps_for_ratio(p, ratio))
        p = jax.tree.map(lambda a, b: jnp.where(qat, a, b), quantized, p)
        u = jax.random.uniform(key, (tiles.shape[0], config.batch, 2))
        rc = jnp.floor(u * valid[:, None, :]).astype(jnp.int32)
        index = rc[..., 0] * tile + rc[..., 1]
        batch_targets = jnp.take_along_axis(targets, index[..., None], axis=1)
        prediction = tiled_apply(p, centres[index])
        return jnp.mean(jnp.square(prediction - batch_targets))

    @jax.jit
    def step_chunk(carry, start, total):
        def one_step(carry, step):
            p, adam_state, key = carry
            key, sub = jax.random.split(key)
            qat = step >= total * (1.0 - config.qat_fraction)
            loss, grads = jax.value_and_grad(loss_fn)(p, sub, qat)
            updates, adam_state = adam.update(grads, adam_state)
            lr = cosine_learning_rate(config.learning_rate, step, total)
            p = jax.tree.map(lambda w, u: w - lr * u, p, updates)
            return (p, adam_state, key), loss

        carry, losses = jax.lax.scan(one_step, carry, start + jnp.arange(CHUNK))
        return carry, jnp.mean(losses)

    carry = (params, adam.init(params), jax.random.PRNGKey(config.seed + 1))
    (params, _, _), _ = run_chunks(step_chunk, carry, config, quiet=quiet, desc="fit")
    return params
