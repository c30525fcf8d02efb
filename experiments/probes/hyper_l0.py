"""Probe for issue 27: `hyper`'s zeros made by the rate term against L0 gates under a Lagrangian.

Not a codec path. On the first N CIFAR-10 test images (an evaluation set: nothing here trains the
base), both arms start from the encoder's refined latents (`hyper_fit`) and are priced by the
shipped entropy model (ideal bits of the integer symbols, `HyperBase.information`) and measured by
the fixed-point decoder:

- rate term (the method): the refined latents at rate levels LEVELS, rounded; zeros are what the
  rate-distortion loss leaves;
- L0 gates (the design's first idea): at one level, every y latent's residual gets a hard-concrete
  gate (`networks.gates`); Adam on latents and gates minimises the MSE subject to expected density
  = d (`networks.constrained`, one multiplier per image, dual ascent), then the round(d * N) gates
  with the largest log_alpha are kept and the rest of y's residuals are zero. d runs over DENSITIES
  times the rate arm's own non-zero fraction at that level.

    python experiments/probes/hyper_l0.py [--images 100] [--out experiments/results/probes/hyper_l0.json]
"""

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from inrcodec import hyperbase
from inrcodec.eval.metrics import psnr
from inrcodec.methods import hyper_fit
from inrcodec.methods import Geometry, hyper
from inrcodec.methods.hyper import HyperConfig, Layout
from inrcodec.networks import constrained, gates
from inrcodec.networks.hyperprior import Codec, ste_round

CIFAR = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10" / "cifar10_prefix.npz"
LEVELS = (16, 24, 32, 40, 48, 56)  # rate level indices of the rate arm (level = index / 8 - 4)
GATED_LEVEL = 40  # the L0 arm's level index (about 0.64 bpp on CIFAR-10)
DENSITIES = (0.5, 0.75, 1.0, 1.5)  # the L0 arm's density targets, times the rate arm's non-zero fraction
STEPS = 300  # Adam steps of the gated fit
DUAL = constrained.DualConfig(step=0.5, penalty=20.0)  # as `meta`'s gated phase


def measure(base, pixels: np.ndarray, images: list) -> dict:
    """Mean bpp (ideal bits), PSNR (fixed-point decode) and y's non-zero fraction of coded images."""
    bits = base.information(images) * 8
    geometry = Geometry((32, 32), 3, "image")
    decoded = [np.round(np.clip(hyper.pixels(Layout(index, z[None], y[None]), geometry), 0, 1) * 255).astype(np.uint8)
               for z, y, _, index in images]
    return {"bpp": float(np.mean(bits) / 1024), "psnr": float(np.mean([psnr(a, b) for a, b in zip(pixels, decoded)])),
            "nonzero_y": float(np.mean([np.mean(image[1] != 0) for image in images]))}


def gated(codec, params, x, level, ys, zs, density: float, key) -> tuple[np.ndarray, np.ndarray]:
    """Latents (ys, zs) refitted with L0 gates on y's residuals at `density`; y's residuals outside the kept
    gates zeroed."""
    zq = jnp.round(zs)
    mu, _, _ = codec.apply(params, zq, level, method=Codec.prior)
    residual = ys - mu
    log_alpha = gates.init_log_alpha(residual.shape, 0.95)
    optimiser = optax.adam(0.05)
    variables = (residual, log_alpha)
    state, multipliers = optimiser.init(variables), jnp.zeros(len(x))

    def loss(variables, multipliers, key):
        residual, log_alpha = variables
        gate = gates.sample(key, log_alpha)
        xh = codec.apply(params, ste_round(residual * gate) + mu, level, method=Codec.decode)
        mse = jnp.mean(jnp.square((xh - x) * 255.0), axis=(1, 2, 3))
        violation = jax.vmap(gates.expected_density)(log_alpha) - density
        return jnp.sum(jnp.log(mse) + multipliers * violation + 0.5 * DUAL.penalty * violation ** 2), violation

    @jax.jit
    def step(variables, state, multipliers, key):
        (_, violation), grads = jax.value_and_grad(loss, has_aux=True)(variables, multipliers, key)
        updates, state = optimiser.update(grads, state, variables)
        return optax.apply_updates(variables, updates), state, constrained.dual_update(multipliers, violation, DUAL,
                                                                                         equality=True)

    for k in range(STEPS):
        variables, state, multipliers = step(variables, state, multipliers, jax.random.fold_in(key, k))
    residual, log_alpha = (np.asarray(v) for v in variables)
    masks = np.stack([gates.keep_top([a], density)[0] for a in log_alpha])
    return np.asarray(mu) + np.where(masks, residual, 0.0), np.asarray(zq)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--out", default="experiments/results/probes/hyper_l0.json")
    a = ap.parse_args()
    pixels = np.load(CIFAR)["test_batch_x"][:a.images]
    base = hyperbase.load()
    codec, params = hyper_fit.model()
    values = pixels.astype(np.float32) / 255 - 0.5
    x = jnp.asarray(values + 0.5)
    config = HyperConfig(batch=a.images)
    rate_arm = []
    for index in LEVELS:
        images = hyper_fit.images_at(values, base, np.full(a.images, index), config)
        rate_arm.append({"level_index": index, **measure(base, pixels, images)})
        print("rate term", rate_arm[-1], flush=True)
    reference = next(row for row in rate_arm if row["level_index"] == GATED_LEVEL)
    level = jnp.full((a.images,), hyperbase.level_of(GATED_LEVEL), jnp.float32)
    ys, zs = hyper_fit._refined(codec, params, x, level)
    gated_arm = []
    for factor in DENSITIES:
        density = min(1.0, factor * reference["nonzero_y"])
        ys_gated, zq = gated(codec, params, x, level, ys, zs, density, jax.random.PRNGKey(0))
        images = hyper_fit._images(base, lambda *_: (ys_gated, zq), x, np.full(a.images, GATED_LEVEL))
        gated_arm.append({"density_target": density, **measure(base, pixels, images)})
        print("L0 gates", gated_arm[-1], flush=True)
    Path(a.out).write_text(json.dumps({"images": a.images, "gated_level_index": GATED_LEVEL, "steps": STEPS,
                                       "rate_term": rate_arm, "l0_gates": gated_arm}, indent=1) + "\n")


if __name__ == "__main__":
    main()
