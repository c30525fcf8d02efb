"""Files: reading inputs and writing outputs atomically (a failure leaves no partial file), as the
command line, datasets and sweeps share them."""

import os
import tempfile

from .bitstream import is_container
from .errors import InrError

MAX_PROBE_BYTES = 1 << 26  # most bytes read to tell whether an unreadable image is an .inr file


def write_atomic(path: str, data) -> None:
    """Write `data` (bytes, or a function that writes to a binary file object) to `path` via a
    temporary file in the same folder, so no partial file remains, whatever fails."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".inrcodec-")
    except OSError as err:
        raise InrError(f"{path}: cannot write ({err.strerror})") from None
    umask = os.umask(0)
    os.umask(umask)
    try:
        with os.fdopen(handle, "wb") as out:
            data(out) if callable(data) else out.write(data)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(temporary, path)
    except OSError as err:
        os.unlink(temporary)
        raise InrError(f"{path}: cannot write ({err.strerror})") from None
    except BaseException:
        os.unlink(temporary)
        raise


def check_writable(path: str) -> None:
    """Fail early, before minutes of fitting, if `path` cannot be created (tried with a scratch file,
    which also catches read-only file systems and root's way past permission bits)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InrError(f"{path}: is a directory")
    if not os.path.isdir(folder):
        raise InrError(f"{path}: folder {folder} does not exist")
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".inrcodec-"):
            pass
    except OSError as err:
        raise InrError(f"{path}: folder {folder} is not writable ({err.strerror})") from None


def refuse_inr_input(path: str) -> None:
    """Raise a pointer to `decode` if the unreadable image at `path` is in fact an .inr file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PROBE_BYTES)
    except OSError:
        return  # the image reader has named the problem
    if is_container(data):
        raise InrError(f"{path}: this is an inrcodec file, not an image; decode it with `inrcodec decode`")


def read_bytes(path: str) -> bytes:
    """The whole file at `path`, or InrError naming it."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InrError(f"{path}: no such file") from None
    except OSError as err:
        raise InrError(f"{path}: cannot read ({err.strerror})") from None
