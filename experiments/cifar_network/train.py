"""Train the `hyper` method's shared networks (one model, all rates). Resumable from CKPT/state.pkl.

  nice -n 10 python3 train.py runs/meta --minutes 45 --init runs/main/state.pkl

Every step: a batch of 32x32 images (CIFAR-10 data_batch_1..5 less 256 held out; never test_batch)
and downscaled crops of ../shared/data/photos_train and train_photos, one random rate level each.
With --inner (the default) the loss is taken after the encoder's meta-SGD refinement
(`hyperprior.inner_loop`, first-order): the networks, gains and inner learning rates are
meta-learned for the latents the encoder will really send. --init starts from an earlier run's
state (a probe with fewer levels is extended downwards).
"""
import argparse
import glob
import json
import os
import pickle
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from PIL import Image

from inrcodec.networks.hyperprior import INNER_STEPS, LEVELS, LAMBDAS, Codec, inner_loop, lam_of, rd_terms

CIFAR = "/work/shared/data/cifar10/cifar10_prefix.npz"
PHOTOS = ["/work/shared/data/photos_train", "/work/shared/data/train_photos"]


def load_data(cache, n_crops=20000, seed=0):
    """CIFAR training images (less 256 for validation), the 256, and photo crops (cached)."""
    d = np.load(CIFAR)
    train = np.concatenate([d[f"data_batch_{i}_x"] for i in range(1, 6)])
    val, train = train[-256:], train[:-256]
    if n_crops and not os.path.exists(cache):
        rng, crops = np.random.default_rng(seed), []
        files = sorted(f for p in PHOTOS for f in glob.glob(p + "/*") if f.lower().endswith((".png", ".jpg", ".jpeg")))
        for f in files:
            im = Image.open(f).convert("RGB")
            for _ in range(n_crops // len(files) + 1):  # downscaled 3-10x: whole objects, as in CIFAR
                s = rng.uniform(3, 10)
                w, h = int(im.width / s), int(im.height / s)
                if min(w, h) < 33:
                    continue
                small = np.asarray(im.resize((w, h), Image.LANCZOS))
                i, j = rng.integers(0, h - 32), rng.integers(0, w - 32)
                crops.append(small[i:i + 32, j:j + 32])
        np.save(cache, np.stack(crops[:n_crops]))
    photos = np.load(cache) if n_crops else np.zeros((0, 32, 32, 3), np.uint8)
    return train, val, photos


def extend_levels(params, model):
    """An earlier run's params with fewer levels (or no inner rates) -> this model's, extrapolating gains down."""
    fresh = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)), jnp.zeros((1,)))["params"]
    p = dict(params["params"])
    for name in ("log_gy", "log_gz"):
        g = np.asarray(p[name])
        while len(g) < LEVELS:
            g = np.concatenate([2 * g[:1] - g[1:2], g])
        p[name] = jnp.asarray(g)
    p.setdefault("log_lr", fresh["log_lr"])
    return {"params": p}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("--minutes", type=float, default=45)
    ap.add_argument("--init", help="state.pkl of an earlier run to start from")
    ap.add_argument("--no-inner", dest="inner", action="store_false", help="train the learned start only")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--photo_frac", type=float, default=0.3)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--n2", type=int, default=24)
    ap.add_argument("--m", type=int, default=48)
    ap.add_argument("--mz", type=int, default=24)
    ap.add_argument("--val_every_s", type=float, default=120)
    a = ap.parse_args()
    os.makedirs(a.ckpt, exist_ok=True)
    crops = os.path.join(os.path.dirname(os.path.abspath(a.ckpt)), "photo_crops.npy")
    train, val, photos = load_data(crops)
    model = Codec(a.n, a.n2, a.m, a.mz)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.inject_hyperparams(optax.adam)(learning_rate=a.lr))
    opt = optax.apply_if_finite(opt, 20)  # skip a non-finite step instead of poisoning params
    state_path = os.path.join(a.ckpt, "state.pkl")
    if os.path.exists(state_path):
        st = pickle.load(open(state_path, "rb"))
        params, opt_state, step, elapsed, rec = st["params"], st["opt_state"], st["step"], st["elapsed"], st["record"]
        print(f"resumed at step {step}, {elapsed / 60:.1f} min")
    else:
        if a.init:
            earlier = pickle.load(open(a.init, "rb"))
            params = extend_levels(earlier["params"], model)
            history = {"init": a.init, "init_steps": earlier["step"], "init_minutes": earlier["elapsed"] / 60,
                       "init_args": earlier["record"]["args"]}
        else:
            params, history = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)), jnp.zeros((1,))), {}
        opt_state, step, elapsed = opt.init(params), 0, 0.0
        rec = {"args": vars(a), "lambdas": LAMBDAS, "inner_steps": INNER_STEPS, **history, "val": [], "train": []}
    rec["hardware"] = {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
                       "jax_devices": [str(d) for d in jax.devices()], "jax": jax.__version__}
    rec["n_params"] = int(sum(np.prod(v.shape) for v in jax.tree_util.tree_leaves(params)))

    def loss_fn(p, x, level, key):
        if a.inner:
            ys, zs = inner_loop(model, p, x, level, key)[-1]
        else:
            ys, zs = model.apply(p, x - 0.5, level, method=Codec.encode)
        bits, mse = rd_terms(model, p, ys, zs, x, level, jax.random.fold_in(key, 99))
        return jnp.mean(bits / 1024 + lam_of(level) * mse), (bits.mean() / 1024, mse.mean())

    @jax.jit
    def train_step(p, o, x, level, key, lr):
        o.inner_state[1].hyperparams["learning_rate"] = lr
        (loss, aux), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, level, key)
        up, o = opt.update(g, o, p)
        return optax.apply_updates(p, up), o, loss, aux

    @jax.jit
    def val_step(p, x, level):
        path = inner_loop(model, p, x, level, jax.random.PRNGKey(0))
        out = []
        for ys, zs in (path[0], path[-1]):
            bits, mse = rd_terms(model, p, ys, zs, x, level, None)
            out.append((bits / 1024, 10 * jnp.log10(255.0 ** 2 / jnp.maximum(mse, 1e-10))))
        return out

    def validate():
        xv = jnp.asarray(val, jnp.float32) / 255
        out = {}
        for lv in (0, 2, 5, 8, 11):
            (b0, p0), (b1, p1) = val_step(params, xv, jnp.full((len(val),), float(lv)))
            out[lv] = {"start": (float(b0.mean()), float(p0.mean())), "refined": (float(b1.mean()), float(p1.mean()))}
        return out

    rng = np.random.default_rng(step + 1)
    budget, t0, last_val, last_ck = a.minutes * 60, time.time() - elapsed, -1e9, time.time()
    hist = []
    while True:
        elapsed = time.time() - t0
        if elapsed >= budget:
            break
        nb = int(round(a.batch * a.photo_frac)) if len(photos) else 0
        x = np.concatenate([train[rng.integers(0, len(train), a.batch - nb)], photos[rng.integers(0, len(photos), nb)]])
        flip = rng.random(len(x)) < 0.5
        x[flip] = x[flip, :, ::-1]
        level = rng.uniform(0, LEVELS - 1, a.batch).astype(np.float32)
        lr = a.lr if elapsed < 0.8 * budget else a.lr * 0.1
        params, opt_state, loss, (bpp, mse) = train_step(params, opt_state, jnp.asarray(x, jnp.float32) / 255,
                                                          jnp.asarray(level), jax.random.PRNGKey(step), lr)
        step += 1
        hist.append((float(loss), float(bpp), float(mse)))
        if step % 100 == 0:
            m = np.mean(hist, 0)
            hist = []
            rec["train"].append({"step": step, "min": elapsed / 60, "loss": m[0], "bpp": m[1], "mse": m[2]})
            print(f"step {step} {elapsed / 60:.1f}min loss {m[0]:.3f} bpp {m[1]:.3f} mse {m[2]:.1f}", flush=True)
        final = time.time() - t0 >= budget
        if elapsed - last_val >= a.val_every_s or final:
            last_val = elapsed
            v = validate()
            rec["val"].append({"step": step, "min": elapsed / 60, "bpp_psnr_by_level": v})
            print("val", {k: {s: (round(b, 3), round(q, 2)) for s, (b, q) in d.items()} for k, d in v.items()},
                  flush=True)
        if time.time() - last_ck > 120 or final:
            last_ck = time.time()
            rec.update(steps=step, wall_time_s=time.time() - t0)
            pickle.dump({"params": params, "opt_state": opt_state, "step": step, "elapsed": time.time() - t0,
                         "record": rec}, open(state_path + ".tmp", "wb"))
            os.replace(state_path + ".tmp", state_path)
            json.dump(rec, open(os.path.join(a.ckpt, "training_record.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
