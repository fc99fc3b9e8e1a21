"""Workshop mode: every lesson's worked solutions pass its own checks when run in the notebook."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import nbformat
import pytest

from ocilab.exercises import Solution
from ocilab.lab import LabInfo
from ocilab.notebooks import run_notebook

from .conftest import REPO

LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
CHECK_CALL = re.compile(r"\blesson(\d\d)\.(check_\w+)\(")


def _lesson_module(path: Path):
    return importlib.import_module(f"ocilab.exercises.lesson{path.name[:2]}")


def _check_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and CHECK_CALL.search(cell.source)
    ]


def _solved(path: Path) -> nbformat.NotebookNode:
    """The lesson with each `answer_N = None` line replaced by solution N's code."""
    notebook = nbformat.read(path, as_version=4)
    solutions: dict[int, Solution] = _lesson_module(path).SOLUTIONS
    for number, solution in solutions.items():
        pattern = re.compile(rf"^{solution.answer} = None\b.*$", re.MULTILINE)
        cells = [cell for cell in _check_cells(notebook) if pattern.search(cell.source)]
        assert len(cells) == 1, f"{path.name}: no single cell sets {solution.answer}"
        cells[0].source = pattern.sub(
            lambda _match, code=solution.code: code.rstrip("\n"), cells[0].source
        )
        assert solution.exercise == number
    return notebook


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_every_check_has_a_solution(path: Path) -> None:
    module = _lesson_module(path)
    notebook = nbformat.read(path, as_version=4)
    answers = {
        match.group(1)
        for cell in _check_cells(notebook)
        for match in re.finditer(r"^(answer_\d+) = None\b", cell.source, re.MULTILINE)
    }
    assert answers, f"{path.name} has no exercise with an answer variable"
    assert {solution.answer for solution in module.SOLUTIONS.values()} == answers
    for number in module.SOLUTIONS:
        assert module.solution(number).exercise == number


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_solutions_hidden_by_default(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for solution in _lesson_module(path).SOLUTIONS.values():
        code_lines = [line for line in solution.code.splitlines() if "=" in line]
        # The lesson itself never contains the line of a solution that sets the answer.
        answer_line = next(
            line for line in code_lines if line.startswith(f"{solution.answer} =")
        )
        assert all(answer_line not in cell.source for cell in notebook.cells)


def test_solution_html_is_collapsed() -> None:
    from ocilab.exercises import lesson04

    html = lesson04.solution(1)._repr_html_()
    assert html.startswith("<details>")
    assert "click to reveal" in html
    assert "gzip.decompress" in html


def test_solution_unknown_exercise() -> None:
    from ocilab.exercises import lesson04

    with pytest.raises(ValueError, match="exercises with one: 1, 2"):
        lesson04.solution(3)


@pytest.mark.lab
@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_solved_lesson_passes_checks(path: Path, lab: LabInfo, tmp_path: Path) -> None:
    solved = tmp_path / "in" / path.name
    solved.parent.mkdir()
    nbformat.write(_solved(path), solved)
    result = run_notebook(
        solved,
        tmp_path / "out",
        parameters={"reveal_solutions": True},
        cell_timeout=600,
    )
    assert result.ok, f"{result.error} (cell In [{result.failed_cell}])"
    executed = nbformat.read(result.output_path, as_version=4)
    verdicts = [
        "".join(
            str(output.get("data", {}).get("text/plain", "")) + output.get("text", "")
            for output in cell.outputs
        )
        for cell in _check_cells(executed)
    ]
    assert verdicts
    for verdict in verdicts:
        assert ": correct." in verdict, verdict
    revealed = [cell for cell in executed.cells if cell.get("id") == "solutions"]
    assert len(revealed) == 1
    shown = "".join(
        output.get("data", {}).get("text/html", "") for output in revealed[0].outputs
    )
    assert shown.count("worked solution") == len(_lesson_module(path).SOLUTIONS)
