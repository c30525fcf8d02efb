"""Pick refinement lr/steps on held-out TRAIN images: PSNR gain over the amortized
RD curve at equal (real) bpp.   python3 sweep_refine.py CKPT"""
import sys, numpy as np, jax
import evaluate as E

model, params, rec = E.load(sys.argv[1])
fns = E.make_refiner(model, params)
dec = jax.jit(lambda y, lv: model.apply(params, y, lv, method=E.Codec.decode))
val = np.load("/work/shared/data/cifar10/cifar10_prefix.npz")["data_batch_5_x"][-128:]
base = [E.run_point(model, params, fns, dec, val, lv, 0, 0, verify=0) for lv in np.arange(-2, 10.5, 0.5)]
bb, bp = np.array([b["bpp"] for b in base]), np.array([b["psnr"] for b in base])
print("amortized", [(round(b, 2), round(p, 2)) for b, p in zip(bb, bp)], flush=True)
for noise in (True, False):
    E.NOISE = noise
    for lr, st in [(0.01, 10), (0.02, 10), (0.05, 10), (0.02, 5), (0.02, 20), (0.01, 30)]:
        for lv in (2.0, 6.0):
            r = E.run_point(model, params, fns, dec, val, lv, st, lr, verify=0)
            gain = r["psnr"] - np.interp(r["bpp"], bb, bp)
            print(f"noise={noise} lr={lr} steps={st} level={lv}: bpp {r['bpp']:.3f} psnr {r['psnr']:.2f} "
                  f"gain {gain:+.2f} dB  {r['images_per_s']:.1f} img/s", flush=True)
