"""Progress of long work: a live bar on a terminal, a few plain lines in a log, nothing when quiet.

    with progress(5000, "fit", unit="step", quiet=quiet) as bar:
        bar.update(25); bar.set_postfix(psnr="24.10")

On a terminal this is a tqdm bar. When stderr is not a terminal (a log file, a pipe, CI), carriage-
return redraws would pile up into one unreadable line, so the work instead writes one line every
LOG_SECONDS and one when it ends, each ending in a newline:

    fit: 1250/5000 steps (25%), 30 s, psnr=24.10
"""

import sys
import time

from tqdm.auto import tqdm

LOG_SECONDS = 30.0  # seconds between two lines in a log


class LogLines:
    """The part of tqdm's interface the codec uses, written as occasional lines to a log."""

    def __init__(self, total: int, desc: str, unit: str, initial: int = 0, file=None):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.file = file or sys.stderr
        self.postfix = ""
        self.started = self.last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.perf_counter() - self.last >= LOG_SECONDS:
            self._line()

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def write(self, message: str) -> None:
        print(message, file=self.file, flush=True)

    def close(self) -> None:
        self._line()

    def _line(self) -> None:
        self.last = time.perf_counter()
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        postfix = f", {self.postfix}" if self.postfix else ""
        self.write(f"{self.desc}: {self.n}/{self.total} {self.unit}s{share}, {self.last - self.started:.0f} s{postfix}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress(total: int, desc: str, *, unit: str, quiet: bool, initial: int = 0, leave: bool = True):
    """A progress bar (tqdm) on a terminal, LogLines elsewhere, a silent bar when `quiet`."""
    if quiet or sys.stderr.isatty():
        return tqdm(total=total, desc=desc, unit=unit, initial=initial, disable=quiet, leave=leave)
    return LogLines(total, desc, unit, initial)
