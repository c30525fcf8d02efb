"""Issue 28, item 3: would a shared context network, trained once on photos, code `pyramid`'s grids
in fewer bits than the file's own 16 fitted numbers per grid channel?

Photos are coded by `pyramid` at 0.3 bpp; the grids are decoded from the files. Each cell gets the
features a decoder would have when it decodes it (coding order: coarsest level first, channels in
order, three phases a plane): its phase, level and channel; the parent's interpolated value and
activity (as `context`); the values of the cells of earlier phases of its plane in a 7 x 7 window
(up to 16); and, for chroma, the same level's luma (and Cb for Cr) at the cell and around it. A
small MLP (Flax) maps them to a Laplace's (mu, log b); it is trained by Adam on the ideal code
length of the grids of training photos (centre crops of photos_train and train_photos) and then
measured on Kodak against the ideal code length under each file's fitted parameters (every cell
counted, run flags left out on both sides).

  python experiments/probes/context_network.py [--train 80] [--kodak 24] [--widths 32 64] [--steps 3000]
      [--eval-bpp 0.3] [--drop far cross] [--cache runs/context_network] [--out ...]

The network is trained on grids coded at 0.3 bpp; --eval-bpp are the rates Kodak is measured at.

--drop leaves feature groups out (the farther neighbours, the other channels), to see which pay.
Each cell's 16-neighbour slots hold the nearest first (the 4 the fitted model reads, then 12 farther).
"""

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from shared_synthesis import DATA, centre_crop, file_grids, training_photos

SAMPLES = 60000  # cells kept of each training photo
WINDOW = 3  # the neighbourhood's reach: a (2 * WINDOW + 1) square
PLANES = 1 + 3 * 6  # grid channels of a colour pyramid: luma at full resolution, YCbCr at the six coarser levels
OFFSET_STEPS = 100  # Adam steps of the per-image offsets
# feature columns a variant may leave out (set to 0): the 12 farther neighbours, the other channels
DROPPABLE = {"far": slice(13 + 4 + 4, 13 + 4 + 16), "cross": slice(13 + 4 + 16, 13 + 4 + 16 + 10)}


def slog(v):
    return np.sign(v) * np.log1p(np.abs(v))


def earlier_offsets(phase: int) -> list[tuple[int, int]]:
    """Offsets within the window of the cells of earlier phases, from a cell of `phase` at (0, 0)
    (phase 2's lattices see the same offsets: cells of even (dy + dx))."""
    from inrcodec import context

    lattice = context.PHASE_LATTICES[phase][0]
    found = [(dy, dx) for dy in range(-WINDOW, WINDOW + 1) for dx in range(-WINDOW, WINDOW + 1)
             if (dy or dx) and context.phase_of((8, 8))[(lattice[0] + dy) % 2 + 2, (lattice[1] + dx) % 2 + 2] < phase]
    return sorted(found, key=lambda o: (abs(o[0]) + abs(o[1]), o))[:16]  # the nearest first


def shifted(plane: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """plane[r + dy, c + dx] for every cell, 0 outside."""
    out = np.zeros_like(plane)
    h, w = plane.shape
    out[max(0, -dy):min(h, h - dy), max(0, -dx):min(w, w - dx)] = plane[max(0, dy):min(h, h + dy),
                                                                         max(0, dx):min(w, w + dx)]
    return out


def grid_features(grids: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list]:
    """(cells, F) features and (cells,) integers of every cell of every coded grid channel, and per cell
    (plane index in coding order, phase) as (cells, 2)."""
    from inrcodec import context

    rows_f, rows_y, rows_id = [], [], []
    index = 0
    for k in reversed(range(len(grids))):
        for c in range(grids[k].shape[-1]):
            plane = grids[k][..., c].astype(np.float64)
            if not plane.any():  # not coded: no bits under either model
                index += 1
                continue
            parent = context.parent_context(context.parent_plane(grids, k, c), plane.shape)
            phases = context.phase_of(plane.shape)
            cross = [grids[k][..., j].astype(np.float64) for j in range(c)]
            cross_features = []
            if cross:
                luma = cross[0]
                cross_features += [shifted(luma, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
                cross_features.append(cross[1] if len(cross) > 1 else np.zeros_like(plane))
            else:
                cross_features = [np.zeros_like(plane)] * 10
            for phase in context.coded_phases(plane.shape):
                cells = phases == phase
                neighbours = [shifted(plane, dy, dx)[cells] for dy, dx in earlier_offsets(phase)]
                neighbours += [np.zeros(cells.sum())] * (16 - len(neighbours))
                one_hot = np.zeros((cells.sum(), 13))
                one_hot[:, phase] = 1
                one_hot[:, 3 + k] = 1
                one_hot[:, 10 + c] = 1
                p, p_abs = parent[0][cells], parent[1][cells]
                across = np.array([f[cells] for f in cross_features]).T
                features = np.column_stack([one_hot, slog(p), np.log1p(p_abs), p, p_abs,
                                            slog(np.array(neighbours).T), slog(across)])
                rows_f.append(features.astype(np.float32))
                rows_y.append(plane[cells])
                rows_id.append(np.column_stack([np.full(cells.sum(), index), np.full(cells.sum(), phase)]))
            index += 1
    return np.concatenate(rows_f), np.concatenate(rows_y).astype(np.float32), np.concatenate(rows_id)


def file_bits(grids, params) -> float:
    """Ideal bits of every cell of the coded grid channels under the file's fitted context model."""
    from inrcodec import context

    total = 0.0
    for (plane, parent_plane), plane_params in zip(context.channel_planes(grids), params):
        if not plane.any():  # not coded
            continue
        parent = context.parent_context(parent_plane, plane.shape)
        for phase in context.coded_phases(plane.shape):
            rows, cols = context.phase_cells(plane.shape, phase)
            mu, b = context.phase_laplace(plane, parent, phase, plane_params)
            total += float(context.laplace_bits(np, plane[rows, cols], mu, b).sum())
    return total


def coded(path: Path, cache: Path, crop: bool, bpp: float = 0.3) -> Path | None:
    """The cache file of a photo coded at `bpp`: grids, features, and the file's ideal bits."""
    from inrcodec.modalities import image

    out = cache / f"{path.stem}.npz"
    if out.exists():
        return out
    pixels = image.read_image(path)
    if pixels.shape[-1] != 3:
        return None
    data = image.encode(centre_crop(pixels) if crop else pixels, bpp, "pyramid")
    layout, _, grids = file_grids(data)
    features, symbols, ids = grid_features(grids)
    if crop:
        pick = np.random.default_rng(len(symbols)).choice(len(symbols), min(SAMPLES, len(symbols)), replace=False)
        features, symbols, ids = features[pick], symbols[pick], ids[pick]
    np.savez(out, features=features, symbols=symbols, ids=ids, file_bits=file_bits(grids, layout.params),
             bytes=len(data), payload_bytes=len(layout.payload))
    return out


def train(width: int, inputs, symbols, steps: int, batch: int):
    import jax
    import jax.numpy as jnp
    import optax
    from flax import linen as nn

    from inrcodec.context import LOG_SCALE_MAX, LOG_SCALE_MIN, laplace_bits

    class ContextNet(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(2):
                x = nn.gelu(nn.Dense(width)(x))
            out = nn.Dense(2)(x)
            return out[..., 0], jnp.exp(jnp.clip(out[..., 1], LOG_SCALE_MIN, LOG_SCALE_MAX))

    model = ContextNet()
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, inputs.shape[1])))
    adam = optax.adam(optax.cosine_decay_schedule(2e-3, steps))
    state = adam.init(params)

    def bits(params, x, y):
        mu, b = model.apply(params, x)
        return laplace_bits(jnp, y, mu, b)

    @jax.jit
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean(bits(p, x, y)))(params)
        updates, state = adam.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    rng = np.random.default_rng(1)
    for i in range(steps):
        pick = rng.integers(0, len(inputs), batch)
        params, state, loss = step(params, state, inputs[pick], symbols[pick])
        if i % 1000 == 0 or i == steps - 1:
            print(f"width {width} step {i}: {float(loss):.4f} bits a cell", flush=True)
    def adapted_bits(x, y, plane, offsets):
        mu, b = model.apply(params, x)
        log_b = jnp.clip(jnp.log(b) + offsets[plane], LOG_SCALE_MIN, LOG_SCALE_MAX)
        return jnp.sum(laplace_bits(jnp, y, mu, jnp.exp(log_b)))

    @jax.jit
    def measure(x, y, plane):
        """Bits of cells (x, y) without and with one log-b offset per plane fitted by Adam."""
        offsets = jnp.zeros(PLANES)
        tune = optax.adam(0.05)
        state = tune.init(offsets)

        def one(_, carry):
            offsets, state = carry
            updates, state = tune.update(jax.grad(adapted_bits, argnums=3)(x, y, plane, offsets), state)
            return optax.apply_updates(offsets, updates), state

        offsets, _ = jax.lax.fori_loop(0, OFFSET_STEPS, one, (offsets, state))
        return jnp.sum(bits(params, x, y)), adapted_bits(x, y, plane, offsets)

    return measure


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=80)
    ap.add_argument("--kodak", type=int, default=24)
    ap.add_argument("--widths", type=int, nargs="+", default=[32])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--eval-bpp", type=float, nargs="+", default=[0.3])
    ap.add_argument("--drop", nargs="*", default=[], choices=sorted(DROPPABLE))
    ap.add_argument("--cache", type=Path, default=Path("runs/context_network"))
    ap.add_argument("--out", default="experiments/results/probes/context_network.json")
    a = ap.parse_args()
    (a.cache / "train").mkdir(parents=True, exist_ok=True)
    folders = {bpp: a.cache / ("kodak" if bpp == 0.3 else f"kodak-{bpp:g}") for bpp in a.eval_bpp}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    chosen = training_photos(a.train)
    kodak = sorted((DATA / "kodak").glob("*.png"))[:a.kodak]
    began = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        train_files = [f for f in pool.map(coded, chosen, [a.cache / "train"] * len(chosen), [True] * len(chosen)) if f]
        kodak_files = {bpp: list(pool.map(coded, kodak, [folder] * len(kodak), [False] * len(kodak),
                                          [bpp] * len(kodak))) for bpp, folder in folders.items()}
    print(f"coded in {time.perf_counter() - began:.0f} s", flush=True)
    loaded = [np.load(f) for f in train_files]
    inputs = np.concatenate([d["features"] for d in loaded])
    symbols = np.concatenate([d["symbols"] for d in loaded])

    def dropped(features):
        features = features.copy()
        for name in a.drop:
            features[:, DROPPABLE[name]] = 0
        return features

    inputs = dropped(inputs)
    results = {}
    for width in a.widths:
        began = time.perf_counter()
        total_bits = train(width, inputs, symbols, a.steps, a.batch)
        for bpp, paths in kodak_files.items():
            rows = []
            for path in paths:
                d = np.load(path)
                net, adapted = (float(v) for v in total_bits(dropped(d["features"]), d["symbols"], d["ids"][:, 0]))
                rows.append({"image": path.stem, "file_bits": float(d["file_bits"]), "network_bits": net,
                             "network_offset_bits": adapted,
                             "payload_bytes": int(d["payload_bytes"]), "bytes": int(d["bytes"])})
            saving = 1 - sum(r["network_bits"] for r in rows) / sum(r["file_bits"] for r in rows)
            per_image = float(np.mean([1 - r["network_bits"] / r["file_bits"] for r in rows]))
            adapted = 1 - sum(r["network_offset_bits"] for r in rows) / sum(r["file_bits"] for r in rows)
            print(f"width {width}, Kodak at {bpp:g} bpp: ideal bits {saving:+.2%} against the fitted model (per image "
                  f"{per_image:+.2%}); with a log-b offset per grid channel {adapted:+.2%}", flush=True)
            name = str(width) if bpp == 0.3 else f"{width} at {bpp:g} bpp"
            results[name] = {"saving": saving, "saving_per_image": per_image, "saving_with_offsets": adapted,
                             "seconds": time.perf_counter() - began, "images": rows}
    Path(a.out).write_text(json.dumps({"train_photos": len(train_files), "cells_each": SAMPLES, "steps": a.steps,
                                       "dropped": a.drop,
                                       "widths": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
