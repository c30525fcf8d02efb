"""Scale-out: independent tasks (one item, method and cap each) run as Dask distributed tasks.

By default on a local cluster of one single-threaded worker process per core, made for the run and
closed after it; `scheduler="tcp://host:8786"` (or a `distributed.Client`) sends the same tasks to an
existing cluster; `workers=0` runs them here, one after another, without Dask. Tasks are pure: a
task whose worker dies is run again elsewhere by the scheduler, and its result is the same.

A local cluster's workers are each pinned to their own share of the cores (JAX and XLA size their
thread pools by the cores a process may use), so that N workers do not run N x cores threads. On an
existing cluster, start workers with one thread each (`dask worker ADDRESS --nworkers N --nthreads 1`)
and pin them as suits the machines.
"""

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable

import dask
from dask.distributed import Client, KilledWorker, LocalCluster, WorkerPlugin, as_completed

from .errors import InrError
from .progress import progress


@dataclass(frozen=True)
class Task:
    """One unit of work: `function(*args)`, pure and picklable."""

    label: str  # what it is, in words: progress lines, error messages and the Dask key
    function: Callable  # a module-level function (workers import it by name)
    args: tuple  # its arguments: small, picklable (paths rather than signals where possible)


def run_tasks(tasks: list[Task], on_result: Callable[[Task, Any], None], *, scheduler=None, workers: int | None = None,
              quiet: bool = True, desc: str = "tasks") -> None:
    """Run every task and call `on_result(task, result)` here, in the order they finish.

    A task that raises InrError (a cap a baseline cannot meet, a bad file) is reported on the
    progress bar and skipped; any other error stops the run.
    """
    if not tasks:
        return
    with progress(len(tasks), desc, unit="task", quiet=quiet) as bar:
        if workers == 0 and scheduler is None:
            for task in tasks:
                _finish(task, lambda: task.function(*task.args), on_result, bar)
            return
        client, owned = connect(scheduler, workers, quiet)
        try:
            futures = {client.submit(task.function, *task.args, key=f"{task.label}-{i}", pure=False): task
                       for i, task in enumerate(tasks)}
            for future in as_completed(futures):
                _finish(futures[future], future.result, on_result, bar)
        finally:
            if owned:
                cluster = client.cluster
                client.close()
                if cluster is not None:
                    cluster.close()


def _finish(task: Task, result: Callable, on_result, bar) -> None:
    try:
        value = result()
    except (InrError, KilledWorker) as err:
        bar.write(f"{task.label}: {err}")
    else:
        on_result(task, value)
    bar.update()


def connect(scheduler=None, workers: int | None = None, quiet: bool = True):
    """(client, whether the caller owns it and must close it): `scheduler` itself if it is a Client,
    a client of the scheduler at that address, or of a new local cluster of `workers` processes
    (default: one per core)."""
    if isinstance(scheduler, Client):
        return scheduler, False
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as err:
            raise InrError(f"cannot reach the Dask scheduler at {scheduler} ({err})") from None
        client.register_plugin(WorkerSetup(None))
        return client, True
    count = workers or len(usable_cores())
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which slows an encode's many large NumPy
    # temporaries by half (kodim02 at 0.3 bpp, one core: 32 s against 21); glibc's default adapts
    environ = {key: value for key, value in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if key != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.CRITICAL if quiet else logging.ERROR)
    client = Client(cluster)
    client.register_plugin(WorkerSetup(count))
    return client, True


def usable_cores() -> list[int]:
    """The cores this process may run on."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def share(cores: list[int], index: int, count: int) -> list[int]:
    """Worker `index`'s share of `cores` among `count` workers (the same core for several where
    there are more workers than cores)."""
    if count >= len(cores):
        return [cores[index % len(cores)]]
    size = len(cores) // count
    return cores[index * size:(index + 1) * size]


class WorkerSetup(WorkerPlugin):
    """A Dask worker plugin: turns on the compilation cache and pins a local cluster's worker (named
    0..count-1) to its share of the cores, before the worker's first task imports JAX."""

    name = "inrcodec-worker-setup"

    def __init__(self, count: int | None):
        self.count = count  # workers of the local cluster (None: an existing cluster's, left unpinned)

    def setup(self, worker) -> None:
        from .compile_cache import enable_compilation_cache

        if self.count and isinstance(worker.name, int) and hasattr(os, "sched_setaffinity"):
            cores = share(usable_cores(), worker.name, self.count)
            for thread in os.listdir("/proc/self/task"):  # every thread of the process, not only this one
                try:
                    os.sched_setaffinity(int(thread), cores)
                except OSError:  # a thread that has just ended
                    pass
        enable_compilation_cache()
