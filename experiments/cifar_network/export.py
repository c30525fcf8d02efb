"""Write a training run's parameters as the shipped `hyper` base, with its training record beside it.

  python3 experiments/cifar_network/export.py experiments/cifar_network/runs/meta

Writes inrcodec/bases/hyper.npz and hyper.json (hardware, steps, wall time, validation curve and
the base's identity).
"""
import argparse
import json
import os
import pickle

import numpy as np

from inrcodec import hyperbase
from inrcodec.networks.hyperprior import SCALE_MAX, SCALE_MIN


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", help="a directory of train.py holding state.pkl")
    a = ap.parse_args()
    state = pickle.load(open(os.path.join(a.run, "state.pkl"), "rb"))
    params = {"params": {k: v for k, v in state["params"]["params"].items()}}
    identity = hyperbase.export(params, SCALE_MIN, SCALE_MAX)
    record = dict(state["record"])
    record.pop("train", None)  # the loss every 100 steps stays in the run's own record
    record.update(identity=identity.hex(), steps=state["step"], wall_time_s=state["elapsed"],
                  shipped_bytes=os.path.getsize(hyperbase.BASE_PATH),
                  shipped_params={k: int(np.prod(v.shape)) for k, v in hyperbase.load().arrays.items()})
    hyperbase.BASE_PATH.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {hyperbase.BASE_PATH} ({record['shipped_bytes']} bytes), identity {identity.hex()}")


if __name__ == "__main__":
    main()
