"""Train the shared codec (one model, all rates).  Resumable.

  nice -n 10 python3 train.py CKPT_DIR --minutes 45
"""
import argparse, glob, json, os, pickle, platform, time
import numpy as np
import jax, jax.numpy as jnp, optax
from PIL import Image
from model import Codec, LAMBDAS, lam_of, rd_terms

CIFAR = "/work/shared/data/cifar10/cifar10_prefix.npz"
PHOTOS = ["/work/shared/data/photos_train", "/work/shared/data/train_photos"]


def load_data(cache, n_crops=20000, seed=0):
    d = np.load(CIFAR)
    tr = np.concatenate([d[f"data_batch_{i}_x"] for i in range(1, 6)])  # never test_batch
    val, tr = tr[-256:], tr[:-256]
    if n_crops and not os.path.exists(cache):
        rng, crops = np.random.default_rng(seed), []
        files = sorted(f for p in PHOTOS for f in glob.glob(p + "/*") if f.lower().endswith((".png", ".jpg", ".jpeg")))
        per = n_crops // len(files) + 1
        for f in files:
            im = Image.open(f).convert("RGB")
            for _ in range(per):  # downscale 3-10x so crops look like CIFAR's whole-object scale
                s = rng.uniform(3, 10)
                w, h = int(im.width / s), int(im.height / s)
                if min(w, h) < 33: continue
                sm = np.asarray(im.resize((w, h), Image.LANCZOS))
                i, j = rng.integers(0, h - 32), rng.integers(0, w - 32)
                crops.append(sm[i:i + 32, j:j + 32])
        np.save(cache, np.stack(crops[:n_crops]))
    photos = np.load(cache) if n_crops else np.zeros((0, 32, 32, 3), np.uint8)
    return tr, val, photos


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt"); ap.add_argument("--minutes", type=float, default=45)
    ap.add_argument("--batch", type=int, default=32); ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--photo_frac", type=float, default=0.3)
    ap.add_argument("--n", type=int, default=48); ap.add_argument("--n2", type=int, default=24)
    ap.add_argument("--m", type=int, default=48); ap.add_argument("--mz", type=int, default=24)
    ap.add_argument("--val_every_s", type=float, default=120)
    a = ap.parse_args()
    os.makedirs(a.ckpt, exist_ok=True)
    tr, val, photos = load_data(os.path.join(a.ckpt, "photo_crops.npy"))
    model = Codec(a.n, a.n2, a.m, a.mz)
    L = len(LAMBDAS)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.inject_hyperparams(optax.adam)(learning_rate=a.lr))
    opt = optax.apply_if_finite(opt, 20)  # skip a non-finite step instead of poisoning params
    ck = os.path.join(a.ckpt, "state.pkl")
    if os.path.exists(ck):
        st = pickle.load(open(ck, "rb"))
        params, opt_state, step, elapsed, rec = st["params"], st["opt_state"], st["step"], st["elapsed"], st["record"]
        print(f"resumed at step {step}, {elapsed/60:.1f} min")
    else:
        params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)), jnp.zeros((1,)))
        opt_state, step, elapsed = opt.init(params), 0, 0.0
        rec = {"args": vars(a), "lambdas": LAMBDAS, "val": [], "train": []}
    rec["hardware"] = {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
                       "jax_devices": [str(d) for d in jax.devices()], "jax": jax.__version__}
    rec["n_params"] = int(sum(np.prod(v.shape) for v in jax.tree_util.tree_leaves(params)))

    def loss_fn(p, x, level, key):
        ys, zs = model.apply(p, x - 0.5, level, method=Codec.encode)
        bits, mse, _ = rd_terms(model, p, ys, zs, x, level, key)
        lam = lam_of(level)
        return jnp.mean(bits / 1024 + lam * mse), (bits.mean() / 1024, mse.mean())

    @jax.jit
    def train_step(p, o, x, level, key, lr):
        o.inner_state[1].hyperparams["learning_rate"] = lr
        (l, aux), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, level, key)
        up, o = opt.update(g, o, p)
        return optax.apply_updates(p, up), o, l, aux

    @jax.jit
    def val_step(p, x, level):
        ys, zs = model.apply(p, x - 0.5, level, method=Codec.encode)
        bits, mse, _ = rd_terms(model, p, ys, zs, x, level, None)
        return bits / 1024, 10 * jnp.log10(255.0 ** 2 / jnp.maximum(mse, 1e-10))

    def validate():
        xv = jnp.asarray(val, jnp.float32) / 255
        out = {}
        for lv in (0, 3, 6, 9):
            bpp, psnr = val_step(params, xv, jnp.full((len(val),), float(lv)))
            out[lv] = (float(bpp.mean()), float(psnr.mean()))
        return out

    rng = np.random.default_rng(step + 1)
    budget, t0, last_val, last_ck = a.minutes * 60, time.time() - elapsed, -1e9, time.time()
    hist = []
    while True:
        elapsed = time.time() - t0
        if elapsed >= budget: break
        nb = int(round(a.batch * a.photo_frac)) if len(photos) else 0
        x = np.concatenate([tr[rng.integers(0, len(tr), a.batch - nb)], photos[rng.integers(0, len(photos), nb)]])
        flip = rng.random(len(x)) < 0.5
        x[flip] = x[flip, :, ::-1]
        level = rng.uniform(0, L - 1, a.batch).astype(np.float32)
        lr = a.lr if elapsed < 0.8 * budget else a.lr * 0.1
        params, opt_state, l, (bpp, mse) = train_step(params, opt_state, jnp.asarray(x, jnp.float32) / 255,
                                                       jnp.asarray(level), jax.random.PRNGKey(step), lr)
        step += 1
        hist.append((float(l), float(bpp), float(mse)))
        if step % 100 == 0:
            m = np.mean(hist, 0); hist = []
            rec["train"].append({"step": step, "min": elapsed / 60, "loss": m[0], "bpp": m[1], "mse": m[2]})
            print(f"step {step} {elapsed/60:.1f}min loss {m[0]:.3f} bpp {m[1]:.3f} mse {m[2]:.1f}", flush=True)
        final = time.time() - t0 >= budget
        if elapsed - last_val >= a.val_every_s or final:
            last_val = elapsed
            v = validate()
            rec["val"].append({"step": step, "min": elapsed / 60, "bpp_psnr_by_level": v})
            print("val", {k: (round(b, 3), round(p, 2)) for k, (b, p) in v.items()}, flush=True)
        if time.time() - last_ck > 120 or final:
            last_ck = time.time()
            rec.update(steps=step, wall_time_s=time.time() - t0)
            pickle.dump({"params": params, "opt_state": opt_state, "step": step, "elapsed": time.time() - t0,
                         "record": rec}, open(ck + ".tmp", "wb"))
            os.replace(ck + ".tmp", ck)
            json.dump(rec, open(os.path.join(a.ckpt, "training_record.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
