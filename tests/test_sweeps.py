"""Sweeps on a local Dask cluster: the same rows as in one process, even when a worker dies mid-task."""

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from dask.distributed import Client, LocalCluster

from inrcodec import InrError, cluster
from inrcodec.eval import sweeps


ROOT = Path(__file__).resolve().parents[1]
TIMES = ("encoding_time", "decoding_time")  # the only fields of a row that may differ between runs


def rows_without_times(folder) -> dict:
    """method -> its results rows, times left out, from every results file in `folder`."""
    out = {}
    for path in sorted(folder.glob("*.json")):
        rows = json.loads(path.read_text())["per_image"]
        out[path.stem] = [{k: v for k, v in row.items() if k not in TIMES} for row in rows]
    return out


def kill_a_busy_worker(client: Client, killed: list) -> None:
    """Wait until a worker is running a task, then kill its process outright (SIGKILL)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = [address for address, keys in client.processing().items() if keys]
        if busy:
            time.sleep(0.2)  # inside the task, past its start
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path):
    arguments = dict(bpp=[0.3, 0.6, 1.0, 1.5], methods=["jpeg2000"], modality="image", dataset="kodak-sample")
    sweeps.sweep(str(ROOT / "data"), out_dir=str(tmp_path / "alone"), workers=0, **arguments)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local, \
            Client(local) as client:
        killed = []
        killer = threading.Thread(target=kill_a_busy_worker, args=(client, killed))
        killer.start()
        documents = sweeps.sweep(str(ROOT / "data"), out_dir=str(tmp_path / "cluster"),
                                 scheduler=local.scheduler_address, **arguments)  # as `--scheduler tcp://...`
        killer.join()
        assert killed, "no worker was seen running a task"
        assert killed[0] not in client.run(os.getpid).values()  # that process is gone; a new one took its place

    assert documents["jpeg2000"]["results"]["n_images"] == [2, 2, 2, 2]
    alone, clustered = (rows_without_times(tmp_path / run / "kodak-sample") for run in ("alone", "cluster"))
    assert clustered == alone and len(alone["jpeg2000"]) == 8


def test_cores_are_shared_out_without_overlap():
    assert [cluster.share(list(range(8)), i, 4) for i in range(4)] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert [cluster.share([0, 1], i, 3) for i in range(3)] == [[0], [1], [0]]
    assert cluster.share([3], 0, 1) == [3]


def test_caps_in_the_wrong_unit_and_unknown_methods_are_refused(tmp_path):
    with pytest.raises(InrError, match="not for image"):
        sweeps.sweep(str(ROOT / "data" / "kodim23.png"), kbps=[16], workers=0, out_dir=str(tmp_path))
    with pytest.raises(InrError, match="unknown image method"):
        sweeps.sweep(str(ROOT / "data" / "kodim23.png"), bpp=[1], methods=["mp3"], workers=0, out_dir=str(tmp_path))
    with pytest.raises(InrError, match="exactly one unit"):
        sweeps.sweep(str(ROOT / "data"), bpp=[1], kbps=[2], workers=0, out_dir=str(tmp_path))


def test_a_local_clusters_workers_each_run_on_their_own_cores():
    found = []
    cores = cluster.usable_cores()
    tasks = [cluster.Task(f"affinity {i}", os.sched_getaffinity, (0,)) for i in range(8)]
    cluster.run_tasks(tasks, lambda task, result: found.append(frozenset(result)), workers=len(cores))
    assert len(found) == 8 and all(len(f) == 1 for f in found) and set().union(*found) <= set(cores)
