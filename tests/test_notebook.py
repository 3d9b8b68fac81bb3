"""The notebook runs top to bottom (headless, quick settings) and is stored without outputs."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "teaching-a-car-to-steer.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "no code cells"
    for cell in code:
        assert cell.get("outputs") == [], f"cell {cell.get('id')} has stored outputs: clear them before committing"
        assert cell.get("execution_count") is None, f"cell {cell.get('id')} has an execution count"


def test_notebook_shows_the_loop_cell_by_cell():
    nb = json.loads(NOTEBOOK.read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    for line in (
        "optimizer.zero_grad()",
        "loss.backward()",
        "optimizer.step()",
        "model.eval()",
        "torch.inference_mode()",
        "show_drive(",
        "show_frame(env)",
    ):
        assert line in source, line


def test_the_experiment_cells_build_their_full_settings(tmp_path, monkeypatch):
    """The suite runs the notebook at quick settings; the full settings of its experiment cells must
    still build valid configs (they broke once when the configs were composed)."""
    from sims.experiments import batching, overfitting, road_change

    ran = []
    for module in (batching, overfitting, road_change):
        monkeypatch.setattr(module, "run_experiment", lambda out, config, backend, **kw: ran.append(config))
    nb = json.loads(NOTEBOOK.read_text())
    cells = [
        "".join(c["source"])
        for c in nb["cells"]
        if c["cell_type"] == "code" and ".run_experiment(" in "".join(c["source"])
    ]
    for source in cells:
        exec(source, {"QUICK": False, "OUT": tmp_path, "backend": None, "show_result": lambda *a: None})
    assert [type(c) for c in ran] == [
        batching.BatchingConfig,
        overfitting.OverfittingConfig,
        road_change.RoadChangeConfig,
    ]
    assert all(c != type(c).quick() for c in ran)


@pytest.mark.slow
def test_notebook_runs_headless_at_quick_settings(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("ROADSCHOOL_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the cell on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors
    html = [o["data"]["text/html"] for o in outputs if "data" in o and "text/html" in o["data"]]
    assert sum("data:image/gif;base64," in h for h in html) == 2  # the expert's drive and the learner's
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Epoch: 3 | Train Loss:" in text
    assert "completion" in text and "unseen" in text
    pngs = [o for o in outputs if "data" in o and "image/png" in o["data"]]
    assert len(pngs) >= 2 + 1 + 3  # two frames of the env, the loss plot, the three figures
    for figure in ("batching/batching.png", "overfitting/overfitting.png", "road-change/road_change.png"):
        assert (tmp_path / "runs" / "notebook" / figure).exists()
