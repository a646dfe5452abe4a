"""Execute every notebook in notebooks/ at smoke size (AX_EXT_SMOKE=1), then export it
to HTML with nbconvert and check that its charts are in the HTML."""

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
PLOTLY_MIME = "application/vnd.plotly.v1+json"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_exports_its_charts(path, monkeypatch, tmp_path):
    monkeypatch.setenv("AX_EXT_SMOKE", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [
        out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    ]
    errors = [out for out in outputs if out.get("output_type") == "error"]
    assert not errors, errors
    charts = [out for out in outputs if PLOTLY_MIME in out.get("data", {})]
    assert charts, f"{path.name} shows no plotly chart"
    # every chart is also saved as HTML, which nbconvert and other viewers show
    assert all("text/html" in out["data"] for out in charts)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (tmp_path / f"{path.stem}.html").write_text(html)
    # plotly.js itself is embedded (offline), and one plot call per chart
    assert re.search(r"plotly\.js v\d+\.\d+\.\d+", html), "plotly.js is not embedded"
    assert html.count("Plotly.newPlot(") >= len(charts), (html.count("Plotly.newPlot("), charts)
    for out in charts:
        div = re.search(r'<div id="([0-9a-f-]{36})"', out["data"]["text/html"])
        assert div and div.group(1) in html


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ should hold at least one notebook"
    assert all(os.path.getsize(p) > 0 for p in NOTEBOOKS)
