"""The coding methods: one module each, and this registry, the one place a method's name is looked up.

A method turns a signal's values into the body of a file and back. Its module holds:

    Config                     its configuration (a frozen dataclass); DEFAULTS: modality -> Config
    encode(values, geometry, budget, config, quiet, stats) -> bytes   the method's body
    read_layout(reader, geometry, n_bytes) -> layout                  validated, up to the payload
    render(layout, geometry, scales, box) -> (*sizes, C) float32     centred values at any scale

Methods that fit many same-size signals at once (`meta`, `hyper`) also offer `encode_batch`. `regions` is
`pyramid` over independently decodable regions, for camera-size images; `network` is `pyramid`'s grids
under a shipped context network (`context_net`), the default for other photos.

`values` are (*extent, C) float32 centred values (0 is mid-range), as the modality maps them (`regions`
takes an image's uint8 pixels and converts a region at a time);
`box` is (starts, sizes) in output samples per axis. The shapes' `pyramid` is the SDF lattice coder
(`methods.lattice`), which searches its own lattice and so takes the mesh, not values.

Modules are imported when first asked for, so that decoding a `pyramid` file, or asking for
`--help`, imports no JAX.
"""

import importlib
from dataclasses import dataclass

from .. import bitstream

# method name -> its code in a file
CODES = {"coin": 0, "sparse": 1, "meta": 2, "pyramid": 3, "hyper": 4, "regions": 5, "network": 6}
NAMES = {code: name for name, code in CODES.items()}  # code in a file -> method name
DEFAULT = "pyramid"  # the default for audio and shapes
IMAGE_DEFAULT = "network"  # the default for images but small and camera-size ones (`modalities.image.default_method`)
HYPER_MAX_PIXELS = 1 << 18  # `hyper` codes images of up to 512 x 512 pixels (`methods.hyper.MAX_PIXELS`)
HYPER_CROSSOVER_BYTES = 2048  # `hyper` is the default for an image whose cap is at most this (measured: README)
REGIONS_MIN_PIXELS = 1 << 22  # `regions` is the default for an image of more pixels than this (4.2 MP)
MODULES = {name: name for name in CODES}  # name -> its module here
SHAPE_MODULES = {"pyramid": "lattice"}  # where a shape's method is another module than the name's


@dataclass(frozen=True)
class Geometry:
    """What a method needs to know of a signal besides its values."""
    extent: tuple[int, ...]  # samples per axis: (H, W) of an image, (N,) of a chunk of audio, a shape's lattice
    channels: int  # values per sample
    modality: str  # "image", "audio" or "shape": the method's defaults and its shipped base


@dataclass(frozen=True)
class Budget:
    """A hard cap on a whole file and the modality's fields before the method's body."""
    head: bytes  # the file's body up to the method's own fields (they count against the cap)
    cap: int  # most bytes of the whole file, container included

    def file(self, body: bytes) -> bytes:
        """The whole file of a method's body: what the cap applies to."""
        return bitstream.pack(self.head + body)

    def body(self, file: bytes) -> bytes:
        """The method's body of a whole file made by `file`."""
        return file[len(bitstream.MAGIC) + 1 + len(self.head):-4]


def get(name: str, modality: str = "image"):
    """The module of method `name` for `modality` (imported on first use); KeyError if unknown."""
    module = (SHAPE_MODULES.get(name) if modality == "shape" else None) or MODULES[name]
    return importlib.import_module(f"{__name__}.{module}")


def of_file(code: int, modality: str) -> str:
    """The method a file of `modality` names by its `code`; InrError if this version has no such method
    or it does not code `modality` (a file's method field is untrusted)."""
    from ..errors import InrError

    name = NAMES.get(code)
    if name is None or modality not in get(name, modality).DEFAULTS:
        raise InrError(f"this {modality} file uses method code {code}, which this version cannot decode")
    return name


def of_config(config, modality: str) -> str | None:
    """The method whose configuration for `modality` is of `config`'s type, or None."""
    return next((name for name in CODES if modality in get(name, modality).DEFAULTS
                 and type(config) is type(get(name, modality).DEFAULTS[modality])), None)


def default_config(name: str, modality: str, effort: int):
    """Method `name`'s configuration for `modality`, its steps scaled for `effort` (1..9)."""
    from ..effort import apply_effort
    from ..errors import InrError

    defaults = get(name, modality).DEFAULTS
    if modality not in defaults:
        raise InrError(f"method {name!r} codes {' and '.join(defaults)} signals, not {modality} ones")
    return apply_effort(defaults[modality], effort)
