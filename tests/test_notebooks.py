"""The rate-distortion notebooks in notebooks/: each runs from end to end (its small sweep on the
samples in data/) and draws its figure, and each committed .ipynb holds the cells of its paired .py,
executed."""

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
pytest.importorskip("pandas")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["kodak_rd", "cifar10_rd", "audio_rd", "shapes_rd"]
CELL_SECONDS = 300


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_and_draws_its_figure(name, tmp_path):
    # the kernel inherits the session's compilation cache (conftest), and the small image and audio sweeps
    # code the shapes test_pyramid and test_audio code, in as many steps: their fits are compiled already
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    environment = {**os.environ, "INRCODEC_NOTEBOOK_SMALL": "1", "INRCODEC_FIGURES": str(tmp_path)}
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=CELL_SECONDS,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute(env=environment)  # raises CellExecutionError on a failing cell

    assert (tmp_path / f"{name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_the_executed_pair_of_its_py(name):
    paired = jupytext.read(NOTEBOOKS / f"{name}.py")
    committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)

    assert [(cell.cell_type, cell.source) for cell in committed.cells] == \
        [(cell.cell_type, cell.source) for cell in paired.cells]
    code = [cell for cell in committed.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))  # run once, in order
    assert not [output for cell in code for output in cell.outputs  # clean: no errors, no warnings
                if output.output_type == "error" or output.get("name") == "stderr"]
    assert any("image/png" in output.get("data", {}) for cell in code for output in cell.outputs)
    assert (NOTEBOOKS / "figures" / f"{name}.png").stat().st_size < 100_000
