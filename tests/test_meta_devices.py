"""Data-parallel meta-training: 4 virtual CPU devices give the numbers of 1, with each batch split over all 4.

The devices exist only in a fresh process (XLA_FLAGS must be set before JAX starts), so one
subprocess takes the same 3 outer steps of a tiny config, on synthetic signals, on 4 devices and
on 1, and reports back.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import dataclasses, json

import jax
import numpy as np

from inrcodec.training import meta
from inrcodec.networks import modulated

config = meta.MetaConfig(base=modulated.BaseConfig(width=8, depth=2, strides=(8, 16), channels=2), crop=32,
                         crop_batch=4, whole_batch=4, inner_steps=1)
rng = np.random.default_rng(0)
batches = [tuple(rng.uniform(-0.5, 0.5, (4, 32, 32, 3)).astype(np.float32) for _ in "ab") for _ in range(3)]
report = {"visible": jax.device_count()}
for devices in (4, 1):
    run = dataclasses.replace(config, devices=devices)
    mesh, optimizer = meta.make_mesh(run), meta.outer_optimizer(run)
    step = meta.make_step(run, optimizer, mesh)
    params = meta.init_state(run)
    params, opt_state = meta.place((params, optimizer.init(params)), mesh, meta.PartitionSpec())
    losses, batch_devices = [], set()
    for groups in batches:
        groups = meta.place(groups, mesh, meta.PartitionSpec("batch"))
        batch_devices.update(len(group.sharding.device_set) for group in groups)
        params, opt_state, loss = step(params, opt_state, groups, np.int32(0))
        losses.append(float(loss))
    report[devices] = {"losses": losses, "batch_devices": sorted(batch_devices),
                       "params": [np.asarray(x).tolist() for x in jax.tree.leaves(params)]}
try:
    meta.make_mesh(dataclasses.replace(config, devices=4, crop_batch=6))
except ValueError as error:
    report["indivisible"] = str(error)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    """What the subprocess saw: {"visible", "4" and "1": {losses, batch_devices, params}, "indivisible"}."""
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4".strip())
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def test_four_devices_train_as_one(report):
    assert report["visible"] == 4
    four, one = report["4"], report["1"]
    np.testing.assert_allclose(four["losses"], one["losses"], rtol=1e-4)
    assert len(four["params"]) == len(one["params"])
    for a, b in zip(four["params"], one["params"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_each_batch_is_split_over_the_devices_asked_for(report):
    assert report["4"]["batch_devices"] == [4] and report["1"]["batch_devices"] == [1]


def test_a_batch_that_does_not_split_evenly_is_a_clear_error(report):
    assert report["indivisible"] == "crop_batch=6 does not split over 4 devices: make it a multiple of 4"
