"""The kinds of signal, one record each, and the one place a file, a path or a rate unit is told
to be of one: images (`image`), audio clips (`audio`) and 3-D shapes (`shape`).

A record says what the command line, datasets, sweeps and the fuzzer need; its module (imported on
first use) holds the rest: reading, the file head, the rate unit turned into a byte budget, encoding,
decoding and writing. Every module offers

    read(path) -> signal            encode_signal(signal, cap, method, config) -> bytes
    decode_signal(data) -> signal   write_signal(path, signal) -> bytes of the file at `path`
    read_header(data) -> Header     (Header.method; `info` prints `describe(header)`)

with signals as `datasets.Item.load` gives them.
"""

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import bitstream, packs, sdf
from ..errors import InrError


@dataclass(frozen=True)
class Modality:
    name: str  # "image", "audio" or "shape"
    code: int  # its code, the first field of a file's body
    unit: str  # the unit of its caps: "bpp", "kbps" or "bytes"
    suffixes: frozenset  # files read as this kind of signal
    decoded_suffix: str  # the file a decoded signal is written to by default

    @property
    def module(self):
        """The module holding this modality's reading, coding and writing."""
        return importlib.import_module(f"{__name__}.{self.name}")


IMAGE = Modality("image", bitstream.IMAGE, "bpp",
                 frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".webp"}), ".png")
AUDIO = Modality("audio", bitstream.AUDIO, "kbps", frozenset({".wav", ".flac", ".ogg"}), ".wav")
SHAPE = Modality("shape", bitstream.SHAPE, "bytes", frozenset(sdf.SUFFIXES), ".ply")
MODALITIES = {m.name: m for m in (IMAGE, AUDIO, SHAPE)}  # name -> record
FIELD_RESOLUTION = 64  # samples along the longest side of the lattice `decode_any` renders a shape's SDF on


def get(name: str) -> Modality:
    """The record of modality `name`, or InrError."""
    if name not in MODALITIES:
        raise InrError(f"unknown modality {name!r}; choose from {', '.join(MODALITIES)}")
    return MODALITIES[name]


def of_unit(unit: str) -> Modality:
    """The modality whose caps are in `unit`."""
    return next(m for m in MODALITIES.values() if m.unit == unit)


def of_path(path: str | os.PathLike) -> Modality | None:
    """The modality a file's suffix says (None: no known suffix)."""
    suffix = Path(path).suffix.lower()
    return next((m for m in MODALITIES.values() if suffix in m.suffixes), None)


def of_file(data: bytes) -> Modality:
    """The modality of a whole .inr file (of a pack's signals), its container checked; InrError for
    one this version lacks."""
    code, pack = packs.kind(data)
    found = next((m for m in MODALITIES.values() if m.code == code), None)
    if found is None:
        raise InrError(f"this file holds modality {code}, which this version cannot decode")
    if pack and found is not IMAGE:
        raise InrError(f"this file is a pack of {found.name} signals, which this version cannot decode")
    return found


def decode_any(data: bytes) -> np.ndarray:
    """(H, W, C) uint8 pixels of an image file ((N, H, W, C) of a pack of N), (samples, channels)
    float32 in [-1, 1] of an audio file at its encoded rate, or (nx, ny, nz) float32 of a shape
    file's SDF on a lattice of FIELD_RESOLUTION samples along its longest side."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InrError(f"expected the bytes of an .inr file, got {type(data).__name__}")
    kind = of_file(data)
    if kind is AUDIO:
        return kind.module.decode_audio(data)[0]
    if kind is SHAPE:
        return kind.module.decode_field(data, FIELD_RESOLUTION)[0]
    return kind.module.decode_pack(data) if packs.is_pack(data) else kind.module.decode(data)


def expected_output(data: bytes) -> tuple[tuple, type, float | None] | None:
    """(shape, dtype, largest magnitude or None) `decode_any` must return for a file whose header is
    valid; None if it is not."""
    try:
        kind = of_file(data)
        header = kind.module.read_header(data)
    except InrError:
        return None
    if kind is AUDIO:
        return (header.samples, header.channels), np.float32, 1.0
    if kind is SHAPE:
        from ..sdf import field_extent

        return field_extent(header.lattice, FIELD_RESOLUTION), np.float32, None
    count = (header.count,) if isinstance(header, packs.Pack) else ()
    return (*count, *header.extent, header.channels), np.uint8, None
