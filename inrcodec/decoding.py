"""Decoding any .inr file by the kind of signal it holds."""

import numpy as np

from . import audio, bitstream, codec, shapes
from .errors import InrError

FIELD_RESOLUTION = 64  # samples along the longest side of the lattice `decode_any` renders a shape's SDF on


def decode_any(data: bytes) -> np.ndarray:
    """(H, W, C) uint8 pixels of an image file, (samples, channels) float32 in [-1, 1] of an audio
    file at its encoded rate, or (nx, ny, nz) float32 of a shape file's SDF on a lattice of
    FIELD_RESOLUTION samples along its longest side."""
    kind = bitstream.modality(bytes(data)) if isinstance(data, (bytes, bytearray, memoryview)) else None
    if kind == bitstream.AUDIO:
        return audio.decode_audio(data)[0]
    if kind == bitstream.SHAPE:
        return shapes.decode_field(data, FIELD_RESOLUTION)[0]
    return codec.decode(data)


def expected_output(data: bytes) -> tuple[tuple, type, float | None] | None:
    """(shape, dtype, largest magnitude or None) `decode_any` must return for a file whose header is
    valid; None if it is not."""
    try:
        kind = bitstream.modality(data)
        if kind == bitstream.AUDIO:
            header = audio.read_header(data)
            return (header.samples, header.channels), np.float32, 1.0
        if kind == bitstream.SHAPE:
            return shapes.field_extent(shapes.read_header(data).lattice, FIELD_RESOLUTION), np.float32, None
        header = codec.read_header(data)
    except InrError:
        return None
    return (*header.extent, header.channels), np.uint8, None
