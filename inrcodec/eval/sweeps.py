"""Rate-distortion sweeps: methods x caps x items of a dataset, one task each, merged per item.

    inrcodec.sweep("kodak/", bpp=[0.15, 0.3], methods=["pyramid", "jpeg2000"])          # local cluster
    inrcodec.sweep("clips/", kbps=[16], scheduler="tcp://host:8786")                    # an existing one
    inrcodec.sweep("meshes/", n_bytes=[1024, 2048], workers=0)                          # this process

Each finished task's row is merged at once into `out_dir/<dataset>/<method><tag>.json` (CompressAI's
results shape, `bench.merge_results`), so a sweep stopped anywhere loses only the tasks in flight;
run again, it skips every (item, cap) a results file already holds (`redo=True` measures them
again). Rows are a function of the item, method and cap alone (times aside), so a task rerun after
its worker died gives the row an undisturbed run gives.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from .. import datasets, modalities
from ..methods import CODES as METHODS
from ..modalities.audio import DEFAULT_WEIGHTING
from ..weighting import WeightingConfig
from ..errors import InrError
from . import audio_bench, bench, shape_baselines, shape_bench
from .baselines import BASELINES
from .bench import check_methods, machine_description, merge_results


@dataclass(frozen=True)
class Modality:
    """How a sweep measures one kind of signal."""

    item_key: str  # the rows' key naming the item ("image", "clip", "mesh")
    rate_key: str  # the unit of caps and rates ("bpp", "kbps", "bytes")
    default_methods: tuple[str, ...]  # inrcodec methods a sweep runs, beside every baseline, when given no methods


MODALITIES = {"image": Modality("image", "bpp", ("network", "pyramid", "coin")),
              "audio": Modality("clip", "kbps", ("pyramid",)), "shape": Modality("mesh", "bytes", ("pyramid",))}
METRICS = ("psnr", "si_snr", "pesq", "stoi", "chamfer_l1", "accuracy", "completeness", "hausdorff",
           "normal_consistency", "iou", "f_score")  # per-item scores averaged into a results file's summary


def measure_item(item: datasets.Item, method: str, cap: float, config,
                 weighted: WeightingConfig | None = DEFAULT_WEIGHTING) -> dict:
    """The results row of one item coded by one method under one cap (a Dask task); audio weighted
    as `weighted` says (None: not)."""
    if item.modality == "image":
        row = bench.measure(item.load(), cap, method, config, quiet=True)
    elif item.modality == "audio":
        row = audio_bench.measure(*item.load(), cap, method, config, weighted)
    else:
        row = shape_bench.measure(item.load(), *_references(item), int(cap), method, config)
    modality = MODALITIES[item.modality]
    return {modality.item_key: item.name, f"target_{modality.rate_key}": cap, **row}


def measure_group(group: list[datasets.Item], cap: float, config) -> list[dict]:
    """Rows of same-size images coded together by `meta` (`bench.measure_batch`; a Dask task)."""
    rows = bench.measure_batch([item.load() for item in group], cap, config, quiet=True)
    return [{"image": item.name, "target_bpp": cap, **row} for item, row in zip(group, rows)]


_REFERENCES = {}  # the last mesh's key -> its references (the next tasks of a worker are often on it too)


def _references(item: datasets.Item):
    """The scoring and the search references of a mesh (`shape_metrics.prepare`)."""
    from . import metrics as shape_metrics

    key = (item.name, item.path, id(item.value))
    if key not in _REFERENCES:
        _REFERENCES.clear()
        mesh = item.load()
        _REFERENCES[key] = (shape_metrics.prepare(*mesh),
                            shape_metrics.prepare(*mesh, samples=shape_baselines.SEARCH_SAMPLES))
    return _REFERENCES[key]


def dataset_name(source) -> str:
    """A results folder's name for a source: its folder's name (an .npz file's or a pattern's parent)."""
    if not isinstance(source, (str, Path)):
        return "dataset"
    path = Path(source)
    return path.parent.name if path.suffix == ".npz" or "*" in path.name else path.name


def sweep(source, *, bpp: list[float] | None = None, kbps: list[float] | None = None, n_bytes: list[int] | None = None,
          methods: list[str] | None = None, modality: str | None = None, limit: int | None = None,
          out_dir: str = "experiments/results", dataset: str | None = None, configs: dict | None = None,
          batch: int = 1, tag: str = "", redo: bool = False, scheduler=None, workers: int | None = None,
          quiet: bool = True, weighted: WeightingConfig | None = DEFAULT_WEIGHTING) -> dict[str, dict]:
    """Measure every method at every cap (exactly one of bpp, kbps, n_bytes) on every item of `source`
    (anything `datasets.items` takes); returns {method: results document}.

    `configs` maps a method to its configuration (default: the method's own). `batch` > 1 fits that
    many same-size images together with `meta`. `scheduler` and `workers` choose where tasks run
    (`cluster.run_tasks`). Audio is weighted as `weighted` says (None: coded for squared error
    alone). Results go to `out_dir/<dataset or dataset_name(source)>/<method><tag>.json`.
    """
    from ..cluster import Task, run_tasks, usable_cores

    unit, caps = datasets.cap_unit(bpp, kbps, n_bytes)
    if not caps:
        raise InrError(f"no caps in {unit} given")
    caps = [int(cap) if unit == "bytes" else float(cap) for cap in caps]
    chosen = datasets.items(source, modality, limit)
    kind = chosen[0].modality
    if modalities.get(kind).unit != unit:
        raise InrError(f"caps in {unit} are not for {kind} signals (give {modalities.get(kind).unit})")
    spec = MODALITIES[kind]
    baselines = [name for name, baseline in BASELINES.items() if baseline.modality == kind]
    methods = list(methods or [*spec.default_methods, *baselines])
    check_methods(methods, [*METHODS, *baselines], kind)
    folder = Path(out_dir) / (dataset or dataset_name(source))
    configs = configs or {}
    machine = machine_description()
    where = ("in one process" if workers == 0 and scheduler is None else
             "on a Dask cluster" if scheduler is not None else
             f"on a local Dask cluster of {workers or len(usable_cores())} single-core workers")  # times depend on it
    tasks, skipped = [], 0
    for method in methods:
        done = set() if redo else _done(folder / f"{method}{tag}.json", spec)
        for cap in caps:
            todo = [item for item in chosen if (item.name, cap) not in done]
            skipped += len(chosen) - len(todo)
            size = batch if method == "meta" and kind == "image" else 1
            for group in datasets.group_same_shape(todo, size):
                label = f"{method} on {group[0].name} at {cap:g} {unit}"
                tasks.append(Task(label, measure_group, (group, cap, configs.get(method))) if len(group) > 1 else
                             Task(label, measure_item, (group[0], method, cap, configs.get(method), weighted)))
    if skipped and not quiet:
        print(f"sweep: {skipped} (item, method, cap) rows already in {folder}; measuring the other "
              f"{len(tasks)} tasks (redo=True / --redo measures all)")
    documents = {}

    def merge(task, rows) -> None:
        method = "meta" if task.function is measure_group else task.args[1]
        who = f"inrcodec {method}" if method in METHODS else f"{method} ({BASELINES[method].made_by})"
        description = f"{who} on {folder.name}, {unit} caps; measured on {machine}, {where}"
        documents[method] = merge_results(folder / f"{method}{tag}.json", method + tag,
                                          rows if isinstance(rows, list) else [rows], description,
                                          rate_key=unit, item_key=spec.item_key, metrics=METRICS)

    run_tasks(tasks, merge, scheduler=scheduler, workers=workers, quiet=quiet, desc="sweep")
    documents = {method: documents.get(method) or _load(folder / f"{method}{tag}.json") for method in methods
                 if method in documents or (folder / f"{method}{tag}.json").exists()}
    if not quiet:
        print_summary(kind, documents)
    return documents


def print_summary(kind: str, documents: dict) -> None:
    """One line per method and cap (the modality's headline scores)."""
    if kind == "shape":
        shape_bench.print_summary(documents)
    else:
        bench.print_summary(documents, MODALITIES[kind].rate_key, ("si_snr",) if kind == "audio" else ())


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _done(path: Path, spec: Modality) -> set:
    """(item, cap) pairs a results file already holds."""
    if not path.exists():
        return set()
    try:
        rows = _load(path)["per_image"]
        return {(row[spec.item_key], row[f"target_{spec.rate_key}"]) for row in rows}
    except (ValueError, KeyError, TypeError) as err:
        raise InrError(f"{path}: not a results file of this kind ({err}); move it away or give redo=True") from None
