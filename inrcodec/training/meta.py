"""Meta-learning of the `meta` method's base network (MAML with meta-SGD, as in COIN++ and functa).

Every signal starts from all-zero latent grids. The inner loop takes a few gradient steps on the
grids with learned per-level, per-channel learning rates (meta-SGD); the outer loop moves the base
(SIREN and modulation map) and those learning rates by Adam on the loss after the inner loop.
Second-order MAML differentiates through the inner steps; first-order stops the gradient at the
inner gradients (the learning rates still learn).

Data (`ImageData`): random crops of training photos and whole CIFAR-10 training images, each batch
half and half by loss; Kodak is never used. Or (`SpeechData`): random crops of the train-clean-100
and LJSpeech clips of speech_train and of audio_other; the test-other clips and audio/ are never used.
Or (`ShapeData`): crops of the meshes of meshes_train as squashed SDF lattices; meshes/ is never used.
Training checkpoints every few hundred steps and resumes from its last checkpoint; the result is
written as a shippable base (see `bases`).

The outer step is data parallel: each batch of signals is split over a 1-D mesh of devices (axis
"batch") while the parameters and optimizer state are replicated, and `jax.jit` partitions the step
(the gradient's mean over the batch becomes a cross-device reduction). With several processes
(`jax.distributed.initialize` first), every process draws the same global batch and places only its
own devices' rows; see experiments/MULTI_DEVICE.md.
"""

import json
import pickle
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import soundfile
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from PIL import Image

from ..modalities.image import centred
from ..networks.modulated import BaseConfig, adapt, grid_shapes, init_base, positions, render
from ..progress import progress


@dataclass(frozen=True)
class MetaConfig:
    base: BaseConfig = field(default_factory=BaseConfig)  # shape of the network being meta-learned
    # training data: "image" (photos and CIFAR-10), "audio" (speech and other sounds) or "shape" (meshes_train)
    modality: str = "image"
    crop: int = 64  # side in samples (pixels) of the crops
    crop_batch: int = 8  # crops per outer step
    whole_batch: int = 16  # whole CIFAR-10 images per outer step (images only)
    inner_steps: int = 3  # inner gradient steps on the latents from zero
    # each step carries levels from a random first level in 0..this (0: all levels; dropping levels trained worse)
    finest_dropped: int = 0
    first_order: bool = True  # first-order MAML (no gradient through the inner gradients); False: second-order
    inner_learning_rate: float = 0.3  # initial meta-SGD rate of every level, divided by stride^2
    outer_learning_rate: float = 1e-3  # Adam learning rate of the base and the inner rates
    steps: int = 20000  # outer steps in all
    seconds: float | None = None  # stop after this many seconds of training in this run; None for no limit
    validate_every: int = 500  # outer steps between validations (and checkpoints)
    validation_steps: tuple[int, ...] = (1, 3, 10)  # inner steps at which validation PSNR is reported
    seed: int = 0  # seed of initialisation and data sampling
    # devices each outer batch is split over; None: all (with several processes, it must be all)
    devices: int | None = None


def batch_mse(base, log_lrs, targets, steps: int, config: BaseConfig, first_order: bool, first_level=0):
    """Mean MSE after adaptation over a batch of same-size signals. targets: (B, *extent, C) centred.

    Positions are relative to each signal's first sample, where its grids start, as when encoding a
    whole signal: the periodic coordinates then tell where a sample sits in its cells.
    """
    extent = targets.shape[1:-1]
    points = positions(extent)
    shapes = grid_shapes(extent, config)

    def one(target):
        flat = target.reshape(-1, target.shape[-1])
        latents = adapt(base, log_lrs, points, flat, shapes, steps, config, first_order, first_level)
        return jnp.mean(jnp.square(render(base, latents, points, config) - flat))

    return jnp.mean(jax.vmap(one)(targets))


class ImageData:
    """Training and validation images: photo crops and CIFAR-10 images, as centred float32 arrays."""

    def __init__(self, data_dir: Path, config: MetaConfig, validation_photos: int = 4):
        paths = sorted((data_dir / "train_photos").glob("*.png"))
        photos = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
        self.photos, held_out = photos[:-validation_photos], photos[-validation_photos:]
        cifar = np.load(data_dir / "cifar10" / "cifar10_prefix.npz")
        batches = [cifar[f"data_batch_{k}_x"] for k in range(1, 6)]
        self.cifar, cifar_held_out = np.concatenate(batches[:4] + [batches[4][:-64]]), batches[4][-64:]
        self.crop = config.crop
        rng = np.random.default_rng(1234)
        photos = self._crops(held_out, 32, rng)
        self.validation = {"photos": (photos, 0), "cifar": (centred(cifar_held_out), 0)}
        if config.finest_dropped:
            self.validation[f"photos_from_level_{config.finest_dropped}"] = (photos, config.finest_dropped)

    def _crops(self, photos, n, rng):
        """n random crops, randomly mirrored: (n, crop, crop, 3) centred."""
        crops = []
        for _ in range(n):
            photo = photos[rng.integers(len(photos))]
            y, x = rng.integers(photo.shape[0] - self.crop + 1), rng.integers(photo.shape[1] - self.crop + 1)
            crop = photo[y:y + self.crop, x:x + self.crop]
            crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
        return centred(np.stack(crops))

    def batch(self, rng, config: MetaConfig):
        """One outer step's data: ((photo crops, cifar images), first level carried), centred."""
        images = self.cifar[rng.integers(len(self.cifar), size=config.whole_batch)]
        flips = rng.random(config.whole_batch) < 0.5
        images = np.where(flips[:, None, None, None], images[:, :, ::-1], images)
        first_level = np.int32(rng.integers(config.finest_dropped + 1))
        return (self._crops(self.photos, config.crop_batch, rng), centred(images)), first_level


class SpeechData:
    """Training and validation clips, mono, as centred float32 crops (samples / 2, as the codec fits them).

    Training: the train-clean-100 and LJSpeech clips of speech_train (never its test-other clips,
    which its MANIFEST names) and every clip of audio_other, at their own sample rates; the last
    `validation_clips` of each folder are held out for validation.
    """

    def __init__(self, data_dir: Path, config: MetaConfig, validation_clips: int = 4):
        held_out = []
        self.clips = []
        for folder in ("speech_train", "audio_other"):
            rows = (data_dir / folder / "MANIFEST.tsv").read_text().splitlines()[1:]
            names = sorted(row.split("\t")[0] for row in rows if "test-other" not in row)
            clips = [self._read(data_dir / folder / name) for name in names if name.endswith(".wav")]
            clips = [c for c in clips if len(c) >= config.crop]
            self.clips += clips[:-validation_clips]
            held_out += clips[-validation_clips:]
        self.crop = config.crop
        crops = self._crops(held_out, 32, np.random.default_rng(1234))
        self.validation = {"speech": (crops, 0)}
        if config.finest_dropped:
            self.validation[f"speech_from_level_{config.finest_dropped}"] = (crops, config.finest_dropped)

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        samples, _ = soundfile.read(path, dtype="float32", always_2d=True)
        return samples.mean(axis=1)

    def _crops(self, clips, n, rng):
        """n random crops, each of random sign: (n, crop, 1) centred."""
        crops = []
        for _ in range(n):
            clip = clips[rng.integers(len(clips))]
            start = rng.integers(len(clip) - self.crop + 1)
            crops.append(clip[start:start + self.crop] * (1 if rng.random() < 0.5 else -1))
        return (np.stack(crops) / 2.0)[..., None].astype(np.float32)

    def batch(self, rng, config: MetaConfig):
        """One outer step's data: ((crops,), first level carried), centred."""
        return (self._crops(self.clips, config.crop_batch, rng),), np.int32(rng.integers(config.finest_dropped + 1))


class ShapeData:
    """Training and validation crops of the squashed SDF lattices of meshes_train (never meshes/), as
    the codec's network methods fit them (`modalities.shape.network_values`); the last `validation_meshes`
    meshes are held out. A crop is centred on a random sample within a band of the surface, so that
    every crop holds some surface. The lattices are cached in the working folder."""

    def __init__(self, data_dir: Path, config: MetaConfig, workdir: Path, validation_meshes: int = 4):
        from .. import sdf
        from ..modalities import shape

        cache = workdir / "lattices.npz"
        if cache.exists():
            with np.load(cache) as f:
                lattices = [f[k] for k in sorted(f.files, key=int)]
        else:
            paths = sorted((data_dir / "meshes_train").glob("*.obj"))
            lattices = []
            with progress(len(paths), "SDF", unit="mesh", quiet=False) as bar:
                for path in paths:
                    lattices.append(shape.network_values(*sdf.read_mesh(path))[0][..., 0])
                    bar.update()
            np.savez(cache, **{str(k): v for k, v in enumerate(lattices)})
        self.crop = config.crop
        self.lattices = [lat for lat in lattices if min(lat.shape) >= self.crop][:-validation_meshes]
        held_out = [lat for lat in lattices if min(lat.shape) >= self.crop][-validation_meshes:]
        self.validation = {"shapes": (self._crops(held_out, 16, np.random.default_rng(1234)), 0)}

    def _crops(self, lattices, n, rng):
        """n crops of side `crop`, each around a sample near the surface, randomly mirrored: (n, c, c, c, 1)."""
        crops = []
        for _ in range(n):
            lattice = lattices[rng.integers(len(lattices))]
            near = np.argwhere(np.abs(lattice) < 0.25)
            centre = near[rng.integers(len(near))]
            corner = [int(np.clip(c - self.crop // 2, 0, n - self.crop)) for c, n in zip(centre, lattice.shape)]
            crop = lattice[tuple(slice(c, c + self.crop) for c in corner)]
            for axis in range(3):
                if rng.random() < 0.5:
                    crop = np.flip(crop, axis)
            crops.append(crop)
        return np.stack(crops)[..., None].astype(np.float32)

    def batch(self, rng, config: MetaConfig):
        """One outer step's data: ((crops,), first level carried)."""
        return (self._crops(self.lattices, config.crop_batch, rng),), np.int32(rng.integers(config.finest_dropped + 1))


def init_state(config: MetaConfig):
    """Fresh trainable parameters {"base", "log_lrs"} (one (channels,) rate per level)."""
    base = init_base(jax.random.PRNGKey(config.seed), config.base)
    log_lrs = [jnp.full((config.base.channels,), np.log(config.inner_learning_rate / s ** 2), jnp.float32)
               for s in config.base.strides]
    return {"base": base, "log_lrs": log_lrs}


def outer_optimizer(config: MetaConfig):
    """Adam on the base and the inner rates, gradients clipped to global norm 1."""
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(config.outer_learning_rate))


def make_mesh(config: MetaConfig) -> Mesh:
    """A 1-D mesh, axis "batch", over the first `config.devices` devices (all when None). Raises
    ValueError if there are fewer devices, or if a batch (crop_batch, and whole_batch for images)
    does not split evenly over them."""
    devices = jax.devices()
    count = len(devices) if config.devices is None else config.devices
    if not 1 <= count <= len(devices) or (jax.process_count() > 1 and count != len(devices)):
        raise ValueError(f"devices={config.devices}, but {len(devices)} visible"
                         + ("; several processes must use them all" if jax.process_count() > 1 else ""))
    batches = {"crop_batch": config.crop_batch, "whole_batch": config.whole_batch if config.modality == "image" else 0}
    for name, size in batches.items():
        if size % count:
            raise ValueError(f"{name}={size} does not split over {count} devices: make it a multiple of {count}")
    return Mesh(np.array(devices[:count]), ("batch",))


def place(tree, mesh: Mesh, spec: PartitionSpec):
    """Every array of `tree` (the same global values in every process) as a global jax.Array laid out
    on `mesh` by `spec`: PartitionSpec() replicates, PartitionSpec("batch") splits the leading axis
    (a (B, *extent, C) batch of signals). Each process copies only the slices of its own devices."""
    sharding = NamedSharding(mesh, spec)

    def put(value):
        value = np.asarray(value)
        return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

    return jax.tree.map(put, tree)


def make_step(config: MetaConfig, optimizer, mesh: Mesh):
    """A jitted outer step (params, opt_state, groups of signals, first level) -> (params, opt_state, loss).

    Each group is a (B, *extent, C) batch split over the mesh's "batch" axis; everything else,
    outputs included, is replicated.
    """
    def loss_fn(params, groups, first_level):
        return sum(batch_mse(params["base"], params["log_lrs"], targets, config.inner_steps, config.base,
                             config.first_order, first_level) for targets in groups)

    replicated, batch = NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec("batch"))

    @partial(jax.jit, in_shardings=(replicated, replicated, batch, replicated), out_shardings=replicated)
    def step(params, opt_state, groups, first_level):
        loss, grads = jax.value_and_grad(loss_fn)(params, groups, first_level)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


_validation_mse = jax.jit(batch_mse, static_argnums=(3, 4, 5, 6))


def validate(params, data, config: MetaConfig) -> dict:
    """Mean PSNR (dB, of centred values: peak 1) of each held-out set (`data.validation`) after k inner
    steps, for each k."""
    result = {}
    for name, (targets, first_level) in data.validation.items():
        for k in config.validation_steps:
            mse = _validation_mse(params["base"], params["log_lrs"], targets, k, config.base, True, first_level)
            result[f"{name}_psnr_after_{k}"] = round(float(-10 * np.log10(mse)), 3)
    return result


def train(config: MetaConfig, data_dir: Path, workdir: Path, quiet: bool = False) -> dict:
    """Meta-train (resuming from workdir/checkpoint.pkl if present); returns the final state dict.

    The state holds params, optimizer state, data RNG state, steps done, seconds spent and the
    validation history; it is checkpointed every `validate_every` steps (by every process, each
    through its own temporary file, so that a workdir may be shared or not).
    """
    mesh = make_mesh(config)
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoint = workdir / "checkpoint.pkl"
    optimizer = outer_optimizer(config)
    if config.modality == "shape":
        data = ShapeData(data_dir, config, workdir)
    else:
        data = (SpeechData if config.modality == "audio" else ImageData)(data_dir, config)
    if checkpoint.exists():
        state = pickle.loads(checkpoint.read_bytes())
    else:
        params = init_state(config)
        state = {"params": params, "opt_state": optimizer.init(params), "step": 0, "seconds": 0.0,
                 "rng": np.random.default_rng(config.seed).bit_generator.state, "history": []}
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    step = make_step(config, optimizer, mesh)
    params, opt_state = place((state["params"], state["opt_state"]), mesh, PartitionSpec())
    started = run_started = time.perf_counter()
    with progress(config.steps, "meta-train", unit="step", quiet=quiet, initial=state["step"]) as bar:
        while state["step"] < config.steps:
            if config.seconds is not None:
                over = time.perf_counter() - run_started > config.seconds
                if jax.process_count() > 1:  # all stop at the same step: process 0's clock decides
                    over = bool(multihost_utils.broadcast_one_to_all(over))
                if over:
                    break
            groups, first_level = data.batch(rng, config)
            params, opt_state, loss = step(params, opt_state, place(groups, mesh, PartitionSpec("batch")),
                                           first_level)
            state["step"] += 1
            bar.update(1)
            if state["step"] % config.validate_every == 0 or state["step"] == config.steps:
                state["seconds"] += time.perf_counter() - started
                started = time.perf_counter()
                record = {"step": state["step"], "seconds": round(state["seconds"], 1), "loss": float(loss),
                          **validate(params, data, config)}
                state["history"].append(record)
                bar.write(json.dumps(record))
                state.update(params=jax.device_get(params), opt_state=jax.device_get(opt_state),
                             rng=rng.bit_generator.state)
                temporary = checkpoint.with_suffix(f".tmp{jax.process_index()}")
                temporary.write_bytes(pickle.dumps(state))
                temporary.replace(checkpoint)
    state["seconds"] += time.perf_counter() - started
    state["params"] = jax.device_get(params)
    return state
