"""Issue 28's first question: does one small network, trained once on many photos, add to what
`pyramid` decodes, with the grids held as they are (no bytes spent)?

Each photo is coded by `pyramid` at one cap; its decode gives per pixel the 19 level contributions
(luma at every level, chroma at the six coarser ones), the post-filtered output and that output's
3 x 3 neighbourhood. Everything is in units of the file's global step (so that one network serves
every rate and photo), and the network (Flax: features -> width -> width -> 3, last layer zero, so
that it starts as `pyramid`) predicts the residual in steps. It is trained on crops of training
photos (../shared/data/photos_train and train_photos, centre crops of at most 512 x 512; a random
sample of pixels each), checked on held-out training photos, and only then measured on Kodak (an
evaluation set: nothing is chosen on it).

  python experiments/probes/shared_synthesis.py [--train 60] [--held 12] [--bpp 0.3 ...] [--eval-bpp ...]
      [--steps 3000] [--variants gelu-32] [--kodak 24] [--cache runs/shared_synthesis]
      [--out experiments/results/probes/shared_synthesis.json]

Variants are <activation>-<width>: gelu or sine (SIREN's sin(w0 x), w0 = 1 after the first layer's
SIREN initialisation). With several --bpp the training photos are coded at each (one network for
every rate); --eval-bpp (default: the same) are the rates measured. Coded photos are cached
(`--cache`, one .npz each), so that variants and reruns skip the coding; the coding runs in two
processes.
"""

import argparse
import hashlib
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CROP = 512  # training photos are centre-cropped to at most this size
SAMPLES = 32768  # pixels kept of each training photo
OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


def training_photos(count: int) -> list[Path]:
    """The first `count` photos of photos_train and train_photos in a seeded shuffle (the folders mix
    sets by name: spread them)."""
    listing = sorted(p for folder in ("photos_train", "train_photos") for p in (DATA / folder).iterdir()
                     if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    return [listing[i] for i in np.random.default_rng(0).permutation(len(listing))[:count]]


def held_out(path: Path, share: float) -> bool:
    """Whether a training photo's file is kept out of training: `share` of them, by a hash of the name."""
    return hashlib.sha256(path.stem.encode()).digest()[0] < share * 256


def file_grids(data: bytes):
    """The layout, grid geometry and int32 grids (finest first) of a `pyramid` image file."""
    from inrcodec import context
    from inrcodec.methods.pyramid import grid_geometry
    from inrcodec.modalities import image

    header = image.read_header(data)
    layout, geometry = header.layout, grid_geometry(header.geometry)
    levels = dict(context.decode(layout.payload, geometry.shapes(), context.Fitted(layout.params), list(layout.bounds)))
    return layout, geometry, [levels[k] for k in range(len(levels))]


def decoded_features(pixels: np.ndarray, bpp: float) -> dict:
    """features (H, W, F) float32, the post-filtered YCbCr output and target (H, W, 3) and the global
    step of a photo coded by `pyramid` at `bpp`."""
    from inrcodec import postfilter, pyramid
    from inrcodec.modalities import image

    data = image.encode(pixels, bpp, "pyramid")
    layout, geometry, grids = file_grids(data)
    height, width = geometry.height, geometry.width
    box = (0, 0, height, width)
    steps = geometry.steps(layout.step)
    contributions = [pyramid.level_values(grid, geometry.strides(k), steps[k], (1.0, 1.0), box)
                     for k, grid in enumerate(grids)]
    linear = np.zeros((height, width, 3), np.float32)
    for values in contributions:
        linear[..., :values.shape[-1]] += values
    output = postfilter.apply(linear, layout.filter)
    padded = np.pad(output, ((1, 1), (1, 1), (0, 0)), mode="edge")
    around = [padded[1 + dy:1 + dy + height, 1 + dx:1 + dx + width] - output for dy, dx in OFFSETS]
    features = np.concatenate([*contributions, *around], axis=-1) / layout.step
    # the probe's output is the real decode, but for a few roundings (levels summed in another order)
    assert np.mean(image.decode(data) != to_pixels(output)) < 1e-3
    return {"features": features.astype(np.float32), "output": output, "target": pyramid.to_ycbcr(pixels),
            "step": layout.step, "pixels": pixels}


def to_pixels(ycbcr: np.ndarray) -> np.ndarray:
    """uint8 RGB of centred YCbCr, as the decoder rounds."""
    from inrcodec import pyramid

    return np.clip(np.round((pyramid.to_rgb(ycbcr, 3) + 0.5) * 255), 0, 255).astype(np.uint8)


def centre_crop(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    top, left = max(0, (height - CROP) // 2), max(0, (width - CROP) // 2)
    return pixels[top:top + CROP, left:left + CROP]


def cached(path: Path, cache: Path, bpp: float, crop: bool, sample: bool) -> Path:
    """The cache file of one photo, coding it first if it is not there; a training photo keeps
    SAMPLES random pixels' features and targets only."""
    from inrcodec.modalities import image

    out = cache / f"{path.stem}-{bpp:g}{'-sample' if sample else ''}.npz"
    if not out.exists():
        pixels = image.read_image(path)
        if pixels.shape[-1] != 3:
            return None
        found = decoded_features(centre_crop(pixels) if crop else pixels, bpp)
        if sample:
            flat = found["features"].reshape(-1, found["features"].shape[-1])
            pick = np.random.default_rng(len(flat)).choice(len(flat), min(SAMPLES, len(flat)), replace=False)
            residual = ((found["target"] - found["output"]) / found["step"]).reshape(-1, 3)
            np.savez(out, features=flat[pick], residual=residual[pick])
        else:
            np.savez(out, **found)
    return out


def make_model(variant: str):
    from flax import linen as nn
    import jax.numpy as jnp

    activation, width = variant.split("-")
    width = int(width)

    def siren_init(fan_in_first: bool):
        def init(key, shape, dtype=jnp.float32):
            import jax
            bound = 1 / shape[0] if fan_in_first else np.sqrt(6 / shape[0])
            return jax.random.uniform(key, shape, dtype, -bound, bound)
        return init

    class Synthesis(nn.Module):
        @nn.compact
        def __call__(self, x):
            for layer in range(2):
                if activation == "sine":
                    x = jnp.sin(nn.Dense(width, kernel_init=siren_init(layer == 0))(x))
                else:
                    x = nn.gelu(nn.Dense(width)(x))
            return nn.Dense(3, kernel_init=nn.initializers.zeros)(x)

    return Synthesis()


def train(variant: str, inputs: np.ndarray, targets: np.ndarray, steps: int, batch: int):
    import jax
    import jax.numpy as jnp
    import optax

    model = make_model(variant)
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, inputs.shape[1])))
    adam = optax.adam(optax.cosine_decay_schedule(1e-3, steps))
    state = adam.init(params)

    @jax.jit
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean((model.apply(p, x) - y) ** 2))(params)
        updates, state = adam.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    rng = np.random.default_rng(1)
    losses = []
    for i in range(steps):
        pick = rng.integers(0, len(inputs), batch)
        params, state, loss = step(params, state, inputs[pick], targets[pick])
        losses.append(float(loss))
        if i % 1000 == 0 or i == steps - 1:
            print(f"{variant} step {i}: loss {np.mean(losses[-100:]):.5f} (steps squared; {np.mean(targets**2):.5f} "
                  "without the network)", flush=True)
    return model, params


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=60)
    ap.add_argument("--held", type=int, default=12)
    ap.add_argument("--bpp", type=float, nargs="+", default=[0.3])
    ap.add_argument("--eval-bpp", type=float, nargs="+")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--variants", nargs="+", default=["gelu-32"])
    ap.add_argument("--kodak", type=int, default=24)
    ap.add_argument("--cache", type=Path, default=Path("runs/shared_synthesis"))
    ap.add_argument("--out", default="experiments/results/probes/shared_synthesis.json")
    a = ap.parse_args()
    from inrcodec.eval.metrics import psnr

    start = time.perf_counter()
    a.cache.mkdir(parents=True, exist_ok=True)
    chosen = training_photos(a.train + a.held)
    kodak = sorted((DATA / "kodak").glob("*.png"))[:a.kodak]
    rates = a.eval_bpp or a.bpp
    jobs = ([("train", p, bpp, True, True) for bpp in a.bpp for p in chosen[:a.train]]
            + [(("held", bpp), p, bpp, True, False) for bpp in rates for p in chosen[a.train:]]
            + [(("kodak", bpp), p, bpp, False, False) for bpp in rates for p in kodak])
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        files = list(pool.map(cached, *zip(*[(p, a.cache, bpp, crop, sample) for _, p, bpp, crop, sample in jobs])))
    groups = {}
    for (group, *_), found in zip(jobs, files):
        if found:
            groups.setdefault(group, []).append(found)
    train_files = groups.pop("train")
    print(f"{len(train_files)} coded training photos, {sum(map(len, groups.values()))} coded to measure "
          f"({time.perf_counter() - start:.0f} s)", flush=True)
    loaded = [np.load(f) for f in train_files]
    inputs = np.concatenate([d["features"] for d in loaded])
    targets = np.concatenate([d["residual"] for d in loaded])

    def scores(model, params, paths):
        rows = []
        for path in paths:
            d = np.load(path)
            refined = d["output"] + float(d["step"]) * np.asarray(model.apply(params, d["features"]))
            before = psnr(d["pixels"], to_pixels(d["output"]))
            rows.append({"image": path.stem, "step": float(d["step"]), "pyramid": before,
                         "shared": psnr(d["pixels"], to_pixels(refined))})
        return rows

    results = {}
    for variant in a.variants:
        began = time.perf_counter()
        model, params = train(variant, inputs, targets, a.steps, a.batch)
        trained = time.perf_counter() - began
        rows = {f"{'held-out training photos' if kind == 'held' else kind} at {bpp:g} bpp": scores(model, params, paths)
                for (kind, bpp), paths in groups.items()}
        summary = {name: {"pyramid": float(np.mean([r["pyramid"] for r in found])),
                          "shared": float(np.mean([r["shared"] for r in found])), "images": len(found)}
                   for name, found in rows.items()}
        for name, values in summary.items():
            print(f"{variant} {name}: pyramid {values['pyramid']:.3f} dB, shared synthesis {values['shared']:.3f} dB",
                  flush=True)
        results[variant] = {"train_seconds": trained, "summary": summary, "images": rows}
    Path(a.out).write_text(json.dumps({"bpp": a.bpp, "train_photos": len(train_files), "pixels_each": SAMPLES,
                                       "steps": a.steps, "batch": a.batch, "variants": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
