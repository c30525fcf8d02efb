"""The `hyper` method: small images as integer latent grids on a shared, meta-learned network base.

A file carries an image's modulations only: integer latent grids y (1/4 of the image, m channels)
and z (1/8, mz channels), entropy-coded under the base's context model; the synthesis, the context
model, the rate levels' gains and the encoder's inner learning rates are shared and shipped
(`hyperbase`, trained by `experiments/cifar_network/train.py` on `networks.hyperprior`).

A file's body is one ANS stream holding the rate level, the latents and the base's identity
(`HyperBase.stream`); a pack's body is one such stream for all its images (`encode_pack`,
`read_pack`): no image pays for a flush of the coder, a length or a padding of its own.

Encoding a batch of same-size images: each image's rate level is the highest whose estimated bytes
fit the cap, searched on the learned start (one cheap pass a probe); at that level the encoder runs
the meta-learned refinement and keeps each image's best iterate by its rounded rate-distortion
cost; an image whose real bytes exceed its cap is coded again a level lower, and one that fits
tries levels above (`climb`, `climbs`: a step that misses is halved). Images are
padded to multiples of 8 by repeating their edges; a grayscale image is coded as RGB.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

from .. import hyperbase
from ..bitstream import MAX_MACS_PER_BYTE
from ..errors import InrError
from ..progress import progress
from . import HYPER_MAX_PIXELS as MAX_PIXELS  # largest image coded or decoded (synthesis: ~10k MACs a pixel)
from . import Budget, Geometry


@dataclass(frozen=True)
class HyperConfig:
    refine: bool = True  # run the meta-learned refinement after the learned start
    batch: int = 100  # images fitted together (one compiled program per batch size)
    margin: int = 4  # bytes the level search keeps free for the coder's flush
    climb: int = 4  # first step (in 1/8 levels) of the search above a coded image's level
    climbs: int = 4  # rounds of that search (the refinement's rate is below the start's the level came from)
    pooled: int = 2  # rounds of a pack's spare bytes going to the images a level up costs least


DEFAULTS = {"image": HyperConfig()}


@dataclass(frozen=True)
class Layout:
    """One image of a `hyper` file or pack, entropy-decoded (its base's identity checked)."""
    index: int  # rate level index (`HyperBase.level`)
    z: np.ndarray  # (1, h, w, mz) integer latents
    y: np.ndarray  # (1, 2h, 2w, m) integer latents


MACS_PER_PIXEL = 13_000  # of decoding: the synthesis and the context model


def _check(geometry: Geometry, count: int, n_bytes: int) -> None:
    """Refuse what `hyper` does not code, and files declaring more decoding work than their size allows."""
    if geometry.modality != "image":
        raise InrError(f"`hyper` codes images, not {geometry.modality} signals")
    if math.prod(geometry.extent) > MAX_PIXELS or geometry.channels not in (1, 3):
        raise InrError(f"`hyper` codes images of 1 or 3 channels up to {MAX_PIXELS} pixels, not "
                       f"{geometry.channels} x {geometry.extent}")
    if count * math.prod(geometry.extent) * MACS_PER_PIXEL > n_bytes * MAX_MACS_PER_BYTE:
        raise InrError(f"corrupt file: {count} images of {geometry.extent} pixels in {n_bytes} bytes")


def read_layout(reader, geometry: Geometry, n_bytes: int) -> Layout:
    """The one image of a file's body, decoded."""
    return read_pack(reader, geometry, 1, n_bytes)[0]


def read_pack(reader, geometry: Geometry, count: int, n_bytes: int) -> list[Layout]:
    """The `count` images of a pack's one body (`packs`), decoded."""
    _check(geometry, count, n_bytes)
    images = hyperbase.load().decode_stream(reader.rest(), geometry.extent, count)
    return [Layout(index, z, y) for index, z, y in images]


def pixels(layout: Layout, geometry: Geometry) -> np.ndarray:
    """(H, W, 3) float32 pixels in [0, 1] (unclipped) of a decoded image."""
    base = hyperbase.load()
    means, _ = base.context(layout.z, layout.index)
    height, width = geometry.extent
    return base.synthesis(layout.y, means, layout.index)[0, :height, :width]


def render(layout: Layout, geometry: Geometry, scales: tuple[float, float], box) -> np.ndarray:
    """Centred values (height, width, C) over `box` = ((top, left), (height, width)) in output pixels
    at `scales`; other scales than 1 resample the decoded image (bicubic)."""
    values = pixels(layout, geometry) - 0.5
    if geometry.channels == 1:
        values = values.mean(axis=-1, keepdims=True)
    height, width = geometry.extent
    size = (round(width * scales[1]), round(height * scales[0]))
    if size != (width, height):
        from PIL import Image

        values = np.stack([np.asarray(Image.fromarray(values[..., c]).resize(size, Image.BICUBIC))
                           for c in range(values.shape[-1])], axis=-1)
    (top, left), (rows, columns) = box
    return np.ascontiguousarray(values[top:top + rows, left:left + columns], np.float32)


def encode(values: np.ndarray, geometry: Geometry, budget: Budget, config: HyperConfig, quiet: bool,
           stats: dict | None) -> bytes:
    """The body of one image's centred values (H, W, C) within `budget`."""
    return encode_batch(values[None], geometry, budget, config, quiet, stats)[0]


def encode_batch(values: np.ndarray, geometry: Geometry, budget: Budget, config: HyperConfig, quiet: bool,
                 stats: dict | None) -> list[bytes]:
    """Bodies of (B, H, W, C) centred images of one size, each a file of its own within `budget`."""
    base = hyperbase.load()
    cap = budget.cap - len(budget.file(b""))
    _check_smallest(geometry, cap, budget.cap - cap)
    images = _fit(values, lambda images: [len(base.stream([image])) for image in images], cap, config, quiet, stats)
    return [base.stream([image]) for image in images]


def encode_pack(values: np.ndarray, geometry: Geometry, cap: int, config: HyperConfig, quiet: bool,
                stats: dict | None) -> bytes:
    """The one body of a pack of (N, H, W, C) centred images of one size, at most `cap` bytes: each image
    fitted to its share of them by its estimated bits (a stream's cost is the sum of its images'
    information, plus one flush), then levels lowered, the largest images' first, until it fits."""
    from . import hyper_fit  # the encoder's side imports JAX

    base = hyperbase.load()
    share = (cap - config.margin) / len(values)
    _check_smallest(geometry, math.floor(share), cap - math.floor(share))
    images = _fit(values, lambda images: base.information(images), share, config, quiet, stats)
    with progress(config.pooled * len(values), "hyper: spare bytes", unit="image", quiet=quiet) as bar:
        for _ in range(config.pooled):  # the pack's spare bytes to the images a level up costs least
            sizes = base.information(images)
            indices = np.array([image[3] for image in images])
            higher = hyper_fit.images_at(values, base, np.minimum(indices + 1, base.levels - 1), config)
            extra = base.information(higher) - sizes
            spare = cap - config.margin - sizes.sum()
            for i in np.argsort(extra):
                if higher[i][3] > indices[i] and extra[i] <= spare:
                    images[i], spare = higher[i], spare - extra[i]
            bar.update(len(values))
    while len(stream := base.stream(images)) > cap:  # the estimates missed: the largest image a level lower
        largest = int(np.argmax(base.information(images)))
        index = images[largest][3]
        if index == 0:
            raise InrError(f"budget of {cap} bytes is too small for {len(values)} `hyper` images")
        images[largest] = hyper_fit.images_at(values[largest:largest + 1], base, np.array([index - 1]), config)[0]
    return stream


@functools.lru_cache(maxsize=16)
def smallest_body(extent: tuple[int, int]) -> int:
    """Bytes of the smallest body of an image of `extent` (H, W): all-zero latents at the lowest level."""
    base = hyperbase.load()
    y_shape, z_shape = base.grids(extent)
    z = np.zeros(z_shape, np.int64)
    _, y_indices = base.context(z, 0)
    return len(base.stream([(z[0], np.zeros(y_shape[1:], np.int64), y_indices[0], 0)]))


def _check_smallest(geometry: Geometry, cap: int, overhead: int) -> None:
    """Refuse a cap of `cap` bytes for an image's stream (`overhead` more for the rest of its file) that
    the smallest body would exceed."""
    smallest = smallest_body(geometry.extent)
    if smallest > cap:
        raise InrError(f"budget of {cap + overhead} bytes is too small: the smallest `hyper` file of a "
                       f"{geometry.extent[1]}x{geometry.extent[0]} image takes {smallest + overhead}")


def _fit(values: np.ndarray, sizes, cap: float, config: HyperConfig, quiet: bool, stats: dict | None) -> list:
    """Each image's (z, y, y's scale indices, level index), fitted `config.batch` at a time so that
    `sizes(images)` (bytes each) stays within `cap`."""
    from . import hyper_fit

    images = []
    with progress(len(values), "hyper", unit="image", quiet=quiet) as bar:
        for start in range(0, len(values), config.batch):
            chunk = values[start:start + config.batch]
            images += hyper_fit.fit_chunk(chunk, sizes, cap, config, stats)
            bar.update(len(chunk))
    return images
