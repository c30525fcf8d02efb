"""Issue 28, item 2: fit `pyramid`'s latents by gradient through its own synthesis (no format change).

Each image is coded by `pyramid` at a cap; from its grids (warm start) the latents, as floats in
units of their level's step, are fitted by Adam to sum of squared RGB error / G^2 + lambda * bits,
where bits are the context model's (each cell's Laplace held at what the file's parameters give for
the rounded latents, refreshed now and then); first with uniform noise for the rounding, then
straight-through rounding. The synthesis is the decoder's: Keys-cubic upsampling, the sum, the
file's post-filter. Then the latents are rounded (rescaled by a secant on the global step so the
file lands under the same cap), the context parameters and post-filter refitted as `pyramid` does,
the file written and decoded for real.

  python experiments/probes/latent_fit.py [--images kodim01 ...] [--bpp 0.3] [--lam 0.12] [--steps 250 0]
      [--lr 0.01] [--refresh 100] [--out experiments/results/probes/latent_fit.json]

--steps: Adam steps with noise, then with straight-through rounding. A grid channel the file codes
all zero stays zero (no noise, no bits). The six images are those of the pyramid ablation (Kodak:
this probe measures, it chooses nothing that ships).
"""

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from shared_synthesis import DATA, file_grids


def edge_pad(jnp, g, axis: int, n: int):
    """g with its first and last entries along `axis` repeated n times (concatenation: a cheap gradient)."""
    from jax import lax

    first = lax.slice_in_dim(g, 0, 1, axis=axis)
    last = lax.slice_in_dim(g, g.shape[axis] - 1, g.shape[axis], axis=axis)
    return jnp.concatenate([first] * n + [g] + [last] * n, axis=axis)


def upsample_axis(jnp, g, stride: int, count: int, axis: int):
    """Keys-cubic upsampling of g by `stride` along `axis` to `count` samples, cell-centred, edges
    extended (as `pyramid.interpolate_axis` at scale 1): each phase from four shifted slices."""
    from jax import lax

    from inrcodec.pyramid import cubic_weights

    size = g.shape[axis]
    padded = edge_pad(jnp, g, axis, 2)
    phases = []
    for p in range(stride):
        t = (p + 0.5) / stride - 0.5
        start = math.floor(t)
        total = 0
        for offset, w in zip(range(-1, 3), cubic_weights(np.array(t - start))):
            first = start + offset + 2
            total = total + float(w) * lax.slice_in_dim(padded, first, first + size, axis=axis)
        phases.append(total)
    shape = list(g.shape)
    shape[axis] = size * stride
    return lax.slice_in_dim(jnp.stack(phases, axis=axis + 1).reshape(shape), 0, count, axis=axis)


def upsampling_matrix(stride: int, count: int, size: int) -> np.ndarray:
    """(count, size) float32 matrix of the Keys-cubic upsampling of `size` cells by `stride`."""
    from inrcodec.pyramid import cell_positions, interpolate_axis

    return interpolate_axis(np.eye(size, dtype=np.float32), cell_positions(0, count, 1.0, stride), 0)


def upsample(jnp, g, stride: int, height: int, width: int):
    """(height, width, c) Keys-cubic upsampling of a (rows, cols, c) grid: coarse levels by two small
    matrices, fine ones by shifted slices."""
    if stride == 1:
        return g
    if stride >= 16:
        rows, cols = (upsampling_matrix(stride, n, size) for n, size in ((height, g.shape[0]), (width, g.shape[1])))
        return jnp.einsum("ij,jkc,lk->ilc", rows, g, cols)
    return upsample_axis(jnp, upsample_axis(jnp, g, stride, height, 0), stride, width, 1)


def filter_kernel(weights: np.ndarray) -> np.ndarray:
    """(7, 7, 1, C) depthwise kernel of the post-filter's stored (C, taps) weights."""
    from inrcodec import postfilter

    taps = weights / postfilter.RESOLUTION
    r = postfilter.RADIUS
    kernel = np.zeros((2 * r + 1, 2 * r + 1, 1, len(taps)), np.float32)
    kernel[r, r, 0] = 1 - taps.sum(axis=1)
    for i, (dy, dx) in enumerate(postfilter.OFFSETS):
        kernel[r + dy, r + dx, 0] += taps[:, i]
    return kernel


def make_loss(geometry, step: float, weights: np.ndarray, lam: float):
    """loss(latents, noise, mus, bs, target_rgb, hard, live) -> (squared RGB error / step^2 + lam * bits,
    (that error, bits)): the latents quantized by noise (or, where `hard`, rounded straight-through),
    rendered by `pyramid`'s synthesis and the post-filter of `weights`; bits of the grid channels `live`."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    from inrcodec import postfilter, pyramid
    from inrcodec.context import laplace_bits

    steps = geometry.steps(step)
    to_rgb = jnp.asarray(pyramid.YCBCR_TO_RGB.T, jnp.float32)
    kernel = jnp.asarray(filter_kernel(weights))
    h, w, r = geometry.height, geometry.width, postfilter.RADIUS

    def synth(latents):
        out = 0
        for k, g in enumerate(latents):
            up = upsample(jnp, g * steps[k], pyramid.STRIDES[k], h, w)
            if up.shape[-1] < 3:
                up = jnp.concatenate([up, jnp.zeros((h, w, 3 - up.shape[-1]), up.dtype)], axis=-1)
            out = out + up
        padded = edge_pad(jnp, edge_pad(jnp, out, 0, r), 1, r)
        return lax.conv_general_dilated(padded[None], kernel, (1, 1), "VALID",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=3)[0]

    def loss(latents, noise, mus, bs, target_rgb, hard, live):
        quantized = []
        for g, n in zip(latents, noise):
            rounded = g + jax.lax.stop_gradient(jnp.round(g) - g)
            quantized.append(jnp.where(hard, rounded, g + n))
        rgb = synth(quantized) @ to_rgb
        distortion = jnp.sum((rgb - target_rgb) ** 2) / step**2
        bits = sum(jnp.sum(laplace_bits(jnp, q, m, b) * on) for q, m, b, on in zip(quantized, mus, bs, live))
        return distortion + lam * bits, (distortion, bits)

    return loss


def cell_models(grids, params):
    """Per level (rows, cols, c) mu and b of every cell under the context model of `params`."""
    from inrcodec import context

    mus = [np.zeros(g.shape, np.float32) for g in grids]
    bs = [np.ones(g.shape, np.float32) for g in grids]
    index = 0
    for k in reversed(range(len(grids))):
        for c in range(grids[k].shape[-1]):
            plane = grids[k][..., c]
            parent = context.parent_context(context.parent_plane(grids, k, c), plane.shape)
            for phase in context.coded_phases(plane.shape):
                rows, cols = context.phase_cells(plane.shape, phase)
                mu, b = context.phase_laplace(plane, parent, phase, params[index])
                mus[k][rows, cols, c], bs[k][rows, cols, c] = mu, b
            index += 1
    return mus, bs


def fit_latents(target, geometry, step, grids, params, weights, lam, steps, lr, refresh):
    """The latents (float, in their level's steps, finest first) fitted from int `grids` to the (H, W, 3)
    YCbCr `target` at global step `step` through the post-filter of `weights`: steps = (noisy, straight-
    through) Adam steps at learning rate `lr`, the cells' Laplaces (from `params`, the file's) refreshed
    every `refresh` steps."""
    import jax
    import jax.numpy as jnp
    import optax

    from inrcodec import pyramid
    from inrcodec.methods.pyramid_fit import fit_params

    loss = make_loss(geometry, step, weights, lam)
    target_rgb = jnp.asarray(pyramid.to_rgb(target, 3))
    adam = optax.adam(lr)
    # a grid channel the file codes all zero (not coded, no bits) stays zero
    live = [jnp.asarray(np.abs(g).max(axis=(0, 1)) > 0, jnp.float32) for g in grids]

    @jax.jit
    def update(latents, state, key, mus, bs, hard):
        keys = jax.random.split(key, len(latents))
        noise = [jax.random.uniform(k, g.shape, minval=-0.5, maxval=0.5) * m for k, g, m in zip(keys, latents, live)]
        (value, (d, r)), grads = jax.value_and_grad(loss, has_aux=True)(latents, noise, mus, bs, target_rgb, hard, live)
        updates, state = adam.update(grads, state)
        return [g * m for g, m in zip(optax.apply_updates(latents, updates), live)], state, d, r

    @jax.jit
    def rounded_loss(latents, mus, bs):
        return loss(latents, [jnp.zeros_like(g) for g in latents], mus, bs, target_rgb, True, live)

    def psnr_of(distortion):
        return 10 * math.log10(target.size / (float(distortion) * step**2))

    latents = [jnp.asarray(g, jnp.float32) for g in grids]
    state = adam.init(latents)
    key = jax.random.PRNGKey(0)
    total = sum(steps)
    for i in range(total):
        if i % refresh == 0:
            rounded = [np.round(np.asarray(g)).astype(np.int32) for g in latents]
            if i:
                params = fit_params([rounded], 20, params)
            mus, bs = cell_models(rounded, params)
            mus, bs = [jnp.asarray(m) for m in mus], [jnp.asarray(b) for b in bs]
        key, sub = jax.random.split(key)
        latents, state, d, r = update(latents, state, sub, mus, bs, i >= steps[0])
        if i % 50 == 0 or i == total - 1:
            _, (hd, hr) = rounded_loss(latents, mus, bs)
            print(f"  step {i}: training psnr {psnr_of(d):.3f} bits {float(r):.0f}; rounded psnr {psnr_of(hd):.3f} "
                  f"bits {float(hr):.0f}", flush=True)
    return [np.asarray(g) for g in latents]


def write_at(latents, fit_step, geometry, target, step, config, cap_file):
    """The file of continuous latents (in steps of fit_step) rounded at global step `step`."""
    from inrcodec.methods import pyramid as method
    from inrcodec.methods.pyramid_fit import fit_filter, fit_params

    grids = [np.round(g * fit_step / step).astype(np.int32) for g in latents]
    params = fit_params([grids], config.steps)
    weights = fit_filter([target], [geometry], step, [grids], config)
    return cap_file(method.write(geometry, step, grids, params, weights))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", nargs="+", default=["kodim01", "kodim05", "kodim13", "kodim19", "kodim23", "kodim24"])
    ap.add_argument("--bpp", type=float, default=0.3)
    ap.add_argument("--lam", type=float, nargs="+", default=[0.12])
    ap.add_argument("--steps", type=int, nargs=2, default=[250, 0])
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--refresh", type=int, default=100)
    ap.add_argument("--out", default="experiments/results/probes/latent_fit.json")
    a = ap.parse_args()

    from inrcodec import pyramid, ratecontrol
    from inrcodec.eval.metrics import psnr
    from inrcodec.methods import pyramid as method
    from inrcodec.methods import Budget
    from inrcodec.modalities import image

    rows = []
    for name in a.images:
        pixels = image.read_image(DATA / "kodak" / f"{name}.png")
        began = time.perf_counter()
        data = image.encode(pixels, a.bpp, "pyramid")
        pyramid_seconds = time.perf_counter() - began
        layout, geometry, grids = file_grids(data)
        target = pyramid.to_ycbcr(pixels)
        base = psnr(pixels, image.decode(data))
        row = {"image": name, "pyramid": base, "pyramid_bytes": len(data), "pyramid_seconds": pyramid_seconds}
        print(f"{name}: pyramid {base:.3f} dB {len(data)} bytes ({pyramid_seconds:.1f} s)", flush=True)
        budget = Budget(head=image._head(pixels.shape, "pyramid"), cap=image._budget(a.bpp, *pixels.shape[:2]))
        for lam in a.lam:
            began = time.perf_counter()
            latents = fit_latents(target, geometry, layout.step, grids, layout.params, layout.filter, lam,
                                  a.steps, a.lr, a.refresh)
            fitted = time.perf_counter() - began
            config = method.DEFAULTS["image"]

            def make_file(fineness):
                step = method.stored_step(fineness)
                out = write_at(latents, layout.step, geometry, target, step, config, budget.file)
                print(f"    step {step:.5f}: {len(out)} bytes", flush=True)
                return out

            fineness, out = ratecontrol.secant_fitting(make_file, budget.cap, method.MIN_FINENESS, method.MAX_FINENESS,
                                                       1 / layout.step, method.SIZE_SLOPE, 8, 0.99)
            total = time.perf_counter() - began
            score = psnr(pixels, image.decode(out))
            print(f"  lambda {lam}: {score:.3f} dB ({score - base:+.3f}) {len(out)} bytes, fit {fitted:.1f} s, "
                  f"with search {total:.1f} s", flush=True)
            row[f"lambda {lam:g}"] = {"psnr": score, "bytes": len(out), "fit_seconds": fitted, "seconds": total}
        rows.append(row)
        summary = {"pyramid": float(np.mean([r["pyramid"] for r in rows]))}
        for lam in a.lam:
            summary[f"lambda {lam:g}"] = float(np.mean([r[f"lambda {lam:g}"]["psnr"] for r in rows]))
        print(summary, flush=True)
        Path(a.out).write_text(json.dumps({"bpp": a.bpp, "steps": a.steps, "lr": a.lr, "refresh": a.refresh,
                                           "summary": summary, "images": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
