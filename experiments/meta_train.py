"""Meta-train the `meta` method's base and write it into the package.

    python experiments/meta_train.py experiments/configs/meta_image.json --data ../shared/data \
        --workdir runs/meta_image --out inrcodec/bases/image.npz

The JSON config overrides MetaConfig's fields ("base" overrides BaseConfig's). Training resumes
from --workdir's checkpoint; --seconds limits this run (call again to continue). The base and a
record of the training (config, hardware, wall time, steps, validation PSNR history) are written to
--out and --out with .json once the run ends.

Each outer batch is split over all visible devices (--devices: the first N of them); --distributed
joins a run of several processes, one per host. See MULTI_DEVICE.md.
"""

import argparse
import dataclasses
import json
import os
import platform
from pathlib import Path

import jax

# inrcodec is imported only after --distributed's jax.distributed.initialize, which must come before
# JAX starts its backend, as importing inrcodec does (gates.LOG_RATIO is computed with jnp).


def load_config(path: Path):
    """The MetaConfig of a JSON file."""
    from inrcodec.training import meta
    from inrcodec.networks.modulated import BaseConfig

    fields = json.loads(path.read_text())
    base = BaseConfig(**{k: tuple(v) if k == "strides" else v for k, v in fields.pop("base", {}).items()})
    return meta.MetaConfig(base=base, **{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="where to write the base (.npz); nothing written if omitted")
    parser.add_argument("--seconds", type=float, help="stop this run after this many seconds")
    parser.add_argument("--devices", type=int, help="split each batch over the first N devices (default: all)")
    parser.add_argument("--distributed", action="store_true",
                        help="join a multi-process run (jax.distributed.initialize): detected under SLURM, Open MPI, "
                             "Kubernetes or Cloud TPU; elsewhere give the next three")
    parser.add_argument("--coordinator", help="host:port of process 0 (or JAX_COORDINATOR_ADDRESS)")
    parser.add_argument("--num-processes", type=int, help="processes in the run, one per host")
    parser.add_argument("--process-id", type=int, help="this process's index, 0 to --num-processes - 1")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.distributed:
        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    from inrcodec.networks import bases
    from inrcodec.training import meta

    config = load_config(args.config)
    if args.seconds is not None:
        config = dataclasses.replace(config, seconds=args.seconds)
    if args.devices is not None:
        config = dataclasses.replace(config, devices=args.devices)
    state = meta.train(config, args.data, args.workdir, quiet=args.quiet)
    if args.out and jax.process_index() == 0:
        devices = config.devices or jax.device_count()
        record = {
            "config": dataclasses.asdict(config),
            "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                        f"jax {jax.__version__} on {devices} {jax.devices()[0].platform} device{'s' * (devices > 1)}",
            "steps": state["step"], "seconds": round(state["seconds"], 1), "history": state["history"],
        }
        identity = bases.save_base(args.out, config.base, state["params"]["base"], state["params"]["log_lrs"], record)
        print(f"wrote {args.out} (identity {identity.hex()}) after {state['step']} steps")


if __name__ == "__main__":
    main()
