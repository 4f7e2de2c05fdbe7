"""The notebook of the 2016 study (notebooks/review-study.ipynb) runs, cell by cell, on the
EROFS store in a real Jupyter kernel, so it never rots; it writes every figure the docs embed,
and says clearly what is missing when no store is given."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "review-study.ipynb"
DOCS = ROOT / "docs" / "notebook"
PNG = b"\x89PNG\r\n\x1a\n"


def _run(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, cwd: Path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for name in ("PATCHLENS_STORE", "PATCHLENS_FIGURES", "PATCHLENS_PERIOD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the kernel inherits the environment
    client = NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def test_the_kernel_the_notebook_names_is_installed() -> None:
    kernel = nbformat.read(NOTEBOOK, as_version=4).metadata["kernelspec"]["name"]
    assert kernel in KernelSpecManager().find_kernel_specs()


def test_the_notebook_runs_and_draws_every_figure(erofs_store, tmp_path, monkeypatch) -> None:
    db, _engine, _ = erofs_store
    figures = tmp_path / "figures"
    nb = _run(
        {"PATCHLENS_STORE": str(db), "PATCHLENS_FIGURES": str(figures)}, monkeypatch, tmp_path
    )
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    drawn = sorted(p.name for p in figures.iterdir())
    # every figure the docs embed, drawn again (scripts/run-notebook writes them there)
    assert drawn == sorted(p.name for p in DOCS.glob("*.png")) and len(drawn) == 4
    for p in figures.iterdir():
        assert p.read_bytes().startswith(PNG) and p.stat().st_size > 10_000
    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "fully merged with a time to merge" in text
    docs = (ROOT / "docs" / "PYTHON_API.md").read_text(encoding="utf-8")
    for name in drawn:
        assert f"notebook/{name}" in docs


def test_without_a_store_it_says_what_to_set(tmp_path, monkeypatch) -> None:
    with pytest.raises(CellExecutionError, match="Set PATCHLENS_STORE"):
        _run({}, monkeypatch, tmp_path)
