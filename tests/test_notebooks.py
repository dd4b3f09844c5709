"""Executes the notebooks on tiny settings so they cannot rot, and checks that their plots show."""

import pathlib
import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# A cell that draws: matplotlib's pyplot, or a jaxlstm .plot(...) such as Forecast.plot.
PLOTTING = re.compile(r"\bplt\.|\.plot\(|subplots\(")


def plotting_cells_without_an_image(nb):
    """Indices of code cells that draw a chart but whose outputs hold no image."""
    missing = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not PLOTTING.search(cell.source):
            continue
        if not any("image/png" in output.get("data", {}) for output in cell.get("outputs", [])):
            missing.append(index)
    return missing


def test_the_image_check_sees_a_plot_without_an_image():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("fc.plot()"), nbformat.v4.new_code_cell("x = 1")]
    assert plotting_cells_without_an_image(nb) == [0]
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"})]
    assert plotting_cells_without_an_image(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_show_their_plots(path):
    nb = nbformat.read(path, as_version=4)
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code"), "commit it executed"
    assert plotting_cells_without_an_image(nb) == []
    assert "matplotlib.use(" not in path.read_text(encoding="utf-8"), "a non-interactive backend shows no plots"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_shows_its_plots(path, monkeypatch, tmp_path):
    monkeypatch.setenv("JAXLSTM_QUICK", "1")
    monkeypatch.setenv("JAXLSTM_COMPILATION_CACHE", "0")
    # The kernel must pick Jupyter's inline backend, as it does for a user.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert plotting_cells_without_an_image(nb) == []
