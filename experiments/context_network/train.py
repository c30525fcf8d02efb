"""Train the shipped context network (`inrcodec.context_net`) on the grids `code_photos.py` kept, and
write it as the package's base with its training record.

  python experiments/context_network/train.py [--grids runs/context_grids] [--width 32] [--steps 20000]
      [--samples 40000] [--held-out 0.1] [--out inrcodec/bases/context.npz]

Cells are those a file codes (every cell of a phase whose runs are mostly active, else the cells of
its runs holding a nonzero integer), up to --samples a photo; --held-out of the photos (by name)
are kept out of training and measured, in float and in the shipped fixed point.
"""

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes"))
from shared_synthesis import held_out  # noqa: E402


def coded_cells(path: Path, samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, FEATURES) int32 fixed-point network inputs, (n,) integers and (n, 3) (phase, level, channel)
    of up to `samples` coded cells of a photo's grids."""
    from inrcodec import context, context_net

    with np.load(path) as f:
        grids = [f[f"level_{k}"] for k in range(len(context_net.STRIDES))]
    inputs, symbols, ids = [], [], []
    for k, c in context.plane_order(grids):
        plane = grids[k][..., c]
        if not plane.any():
            continue
        parent = context.parent_context(context.parent_plane(grids, k, c), plane.shape)
        for phase in context.coded_phases(plane.shape):
            rows, cols = context.phase_cells(plane.shape, phase)
            active = context.active_runs(plane[rows, cols])
            if active.mean() < 0.5:
                cells = context.run_cells(active, len(rows))
                rows, cols = rows[cells], cols[cells]
            planes = [context_net.slog_plane(grids[k][..., j]) for j in range(c + 1)]
            x = context_net.features(planes, phase, rows, cols, parent[:, rows, cols])
            inputs.append(context_net.network_inputs(phase, k, c, x).astype(np.int32))
            symbols.append(plane[rows, cols])
            ids.append(np.tile([phase, k, c], (len(rows), 1)))
    inputs, symbols, ids = np.concatenate(inputs), np.concatenate(symbols), np.concatenate(ids)
    pick = np.random.default_rng(len(symbols)).permutation(len(symbols))[:samples]
    return inputs[pick], symbols[pick], ids[pick]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grids", type=Path, default=Path("runs/context_grids"))
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--samples", type=int, default=40000)
    ap.add_argument("--held-out", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=Path("runs/context.npz"),
                    help="the base written (to ship it: copy it into inrcodec/bases/, first in context_net.SHIPPED)")
    a = ap.parse_args()
    from inrcodec import context_net
    from inrcodec.context import laplace_bits
    from inrcodec.fixed import ACT_BITS
    from inrcodec.networks.batches import TrainConfig
    from inrcodec.networks.context import train

    paths = sorted(a.grids.glob("*.npz"))
    began = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        cells = list(pool.map(coded_cells, paths, [a.samples] * len(paths)))
    test = [held_out(p, a.held_out) for p in paths]
    split = {side: [c for c, t in zip(cells, test) if t == side] for side in (False, True)}
    x, y = (np.concatenate([c[i] for c in split[False]]) for i in (0, 1))
    print(f"{len(paths)} photos ({sum(test)} held out), {len(y)} training cells in "
          f"{time.perf_counter() - began:.0f} s", flush=True)
    config = TrainConfig(width=a.width, steps=a.steps)
    began = time.perf_counter()
    params = train((x / 2.0 ** ACT_BITS).astype(np.float32), y.astype(np.float32), config,
                   log=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - began
    tx, ty, tid = (np.concatenate([c[i] for c in split[True]]) for i in (0, 1, 2))
    import jax.numpy as jnp

    from inrcodec.networks.context import ContextMLP, mean_bits
    float_bits = float(mean_bits(ContextMLP(a.width), params, jnp.asarray(tx / 2.0 ** ACT_BITS, jnp.float32),
                                 jnp.asarray(ty, jnp.float32)))
    record = {"photos": len(paths) - sum(test), "held_out_photos": sum(test), "training_cells": len(y),
              "rates_bpp": sorted({float(np.load(p)["bpp"]) for p in paths}), "config": asdict(config),
              "train_seconds_cpu": round(seconds, 1), "held_out_cells": len(ty),
              "held_out_bits_per_cell_float": float_bits, "grids": str(a.grids),
              "data": "centre crops (512) of photos_train and train_photos, coded by "
                      "experiments/context_network/code_photos.py (--method: see FINDINGS)"}
    identity = context_net.export(params, record, a.out)
    base = context_net.load(a.out.resolve())
    fixed_bits = 0.0  # the decoder's route: each (phase, level, channel) group's used inputs
    for phase, k, c in np.unique(tid, axis=0):
        group = np.all(tid == (phase, k, c), axis=1)
        x = tx[group][:, context_net.ONE_HOTS + context_net.used(phase, c)].astype(np.float64)
        fixed_bits += float(laplace_bits(np, ty[group], *base.laplace(x, phase, k, c)).sum())
    fixed_bits /= len(ty)
    record["held_out_bits_per_cell_fixed"] = fixed_bits
    context_net.export(params, record, a.out)
    print(f"held out: {float_bits:.4f} bits a cell in float, {fixed_bits:.4f} in fixed point; base "
          f"{identity.hex()} in {a.out} ({seconds:.0f} s of training)", flush=True)


if __name__ == "__main__":
    main()
