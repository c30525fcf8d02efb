"""Execute the rate-distortion notebooks and save them with their outputs (what is committed).

    python notebooks/execute.py                 # all four
    python notebooks/execute.py kodak_rd        # one

Each notebook is read from its paired `.py` (the source of truth: edit that one, or sync an edited
`.ipynb` back first with `jupytext --sync`), run by nbclient with notebooks/ as the working folder,
and written to its `.ipynb` with outputs and plots embedded. The environment passes through:
INRCODEC_NOTEBOOK_SMALL=0 runs the larger sweeps; INRCODEC_FIGURES writes the figures elsewhere.
Needs `pip install -e '.[notebooks]'`.
"""

import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ["kodak_rd", "cifar10_rd", "audio_rd", "shapes_rd"]


def execute(name: str, timeout: int = 1800) -> None:
    """Run notebooks/<name>.py and write the executed notebooks/<name>.ipynb."""
    notebook = jupytext.read(HERE / f"{name}.py")
    NotebookClient(notebook, kernel_name="python3", timeout=timeout, record_timing=False,  # no timestamps to diff
                   resources={"metadata": {"path": str(HERE)}}).execute()
    jupytext.write(notebook, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    for name in sys.argv[1:] or NOTEBOOKS:
        start = time.perf_counter()
        execute(name)
        print(f"{name}: {time.perf_counter() - start:.0f} s")
