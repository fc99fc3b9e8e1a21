"""HTML views of the image models and of validation findings, for notebooks.

The models' and Findings' ``_repr_html_`` methods call these functions.
Every piece of text goes through the escaping builders of ``ocilab._html``,
because digests, annotations and file names come from images that anyone
may have written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._html import (
    details,
    frame_table,
    heading,
    human_size,
    json_block,
    key_value_table,
    paragraph,
)

if TYPE_CHECKING:
    from ._findings import Findings
    from .models import Descriptor, ImageConfig, ImageIndex, ImageManifest

__all__ = [
    "config_html",
    "descriptor_html",
    "findings_html",
    "findings_summary",
    "index_html",
    "manifest_html",
]

# Text colours: red for MUST findings, amber for SHOULD, green for none.
_MUST_COLOUR = "#d32f2f"
_SHOULD_COLOUR = "#b26a00"
_VALID_COLOUR = "#2e7d32"
_NOT_SET = "(not set)"


def _size(size: int | None) -> str:
    """Return "1.5 KiB (1,534 bytes)", or "?" for a size that is absent (-1)."""
    if size is None or size < 0:
        return "?"
    return f"{human_size(size)} ({size:,} bytes)"


def _size_columns(size: int) -> dict[str, str]:
    """Return the human size and the exact byte count as two table cells."""
    if size < 0:
        return {"size": "?", "bytes": ""}
    return {"size": human_size(size), "bytes": str(size)}


def _pairs(mapping: Mapping[str, str]) -> str:
    return "; ".join(f"{key}={value}" for key, value in mapping.items())


def _json_list(values: Sequence[str] | None) -> str:
    """Show an exec-form list as JSON, the way the config stores it."""
    return _NOT_SET if values is None else json.dumps(list(values), ensure_ascii=False)


def _or_not_set(value: Any) -> Any:
    return _NOT_SET if value in (None, "") else value


def _annotations_section(annotations: Mapping[str, str]) -> str:
    if not annotations:
        return ""
    return heading("Annotations", 5) + key_value_table(annotations)


def _json_section(document: Mapping[str, Any], title: str = "JSON") -> str:
    return details(title, json_block(document))


def _descriptor_rows(
    descriptors: Iterable[tuple[str, Descriptor]], *, platforms: bool = False
) -> pd.DataFrame:
    """Return one row per descriptor; annotation and platform columns only when used."""
    rows = []
    for label, descriptor in descriptors:
        row = {
            "": label,
            "media type": descriptor.media_type,
            "digest": descriptor.digest,
            **_size_columns(descriptor.size),
        }
        if platforms:
            row["platform"] = str(descriptor.platform) if descriptor.platform else ""
            row["artifact type"] = descriptor.artifact_type or ""
        row["annotations"] = _pairs(descriptor.annotations)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty and not frame["annotations"].any():
        frame = frame.drop(columns="annotations")
    return frame


def descriptor_html(descriptor: Descriptor) -> str:
    """Render a descriptor: media type, digest, size, platform, annotations, JSON."""
    rows: list[tuple[str, Any]] = [
        ("media type", descriptor.media_type),
        ("digest", descriptor.digest),
        ("size", _size(descriptor.size)),
    ]
    if descriptor.artifact_type:
        rows.append(("artifact type", descriptor.artifact_type))
    if descriptor.platform is not None:
        rows.append(("platform", str(descriptor.platform)))
    if descriptor.urls:
        rows.append(("urls", ", ".join(descriptor.urls)))
    if descriptor.data is not None:
        rows.append(("data", f"{len(descriptor.data)} base64 characters embedded"))
    return (
        heading("Descriptor")
        + key_value_table(rows)
        + _annotations_section(descriptor.annotations)
        + _json_section(descriptor.to_json())
    )


def manifest_html(manifest: ImageManifest) -> str:
    """Render a manifest: its media type, config and layers as a table, annotations, JSON."""
    total = sum(layer.size for layer in manifest.layers if layer.size >= 0)
    rows: list[tuple[str, Any]] = [
        ("schema version", _or_not_set(manifest.schema_version)),
        ("media type", _or_not_set(manifest.media_type)),
        ("layers", f"{len(manifest.layers)}, {_size(total)} compressed in all"),
    ]
    if manifest.artifact_type:
        rows.append(("artifact type", manifest.artifact_type))
    if manifest.subject is not None:
        rows.append(("subject", manifest.subject.digest))
    blobs: list[tuple[str, Descriptor]] = []
    if manifest.config is not None:
        blobs.append(("config", manifest.config))
    blobs += [(f"layer {index}", layer) for index, layer in enumerate(manifest.layers)]
    table = (
        frame_table(_descriptor_rows(blobs))
        if blobs
        else paragraph("no config and no layers")
    )
    return (
        heading("Image manifest")
        + key_value_table(rows)
        + table
        + _annotations_section(manifest.annotations)
        + _json_section(manifest.raw)
    )


def index_html(index: ImageIndex) -> str:
    """Render an index: its manifests with their platforms, annotations, JSON."""
    rows: list[tuple[str, Any]] = [
        ("schema version", _or_not_set(index.schema_version)),
        ("media type", _or_not_set(index.media_type)),
        ("manifests", len(index.manifests)),
    ]
    if index.artifact_type:
        rows.append(("artifact type", index.artifact_type))
    if index.subject is not None:
        rows.append(("subject", index.subject.digest))
    entries = [(str(number), entry) for number, entry in enumerate(index.manifests)]
    table = (
        frame_table(_descriptor_rows(entries, platforms=True))
        if entries
        else paragraph("no manifests")
    )
    return (
        heading("Image index")
        + key_value_table(rows)
        + table
        + _annotations_section(index.annotations)
        + _json_section(index.raw)
    )


def _env_frame(env: Sequence[str]) -> pd.DataFrame:
    rows = [entry.partition("=")[::2] for entry in env]
    return pd.DataFrame(rows, columns=["name", "value"])


def _history_frame(history: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    columns = ["created", "created_by", "comment", "empty_layer"]
    rows = [
        {column: "" if entry.get(column) is None else str(entry.get(column))
         for column in columns}
        for entry in history
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def config_html(config: ImageConfig) -> str:
    """Render an image config: platform, container defaults, diff_ids, history, JSON."""
    rows: list[tuple[str, Any]] = [
        ("platform", str(config.platform) or _NOT_SET),
        ("created", _or_not_set(config.created)),
        ("author", _or_not_set(config.author)),
        ("entrypoint", _json_list(config.entrypoint)),
        ("cmd", _json_list(config.cmd)),
        ("working dir", _or_not_set(config.working_dir)),
        ("user", _or_not_set(config.user)),
        ("exposed ports", ", ".join(config.exposed_ports) or _NOT_SET),
        ("volumes", ", ".join(config.volumes) or _NOT_SET),
        ("stop signal", _or_not_set(config.stop_signal)),
        ("rootfs type", _or_not_set(config.rootfs_type)),
    ]
    parts = [heading("Image config"), key_value_table(rows)]
    if config.env:
        parts += [heading("Env", 5), frame_table(_env_frame(config.env))]
    if config.labels:
        parts += [heading("Labels", 5), key_value_table(config.labels)]
    diff_ids = pd.DataFrame(
        {"layer": range(len(config.diff_ids)), "diff_id": list(config.diff_ids)}
    )
    parts += [heading(f"diff_ids ({len(config.diff_ids)})", 5), frame_table(diff_ids)]
    if config.history:
        parts += [
            heading(f"History ({len(config.history)})", 5),
            frame_table(_history_frame(config.history)),
        ]
    parts.append(_json_section(config.raw))
    return "".join(parts)


def _count(number: int, level: str) -> str:
    return f"{number} {level} finding" + ("" if number == 1 else "s")


def findings_summary(findings: Findings) -> str:
    """Summarise findings in one line: "valid: no findings", "invalid: 2 MUST findings"."""
    errors, warnings = len(findings.errors), len(findings.warnings)
    if not findings:
        return "valid: no findings"
    if errors == 0:
        return f"valid, with {_count(warnings, 'SHOULD')}"
    summary = f"invalid: {_count(errors, 'MUST')}"
    return summary + (f" and {_count(warnings, 'SHOULD')}" if warnings else "")


def _findings_frame(findings: Iterable[Any]) -> pd.DataFrame:
    rows = [
        (finding.level, finding.rule, finding.pointer or "(root)", finding.message)
        for finding in findings
    ]
    return pd.DataFrame(rows, columns=["severity", "rule", "pointer", "message"])


def findings_html(findings: Findings) -> str:
    """Render findings as a summary and one table per severity, MUST in red first."""
    summary = findings_summary(findings)
    if not findings:
        return paragraph(summary, colour=_VALID_COLOUR)
    colour = _SHOULD_COLOUR if findings.ok else _MUST_COLOUR
    parts = [paragraph(summary, colour=colour)]
    groups = [
        (group, level, group_colour, meaning)
        for group, level, group_colour, meaning in (
            (findings.errors, "MUST", _MUST_COLOUR, "each makes the document invalid"),
            (findings.warnings, "SHOULD", _SHOULD_COLOUR, "the document stays valid"),
        )
        if group
    ]
    for group, level, group_colour, meaning in groups:
        # With one severity only, the summary above already names it.
        if len(groups) > 1:
            caption = f"{_count(len(group), level)} ({meaning})"
            parts.append(paragraph(caption, colour=group_colour))
        parts.append(frame_table(_findings_frame(group)))
    return "".join(parts)
