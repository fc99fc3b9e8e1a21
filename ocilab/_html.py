"""Small HTML builders shared by the rich notebook representations and the explorers.

Every builder escapes the text it is given, so values that come from images,
registries or runtimes (file names, labels, error bodies) cannot inject markup
into a notebook page.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

__all__ = [
    "code_block",
    "details",
    "frame_table",
    "heading",
    "human_size",
    "json_block",
    "key_value_table",
    "paragraph",
    "png_image",
]

_MONOSPACE = "font-family:var(--jp-code-font-family,monospace);font-size:12px"


def human_size(size: int | float | None) -> str:
    """Format a byte count with binary prefixes ("1.5 MiB"); None gives "?"."""
    if size is None or pd.isna(size):
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            break
        value /= 1024
    if unit == "B":
        return f"{int(value)} B"
    return f"{value:.1f} {unit}"


def heading(text: str, level: int = 4) -> str:
    return f"<h{level}>{html.escape(text)}</h{level}>"


def paragraph(text: str, *, colour: str | None = None) -> str:
    style = f' style="color:{colour}"' if colour else ""
    return f"<p{style}>{html.escape(text)}</p>"


def code_block(text: str, *, max_chars: int = 200_000, keep: str = "head") -> str:
    """Show text as preformatted code, cut at max_chars with a note saying so.

    ``keep="tail"`` keeps the last max_chars characters, for logs, whose
    newest lines are at the end.
    """
    if keep not in ("head", "tail"):
        raise ValueError(f"invalid keep {keep!r}: use 'head' or 'tail'")
    shown = text
    note = ""
    if len(text) > max_chars:
        if keep == "head":
            shown = text[:max_chars]
            note = paragraph(f"(first {max_chars:,} of {len(text):,} characters shown)")
        else:
            shown = text[-max_chars:]
            note = paragraph(f"(last {max_chars:,} of {len(text):,} characters shown)")
    return f'<pre style="{_MONOSPACE}">{html.escape(shown)}</pre>{note}'


def json_block(document: Any, *, max_chars: int = 200_000) -> str:
    """Show a JSON value indented, keys in their original order."""
    return code_block(
        json.dumps(document, indent=2, ensure_ascii=False, default=str),
        max_chars=max_chars,
    )


def key_value_table(rows: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> str:
    """Build a two-column table of names and values, each value escaped as text."""
    items = rows.items() if isinstance(rows, Mapping) else rows
    body = "".join(
        f'<tr><th style="text-align:left">{html.escape(str(key))}</th>'
        f'<td style="text-align:left;{_MONOSPACE}">{html.escape(str(value))}</td></tr>'
        for key, value in items
    )
    return f"<table>{body}</table>"


def frame_table(frame: pd.DataFrame, *, max_rows: int = 200) -> str:
    """Render a DataFrame as an escaped HTML table, cut at max_rows with a note."""
    shown = frame.head(max_rows)
    table = shown.to_html(index=False, escape=True, border=0, na_rep="")
    if len(frame) > max_rows:
        table += paragraph(f"(first {max_rows} of {len(frame)} rows shown)")
    return table


def details(summary: str, body_html: str, *, open_: bool = False) -> str:
    """Build a collapsible section; body_html must already be escaped HTML."""
    attribute = " open" if open_ else ""
    return (
        f"<details{attribute}><summary>{html.escape(summary)}</summary>"
        f"{body_html}</details>"
    )


def png_image(data: bytes, *, alt: str) -> str:
    """Embed PNG bytes as an inline image (base64 needs no escaping in an attribute)."""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}">'
