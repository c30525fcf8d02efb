"""Would the synthesis network gain from being trained for the per-image adaptation a file pays for? A probe
for issue 28 (nothing shipped): the shipped synthesis is trained to be right as it is, and a file then fits 3
gains by least squares. Here the network has K output heads (3K corrections a pixel), and training solves each
photo's least squares of the heads' combination (K numbers a channel) on half of a batch's pixels of that photo,
and takes the loss on the other half (a closed-form inner step, as in meta-learning with a ridge-regression
head), so that the base is learned for the adaptation.

    python experiments/probes/synthesis_heads.py [--grids runs/synth_grids] [--steps 6000]
        [--out experiments/results/probes/synthesis_heads.json]

Data as `experiments/synthesis_network/train.py` (the same crops, held-out photos and fixed-point inputs).
Measured on the held-out photos: the drop (dB) of the squared RGB error left once each photo's combination is
fitted on all its pixels, against the error without any correction.
"""

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "synthesis_network"))
from train import pixels_of  # noqa: E402

from shared_synthesis import held_out  # noqa: E402

PHOTOS, PIXELS = 8, 2048  # photos a batch, pixels a photo (half fit the combination, half measure it)
RIDGE = 1e-3  # relative ridge of the inner least squares


def run(kind: str, heads: int, train: list, test: list, steps: int) -> dict:
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    from inrcodec.pyramid import YCBCR_TO_RGB

    rgb = jnp.asarray(YCBCR_TO_RGB.T, jnp.float32)

    class Heads(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(2):
                x = nn.relu(nn.Dense(24)(x))
            return nn.Dense(3 * heads)(x).reshape(*x.shape[:-1], 3, heads)

    def combine(c, y):
        """(..., n, 3, K) heads and (..., n, 3) targets: each channel's least-squares combination (..., 3, K)."""
        gram = jnp.einsum("...nck,...ncl->...ckl", c, c)
        scale = jnp.trace(gram, axis1=-2, axis2=-1)[..., None, None] / heads
        return jnp.linalg.solve(gram + RIDGE * scale * jnp.eye(heads) + 1e-9 * jnp.eye(heads),
                                jnp.einsum("...nck,...nc->...ck", c, y)[..., None])[..., 0]

    def loss(params, x, y):  # x (B, P, F), y (B, P, 3)
        c = model.apply(params, x)
        if kind == "plain":
            return jnp.mean(((c[..., 0] - y) @ rgb) ** 2)
        half = x.shape[1] // 2
        g = combine(c[:, :half], y[:, :half])
        left = y[:, half:] - jnp.einsum("bnck,bck->bnc", c[:, half:], g)
        return jnp.mean((left @ rgb) ** 2)

    model = Heads()
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, train[0][0].shape[1])))
    adam = optax.adam(optax.cosine_decay_schedule(1e-3, steps))
    state = adam.init(params)

    @jax.jit
    def step(params, state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, state = adam.update(grads, state)
        return optax.apply_updates(params, updates), state, value

    rng, began = np.random.default_rng(1), time.perf_counter()
    for i in range(steps):
        photos = rng.integers(0, len(train), PHOTOS)
        picks = [rng.integers(0, len(train[p][1]), PIXELS) for p in photos]
        x = np.stack([train[p][0][k] for p, k in zip(photos, picks)])
        y = np.stack([train[p][1][k] for p, k in zip(photos, picks)])
        params, state, value = step(params, state, x, y)
        if i % 1000 == 0:
            print(f"{kind} K={heads} step {i}: {float(value):.5f}", flush=True)
    drops = []
    for x, y in test:
        c = model.apply(params, jnp.asarray(x))
        g = combine(c, jnp.asarray(y))
        left = y - np.asarray(jnp.einsum("nck,ck->nc", c, g))
        drops.append(10 * np.log10(np.mean((y @ np.asarray(rgb)) ** 2) / np.mean((left @ np.asarray(rgb)) ** 2)))
    return {"kind": kind, "heads": heads, "steps": steps, "held_out_drop_db": float(np.mean(drops)),
            "seconds": round(time.perf_counter() - began, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grids", type=Path, default=Path("runs/synth_grids"))
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--runs", nargs="+", default=["plain:1", "meta:1", "meta:4"])
    ap.add_argument("--out", default="experiments/results/probes/synthesis_heads.json")
    a = ap.parse_args()
    from inrcodec.fixed import ACT_BITS

    paths = sorted(a.grids.glob("*.npz"))
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        found = list(pool.map(pixels_of, paths, [16384] * len(paths)))
    data = [((x / 2.0 ** ACT_BITS).astype(np.float32), y) for x, y in found]
    train = [d for d, p in zip(data, paths) if not held_out(p, 0.1)]
    test = [d for d, p in zip(data, paths) if held_out(p, 0.1)]
    rows = []
    for spec in a.runs:
        kind, heads = spec.split(":")
        rows.append(run(kind, int(heads), train, test, a.steps))
        print(json.dumps(rows[-1]), flush=True)
    Path(a.out).write_text(json.dumps({"photos": len(train), "held_out": len(test), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
