"""The .inr container: magic, format version, a body of varint-packed fields, and a CRC32.

    b"IN" | version (1 byte) | body | CRC32 of everything before it (4 bytes, little-endian)

The body is written and read field by field with `Writer` and `Reader`; every read is bounds-
checked, and every count read from a file is checked against a limit before it is used, so a
corrupt header is refused instead of allocating what it claims.
"""

import math
import struct
import zlib

from .errors import InrError

MAGIC = b"IN"
VERSION = 3  # 2: the `meta` layout carries its downscale factor; 3: an audio file says if it is weighted
READABLE = (2, 3)  # versions this inrcodec decodes
OVERHEAD = len(MAGIC) + 1 + 4  # bytes of every file outside the body
LOG_STEP_RESOLUTION = 256  # quantization steps are stored as round(256 * log2(step)) in an int16
IMAGE, AUDIO, SHAPE = 0, 1, 2  # modality codes: the first field of every body
PACK = 3  # the first field of a pack's body, its signals' modality code next (`packs`)
MAX_ABS_VALUE = float(1 << 16)  # largest magnitude of a dequantized value any file may declare
MAX_MACS_PER_BYTE = 1 << 22  # most multiply-adds of rendering at scale 1 a file may declare per byte of itself


class Writer:
    """Append fields to a growing body."""

    def __init__(self):
        self.buffer = bytearray()

    def varint(self, value: int) -> None:
        """Unsigned LEB128: 7 bits a byte, low bits first."""
        if value < 0:
            raise ValueError(f"varint cannot hold {value}")
        while True:
            byte, value = value & 0x7F, value >> 7
            self.buffer.append(byte | (0x80 if value else 0))
            if not value:
                return

    def signed(self, value: int) -> None:
        """A signed integer as the varint of its zigzag code (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...)."""
        self.varint(2 * value if value >= 0 else -2 * value - 1)

    def f16(self, value: float) -> float:
        """Store as IEEE half precision; returns the stored value, which both sides must use."""
        packed = struct.pack("<e", value)
        self.buffer += packed
        return struct.unpack("<e", packed)[0]

    def log_step(self, step: float) -> float:
        """Store a positive quantization step on a log grid; returns the stored step."""
        code = max(-32768, min(32767, round(LOG_STEP_RESOLUTION * math.log2(step))))
        self.buffer += struct.pack("<h", code)
        return 2.0 ** (code / LOG_STEP_RESOLUTION)

    def raw(self, data: bytes) -> None:
        self.buffer += data


def varints(*values: int) -> bytes:
    """The fields of a file's head: each value as a varint, in order."""
    writer = Writer()
    for value in values:
        writer.varint(value)
    return bytes(writer.buffer)


class Reader:
    """Read fields from a body in the order they were written; any overrun is an InrError.

    `fields` lists (start, stop, kind) of every field read so far: where a file's structure lies,
    for tools such as the fuzzer.
    """

    def __init__(self, data: bytes, version: int = VERSION):
        self.data = memoryview(data)
        self.version = version  # format version of the file the data comes from
        self.position = 0
        self.fields: list[tuple[int, int, str]] = []

    def _take(self, n: int) -> memoryview:
        if n < 0 or self.position + n > len(self.data):
            raise InrError("corrupt file: a field runs past the end of the data")
        chunk = self.data[self.position:self.position + n]
        self.position += n
        return chunk

    def varint(self, limit: int, what: str) -> int:
        """Read an unsigned varint and refuse it if above `limit` (`what` names it in the error)."""
        start, value, shift = self.position, 0, 0
        while True:
            byte = self._take(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift > 63:
                raise InrError(f"corrupt file: {what} is not a valid number")
        self.fields.append((start, self.position, "varint"))
        if value > limit:
            raise InrError(f"corrupt file: {what} = {value} exceeds the limit {limit}")
        return value

    def signed(self, limit: int, what: str) -> int:
        """Read a `Writer.signed` integer and refuse it if its magnitude is above `limit`."""
        code = self.varint(2 * limit + 1, what)
        return code >> 1 if code % 2 == 0 else -(code >> 1) - 1

    def _field(self, n: int, kind: str) -> memoryview:
        chunk = self._take(n)
        self.fields.append((self.position - n, self.position, kind))
        return chunk

    def f16(self) -> float:
        return struct.unpack("<e", self._field(2, "f16"))[0]

    def log_step(self) -> float:
        return 2.0 ** (struct.unpack("<h", self._field(2, "step"))[0] / LOG_STEP_RESOLUTION)

    def raw(self, n: int) -> bytes:
        return bytes(self._field(n, "raw"))

    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self.data) - self.position

    def rest(self) -> bytes:
        return self.raw(self.remaining())


def pack(body: bytes) -> bytes:
    """Wrap a body into a complete file."""
    head = MAGIC + bytes([VERSION]) + body
    return head + struct.pack("<I", zlib.crc32(head))


def is_container(data: bytes) -> bool:
    """Whether `data` is a whole .inr file of any version: magic bytes and a matching CRC32."""
    return (len(data) >= OVERHEAD and data[:len(MAGIC)] == MAGIC
            and zlib.crc32(data[:-4]) == struct.unpack("<I", data[-4:])[0])


def unpack(data: bytes) -> Reader:
    """Check magic, version and CRC32 of a complete file; return a Reader over its body."""
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise InrError("not an inrcodec file (wrong magic bytes)")
    if len(data) < OVERHEAD:
        raise InrError("corrupt file: truncated")
    if data[len(MAGIC)] not in READABLE:
        raise InrError(f"unsupported format version {data[len(MAGIC)]} (this inrcodec reads versions "
                       f"{', '.join(map(str, READABLE))})")
    (crc,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != crc:
        raise InrError("corrupt or truncated file: checksum mismatch")
    return Reader(data[len(MAGIC) + 1:-4], data[len(MAGIC)])


def modality(data: bytes) -> int:
    """The modality code of a whole file (IMAGE, AUDIO, SHAPE, or a later one), its container checked."""
    return unpack(data).varint(255, "modality")
