"""Determinism across processes: one file gives one image (or clip) wherever it is decoded.

(One image and one seed give one file: each method's tests check it, beside its fixture.)
"""

import hashlib
import subprocess
import sys
from pathlib import Path

import inrcodec
from inrcodec.modalities import decode_any

SEEDS = Path(__file__).parent / "fuzz_seeds"
DIGESTS = """
import hashlib, sys
from inrcodec.modalities import decode_any
for path in sys.argv[1:]:
    with open(path, "rb") as handle:
        print(hashlib.sha256(decode_any(handle.read()).tobytes()).hexdigest())
"""


def test_a_file_decodes_to_identical_bytes_in_separate_processes():
    paths = sorted(str(p) for p in SEEDS.glob("*.inr"))
    images = [p for p in paths if not Path(p).name.startswith(("audio-", "shape-"))]
    assert {inrcodec.read_header(Path(p).read_bytes()).method for p in images} == set(inrcodec.METHODS)
    assert any("audio-" in p for p in paths) and any("shape-" in p for p in paths)  # and audio and shapes
    there = subprocess.run([sys.executable, "-c", DIGESTS, *paths], capture_output=True, text=True, timeout=300,
                           check=True).stdout.split()  # a fresh process, against this one with its compiled history
    here = [hashlib.sha256(decode_any(Path(p).read_bytes()).tobytes()).hexdigest() for p in paths]
    assert there == here and len(here) == len(paths)
