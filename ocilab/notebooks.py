"""Execute the lesson notebooks with papermill and report one status per notebook.

This module backs ``ocilab notebooks run``. Each notebook runs in a fresh kernel
with its own folder as the working directory, and the executed copy, outputs
included, is written to an output folder under the same file name.

A kernel that dies mid-run ends that notebook with ``DeadKernelError`` instead
of a hang, because nbclient (0.11.0, used by papermill 2.7.0) checks once a
second that the kernel process is alive while it waits for a cell's reply.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.kernelspec import NoSuchKernel
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError
from papermill.execute import raise_for_execution_errors
from tqdm import tqdm

from ocilab._notebook_report import plain_text, write_html_report
from ocilab.errors import NotebookError

__all__ = [
    "NotebookResult",
    "default_notebook_dir",
    "find_notebooks",
    "format_results",
    "check_parameters",
    "main_run",
    "run_notebook",
    "run_notebooks",
]

logger = logging.getLogger(__name__)

# Errors raised before any cell runs (papermill 2.7.0, jupyter_client 8.10): a
# missing kernelspec or language (ValueError), an unknown kernel name
# (NoSuchKernel), or a kernel that did not start in time or died while starting
# (RuntimeError).
_STARTUP_ERRORS = (NoSuchKernel, RuntimeError, ValueError)


@dataclass(frozen=True)
class NotebookResult:
    """Outcome of one notebook run.

    ``output_path`` is None when papermill rejected the notebook before writing
    an executed copy. ``error`` is one line, the exception type and its message.
    ``failed_cell`` is the execution count ``In [N]`` of the cell that failed,
    or None when the kernel stopped before it reported that count.
    """

    name: str
    input_path: Path
    output_path: Path | None
    ok: bool
    seconds: float
    error: str | None = None
    failed_cell: int | None = None


def default_notebook_dir() -> Path:
    """Return the repository's ``notebooks/`` folder, beside the ``ocilab`` package.

    Raises:
        NotebookError: the folder does not exist, as in an installed package.
    """
    folder = Path(__file__).resolve().parent.parent / "notebooks"
    if not folder.is_dir():
        raise NotebookError(
            f"notebook folder not found: {folder}. Pass the folder that contains "
            "the lesson notebooks explicitly."
        )
    return folder


def find_notebooks(folder: Path) -> list[Path]:
    """Return the ``*.ipynb`` files directly in ``folder``, sorted by file name.

    Subfolders such as ``.ipynb_checkpoints`` and hidden files are skipped.

    Raises:
        NotebookError: ``folder`` is not an existing folder.
    """
    if not folder.is_dir():
        raise NotebookError(f"notebook folder not found: {folder}")
    notebooks = [
        path
        for path in folder.glob("*.ipynb")
        if path.is_file() and not path.name.startswith(".")
    ]
    return sorted(notebooks, key=lambda path: path.name)


def run_notebook(
    path: Path,
    output_dir: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = "python3",
    start_timeout: int = 60,
    cell_timeout: int = 600,
) -> NotebookResult:
    """Execute one notebook with papermill, writing the executed copy to ``output_dir``.

    The kernel runs with the notebook's folder as its working directory.
    ``parameters`` are injected after the cell tagged ``parameters``.
    ``kernel_name=None`` uses the kernel named in the notebook's metadata.
    ``start_timeout`` and ``cell_timeout`` are in seconds.

    A failing notebook does not raise. The result has ``ok=False``, and the
    executed copy, when papermill wrote one, marks the failing cell.

    Raises:
        NotebookError: the notebook does not exist, or ``output_dir`` is the
            notebook's own folder, so the run would overwrite the lesson.
    """
    input_path = Path(path).resolve()
    if not input_path.is_file():
        raise NotebookError(f"notebook not found: {input_path}")
    output_path = _prepare_output_path(input_path, Path(output_dir))
    logger.info("running notebook %s, output %s", input_path, output_path)

    options: dict[str, Any] = {
        "parameters": dict(parameters or {}),
        "kernel_name": kernel_name,
        "start_timeout": start_timeout,
        "execution_timeout": cell_timeout,
    }
    started = time.monotonic()
    error, failed_cell = _execute(input_path, output_path, options)
    seconds = time.monotonic() - started
    if error is not None:
        logger.warning(
            "notebook %s failed after %.1f s: %s", input_path.name, seconds, error
        )
    return NotebookResult(
        name=input_path.name,
        input_path=input_path,
        output_path=output_path if output_path.exists() else None,
        ok=error is None,
        seconds=seconds,
        error=error,
        failed_cell=failed_cell,
    )


def _prepare_output_path(input_path: Path, output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    output_path = output_dir.resolve() / input_path.name
    if output_path == input_path:
        raise NotebookError(
            f"output folder {output_dir} is the folder of {input_path.name}, so the "
            "run would overwrite the notebook. Choose another output folder."
        )
    # Remove a copy from an earlier run, so it is never reported as this run's output.
    output_path.unlink(missing_ok=True)
    return output_path


def _execute(
    input_path: Path, output_path: Path, options: dict[str, Any]
) -> tuple[str | None, int | None]:
    """Run papermill and return (error line, failed cell), both None on success."""
    try:
        papermill.execute_notebook(
            input_path,
            output_path,
            **options,
            log_output=False,
            progress_bar=False,
            cwd=input_path.parent,
        )
    except PapermillExecutionError as error:
        return _one_line(error.ename, error.evalue), error.exec_count
    except (DeadKernelError, CellTimeoutError) as error:
        failed_cell = _mark_stopped_cell(output_path, error)
        return _one_line(type(error).__name__, str(error)), failed_cell
    except _STARTUP_ERRORS as error:
        logger.debug("papermill rejected %s", input_path, exc_info=True)
        return _one_line(type(error).__name__, str(error)), None
    return None, None


def _one_line(name: str, message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return f"{name}: {lines[0]}" if lines else name


def _mark_stopped_cell(output_path: Path, error: BaseException) -> int | None:
    """Mark the cell that ``error`` stopped, as papermill marks a cell error.

    On a DeadKernelError or CellTimeoutError, papermill 2.7.0 writes the copy
    but leaves the running cell "completed" and adds no error marker. Returns
    the execution count of that cell, or None when it is unknown.
    """
    if not output_path.exists():
        return None
    notebook = nbformat.read(output_path, as_version=4)
    started = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        and cell.metadata.get("papermill", {}).get("start_time")
    ]
    if not started:
        return None

    stopped = notebook.cells[started[-1]]
    message = _one_line(type(error).__name__, str(error))
    stopped.outputs.append(
        nbformat.v4.new_output(
            "error", ename=type(error).__name__, evalue=message, traceback=[message]
        )
    )
    stopped.metadata.papermill.update(status="failed", exception=True)
    for cell in notebook.cells[started[-1] + 1 :]:
        if "papermill" in cell.metadata:
            cell.metadata.papermill["status"] = "pending"
    notebook.metadata.papermill["exception"] = True
    try:
        # Inserts the marker cells, writes the notebook, then raises on purpose.
        raise_for_execution_errors(notebook, str(output_path))
    except PapermillExecutionError as marked:
        return marked.exec_count
    return stopped.get("execution_count")


def run_notebooks(
    notebooks: Iterable[Path],
    output_dir: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = "python3",
    start_timeout: int = 60,
    cell_timeout: int = 600,
) -> list[NotebookResult]:
    """Execute the notebooks in order with :func:`run_notebook`, one result each.

    A failing notebook does not stop the run. A tqdm progress bar over the
    notebooks is written to stderr.

    Raises:
        NotebookError: as :func:`run_notebook` does, for a missing notebook or
            an output folder that is a notebook's own folder.
    """
    notebook_list = list(notebooks)
    results: list[NotebookResult] = []
    progress = tqdm(notebook_list, desc="notebooks", unit="notebook", file=sys.stderr)
    with progress:
        for path in progress:
            progress.set_postfix_str(path.name)
            result = run_notebook(
                path,
                output_dir,
                parameters=parameters,
                kernel_name=kernel_name,
                start_timeout=start_timeout,
                cell_timeout=cell_timeout,
            )
            results.append(result)
    return results


def format_results(results: Iterable[NotebookResult]) -> str:
    """Format a table: name, status, seconds and error per notebook, then a total."""
    result_list = list(results)
    width = max([len("notebook")] + [len(result.name) for result in result_list])
    lines = [f"{'notebook':<{width}}  {'status':<6}  {'seconds':>7}  error"]
    for result in result_list:
        status = "ok" if result.ok else "FAILED"
        line = f"{result.name:<{width}}  {status:<6}  {result.seconds:>7.1f}"
        if result.error is not None:
            # Control characters in a message must not drive the terminal.
            line += f"  {plain_text(result.error)}"
            if result.failed_cell is not None:
                line += f" (cell In [{result.failed_cell}])"
        lines.append(line)

    failed = sum(1 for result in result_list if not result.ok)
    total_seconds = sum(result.seconds for result in result_list)
    lines.append(
        f"total: {len(result_list)} notebooks, {len(result_list) - failed} ok, "
        f"{failed} failed, {total_seconds:.1f} s"
    )
    return "\n".join(lines)


def check_parameters(notebooks: Iterable[Path], parameters: Mapping[str, Any]) -> None:
    """Raise NotebookError for a parameter that none of the notebooks declares.

    papermill only warns about an unknown name and runs on, so a misspelt
    ``reveal_solution`` would go unnoticed in a workshop.
    """
    if not parameters:
        return
    declared: set[str] = set()
    for path in notebooks:
        declared |= set(papermill.inspect_notebook(str(path)))
    unknown = sorted(set(parameters) - declared)
    if unknown:
        raise NotebookError(
            f"unknown notebook parameter {', '.join(map(repr, unknown))}: the "
            f"notebooks declare {', '.join(sorted(declared)) or 'none'}; check "
            "the spelling"
        )


def main_run(
    notebook_dir: Path | None,
    output_dir: Path | None,
    parameters: dict[str, Any] | None,
) -> int:
    """Run every notebook in a folder, print the results and return the exit code.

    ``notebook_dir`` is a folder or one ``.ipynb`` file and defaults to
    :func:`default_notebook_dir`; ``output_dir`` defaults to a new temporary
    folder. The output folder is printed so the executed copies can be
    opened, and ``report.html`` in it shows each notebook's status, time and
    failing cell. Returns 0 when every notebook passed, otherwise 1.

    Raises:
        NotebookError: the notebook folder is missing or contains no notebooks.
    """
    folder = notebook_dir if notebook_dir is not None else default_notebook_dir()
    if folder.suffix == ".ipynb":
        if not folder.is_file():
            raise NotebookError(f"notebook not found: {folder}")
        notebooks = [folder]
        folder = folder.parent
    else:
        notebooks = find_notebooks(folder)
    if not notebooks:
        raise NotebookError(f"no *.ipynb notebooks found in {folder}")
    check_parameters(notebooks, parameters or {})
    if output_dir is None:
        output_dir = Path(tempfile.mkdtemp(prefix="ocilab-notebooks-"))

    noun = "notebook" if len(notebooks) == 1 else "notebooks"
    print(f"Running {len(notebooks)} {noun} from {folder}")
    results = run_notebooks(notebooks, output_dir, parameters=parameters)
    print(format_results(results))
    print(f"Executed notebooks written to {output_dir}")
    report = write_html_report(results, output_dir)
    print(f"HTML report written to {report}")
    return 0 if all(result.ok for result in results) else 1
