"""The HTML report of ``ocilab notebooks run``: one row per notebook, failing cells shown."""

from __future__ import annotations

import datetime
import html
import os
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from ._html import code_block

if TYPE_CHECKING:
    from .notebooks import NotebookResult

__all__ = [
    "REPORT_NAME",
    "failing_cell",
    "html_report",
    "plain_text",
    "write_html_report",
]

REPORT_NAME = "report.html"

# Tracebacks from IPython carry ANSI colour codes, which a browser shows as text.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain_text(text: str) -> str:
    """Remove ANSI escape sequences and other control characters except newlines."""
    text = _ANSI.sub("", text)
    return "".join(char for char in text if char.isprintable() or char in "\n ")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
.ok { color: #1a7f37; font-weight: bold; }
.failed { color: #cf222e; font-weight: bold; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; }
"""


def failing_cell(
    output_path: Path | None, failed_cell: int | None
) -> tuple[str, str] | None:
    """Return (source, error text) of the cell that failed in an executed copy.

    The cell is found by papermill's ``exception`` mark, or else by its
    execution count. Returns None when the copy is missing or marks no cell.
    """
    if output_path is None or not output_path.exists():
        return None
    notebook = nbformat.read(output_path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    marked = [
        cell
        for cell in code_cells
        if cell.metadata.get("papermill", {}).get("exception")
    ]
    if not marked and failed_cell is not None:
        marked = [
            cell for cell in code_cells if cell.get("execution_count") == failed_cell
        ]
    if not marked:
        return None
    cell = marked[0]
    errors = [
        output for output in cell.get("outputs", []) if output.output_type == "error"
    ]
    if errors:
        text = "\n".join(errors[-1].get("traceback", [])) or errors[-1].get(
            "evalue", ""
        )
    else:
        text = ""
    return cell.source, plain_text(text)


def _link(path: Path, report_dir: Path | None) -> str:
    """Return a URL for path that a file name cannot turn into a scheme, query or fragment.

    "javascript:x.ipynb" or "a#b.ipynb" would otherwise be read as a URL.
    """
    if report_dir is None:
        return Path(path).resolve().as_uri()
    relative = os.path.relpath(path, report_dir)
    return "./" + urllib.parse.quote(relative.replace(os.sep, "/"))


def html_report(
    results: Iterable[NotebookResult], *, report_dir: Path | None = None
) -> str:
    """Build the report page; links to executed copies are relative to report_dir."""
    result_list = list(results)
    failed = sum(1 for result in result_list if not result.ok)
    total = sum(result.seconds for result in result_list)
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    rows = []
    sections = []
    for index, result in enumerate(result_list):
        status = (
            '<span class="ok">ok</span>'
            if result.ok
            else '<span class="failed">FAILED</span>'
        )
        name = html.escape(result.name)
        if result.output_path is not None:
            name = f'<a href="{html.escape(_link(result.output_path, report_dir))}">{name}</a>'
        cell = "" if result.failed_cell is None else f"In [{result.failed_cell}]"
        error = html.escape(plain_text(result.error or ""))
        if not result.ok:
            error = f'<a href="#failure-{index}">{error}</a>'
        rows.append(
            f"<tr><td>{name}</td><td>{status}</td><td>{result.seconds:.1f}</td>"
            f"<td>{html.escape(cell)}</td><td>{error}</td></tr>"
        )
        if not result.ok:
            found = failing_cell(result.output_path, result.failed_cell)
            body = (
                "<p>The kernel stopped before any cell ran, or no executed copy was written.</p>"
                if found is None
                else "<p>Cell source:</p>"
                + code_block(found[0])
                + "<p>Error:</p>"
                + code_block(found[1] or (result.error or ""))
            )
            sections.append(
                f'<h2 id="failure-{index}">{html.escape(result.name)}: '
                f"{html.escape(cell or 'failed')}</h2>{body}"
            )
    summary = (
        f"{len(result_list)} notebooks, {len(result_list) - failed} ok, "
        f"{failed} failed, {total:.1f} s in all; written {created}"
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        "<title>ocilab notebook run</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>ocilab notebook run</h1>"
        f"<p>{html.escape(summary)}</p>"
        "<table><tr><th>notebook</th><th>status</th><th>seconds</th>"
        "<th>failing cell</th><th>error</th></tr>"
        + "".join(rows)
        + "</table>"
        + "".join(sections)
        + "</body></html>\n"
    )


def write_html_report(results: Iterable[NotebookResult], output_dir: Path) -> Path:
    """Write ``report.html`` into output_dir and return its path."""
    path = Path(output_dir) / REPORT_NAME
    path.write_text(html_report(results, report_dir=path.parent), encoding="utf-8")
    return path
