"""A structure-aware fuzzer of the decoder: real files, mutated, each decoded under a watchdog.

Seeds are small files made by the real encoder, one per kind of file (every image method; RGB and
grayscale; one tile and several; packs of images; mono and stereo audio; shapes). A case is one seed mutated in one
way (`MUTATIONS`), with the CRC32 recomputed so that the parser gets past the checksum (except `raw`,
which keeps the old one, and `truncate`, which cuts the file as a broken download would). Case i of
a run is a pure function of (seed, i), so any case can be rebuilt from the report.

Each case is decoded in a worker process, in-process there (`modalities.decode_any`), under a
wall-clock limit, with the worker's resident memory watched; its outcome is one of
    refused   the codec's own InrError
    decoded   uint8 pixels, or finite float32 samples in [-1, 1], of the shape the header declares
    crash     any other exception (a RuntimeWarning counts as one), or output of the wrong shape
    hang      no answer within the limit (the worker is killed and replaced)
    memory    the worker's resident memory passed the limit (killed and replaced)
"""

import dataclasses
import importlib
import json
import multiprocessing
import os
import platform
import resource
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .. import bitstream
from ..errors import InrError
from ..modalities import expected_output
from ..progress import progress

OUTCOMES = ("refused", "decoded", "crash", "hang", "memory")
TARGET = "inrcodec.modalities:decode_any"  # the function under test: bytes -> pixels or samples


@dataclass(frozen=True)
class FuzzConfig:
    cases: int = 2000  # mutated files to decode
    seed: int = 0  # seed of the mutations (case i uses the generator seeded by (seed, i))
    seconds: float = 10.0  # wall-clock limit of one decode; a case over it is a hang
    memory: int = 2 << 30  # resident bytes of a worker above which a case is stopped as over memory
    workers: int = 1  # worker processes decoding side by side
    target: str = TARGET  # "module:function" decoding bytes into pixels (tests swap in faulty ones)
    keep: int = 20  # failing cases kept in the report, each with its file when an output folder is given


def _test_image(height: int, width: int, channels: int) -> np.ndarray:
    """A smooth synthetic (H, W, C) uint8 image with some edges: something a network can fit quickly."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    planes = [np.sin(7 * x + 3 * y), np.cos(5 * y - 2 * x * y), (x > 0.4) * 0.8 - 0.4]
    image = np.stack(planes[:channels], axis=-1) * 0.5 + 0.5
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def _textured_image(height: int, width: int) -> np.ndarray:
    """A (H, W, 3) uint8 `_test_image` with stripes and a sign pattern over it: edges at several angles,
    where a `network` file asks for the synthesis network."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    stripes = 0.25 * (np.sin(40 * x + 25 * y) > 0) + 0.15 * np.sign(np.sin(23 * x * y + 9 * x))
    image = _test_image(height, width, 3) / 255 * 0.7 + stripes[..., None] * np.array([1, 0.6, 0.3])
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def _test_images(count: int, height: int, width: int, channels: int) -> np.ndarray:
    """(count, H, W, C) uint8: `_test_image` shifted sideways, a few columns more each time."""
    image = _test_image(height, width, channels)
    return np.stack([np.roll(image, 3 * index, axis=1) for index in range(count)])


def _test_clip(samples: int, channels: int) -> np.ndarray:
    """(samples, channels) of two tones and a click: a short clip to code."""
    t = np.arange(samples) / samples
    tones = [0.3 * np.sin(2 * np.pi * 40 * t), 0.2 * np.sin(2 * np.pi * 97 * t + 1.0)]
    clip = np.stack(tones[:channels], axis=1)
    clip[samples // 2] += 0.5
    return clip


def _test_mesh() -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) of a capsule: a small closed surface to code."""
    import trimesh

    mesh = trimesh.creation.capsule(height=1.0, radius=0.4, count=[12, 12])
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def seed_makers() -> dict:
    """Name -> function making that seed file. Every new kind of file the codec writes joins here."""
    from ..methods.coin import CoinConfig
    from .. import context_net, synthesis_net
    from ..methods.meta import LatentConfig
    from ..methods.network import NetworkConfig
    from ..methods.pyramid import PyramidConfig
    from ..methods.regions import RegionsConfig
    from ..methods.sparse import SparseConfig
    from ..modalities import audio, image as codec, shape as shapes
    from ..networks.fit import FitConfig

    fit = FitConfig(steps=20, batch=256)
    coin = CoinConfig(fit=fit)
    first_context = NetworkConfig(context=context_net.SHIPPED[-1])  # the seeds made before round 3's context base
    return {
        "coin-rgb": lambda: codec.encode(_test_image(24, 32, 3), 2.0, "coin", coin),
        "coin-gray": lambda: codec.encode(_test_image(20, 28, 1), 2.0, "coin", coin),
        "coin-tiles": lambda: codec.encode(_test_image(40, 56, 3), 1.5, "coin", dataclasses.replace(coin, tile=16)),
        "sparse-rgb": lambda: codec.encode(_test_image(24, 32, 3), 2.0, "sparse",
                                           SparseConfig(dense=coin, gated_steps=10)),
        "sparse-gray": lambda: codec.encode(_test_image(28, 20, 1), 3.0, "sparse",
                                            SparseConfig(dense=coin, gated_steps=10)),
        "meta-rgb": lambda: codec.encode(_test_image(32, 32, 3), 2.0, "meta", LatentConfig(fit=fit)),
        "meta-gray": lambda: codec.encode(_test_image(24, 40, 1), 1.0, "meta", LatentConfig(fit=fit)),
        "meta-downscaled": lambda: codec.encode(_test_image(64, 48, 3), 0.25, "meta", LatentConfig(fit=fit)),
        "pyramid-rgb": lambda: codec.encode(_test_image(40, 56, 3), 1.0, "pyramid", PyramidConfig(steps=20)),
        "pyramid-gray": lambda: codec.encode(_test_image(36, 28, 1), 1.5, "pyramid", PyramidConfig(steps=20)),
        "pyramid-pack": lambda: codec.encode_pack(_test_images(5, 20, 24, 3), 2.0, "pyramid", PyramidConfig(steps=20)),
        "coin-pack": lambda: codec.encode_pack(_test_images(3, 16, 16, 1), 3.0, "coin", coin),
        "network-rgb": lambda: codec.encode(_test_image(40, 56, 3), 1.0, "network", first_context),
        "network-gray": lambda: codec.encode(_test_image(36, 28, 1), 1.5, "network", first_context),
        "network-pack": lambda: codec.encode_pack(_test_images(3, 20, 24, 3), 2.0, "network", first_context),
        "network-synthesis": lambda: codec.encode(_textured_image(64, 80), 1.0, "network", dataclasses.replace(
            first_context, synthesis=synthesis_net.SHIPPED[-1])),
        "network-meta-synthesis": lambda: codec.encode(_textured_image(64, 80), 1.0, "network", first_context),
        "network-round3": lambda: codec.encode(_textured_image(64, 80), 1.0, "network"),
        "regions-rgb": lambda: codec.encode(_test_image(150, 200, 3), 1.0, "regions",
                                            RegionsConfig(side=64, guard=2, steps=20, sample_pixels=8192)),
        "regions-gray": lambda: codec.encode(_test_image(100, 70, 1), 1.5, "regions",
                                             RegionsConfig(side=64, steps=20, sample_pixels=4096)),
        "hyper-rgb": lambda: codec.encode(_test_image(32, 32, 3), 1.5, "hyper"),
        "hyper-gray": lambda: codec.encode(_test_image(20, 28, 1), 2.0, "hyper"),
        "hyper-pack": lambda: codec.encode_pack(_test_images(4, 24, 32, 3), 1.5, "hyper"),
        "audio-mono": lambda: audio.encode_audio(_test_clip(2400, 1), 8000, 48.0, "pyramid", PyramidConfig(steps=20),
                                                 weighted=None),
        "audio-stereo": lambda: audio.encode_audio(_test_clip(3000, 2), 12000, 64.0, "pyramid",
                                                   PyramidConfig(steps=20), weighted=None),
        "audio-chunks": lambda: audio.encode_audio(_test_clip(20000, 1), 8000, 48.0, "pyramid", PyramidConfig(steps=20),
                                                   chunk_seconds=1, weighted=None),
        "audio-weighted": lambda: audio.encode_audio(_test_clip(20000, 1), 8000, 32.0, "pyramid",
                                                     PyramidConfig(steps=20), chunk_seconds=1),
        "audio-weighted-stereo": lambda: audio.encode_audio(_test_clip(3000, 2), 12000, 64.0, "pyramid",
                                                            PyramidConfig(steps=20)),
        "audio-coin": lambda: audio.encode_audio(_test_clip(2400, 1), 8000, 64.0, "coin",
                                                 CoinConfig(tile=256, depth=2, fit=fit)),
        "audio-sparse": lambda: audio.encode_audio(_test_clip(3000, 2), 12000, 96.0, "sparse",
                                                   SparseConfig(dense=CoinConfig(tile=256, depth=2, fit=fit),
                                                                gated_steps=10)),
        "audio-meta": lambda: audio.encode_audio(_test_clip(3000, 2), 8000, 64.0, "meta", LatentConfig(fit=fit)),
        "shape-pyramid": lambda: shapes.encode_mesh(*_test_mesh(), 300),
        "shape-coin": lambda: shapes.encode_mesh(*_test_mesh(), 400, "coin", CoinConfig(tile=48, depth=2, fit=fit)),
        "shape-meta": lambda: shapes.encode_mesh(*_test_mesh(), 400, "meta", LatentConfig(fit=fit)),
    }


def make_seeds() -> dict[str, bytes]:
    """Small real files, one per kind the decoder reads (`seed_makers`), from the real encoder with short fits."""
    return {name: make() for name, make in seed_makers().items()}


def load_seeds(folder: str) -> dict[str, bytes]:
    """The seeds in `folder` (NAME.inr each); made and saved there first if the folder does not exist."""
    if not os.path.isdir(folder):
        os.makedirs(folder)
        for name, data in make_seeds().items():
            with open(os.path.join(folder, f"{name}.inr"), "wb") as handle:
                handle.write(data)
    seeds = {}
    for entry in sorted(os.listdir(folder)):
        if entry.endswith(".inr"):
            with open(os.path.join(folder, entry), "rb") as handle:
                seeds[entry[:-4]] = handle.read()
    if not seeds:
        raise InrError(f"{folder}: no seed files (*.inr)")
    return seeds


def _varint(value: int) -> bytes:
    writer = bitstream.Writer()
    writer.varint(value)
    return bytes(writer.buffer)


def header_fields(data: bytes) -> list[tuple[int, int, str]]:
    """(start, stop, kind) in the body of every field of a valid file before its payload."""
    from ..modalities import of_file

    reader = bitstream.unpack(data)
    of_file(data).module.parse_header(reader, len(data))
    return reader.fields[:-1]


def _new_field(rng: np.random.Generator, old: bytes, kind: str) -> bytes:
    """A replacement for one header field: a near, extreme or random value of the same kind."""
    if kind == "varint":
        value = bitstream.Reader(old).varint(1 << 64, "field")
        choices = (0, 1, max(0, value - 1), value + 1, 2 * value, value + 128,
                   int(rng.integers(0, 1 << int(rng.integers(1, 63)))))
        return _varint(choices[int(rng.integers(0, len(choices)))])
    if kind in ("f16", "step"):  # zero, -0, +inf, NaN, largest, smallest, random (little-endian 16 bits)
        choices = (b"\x00\x00", b"\x00\x80", b"\x00\x7c", b"\x00\x7e", b"\xff\x7f", b"\x01\x00", rng.bytes(2))
        return choices[int(rng.integers(0, len(choices)))]
    return rng.bytes(len(old))


MUTATIONS = {  # kind -> weight: header fields most, where the structure is
    "field": 6,  # one header field replaced by a near, extreme or random value
    "flip": 1,  # 1-4 bits flipped, in the header half the time
    "byte": 1,  # 1-4 bytes set to 0, 1, 127, 128, 255 or random
    "insert": 1,  # 1-8 random bytes inserted
    "delete": 1,  # 1-8 bytes deleted
    "splice": 1,  # the start of this file's body, the end of another's
    "tail": 1,  # the body's last 1-8 bytes (the payload's last words) zeroed or random
    "truncate": 1,  # the file cut short, checksum not recomputed
    "random": 1,  # a random body of up to twice the length
    "raw": 1,  # bits flipped, checksum not recomputed
}


def mutate(rng: np.random.Generator, kind: str, data: bytes, fields: list, other: bytes) -> bytes:
    """One case: `data` (a whole valid file whose header fields are `fields`) mutated by `kind`;
    `other` is a second file to splice from."""
    body = bytearray(data[len(bitstream.MAGIC) + 1:-4])
    header = fields[-1][1]

    def position(extra: int = 0) -> int:
        """A place in the body, in the header half the time."""
        span = header if rng.random() < 0.5 else len(body)
        return min(int(rng.integers(0, max(1, span + extra))), len(body) - 1 + extra)

    if kind == "truncate":
        return data[:int(rng.integers(0, len(data)))]
    if kind == "random":
        return bitstream.pack(rng.bytes(int(rng.integers(0, 2 * len(body) + 1))))
    if kind == "field":
        start, stop, field = fields[int(rng.integers(0, len(fields)))]
        body[start:stop] = _new_field(rng, bytes(body[start:stop]), field)
    elif kind in ("flip", "raw"):
        for _ in range(int(rng.integers(1, 5))):
            body[position()] ^= 1 << int(rng.integers(0, 8))
    elif kind == "byte":
        for _ in range(int(rng.integers(1, 5))):
            special = (0x00, 0x01, 0x7F, 0x80, 0xFF, int(rng.integers(0, 256)))
            body[position()] = special[int(rng.integers(0, len(special)))]
    elif kind == "insert":
        at = position(1)
        body[at:at] = rng.bytes(int(rng.integers(1, 9)))
    elif kind == "delete":
        at = position()
        del body[at:at + int(rng.integers(1, 9))]
    elif kind == "tail":
        count = int(rng.integers(1, 9))
        body[-count:] = bytes(count) if rng.random() < 0.5 else rng.bytes(count)
    elif kind == "splice":
        donor = other[len(bitstream.MAGIC) + 1:-4]
        body = body[:position(1)] + donor[int(rng.integers(0, len(donor) + 1)):]
    if kind == "raw":
        return data[:len(bitstream.MAGIC) + 1] + bytes(body) + data[-4:]
    return bitstream.pack(bytes(body))


def make_case(config: FuzzConfig, index: int, seeds: dict[str, bytes],
              fields: dict[str, list]) -> tuple[str, str, bytes]:
    """(seed name, mutation kind, file) of case `index`."""
    rng = np.random.default_rng([config.seed, index])
    names = sorted(seeds)
    name, other = (names[int(i)] for i in rng.integers(0, len(names), 2))
    kinds = list(MUTATIONS)
    weights = np.array([MUTATIONS[k] for k in kinds], float)
    kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    return name, kind, mutate(rng, kind, seeds[name], fields[name], seeds[other])


def _resolve(target: str):
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def _worker(connection, target: str) -> None:
    """Decode each file received; answer (outcome, detail, peak resident bytes)."""
    warnings.simplefilter("error", RuntimeWarning)  # NaN casts and overflows are faults, not noise
    decode = _resolve(target)
    while True:
        data = connection.recv_bytes()
        try:
            output = decode(data)
            shape, dtype, limit = expected_output(data) or (None, None, None)
            if (isinstance(output, np.ndarray) and output.dtype == dtype and output.shape == shape
                    and (dtype == np.uint8 or np.all(np.isfinite(output))
                         and (limit is None or np.all(np.abs(output) <= limit)))):
                outcome, detail = "decoded", ""
            else:
                outcome, detail = "crash", f"output {getattr(output, 'dtype', type(output))} " \
                                           f"{getattr(output, 'shape', '')}, header says {shape} {dtype}"
        except InrError as err:
            outcome, detail = "refused", str(err)
        except BaseException as err:  # noqa: BLE001 - every other exception is what the fuzzer looks for
            outcome, detail = "crash", f"{type(err).__name__}: {err}"
        connection.send((outcome, detail[:300], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))


def _resident_bytes(pid: int) -> int:
    """Current resident memory of a process (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _Decoder:
    """One worker process and the watchdog around it: `run(data)` -> (outcome, detail, peak bytes)."""

    def __init__(self, config: FuzzConfig):
        self.config = config
        self.context = multiprocessing.get_context("spawn")
        self.process = None
        self.peak = 0

    def _start(self) -> None:
        self.connection, child = self.context.Pipe()
        self.process = self.context.Process(target=_worker, args=(child, self.config.target), daemon=True)
        self.process.start()
        child.close()

    def _stop(self) -> None:
        self.process.kill()
        self.process.join()
        self.connection.close()
        self.process = None

    def run(self, data: bytes) -> tuple[str, str, int]:
        if self.process is None:
            self._start()
            self.connection.send_bytes(b"")  # the first decode pays for the imports, not a case's limit
            try:
                self.connection.recv()
            except (EOFError, ConnectionError):  # the worker died before its first decode (a broken target)
                self._stop()
                return "crash", "worker died on start", 0
        self.connection.send_bytes(data)
        deadline = time.monotonic() + self.config.seconds
        while not self.connection.poll(0.05):
            resident = _resident_bytes(self.process.pid)
            self.peak = max(self.peak, resident)
            if resident > self.config.memory or time.monotonic() > deadline or not self.process.is_alive():
                outcome = ("memory" if resident > self.config.memory else
                           "hang" if self.process.is_alive() else "crash")
                detail = f"worker exit code {self.process.exitcode}" if outcome == "crash" else ""
                self._stop()
                return outcome, detail, resident
        try:
            outcome, detail, peak = self.connection.recv()
        except EOFError:  # the worker died while answering
            self._stop()
            return "crash", "worker died", 0
        self.peak = max(self.peak, peak)
        return outcome, detail, peak

    def close(self) -> None:
        if self.process is not None:
            self._stop()


def run(config: FuzzConfig = FuzzConfig(), seeds: dict[str, bytes] | None = None, out_dir: str | None = None,
        quiet: bool = True) -> dict:
    """Decode `config.cases` mutations of `seeds` (None: fresh ones); returns the report, and writes
    failing files to `out_dir`/fuzz-failures if given."""
    start = time.perf_counter()
    seeds = make_seeds() if seeds is None else seeds
    fields = {name: header_fields(data) for name, data in seeds.items()}
    counts = dict.fromkeys(OUTCOMES, 0)
    by_kind = {kind: dict.fromkeys(OUTCOMES, 0) for kind in MUTATIONS}
    by_seed = {name: dict.fromkeys(OUTCOMES, 0) for name in seeds}
    failures, slowest, peak = [], 0.0, 0
    lock, next_case = threading.Lock(), iter(range(config.cases))
    bar = progress(config.cases, "fuzz", unit="case", quiet=quiet)

    def drive() -> None:
        nonlocal slowest, peak
        decoder = _Decoder(config)
        try:
            while True:
                with lock:
                    index = next(next_case, None)
                if index is None:
                    return
                name, kind, data = make_case(config, index, seeds, fields)
                began = time.perf_counter()
                outcome, detail, case_peak = decoder.run(data)
                with lock:
                    slowest = max(slowest, time.perf_counter() - began)
                    peak = max(peak, case_peak, decoder.peak)
                    counts[outcome] += 1
                    by_kind[kind][outcome] += 1
                    by_seed[name][outcome] += 1
                    if outcome in ("crash", "hang", "memory") and len(failures) < config.keep:
                        failures.append({"case": index, "seed_file": name, "mutation": kind, "outcome": outcome,
                                         "detail": detail, "file": _save(out_dir, index, data)})
                    bar.update()
        finally:
            decoder.close()

    threads = [threading.Thread(target=drive) for _ in range(config.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bar.close()
    return {"config": dataclasses.asdict(config), "seed_files": {n: len(d) for n, d in seeds.items()},
            "counts": counts, "by_mutation": by_kind, "by_seed_file": by_seed,
            "slowest_case_seconds": round(slowest, 3), "peak_rss_bytes": peak,
            "wall_seconds": round(time.perf_counter() - start, 1),
            "hardware": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "failures": failures}


def _save(out_dir: str | None, index: int, data: bytes) -> str | None:
    if out_dir is None:
        return None
    path = os.path.join(out_dir, "fuzz-failures", f"case-{index}.inr")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def summary(report: dict) -> str:
    """One line for a terminal or a log."""
    counts = report["counts"]
    return (f"{report['config']['cases']} cases: " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
            + f"; peak RSS {report['peak_rss_bytes'] / 2**20:.0f} MiB, slowest case "
              f"{report['slowest_case_seconds']:.2f} s, {report['wall_seconds']:.0f} s in all")


def write_report(report: dict, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(report, handle, indent=1)
        handle.write("\n")
