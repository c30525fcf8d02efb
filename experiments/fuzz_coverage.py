"""Coverage-guided fuzzing of the container and header parser with atheris (libFuzzer for Python).

Each input is a file *body*: it is packed with a valid CRC32 (so the fuzzer explores the parser,
not the checksum), then parsed; a header that parses is also decoded. Anything but the codec's
own InrError stops the run with the input saved by libFuzzer (crash-*). Start from the bodies of
the seed corpus:

    pip install atheris
    python experiments/fuzz_coverage.py --init runs/fuzz-corpus      # copy the seeds' bodies there
    python experiments/fuzz_coverage.py runs/fuzz-corpus -max_total_time=600 -rss_limit_mb=4096

libFuzzer's options pass through; it prints coverage (cov, ft) and executions as it goes.
"""

import os
import sys
import warnings
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["inrcodec"]):  # coverage of the codec only, not of jax
    from inrcodec import bitstream
    from inrcodec.modalities import image as codec
    from inrcodec.errors import InrError

SEEDS = Path(__file__).resolve().parents[1] / "tests" / "fuzz_seeds"


def one_input(body: bytes) -> None:
    data = bitstream.pack(body)
    try:
        codec.read_header(data)
        codec.decode(data)
    except InrError:
        pass


def init(folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    for seed in sorted(SEEDS.glob("*.inr")):
        Path(folder, seed.stem).write_bytes(seed.read_bytes()[len(bitstream.MAGIC) + 1:-4])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--init"]:
        init(sys.argv[2])
    else:
        warnings.simplefilter("error", RuntimeWarning)  # NaN casts and overflows are faults
        atheris.Setup(sys.argv, one_input)
        atheris.Fuzz()
