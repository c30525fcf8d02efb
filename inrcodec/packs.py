"""Packs: many signals of one kind and size in one file (`.inrs`) under one header.

A pack is one container of `bitstream` whose body is

    PACK (3) | the modality's head (modality, method, shape fields) | count | length of every
    signal's body but the last (varints) | the bodies

each body exactly a method's body (`methods.<m>.encode`), read as that of a file of its own
(`read_layout` with n_bytes = its length + OVERHEAD, as audio chunks are). Under a cap of `share`
bytes a signal, the whole pack is at most count * share bytes: each signal's body gets what its
share leaves after its length and its part of the pack's header and container (`signal_cap`).
A method that codes many signals in one body (`hyper`: `encode_pack`, `read_pack`) writes that one
body after the count, with no lengths; it gets the count * share bytes less the header (`joint_cap`).
The modality (images: `modalities.image.encode_pack`, `decode_pack`) gives the head and parses it.
"""

import math
from dataclasses import dataclass

from . import bitstream, methods
from .bitstream import OVERHEAD, PACK
from .errors import InrError
from .methods import Geometry

SUFFIX = ".inrs"  # a dataset encoded to a path ending so is one pack (`datasets.encode_dataset`)


@dataclass(frozen=True)
class Pack:
    """What a pack says about itself: the shared head, and each signal's body and validated layout."""
    method: str  # coding method of every signal
    geometry: Geometry  # every signal's
    bodies: list  # each signal's method body (bytes), in order; one body of all, for a joint method
    layouts: list  # each body's layout as `methods.<m>.read_layout` gives it, payload included

    @property
    def count(self) -> int:
        return len(self.layouts)

    @property
    def extent(self) -> tuple[int, ...]:
        return self.geometry.extent

    @property
    def channels(self) -> int:
        return self.geometry.channels


def kind(data: bytes) -> tuple[int, bool]:
    """(modality code of a whole file's signals, whether it is a pack), its container checked."""
    reader = bitstream.unpack(bytes(data))
    code = reader.varint(255, "modality")
    return (reader.varint(255, "modality"), True) if code == PACK else (code, False)


def is_pack(data) -> bool:
    """Whether `data` is a whole, intact pack (False for anything else, never an error)."""
    try:
        return isinstance(data, (bytes, bytearray, memoryview)) and kind(data)[1]
    except InrError:
        return False


def _varint_bytes(value: int) -> int:
    return len(bitstream.varints(value))


def signal_cap(share: int, head: bytes, count: int) -> int:
    """Most bytes of each signal's body in a pack of `count` signals of `share` bytes each under the
    modality's `head`: what a share leaves after the signal's length varint and its part (rounded up)
    of the container, PACK, the head and the count; InrError if nothing is left."""
    if count < 1:
        raise InrError("a pack holds at least one signal")
    fixed = OVERHEAD + len(bitstream.varints(PACK, count)) + len(head)
    spare = share - math.ceil(fixed / count)
    cap = spare - 1
    while cap > 0 and cap + _varint_bytes(cap) > spare:
        cap -= 1
    if cap < 1:
        raise InrError(f"{share} bytes a signal are too few for a pack of {count} (its header takes {fixed} bytes)")
    return cap


def joint_cap(share: int, head: bytes, count: int) -> int:
    """Most bytes of the one body of a pack of `count` signals of `share` bytes each coded together."""
    cap = count * share - OVERHEAD - len(bitstream.varints(PACK, count)) - len(head)
    if cap < 1:
        raise InrError(f"{share} bytes a signal are too few for a pack of {count}")
    return cap


def write(head: bytes, bodies: list[bytes], count: int | None = None) -> bytes:
    """The file of a pack of `bodies` (at least one) under the modality's `head`; `count` signals in
    one body of a joint method."""
    writer = bitstream.Writer()
    writer.varint(PACK)
    writer.raw(head)
    writer.varint(count or len(bodies))
    for body in bodies[:-1]:
        writer.varint(len(body))
    return bitstream.pack(bytes(writer.buffer) + b"".join(bodies))


def parse(reader: bitstream.Reader, n_bytes: int, parse_head) -> Pack:
    """The pack in the body of an unpacked file of `n_bytes` bytes whose first field (PACK) has been
    read; `parse_head(reader, modality code)` reads and checks the modality's head, returning (method,
    geometry). Every body's layout is validated, and its fields join the reader's list (for the fuzzer)."""
    method, geometry = parse_head(reader, reader.varint(255, "modality"))
    count = reader.varint(n_bytes, "signals")
    if count < 1:
        raise InrError("corrupt file: a pack of no signals")
    module = methods.get(method, geometry.modality)
    if hasattr(module, "read_pack"):  # one body of all the signals
        body, layouts = _read_body(reader, lambda body, inner: module.read_pack(inner, geometry, count, n_bytes))
        return Pack(method, geometry, [body], layouts)
    lengths = [reader.varint(n_bytes, "signal length") for _ in range(count - 1)]
    bodies, layouts = [], []
    for index in range(count):
        body, layout = _read_body(reader, lambda body, inner: module.read_layout(inner, geometry, len(body) + OVERHEAD),
                                  lengths[index] if index < count - 1 else None)  # the limits of a file of its own
        bodies.append(body)
        layouts.append(layout)
    return Pack(method, geometry, bodies, layouts)


def _read_body(reader: bitstream.Reader, read, length: int | None = None) -> tuple[bytes, object]:
    """(body, read(body, its reader)) of the next `length` bytes (None: the rest) of `reader`, the
    body's own fields standing for it in the reader's list."""
    start = reader.position
    body = reader.rest() if length is None else reader.raw(length)
    reader.fields.pop()
    inner = bitstream.Reader(body)
    found = read(body, inner)
    reader.fields.extend((start + first, start + last, field) for first, last, field in inner.fields)
    return body, found
