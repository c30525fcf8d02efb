"""Decoding any .inr file by the kind of signal it holds."""

import numpy as np

from . import audio, bitstream, codec
from .errors import InrError


def decode_any(data: bytes) -> np.ndarray:
    """(H, W, C) uint8 pixels of an image file, or (samples, channels) float32 in [-1, 1] of an
    audio file at its encoded rate."""
    if isinstance(data, (bytes, bytearray, memoryview)) and bitstream.modality(bytes(data)) == bitstream.AUDIO:
        return audio.decode_audio(data)[0]
    return codec.decode(data)


def expected_output(data: bytes) -> tuple[tuple, type] | None:
    """(shape, dtype) `decode_any` must return for a file whose header is valid; None if it is not."""
    try:
        if bitstream.modality(data) == bitstream.AUDIO:
            header = audio.read_header(data)
            return (header.samples, header.channels), np.float32
        header = codec.read_header(data)
    except InrError:
        return None
    return (*header.extent, header.channels), np.uint8
