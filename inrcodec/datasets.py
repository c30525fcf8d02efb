"""Datasets: many signals of one kind, named and read lazily, encoded to and decoded from `.inr` files.

A source is a folder, a glob pattern, a list of files, an .npz stack of same-size images (CIFAR-10's
`test_batch_x`, or the file's only array), or any iterable of in-memory signals. It becomes a list of
`Item`s: a name (the results key and the output file's stem) and where the signal lives; nothing is
read until `Item.load`, so a task shipped to another process carries a path, not pixels.

    paths = inrcodec.encode_dataset("photos/", "coded/", bpp=0.3)         # one .inr per image
    paths = inrcodec.decode_dataset("coded/", "decoded/")                  # .png / .wav / .ply back
    inrcodec.encode_dataset("cifar.npz", "cifar.inrs", bpp=1)             # same-size images: one pack
    for name, pixels in inrcodec.decode_dataset("coded/"): ...             # or the signals, one at a time
"""

import functools
import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import modalities, packs
from .errors import InrError
from .files import read_bytes, write_atomic

NPZ_KEY = "test_batch_x"  # the array read from an .npz holding several (CIFAR-10's test images)


@dataclass(frozen=True)
class Item:
    """One signal of a dataset."""

    name: str  # unique within its dataset: the key of its results rows and the stem of its output file
    modality: str  # "image", "audio" or "shape"
    path: str | None = None  # the file holding it (None: `value` holds it)
    index: int | None = None  # its row in the .npz stack at `path`
    value: Any = None  # the signal itself, for items from an iterable: see `load`

    def load(self):
        """The signal: image (H, W, C) uint8 pixels; audio ((samples, channels) float64, rate in Hz);
        shape (vertices (V, 3) float64, faces (F, 3) int64)."""
        if self.value is not None:
            return self.value
        if self.index is not None:
            return _npz_stack(self.path)[self.index]
        return modalities.get(self.modality).module.read(self.path)


@functools.lru_cache(maxsize=1)
def _npz_stack(path: str) -> np.ndarray:
    """The (N, H, W, C) uint8 stack of an .npz file (kept for the next item of the same file)."""
    try:
        with np.load(path) as arrays:
            key = NPZ_KEY if NPZ_KEY in arrays.files else (arrays.files[0] if len(arrays.files) == 1 else None)
            if key is None:
                raise InrError(f"{path}: no array {NPZ_KEY!r} (and more than one array)")
            stack = arrays[key]
    except (OSError, ValueError) as err:
        raise InrError(f"{path}: not a readable .npz file ({err})") from None
    if stack.dtype != np.uint8 or stack.ndim not in (3, 4):
        raise InrError(f"{path}: {key} is not a stack of 8-bit images ({stack.dtype}, {stack.ndim} axes)")
    return stack


def items(source, modality: str | None = None, limit: int | None = None) -> list[Item]:
    """The first `limit` items of `source` (see the module's docstring), files in name order.

    `modality` keeps only files of that kind from a folder or glob, and says what an iterable's
    values are (default: images for arrays, audio for (samples, rate) pairs, shapes for (V, F) pairs).
    """
    if modality is not None:
        modalities.get(modality)  # checks the name
    if isinstance(source, (str, os.PathLike)):
        found = _file_items(str(source), modality)
    elif isinstance(source, (list, tuple)) and source and all(isinstance(s, (str, os.PathLike)) for s in source):
        found = _named_files([str(s) for s in source], modality, str(source[0]))
    else:
        found = _value_items(source, modality, limit)
    return found[:limit] if limit else found


def _file_items(source: str, modality: str | None) -> list[Item]:
    if source.endswith(".npz") and os.path.isfile(source):
        return [Item(f"{NPZ_KEY}[{i}]", "image", source, i) for i in range(len(_npz_stack(source)))]
    if os.path.isdir(source):
        files = [str(p) for p in Path(source).iterdir() if p.is_file()]
    elif glob.has_magic(source):
        files = glob.glob(source, recursive=True)
    elif os.path.isfile(source):
        files = [source]
    else:
        raise InrError(f"{source}: no such file, folder or pattern")
    return _named_files(files, modality, source)


def _named_files(files: list[str], modality: str | None, source: str) -> list[Item]:
    """Items of the files of a known modality (only `modality`'s, if given); one kind at a time."""
    kinds = {path: getattr(modalities.of_path(path), "name", None) for path in files}
    kept = sorted(path for path, kind in kinds.items() if kind is not None and kind == (modality or kind))
    if not kept:
        raise InrError(f"{source}: no {modality or 'image, audio or mesh'} files found")
    found = {kinds[path] for path in kept}
    if len(found) > 1:
        raise InrError(f"{source}: holds {' and '.join(sorted(found))} files; choose one with modality=")
    names = [Path(path).name for path in kept]
    if len(set(names)) < len(names):
        raise InrError(f"{source}: two files share a name; give one folder at a time")
    return [Item(name, kinds[path], path) for name, path in zip(names, kept)]


def _value_items(values: Iterable, modality: str | None, limit: int | None) -> list[Item]:
    """Items of in-memory signals, numbered in order (only the first `limit` are taken)."""
    out = []
    for index, value in enumerate(values):
        if limit and index >= limit:
            break
        kind = modality or ("image" if isinstance(value, np.ndarray) else _pair_kind(value))
        if kind == "image":
            value = modalities.IMAGE.module.as_pixels(value)
        elif kind == "audio":
            value = (modalities.AUDIO.module.as_samples(value[0], value[1]), int(value[1]))
        out.append(Item(f"item-{index:05d}", kind, value=value))
    if not out:
        raise InrError("the dataset is empty")
    return out


def _pair_kind(value) -> str:
    """'audio' for (samples, rate), 'shape' for (vertices, faces); InrError otherwise."""
    if isinstance(value, tuple) and len(value) == 2:
        return "audio" if np.isscalar(value[1]) else "shape"
    raise InrError(f"cannot tell what a {type(value).__name__} is; give modality= (image, audio or shape)")


def output_name(item: Item, suffix: str) -> str:
    """The item's output file name: its name with `suffix` for its own suffix."""
    if item.index is not None:
        return f"{Path(item.path).stem}-{item.index:05d}{suffix}"
    return (Path(item.name).stem if item.path else item.name) + suffix


def encode_item(item: Item, cap: float, method: str | None = None, config=None) -> bytes:
    """The `.inr` file of one item under `cap` (bpp, kbps or bytes, by its modality)."""
    return modalities.get(item.modality).module.encode_signal(item.load(), cap, method, config)


def encode_batch_items(group: list[Item], bpp: float, config=None) -> list[bytes]:
    """`meta` files of same-size images fitted together (`modalities.image.encode_batch`)."""
    return modalities.IMAGE.module.encode_batch(np.stack([item.load() for item in group]), bpp, config)


def cap_unit(bpp, kbps, n_bytes) -> tuple[str, object]:
    """(rate unit, what was given in it) from exactly one of the three (a cap, or a list of caps)."""
    given = [(unit, cap) for unit, cap in (("bpp", bpp), ("kbps", kbps), ("bytes", n_bytes)) if cap is not None]
    if len(given) != 1:
        raise InrError("give caps in exactly one unit: bpp= (images), kbps= (audio) or n_bytes= (shapes)")
    return given[0]


def encode_dataset(source, out_dir: str | os.PathLike, *, bpp: float | None = None, kbps: float | None = None,
                   n_bytes: int | None = None, method: str | None = None, config=None, modality: str | None = None,
                   limit: int | None = None, batch: int = 1, overwrite: bool = False, scheduler=None,
                   workers: int | None = None, quiet: bool = True) -> list[Path]:
    """Encode every item of `source` to `out_dir/<name>.inr` under the cap; returns the files' paths.

    An `out_dir` ending in `.inrs` is one pack of all the items instead (same-size images, `bpp` only;
    `modalities.image.encode_pack`), written by one task in this process every time; returns [its path].

    One task per item (with `method="meta"` and batch > 1, per group of up to `batch` same-size images,
    fitted together) on a Dask cluster: a local one of `workers` processes by default, the cluster at
    `scheduler` ("tcp://host:8786" or a `distributed.Client`) if given, or this process if workers=0.
    Files already there are kept unless `overwrite` (so a broken run resumes where it stopped).
    """
    from .cluster import Task, run_tasks

    unit, cap = cap_unit(bpp, kbps, n_bytes)
    chosen = items(source, modality, limit)
    if modalities.get(chosen[0].modality).unit != unit:
        raise InrError(f"{chosen[0].name}: a cap in {unit} is not for {chosen[0].modality} signals")
    if str(out_dir).endswith(packs.SUFFIX):
        return [encode_pack(chosen, out_dir, cap, method, config, quiet)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = {item.name: out / output_name(item, ".inr") for item in chosen}
    todo = [item for item in chosen if overwrite or not targets[item.name].exists()]
    tasks = [Task(group[0].name, encode_batch_items, (group, cap, config)) if len(group) > 1 else
             Task(group[0].name, encode_item, (group[0], cap, method, config))
             for group in group_same_shape(todo, batch if method == "meta" and unit == "bpp" else 1)]

    def save(task, result) -> None:
        group, files = (task.args[0], result) if len(task.args) == 3 else ([task.args[0]], [result])
        for item, data in zip(group, files):
            write_atomic(str(targets[item.name]), data)

    run_tasks(tasks, save, scheduler=scheduler, workers=workers, quiet=quiet, desc="encode")
    return [targets[item.name] for item in chosen if targets[item.name].exists()]


def encode_pack(chosen: list[Item], path: str | os.PathLike, bpp: float, method: str | None = None, config=None,
                quiet: bool = True) -> Path:
    """The pack at `path` of the items, same-size images, under `bpp` a signal; returns its path."""
    other = next((item for item in chosen if item.modality != "image"), None)
    if other is not None:
        raise InrError(f"a pack ({packs.SUFFIX}) holds images; {other.name} is {other.modality}")
    signals = [item.load() for item in chosen]
    for item, signal in zip(chosen, signals):
        if signal.shape != signals[0].shape:
            raise InrError(f"a pack holds images of one size: {item.name} is {signal.shape}, "
                           f"{chosen[0].name} {signals[0].shape}")
    data = modalities.IMAGE.module.encode_pack(np.stack(signals), bpp, method, config, quiet)
    write_atomic(str(path), data)
    return Path(path)


def group_same_shape(todo: list[Item], batch: int) -> list[list[Item]]:
    """Consecutive items in groups of up to `batch` whose signals share a shape."""
    groups, shapes = [], []
    for item in todo:
        shape = np.shape(item.load()) if batch > 1 else None
        if groups and len(groups[-1]) < batch and shapes[-1] == shape:
            groups[-1].append(item)
        else:
            groups.append([item])
            shapes.append(shape)
    return groups


def decode_dataset(source, out_dir: str | os.PathLike | None = None, *, scheduler=None, workers: int | None = None,
                   quiet: bool = True):
    """Decode a folder, glob or list of `.inr` files.

    Without `out_dir`: an iterator of (file name, signal), decoded here one at a time. With it: each
    file written as `out_dir/<stem>.png|.wav|.ply` (by what it holds) by tasks as in `encode_dataset`;
    returns the written paths. A pack (one file, `packs`) is decoded here, its images named
    `<stem>-00000.png`, ...
    """
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        data = read_bytes(str(source))
        if packs.is_pack(data):
            return decode_pack(str(source), data, out_dir)
    paths = _inr_files(source)
    if out_dir is None:
        return ((Path(path).name, decode_path(path)[1]) for path in paths)
    from .cluster import Task, run_tasks

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}

    def save(task, result) -> None:
        modality, signal = result
        path = task.args[0]
        kind = modalities.get(modality)
        written[path] = out / (Path(path).stem + kind.decoded_suffix)
        write_atomic(str(written[path]), kind.module.write_signal(str(written[path]), signal))

    run_tasks([Task(Path(path).name, decode_path, (path,)) for path in paths], save, scheduler=scheduler,
              workers=workers, quiet=quiet, desc="decode")
    return [written[path] for path in paths if path in written]


def decode_pack(path: str, data: bytes, out_dir: str | os.PathLike | None = None):
    """`decode_dataset` of the pack at `path`, whose bytes are `data`: (name, pixels) pairs, or the
    paths of the images written."""
    stack = modalities.IMAGE.module.decode_pack(data)
    names = [f"{Path(path).stem}-{index:05d}{modalities.IMAGE.decoded_suffix}" for index in range(len(stack))]
    if out_dir is None:
        return iter(zip(names, stack))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, pixels in zip(names, stack):
        write_atomic(str(out / name), modalities.IMAGE.module.write_signal(name, pixels))
    return [out / name for name in names]


def decode_path(path: str):
    """(modality, signal) of the `.inr` file at `path`; the signal as `Item.load` gives it."""
    data = read_bytes(path)
    kind = modalities.of_file(data)
    return kind.name, kind.module.decode_signal(data)


def _inr_files(source) -> list[str]:
    if isinstance(source, (list, tuple)):
        files = [str(s) for s in source]
    elif os.path.isdir(source):
        files = [str(p) for p in Path(source).glob("*.inr")]
    else:
        files = glob.glob(str(source))
    if not files:
        raise InrError(f"{source}: no .inr files found")
    return sorted(files)

