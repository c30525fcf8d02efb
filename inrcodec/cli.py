"""Command line: inrcodec encode | decode | info | bench | bd-rate | fuzz, for images, audio (--kbps)
and shapes (--bytes).

Every error a user can cause is printed as one line on stderr with exit status 1; outputs are
written to a temporary file beside the target and renamed into place, so a failure leaves none.
"""

import argparse
import dataclasses
import glob
import os
import sys
import time

from . import methods, packs
from .effort import DEFAULT_EFFORT, STEP_SHARES
from .errors import InrError
from .files import check_writable, read_bytes, refuse_inr_input, write_atomic

DEFAULT_RESOLUTION = 256  # shapes: marching-cubes samples along the longest side (`sdf.DEFAULT_RESOLUTION`)

IMAGE_BENCH_CAPS = [0.15, 0.3, 0.6]  # bpp caps of `bench` on images by default
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".opus"}  # inputs that --bpp hints towards --kbps for


def method_config(method: str, args, modality: str = "image"):
    """The method's default configuration for `modality` at --effort, with the command line's
    fitting overrides applied (None for a baseline's name)."""
    if method not in methods.CODES or modality not in methods.get(method, modality).DEFAULTS:
        return None  # a baseline, the default (chosen by the signal), or a method for other signals
    config = methods.default_config(method, modality, args.effort)
    dense = getattr(config, "dense", config)
    if not hasattr(dense, "fit"):  # pyramid: no network fit, only its own steps (if any)
        return (config if args.steps is None or not hasattr(config, "steps")
                else dataclasses.replace(config, steps=args.steps))
    fit = dataclasses.replace(dense.fit, seed=args.seed,
                              steps=args.steps if args.steps is not None else dense.fit.steps,
                              seconds=args.seconds)
    dense = dataclasses.replace(dense, fit=fit)
    return dataclasses.replace(config, dense=dense) if hasattr(config, "dense") else dense


def is_many(path: str) -> bool:
    """Whether an input names many signals: a folder, a glob pattern or an .npz stack."""
    return os.path.isdir(path) or glob.has_magic(path) or path.endswith(".npz")


def cap_modality(args) -> str:
    """The modality the command line's cap unit is for."""
    return "audio" if args.kbps is not None else "shape" if args.bytes is not None else "image"


def cmd_encode(args) -> None:
    if args.output.endswith(packs.SUFFIX):
        return encode_pack_file(args)
    if is_many(args.input):
        return encode_folder(args)
    check_writable(args.output)
    {"image": encode_image_file, "audio": encode_audio_file, "shape": encode_shape_file}[cap_modality(args)](args)


def encode_image_file(args) -> None:
    """`encode --bpp`: an image under its cap."""
    from .eval.metrics import psnr
    from .modalities import image

    try:
        pixels = image.read_image(args.input)
    except InrError as err:
        refuse_inr_input(args.input)
        if os.path.splitext(args.input)[1].lower() in AUDIO_SUFFIXES:
            raise InrError(f"{err}; for an audio clip give a cap in --kbps") from None
        raise
    start = time.perf_counter()
    stats = {}
    method = args.method or image.default_method(pixels.shape, args.bpp)
    data = image.encode(pixels, args.bpp, method, method_config(method, args), quiet=args.quiet, stats=stats)
    seconds = time.perf_counter() - start
    write_atomic(args.output, data)
    if not args.quiet:
        height, width = pixels.shape[:2]
        quality = psnr(pixels, image.decode(data))
        density = (f", density {stats['density_reached']:.4f} (target {stats['density_target']:.4f})"
                   if "density_target" in stats else "")
        print(f"{args.input} -> {args.output}: {len(data)} bytes, {len(data) * 8 / (height * width):.4f} bpp "
              f"(cap {args.bpp:g}), PSNR {quality:.2f} dB, {seconds:.1f} s, {describe_fit(stats, 'px')}{density}")


def encode_folder(args) -> None:
    """`encode FOLDER_OR_PATTERN -o FOLDER`: one .inr file per item, as tasks (`datasets.encode_dataset`)."""
    from .datasets import encode_dataset

    start = time.perf_counter()
    paths = encode_dataset(args.input, args.output, bpp=args.bpp, kbps=args.kbps, n_bytes=args.bytes,
                           method=args.method, config=method_config(args.method, args, cap_modality(args)),
                           limit=args.limit, batch=args.batch, overwrite=args.overwrite, scheduler=args.scheduler,
                           workers=args.workers, quiet=args.quiet)
    if not args.quiet:
        print(f"{args.input} -> {args.output}: {len(paths)} files, {sum(p.stat().st_size for p in paths)} bytes, "
              f"{time.perf_counter() - start:.1f} s")


def encode_pack_file(args) -> None:
    """`encode INPUTS -o X.inrs --bpp B`: one pack of all the (same-size) images (`datasets.encode_dataset`)."""
    from .datasets import encode_dataset
    from .eval.metrics import psnr

    if args.bpp is None:
        raise InrError(f"{args.output}: a pack holds images; give a cap in --bpp")
    check_writable(args.output)
    start = time.perf_counter()
    method = args.method
    if method is None:
        from .datasets import items
        from .modalities import image

        method = image.default_method(items(args.input, "image", 1)[0].load().shape, args.bpp)
    path, = encode_dataset(args.input, args.output, bpp=args.bpp, method=method,
                           config=method_config(method, args), limit=args.limit, quiet=args.quiet)
    if not args.quiet:
        from .datasets import decode_dataset, items

        originals = [item.load() for item in items(args.input, "image", args.limit)]
        qualities = [psnr(a, b) for a, (_, b) in zip(originals, decode_dataset(str(path)))]
        size, pixels = path.stat().st_size, sum(a.shape[0] * a.shape[1] for a in originals)
        print(f"{args.input} -> {args.output}: {len(originals)} images, {size} bytes, {size * 8 / pixels:.4f} bpp "
              f"(cap {args.bpp:g}), mean PSNR {sum(qualities) / len(qualities):.2f} dB, "
              f"{time.perf_counter() - start:.1f} s")


def describe_fit(stats: dict, unit: str) -> str:
    """What a fit made, in words, from its `stats` (tiles measured in `unit`)."""
    if "first_level" in stats:
        return f"latent levels from {stats['first_level']} at 1/{stats['downscale']} resolution"
    if "step" in stats:
        return f"latent pyramid at step {stats['step']:.4f}, {stats['files']} files tried"
    if "mean_level" in stats:
        return f"hyper latents at rate level {stats['mean_level']:g}, {stats['zero_fraction']:.0%} of them zero"
    return f"SIREN {stats['depth']}x{stats['width']} per {stats['tile']}{unit} tile"


def weighting_of(args):
    """How audio is weighted as the command line says: the default weighting, or None (--no-weighting)."""
    from .modalities import audio

    return None if args.no_weighting else audio.DEFAULT_WEIGHTING


def encode_audio_file(args) -> None:
    """`encode --kbps`: an audio clip under its cap, read and coded a chunk at a time."""
    from .eval.metrics import audio_psnr, si_snr
    from .modalities import audio

    start = time.perf_counter()
    stats = {}
    data = audio.encode_file(args.input, args.kbps, args.method, method_config(args.method, args, "audio"),
                             quiet=args.quiet, stats=stats, weighted=weighting_of(args))
    seconds = time.perf_counter() - start
    write_atomic(args.output, data)
    if not args.quiet:
        samples, rate = audio.read_audio(args.input)
        decoded, _ = audio.decode_audio(data)
        duration = len(samples) / rate
        print(f"{args.input} -> {args.output}: {len(data)} bytes, {len(data) * 8 / duration / 1000:.2f} kbps "
              f"(cap {args.kbps:g}), PSNR {audio_psnr(samples, decoded):.2f} dB, SI-SNR "
              f"{si_snr(samples, decoded):.2f} dB, {seconds:.1f} s, {stats['chunks']} chunk(s), "
              f"{describe_fit(stats, '-sample')}")


def encode_shape_file(args) -> None:
    """`encode --bytes`: a mesh under its cap, coded as its signed distance function."""
    from . import sdf
    from .modalities import shape

    vertices, faces = sdf.read_mesh(args.input)
    start = time.perf_counter()
    stats = {}
    data = shape.encode_mesh(vertices, faces, args.bytes, args.method, method_config(args.method, args, "shape"),
                             quiet=args.quiet, stats=stats)
    seconds = time.perf_counter() - start
    write_atomic(args.output, data)
    if not args.quiet:
        made = (f"lattice {'x'.join(map(str, stats['lattice']))}, integers within +-{stats['bound']}"
                if "lattice" in stats else describe_fit(stats, "-sample"))
        print(f"{args.input} -> {args.output}: {len(data)} bytes (cap {args.bytes}), {len(faces)} faces in, "
              f"{seconds:.1f} s, {made}")


def decode_image_file(args, data: bytes) -> None:
    """`decode` of an image file at any --scale, over any --crop."""
    from .modalities import image

    if args.resolution is not None:
        raise InrError("--resolution is for shapes; images take --scale and --crop")
    if args.rate is not None or args.start is not None or args.duration is not None:
        raise InrError("--rate, --start and --duration are for audio; images take --scale and --crop")
    image.image_format(args.output)  # an unknown extension fails before decoding
    pixels = image.decode(data, scale=args.scale, crop=args.crop)
    write_atomic(args.output, image.write_signal(args.output, pixels))


def decode_shape_file(args, data: bytes) -> None:
    """`decode` of a shape file to a mesh (OBJ, PLY, STL, OFF, GLB) by marching cubes at --resolution."""
    from .modalities import shape

    if args.scale != 1.0 or args.crop or args.rate is not None or args.start is not None or args.duration is not None:
        raise InrError("this file holds a shape: it takes --resolution only")
    vertices, faces = shape.decode_mesh(data, args.resolution or DEFAULT_RESOLUTION)
    write_atomic(args.output, shape.write_mesh(args.output, vertices, faces))


def decode_audio_file(args, data: bytes) -> None:
    """`decode` of an audio file to WAV, FLAC or OGG at any rate and span, written a chunk at a time."""
    import soundfile

    from .modalities import audio

    if args.scale != 1.0 or args.crop:
        raise InrError("--scale and --crop are for images; audio takes --rate, --start and --duration")
    extension = os.path.splitext(args.output)[1].lower()
    if extension not in audio.SUFFIXES:
        raise InrError(f"{args.output}: this file holds audio; write it as {', '.join(sorted(audio.SUFFIXES))}")
    header = audio.read_header(data)
    rate, pieces = audio.iter_decode(header, args.rate, args.start or 0.0, args.duration)

    def write(out) -> None:
        audio_format = extension[1:].upper()
        with soundfile.SoundFile(out, "w", rate, header.channels, audio.subtype(audio_format),
                                 format=audio_format) as sink:
            for piece in pieces:
                sink.write(piece)

    write_atomic(args.output, write)


def cmd_decode(args) -> None:
    from . import modalities

    if is_many(args.input):
        from .datasets import decode_dataset

        paths = decode_dataset(args.input, args.output, scheduler=args.scheduler, workers=args.workers,
                               quiet=args.quiet)
        if not args.quiet:
            print(f"{args.input} -> {args.output}: {len(paths)} files")
        return
    data = read_bytes(args.input)
    if packs.is_pack(data):
        return decode_pack_file(args)
    check_writable(args.output)
    try:
        kind = modalities.of_file(data)
        {"image": decode_image_file, "audio": decode_audio_file, "shape": decode_shape_file}[kind.name](args, data)
    except InrError as err:
        raise (err if str(err).startswith(args.output) else InrError(f"{args.input}: {err}")) from None


def decode_pack_file(args) -> None:
    """`decode X.inrs -o FOLDER`: one image file per signal of a pack (`datasets.decode_dataset`)."""
    from .datasets import decode_dataset

    if args.scale != 1.0 or args.crop or any(option is not None for option in
                                             (args.resolution, args.rate, args.start, args.duration)):
        raise InrError(f"{args.input}: a pack decodes to a folder of its images; it takes no other option")
    if os.path.splitext(args.output)[1] or (os.path.exists(args.output) and not os.path.isdir(args.output)):
        raise InrError(f"{args.output}: a pack decodes to a folder of its images (<stem>-00000.png, ...); name one")
    try:
        paths = decode_dataset(args.input, args.output)
    except InrError as err:
        raise InrError(f"{args.input}: {err}") from None
    if not args.quiet:
        print(f"{args.input} -> {args.output}: {len(paths)} files")


def cmd_info(args) -> None:
    from . import modalities

    data = read_bytes(args.input)
    try:
        kind = modalities.of_file(data)
        header = kind.module.read_header(data)
    except InrError as err:
        raise InrError(f"{args.input}: {err}") from None
    if kind.name == "audio":
        rate, count = header.rate, header.samples
        print(f"file:         {args.input}, {len(data)} bytes, {len(data) * 8 * rate / count / 1000:.2f} kbps")
        print(f"audio:        {count / rate:.3f} s at {rate} Hz, {count} samples, {header.channels} channel(s), "
              f"{len(header.chunks)} chunk(s) of up to {header.chunk_seconds} s")
        for index, (body, (weighted, layout)) in enumerate(zip(header.chunks, header.layouts)):
            print(f"chunk {index}:      {len(body)} bytes")
            if weighted is not None:
                print(f"weighting:    {weighted.frame}-sample frames, prediction order "
                      f"{weighted.reflections.shape[-1]}, " + (f"noise filling above {weighted.fill_hz} Hz"
                                                             if weighted.fill_hz else "no noise filling"))
            print_layout(header.method, layout, "-sample")
    elif packs.is_pack(data):
        height, width = header.extent
        print(f"file:         {args.input}, {len(data)} bytes, a pack of {header.count} images, "
              f"{len(data) / header.count:.1f} bytes ({len(data) * 8 / header.count / (height * width):.4f} bpp) "
              f"an image on average")
        print(f"image:        {width}x{height}, {header.channels} channel(s), each")
        print(f"method:       {header.method}, " + (f"one body of {len(header.bodies[0])} bytes for all"
                                                     if len(header.bodies) < header.count else
                                                     f"bodies of {min(map(len, header.bodies))}.."
                                                     f"{max(map(len, header.bodies))} bytes"))
    elif kind.name == "shape":
        print(f"file:         {args.input}, {len(data)} bytes")
        print(f"shape:        {kind.module.describe(header)}")
        print_layout(header.method, header.layout, "-sample")
    else:
        height, width = header.extent
        print(f"file:         {args.input}, {len(data)} bytes, {len(data) * 8 / (height * width):.4f} bpp")
        print(f"image:        {width}x{height}, {header.channels} channel(s)")
        print_layout(header.method, header.layout, "px")


def print_layout(method: str, layout, unit: str) -> None:
    """A method's layout and tensors (tiles measured in `unit`)."""
    if hasattr(layout, "records"):  # regions of pyramids
        sizes = [len(data) for data in layout.records]
        print(f"method:       regions: {len(sizes)} regions of {layout.side}x{layout.side} {unit} "
              f"(guard {layout.guard}), step {layout.step:.4g}, post-filter {'on' if layout.filter.any() else 'off'}")
        print(f"records:      {sum(sizes)} bytes, {min(sizes)} to {max(sizes)} a region")
        return
    if hasattr(layout, "bounds"):  # a pyramid of grids, under fitted numbers or the shipped context network
        model = f", context network {layout.model().identity.hex()}" if method == "network" else ""
        synthesis = layout.synthesis if method == "network" else None
        if synthesis is not None:
            model += f", synthesis network {synthesis.base.identity.hex()} (gains {synthesis.gains.tolist()})"
        print(f"method:       {method}: step {layout.step:.4g}, post-filter {'on' if layout.filter.any() else 'off'}"
              f"{model}")
        print(f"payload:      {len(layout.payload)} bytes, {len(layout.bounds)} grid channels (coarsest first)")
        for index, bound in enumerate(layout.bounds):
            print(f"  channel {index:2d}: |q| <= {bound}")
        return
    if hasattr(layout, "bound"):  # a shape's SDF lattice
        print(f"method:       pyramid: step {layout.step:.4g}, |q| <= {layout.bound}, model "
              f"{[int(a) for a in layout.params]}, payload {len(layout.payload)} bytes")
        return
    if method == "hyper":
        import numpy as np

        from .hyperbase import level_of, load

        print(f"method:       hyper: rate level {level_of(layout.index):g}, base {load().identity.hex()}, "
              f"{np.count_nonzero(layout.y)} of {layout.y.size} y and {np.count_nonzero(layout.z)} of "
              f"{layout.z.size} z latents non-zero")
        return
    arch = layout.layout
    if method == "meta":
        print(f"method:       meta: latent levels from {arch.first_level} at 1/{arch.downscale} resolution, "
              f"base {arch.identity.hex()}")
    else:
        print(f"method:       {method}: SIREN {arch.depth}x{arch.width} per {arch.tile}{unit} tile")
    print(f"payload:      {len(layout.payload)} bytes, {len(layout.models)} tensors")
    for index, (count, model, step) in enumerate(zip(layout.counts, layout.models, layout.steps)):
        family = "gaussian" if model.family == 0 else "laplace"
        kept = "" if count is None else f", {count} kept"
        print(f"  tensor {index:2d}: step {step:.3e}, {family} scale {model.scale:g}, |q| <= {model.bound}{kept}")


def cmd_bench(args) -> None:
    from .eval.sweeps import sweep

    modality = cap_modality(args)
    configs = {method: method_config(method, args, modality) for method in methods.CODES}
    sweep(args.folder, bpp=args.bpp or IMAGE_BENCH_CAPS if modality == "image" else None, kbps=args.kbps,
          n_bytes=args.bytes, methods=args.methods, limit=args.limit, out_dir=args.out, configs=configs,
          batch=args.batch, tag=args.tag, redo=args.redo, scheduler=args.scheduler, workers=args.workers,
          quiet=args.quiet, weighted=weighting_of(args))


def cmd_fuzz(args) -> None:
    from .eval import fuzz

    config = fuzz.FuzzConfig(cases=args.cases, seed=args.seed, seconds=args.seconds, memory=args.memory_mb << 20,
                             workers=args.workers)
    seeds = fuzz.load_seeds(args.seeds) if args.seeds else None
    report = fuzz.run(config, seeds, out_dir=os.path.dirname(os.path.abspath(args.out)), quiet=args.quiet)
    fuzz.write_report(report, args.out)
    if not args.quiet:
        print(f"{fuzz.summary(report)} -> {args.out}")
    failed = sum(report["counts"][outcome] for outcome in ("crash", "hang", "memory"))
    if failed:
        raise InrError(f"{failed} cases crashed, hung or ran over memory; see {args.out}")


def cmd_bd_rate(args) -> None:
    from .eval import rd

    rd.print_comparison(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inrcodec", description="Image, audio and 3-D shape compression with implicit neural representations.")
    commands = parser.add_subparsers(dest="command", required=True)

    def fitting_options(sub):
        sub.add_argument("--method", choices=list(methods.CODES),
                         help=f"coding method (default: {methods.IMAGE_DEFAULT} for images, but hyper for one whose "
                              f"cap is at most {methods.HYPER_CROSSOVER_BYTES} bytes and regions over "
                              f"{methods.REGIONS_MIN_PIXELS / 1e6:.1f} megapixels; {methods.DEFAULT} for audio "
                              "and shapes)")
        sub.add_argument("--effort", type=int, default=DEFAULT_EFFORT, choices=sorted(STEP_SHARES), metavar="1..9",
                         help=f"encoding effort, as cjxl's: 1 fastest, 9 best (default: {DEFAULT_EFFORT})")
        sub.add_argument("--steps", type=int, help="fitting steps (default: the method's at the chosen effort)")
        sub.add_argument("--seconds", type=float, help="wall-clock limit on fitting, per image")
        sub.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
        sub.add_argument("--no-weighting", action="store_true", help="audio: code the waveform for squared error "
                         "alone, without the perceptual weighting of its noise")
        sub.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summaries")

    def cluster_options(sub):
        sub.add_argument("--scheduler", help="address of a Dask scheduler to run the tasks on, e.g. tcp://host:8786 "
                                             "(default: a local cluster made for the run)")
        sub.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core; "
                                                     "0: run here, without Dask)")

    encode = commands.add_parser("encode", help="compress an image, an audio clip or a 3-D shape")
    encode.add_argument("input", help="image file (PNG, JPEG, ...); with --kbps, audio (WAV, FLAC, OGG); with "
                                      "--bytes, a mesh (OBJ, PLY, STL, OFF, GLB); or a folder, a quoted glob "
                                      "pattern or an .npz stack of such files")
    encode.add_argument("-o", "--output", required=True, help="output .inr file (a folder for many inputs)")
    cap = encode.add_mutually_exclusive_group(required=True)
    cap.add_argument("--bpp", type=float, help="an image's hard cap in bits per pixel")
    cap.add_argument("--kbps", type=float, help="an audio clip's hard cap in kbit/s (headers included)")
    cap.add_argument("--bytes", type=int, help="a shape's (mesh's) hard cap on the file, in bytes")
    encode.add_argument("--limit", type=int, help="a folder: only its first N items (by name)")
    encode.add_argument("--batch", type=int, default=1, help="a folder, with --method meta: fit this many "
                                                             "same-size images together")
    encode.add_argument("--overwrite", action="store_true", help="a folder: encode again the items whose .inr "
                                                                  "file exists (default: keep them)")
    cluster_options(encode)
    fitting_options(encode)
    encode.set_defaults(run=cmd_encode)

    decode = commands.add_parser("decode", help="decompress an .inr file")
    decode.add_argument("input", help=".inr file, or a folder or quoted glob pattern of them")
    decode.add_argument("-o", "--output", required=True, help="output image, audio or mesh file (format from its "
                                                              "extension); a folder for many inputs")
    decode.add_argument("--rate", type=int, help="audio: render at this sample rate in Hz (default: the encoded one)")
    decode.add_argument("--start", type=float, help="audio: render from this many seconds in")
    decode.add_argument("--duration", type=float, help="audio: render this many seconds (default: to the end)")
    decode.add_argument("--scale", type=float, default=1.0, help="render at this multiple of the resolution")
    decode.add_argument("--crop", type=int, nargs=4, metavar=("LEFT", "TOP", "WIDTH", "HEIGHT"),
                        help="decode only this region (in pixels of the encoded image)")
    decode.add_argument("--resolution", type=int, help="shapes: marching-cubes lattice samples along the longest "
                                                       f"side (default: {DEFAULT_RESOLUTION})")
    decode.add_argument("-q", "--quiet", action="store_true", help="a folder: no progress bar or summary")
    cluster_options(decode)
    decode.set_defaults(run=cmd_decode)

    info = commands.add_parser("info", help="print an .inr file's header")
    info.add_argument("input", help=".inr file")
    info.set_defaults(run=cmd_info)

    bench = commands.add_parser("bench", help="rate-distortion benchmark against classical codecs")
    bench.add_argument("folder", help="folder of images, audio clips or meshes, or an .npz file with an array "
                                      "test_batch_x")
    caps = bench.add_mutually_exclusive_group()
    caps.add_argument("--bpp", type=float, nargs="+", help=f"image caps in bpp (default: {IMAGE_BENCH_CAPS})")
    caps.add_argument("--kbps", type=float, nargs="+", help="audio caps in kbit/s: benchmark a folder of clips")
    caps.add_argument("--bytes", type=int, nargs="+", help="shape caps in bytes: benchmark a folder of meshes")
    bench.add_argument("--methods", nargs="+", help="inrcodec methods and baselines to run (default: network, "
                       "pyramid, coin for images, pyramid for audio and shapes, and every classical baseline of "
                       "the modality)")
    bench.add_argument("--limit", type=int, help="use only the first N images")
    bench.add_argument("--out", default="experiments/results", help="results folder")
    bench.add_argument("--batch", type=int, default=1, help="meta: encode this many same-size images at once")
    bench.add_argument("--tag", default="", help="suffix of the result files' names, e.g. an equal-time setting")
    bench.add_argument("--redo", action="store_true", help="measure again the rows the results files already hold "
                                                           "(default: skip them, so a stopped sweep resumes)")
    cluster_options(bench)
    fitting_options(bench)
    bench.set_defaults(run=cmd_bench)

    bd_rate = commands.add_parser("bd-rate", help="Bjontegaard delta rate and PSNR of one results file against another")
    bd_rate.add_argument("test", help="results JSON of the codec under test")
    bd_rate.add_argument("anchor", help="results JSON of the anchor (ours, or a published curve)")
    bd_rate.add_argument("--metric", default="psnr", help="quality metric (default psnr; distances such as "
                         "chamfer_l1 are handled as lower-is-better)")
    bd_rate.add_argument("--method", choices=["pchip", "cubic"], default="pchip",
                         help="interpolation: pchip (JVET/JCT-VC sheet, default) or cubic (VCEG-M33 polyfit)")
    bd_rate.add_argument("--per-item", action="store_true",
                         help="average per-item deltas instead of comparing mean curves")
    bd_rate.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"),
                         help="integrate over this quality interval only (clipped to the overlap)")
    bd_rate.set_defaults(run=cmd_bd_rate)

    fuzz = commands.add_parser("fuzz", help="decode mutated files under a watchdog and report what happened")
    fuzz.add_argument("--cases", type=int, default=2000, help="files to try (default: 2000)")
    fuzz.add_argument("--seed", type=int, default=0, help="seed of the mutations (default: 0)")
    fuzz.add_argument("--seeds", help="folder of seed files (made there first if it does not exist; "
                                      "default: fresh seeds from the encoder)")
    fuzz.add_argument("--workers", type=int, default=1, help="decoding processes side by side (default: 1)")
    fuzz.add_argument("--seconds", type=float, default=10.0, help="time limit of one decode (default: 10)")
    fuzz.add_argument("--memory-mb", type=int, default=2048, help="memory limit of a decoding process (default: 2048)")
    fuzz.add_argument("--out", default="experiments/results/fuzz/report.json", help="report file (JSON)")
    fuzz.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    fuzz.set_defaults(run=cmd_fuzz)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .compile_cache import enable_compilation_cache

    enable_compilation_cache()
    try:
        args.run(args)
    except InrError as err:
        print(f"inrcodec: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("inrcodec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`inrcodec info x.inr | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
