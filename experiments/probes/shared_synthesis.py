"""Issue 28's first question: does one small network, trained once on many photos, add to what
`pyramid` decodes, with the grids held as they are (no bytes spent)?

Each photo is coded by `pyramid` at one cap; its decode gives per pixel the 19 level contributions
(luma at every level, chroma at the six coarser ones), the post-filtered output and that output's
3 x 3 neighbourhood. Everything is in units of the file's global step (so that one network serves
every rate and photo), and the network (Flax: features -> 32 -> 32 -> 3, GELU, last layer zero, so
that it starts as `pyramid`) predicts the residual in steps. It is trained on crops of training
photos (../shared/data/photos_train, at most 512 x 512 each), checked on held-out training photos,
and only then measured on Kodak (an evaluation set: nothing is tuned on it).

  python experiments/probes/shared_synthesis.py [--train 60] [--held 12] [--bpp 0.3] [--steps 3000]
      [--kodak 24] [--out experiments/results/probes/shared_synthesis.json]
"""

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from inrcodec import context, postfilter, pyramid
from inrcodec.eval.metrics import psnr
from inrcodec.methods.pyramid import grid_geometry
from inrcodec.modalities import image

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CROP = 512  # training photos are centre-cropped to at most this size
OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


def decoded_features(pixels: np.ndarray, bpp: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(features (H, W, F), post-filtered YCbCr output (H, W, 3), target YCbCr (H, W, 3), global step)
    of a photo coded by `pyramid` at `bpp`."""
    data = image.encode(pixels, bpp, "pyramid")
    header = image.read_header(data)
    layout, geometry = header.layout, grid_geometry(header.geometry)
    height, width = header.extent
    box = (0, 0, height, width)
    steps = geometry.steps(layout.step)
    levels = dict(context.decode(layout.payload, geometry.shapes(), layout.params, list(layout.bounds)))
    contributions = [pyramid.level_values(levels[k], geometry.strides(k), steps[k], (1.0, 1.0), box)
                     for k in range(len(pyramid.STRIDES))]
    linear = np.zeros((height, width, 3), np.float32)
    for values in contributions:
        linear[..., :values.shape[-1]] += values
    output = postfilter.apply(linear, layout.filter)
    padded = np.pad(output, ((1, 1), (1, 1), (0, 0)), mode="edge")
    around = [padded[1 + dy:1 + dy + height, 1 + dx:1 + dx + width] - output for dy, dx in OFFSETS]
    features = np.concatenate([*contributions, *around], axis=-1) / layout.step
    # the probe's output is the real decode, but for a few roundings (levels summed in another order)
    assert np.mean(image.decode(data) != to_pixels(output)) < 1e-3
    return features.astype(np.float32), output, pyramid.to_ycbcr(pixels), layout.step


def to_pixels(ycbcr: np.ndarray) -> np.ndarray:
    """uint8 RGB of centred YCbCr, as the decoder rounds."""
    return np.clip(np.round((pyramid.to_rgb(ycbcr, 3) + 0.5) * 255), 0, 255).astype(np.uint8)


class Synthesis(nn.Module):
    width: int = 32  # hidden units per layer

    @nn.compact
    def __call__(self, features):
        hidden = nn.gelu(nn.Dense(self.width)(features))
        hidden = nn.gelu(nn.Dense(self.width)(hidden))
        return nn.Dense(3, kernel_init=nn.initializers.zeros)(hidden)


def centre_crop(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    top, left = max(0, (height - CROP) // 2), max(0, (width - CROP) // 2)
    return pixels[top:top + CROP, left:left + CROP]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=60)
    ap.add_argument("--held", type=int, default=12)
    ap.add_argument("--bpp", type=float, default=0.3)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--kodak", type=int, default=24)
    ap.add_argument("--out", default="experiments/results/probes/shared_synthesis.json")
    a = ap.parse_args()
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    order = rng.permutation(206)  # photos_train mixes seven sets by name: a seeded shuffle spreads them
    listing = sorted(p for p in (DATA / "photos_train").iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    chosen = [listing[i] for i in order[:a.train + a.held]]
    coded = []
    for path in chosen:
        pixels = centre_crop(image.read_image(path))
        if pixels.shape[-1] == 3:
            coded.append((path.name, pixels, *decoded_features(pixels, a.bpp)))
    train, held = coded[:len(coded) - a.held], coded[len(coded) - a.held:]
    print(f"coded {len(coded)} training photos in {time.perf_counter() - start:.0f} s", flush=True)

    inputs = np.concatenate([f.reshape(-1, f.shape[-1]) for _, _, f, _, _, _ in train])
    targets = np.concatenate([((t - o) / s).reshape(-1, 3) for _, _, _, o, t, s in train])
    model = Synthesis()
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, inputs.shape[1])))
    schedule = optax.cosine_decay_schedule(1e-3, a.steps)
    adam = optax.adam(schedule)
    state = adam.init(params)

    @jax.jit
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean((model.apply(p, x) - y) ** 2))(params)
        updates, state = adam.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    for i in range(a.steps):
        pick = rng.integers(0, len(inputs), a.batch)
        params, state, loss = step(params, state, inputs[pick], targets[pick])
        if i % 500 == 0 or i == a.steps - 1:
            print(f"step {i}: loss {float(loss):.4f} (steps squared; 0 at the start would be {np.mean(targets**2):.4f})",
                  flush=True)

    def scores(items):
        rows = []
        for name, pixels, features, output, _, step_size in items:
            refined = output + step_size * np.asarray(model.apply(params, features))
            rows.append({"image": name, "step": step_size, "pyramid": psnr(pixels, to_pixels(output)),
                         "shared": psnr(pixels, to_pixels(refined))})
        return rows

    held_rows = scores(held)
    kodak = [(p.name, image.read_image(p)) for p in sorted((DATA / "kodak").glob("*.png"))[:a.kodak]]
    kodak_rows = scores([(name, pixels, *decoded_features(pixels, a.bpp)) for name, pixels in kodak])
    summary = {name: {"pyramid": float(np.mean([r["pyramid"] for r in rows])),
                      "shared": float(np.mean([r["shared"] for r in rows])), "images": len(rows)}
               for name, rows in (("held-out training photos", held_rows), ("kodak", kodak_rows))}
    for name, values in summary.items():
        print(f"{name}: pyramid {values['pyramid']:.3f} dB, with the shared synthesis {values['shared']:.3f} dB")
    Path(a.out).write_text(json.dumps({"bpp": a.bpp, "train_photos": len(train), "steps": a.steps,
                                       "seconds": time.perf_counter() - start, "summary": summary,
                                       "held": held_rows, "kodak": kodak_rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
