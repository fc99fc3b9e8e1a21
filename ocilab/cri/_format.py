"""Tables, JSON and YAML for `ocilab cri`, with sizes and ages as crictl prints them."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message

__all__ = [
    "OUTPUT_FORMATS",
    "display_id",
    "dump",
    "format_pairs",
    "format_table",
    "human_duration",
    "human_size",
    "message_dict",
    "relative_time",
    "split_image_reference",
]

OUTPUT_FORMATS = ("table", "json", "yaml")
# Spaces between table columns: crictl's tabwriter pads with 3.
COLUMN_GAP = 3
# crictl cuts ids to 13 characters (frames.SHORT_ID; not imported, because
# frames imports pandas, which would slow every `ocilab cri` command).
SHORT_ID = 13
_NS_PER_SECOND = 1_000_000_000


def message_dict(message: Message) -> dict[str, Any]:
    """Convert a reply message to a dict in protobuf's JSON form with proto field names.

    Fields at their default value are kept, so every field of the message is
    present. int64 values are strings and bytes are base64, as the JSON
    mapping requires.
    """
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


def dump(data: Any, output: str) -> str:
    """Serialize data as indented JSON or as YAML (keys in insertion order)."""
    if output == "json":
        return json.dumps(data, indent=2)
    if output == "yaml":
        return yaml.safe_dump(data, sort_keys=False).rstrip("\n")
    raise ValueError(f"invalid output format {output!r}: use json or yaml")


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Lay out rows under headers in left-aligned columns, as crictl's tables are."""
    cells = [list(headers)] + [
        ["" if value is None else str(value) for value in row] for row in rows
    ]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = []
    for row in cells:
        padded = [value.ljust(width + COLUMN_GAP) for value, width in zip(row, widths)]
        lines.append("".join(padded).rstrip())
    return "\n".join(lines)


def format_pairs(pairs: Iterable[tuple[str, Any]]) -> str:
    """Lay out (name, value) pairs as "Name:  value" lines with aligned values."""
    pairs = list(pairs)
    width = max((len(name) for name, _ in pairs), default=0) + 1
    lines = [f"{name + ':':<{width}} {value}".rstrip() for name, value in pairs]
    return "\n".join(lines)


def human_size(size: float | None) -> str:
    """Format bytes in decimal units with 4 significant digits ("1.235MB").

    This is go-units' HumanSize, which crictl uses for image sizes and stats.
    """
    if size is None or math.isnan(size):
        return "-"
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    value = float(size)
    index = 0
    while value >= 1000 and index < len(units) - 1:
        value /= 1000
        index += 1
    return f"{value:.4g}{units[index]}"


def human_duration(seconds: float) -> str:
    """Describe a duration in words ("5 seconds", "About an hour"), as go-units does."""
    whole_seconds = int(seconds)
    minutes = int(seconds / 60)
    hours = int(seconds / 3600 + 0.5)
    if whole_seconds < 1:
        return "Less than a second"
    if whole_seconds == 1:
        return "1 second"
    if whole_seconds < 60:
        return f"{whole_seconds} seconds"
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def relative_time(timestamp: Any) -> str:
    """Describe a CRI time as "5 seconds ago".

    timestamp is int nanoseconds since the epoch or a pandas Timestamp.
    Returns "" for a time that is not set (None, NaT, zero or negative).
    """
    if timestamp is None:
        return ""
    # A pandas Timestamp stores int nanoseconds in .value, and NaT a negative one.
    nanoseconds = int(getattr(timestamp, "value", timestamp))
    if nanoseconds <= 0:
        return ""
    elapsed = max(time.time_ns() - nanoseconds, 0) / _NS_PER_SECOND
    return f"{human_duration(elapsed)} ago"


def split_image_reference(reference: str) -> tuple[str, str]:
    """Split "host:5000/repo:tag" into repository and tag ("<none>" when absent)."""
    repository, separator, tag = reference.rpartition(":")
    # A colon before the last "/" belongs to the registry's port, not to a tag.
    if not separator or "/" in tag:
        return reference, "<none>"
    return repository, tag


def display_id(full_id: str, no_trunc: bool) -> str:
    """Return the id as a table shows it: cut to 13 characters unless no_trunc."""
    return full_id if no_trunc else full_id.split(":", 1)[-1][:SHORT_ID]
