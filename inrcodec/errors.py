"""The one exception type the codec raises for anything a user can cause."""

import os
from contextlib import contextmanager


class InrError(Exception):
    """Bad input, a corrupt or truncated file, an impossible budget: its message is one line for the user."""


@contextmanager
def reading(path: str | os.PathLike, what: str):
    """Turn the operating system's errors on reading `path`, and an empty file, into InrErrors that
    name it (`what`: what the file should hold, as in "cannot read image")."""
    try:
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            raise InrError(f"{path}: empty file")
        yield
    except FileNotFoundError:
        raise InrError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InrError(f"{path}: is a directory") from None
    except OSError as err:
        raise InrError(f"{path}: cannot read {what} ({err.strerror or err})") from None
