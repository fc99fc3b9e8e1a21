"""The lesson notebooks: committed clean, shaped as lessons, and run top to bottom against the lab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ocilab.lab import LabInfo

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_notebooks_exist() -> None:
    assert NOTEBOOKS, "notebooks/ holds no lessons"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] for cell in code_cells)
    assert all(cell.execution_count is None for cell in code_cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_lesson_shape(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["language_info"]["name"] == "python"
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    tagged = [
        cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(tagged) == 1
    markdown = "\n".join(
        cell.source for cell in notebook.cells if cell.cell_type == "markdown"
    )
    assert "**What you will learn**" in first.source
    assert "## What you learned" in markdown
    assert "## Exercises" in markdown
    assert "## Cleanup" in markdown
    assert "reveal_solutions = False" in tagged[0].source
    assert path.name[:3].rstrip("-").isdigit()


@pytest.mark.lab
def test_notebooks_run_against_lab(lab: LabInfo) -> None:
    output = Path(os.environ.get("OCILAB_ARTIFACTS", REPO / "artifacts")) / "notebooks"
    output.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocilab.cli",
            "notebooks",
            "run",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    for path in NOTEBOOKS:
        assert (output / path.name).exists()
    assert "0 failed" in result.stdout
