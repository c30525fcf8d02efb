"""Meta-train the encoder's synthesis network (`inrcodec.synthesis_net`, `inrcodec.networks.synthesis`) on the
grids of training photos coded by `network` (`experiments/context_network/code_photos.py --method network`),
and write it as the package's base with its training record.

  python experiments/synthesis_network/train.py [--grids runs/synth_grids_ls] [--width 24] [--heads 4]
      [--steps 60000] [--photos 8] [--samples 16384] [--held-out 0.1] [--pixels runs/synth_pixels.npz]
      [--out inrcodec/bases/synthesis_meta.npz]

Each photo's centre crop is rendered from its grids and post-filtered as the decoder does (the filter
refitted as the encoder fits it); --samples of its pixels give the network's fixed-point inputs and what
each pixel's YCbCr lacks, in steps. A training step takes 2,048 of them from each of --photos photos; the
base's --heads corrections a channel are then normalised (a median fitted |gain| of 1/2). --held-out of the
photos (by name) are kept out of training; after export each is coded by `network` at its rate and decoded
with the file's synthesis and without it. --pixels keeps the training pixels for the next run on the same grids.
"""

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes"))
from shared_synthesis import DATA, centre_crop, held_out  # noqa: E402


def photo(stem: str) -> Path:
    """The training photo of a grids file's name."""
    for folder in ("photos_train", "train_photos"):
        found = [p for p in (DATA / folder).glob(f"{stem}.*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
        if found:
            return found[0]
    raise FileNotFoundError(stem)


def pixels_of(path: Path, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, FEATURES) int32 fixed-point inputs and (n, 3) float32 YCbCr corrections in steps of up to
    `samples` pixels of the photo whose grids `path` holds, rendered as the decoder renders them."""
    from inrcodec import postfilter, pyramid, synthesis_net
    from inrcodec.methods.network import NetworkConfig
    from inrcodec.methods.pyramid_fit import fit_filter
    from inrcodec.modalities import image

    with np.load(path) as f:
        grids, step = [f[f"level_{k}"] for k in range(len(pyramid.STRIDES))], float(f["step"])
    field = pyramid.to_ycbcr(centre_crop(image.read_image(photo(path.stem))))
    height, width = field.shape[:2]
    geometry, box, levels = pyramid.image_geometry(height, width, 3), (0, 0, height, width), list(enumerate(grids))
    weights = fit_filter([field], [geometry], step, [grids], NetworkConfig())
    output = postfilter.apply(pyramid.render(levels, geometry, step, (1.0, 1.0), box), weights)
    reach = synthesis_net.REACH
    x = synthesis_net.features(pyramid.contributions(levels, geometry, step, (1.0, 1.0), box),
                               np.pad(output, ((reach, reach), (reach, reach), (0, 0)), mode="edge"), step, (1, 1))
    y = ((field - output) / step).reshape(-1, 3)
    pick = np.random.default_rng(len(y)).permutation(len(y))[:samples]
    return x[pick].astype(np.int32), y[pick].astype(np.float32)


def held_out_psnr(path: Path) -> dict:
    """A held-out photo coded by `network` at its grids file's rate: PSNR decoded with the file's
    synthesis and without it, and the gains."""
    from inrcodec.eval.metrics import psnr
    from inrcodec.modalities import image

    pixels = centre_crop(image.read_image(photo(path.stem)))
    with np.load(path) as f:
        bpp = float(f["bpp"])
    data = image.encode(pixels, bpp, "network")
    header = image.read_header(data)
    synthesis = header.layout.synthesis
    plain = replace(header, layout=replace(header.layout, synthesis=None))
    return {"photo": path.stem, "bpp": bpp, "bytes": len(data), "gains": synthesis and synthesis.gains.tolist(),
            "psnr": psnr(pixels, image.decode(data)), "psnr_without": psnr(pixels, image.render(plain))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grids", type=Path, default=Path("runs/synth_grids_ls"))
    ap.add_argument("--width", type=int, default=24)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--steps", type=int, default=60000)
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--samples", type=int, default=16384)
    ap.add_argument("--held-out", type=float, default=0.1)
    ap.add_argument("--pixels", type=Path, help="an .npz of the training pixels: read if it exists, else written")
    ap.add_argument("--out", type=Path, default=Path("inrcodec/bases/synthesis_meta.npz"))
    a = ap.parse_args()
    from inrcodec import synthesis_net
    from inrcodec.fixed import ACT_BITS
    from inrcodec.networks.batches import TrainConfig
    from inrcodec.networks.synthesis import normalise_heads, train

    paths = sorted(a.grids.glob("*.npz"))
    train_paths = [p for p in paths if not held_out(p, a.held_out)]
    test_paths = [p for p in paths if held_out(p, a.held_out)]
    began = time.perf_counter()
    if a.pixels and a.pixels.exists():
        with np.load(a.pixels) as f:
            x, y = f["x"], f["y"]
    else:
        with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
            found = list(pool.map(pixels_of, train_paths, [a.samples] * len(train_paths)))
        x, y = (np.stack([f[i] for f in found]) for i in (0, 1))
        if a.pixels:
            np.savez(a.pixels, x=x, y=y)
    x = (x / 2.0 ** ACT_BITS).astype(np.float32)
    print(f"{len(train_paths)} photos ({len(test_paths)} held out), {y.shape[0] * y.shape[1]} training pixels in "
          f"{time.perf_counter() - began:.0f} s", flush=True)
    group = 2048
    config = TrainConfig(width=a.width, steps=a.steps, batch=a.photos * group, learning_rate=1e-3, group=group)
    began = time.perf_counter()
    params = train(x, y, config, a.heads, log=lambda line: print(line, flush=True))
    params = normalise_heads(params, a.heads, x, y)
    seconds = time.perf_counter() - began
    record = {"photos": len(train_paths), "held_out_photos": len(test_paths), "training_pixels": int(y[..., 0].size),
              "heads": a.heads, "objective": "meta-learned: each photo's gains fitted in closed form on half its "
              "pixels of a batch, the RGB error left on the other half (inrcodec/networks/synthesis.py)",
              "rates_bpp": sorted({float(np.load(p)["bpp"]) for p in paths}), "config": asdict(config),
              "train_seconds_cpu": round(seconds, 1), "grids": str(a.grids),
              "data": "centre crops (512) of photos_train and train_photos, coded by `network` "
                      "(experiments/context_network/code_photos.py --method network)"}
    synthesis_net.export(params, record, a.out)
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        tests = list(pool.map(held_out_psnr, test_paths))
    gain = float(np.mean([t["psnr"] - t["psnr_without"] for t in tests]))
    print(f"held out: {np.mean([t['psnr_without'] for t in tests]):.3f} -> {np.mean([t['psnr'] for t in tests]):.3f}"
          f" dB ({gain:+.3f})", flush=True)
    synthesis_net.export(params, {**record, "held_out_gain_db": gain, "held_out": tests}, a.out)


if __name__ == "__main__":
    main()
