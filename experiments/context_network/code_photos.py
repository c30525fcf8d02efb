"""Code the training photos' centre crops with `pyramid` and keep their decoded grids: the data the
shipped context network (`inrcodec.context_net`) is trained on (never Kodak or CIFAR-10).

  python experiments/context_network/code_photos.py [--count 240] [--bpp 0.15 0.3 0.6] [--method pyramid]
      [--out runs/context_grids]

Photo i is coded at rate bpp[i % len(bpp)] by --method (`pyramid`, or `network` under the shipped base, for
a second round of training on the grids it makes); each file becomes <stem>.npz with its grids (level_0 ..
level_6, finest first, int32) and the global step.
"""

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes"))
from shared_synthesis import centre_crop, file_grids, training_photos  # noqa: E402


def code(path: Path, bpp: float, out: Path, method: str) -> str:
    from inrcodec import context
    from inrcodec.methods.pyramid import grid_geometry
    from inrcodec.modalities import image

    target = out / f"{path.stem}.npz"
    if not target.exists():
        pixels = image.read_image(path)
        if pixels.shape[-1] != 3:
            return f"{path.name}: not colour, skipped"
        if method == "pyramid":
            layout, _, grids = file_grids(image.encode(centre_crop(pixels), bpp, "pyramid"))
        else:
            header = image.read_header(image.encode(centre_crop(pixels), bpp, method))
            layout, shapes = header.layout, grid_geometry(header.geometry).shapes()
            levels = dict(context.decode(layout.payload, shapes, layout.model(), list(layout.bounds)))
            grids = [levels[k] for k in range(len(shapes))]
        np.savez_compressed(target, step=layout.step, bpp=bpp, **{f"level_{k}": g for k, g in enumerate(grids)})
    return f"{path.name} at {bpp:g} bpp"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=240)
    ap.add_argument("--bpp", type=float, nargs="+", default=[0.15, 0.3, 0.6])
    ap.add_argument("--method", default="pyramid", choices=["pyramid", "network"])
    ap.add_argument("--out", type=Path, default=Path("runs/context_grids"))
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    photos = training_photos(a.count)
    rates = [a.bpp[i % len(a.bpp)] for i in range(len(photos))]
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        for i, line in enumerate(pool.map(code, photos, rates, [a.out] * len(photos), [a.method] * len(photos))):
            print(f"{i + 1}/{len(photos)} {line}", flush=True)


if __name__ == "__main__":
    main()
