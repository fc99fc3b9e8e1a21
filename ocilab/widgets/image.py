"""An explorer of an OCI image layout: index.json, indexes, manifests, configs and layers.

The functions take an :class:`~ocilab.image.OCILayout` and return DataFrames
or HTML, so tests and scripts use them without a display:

- :func:`image_tree` walks the layout and returns one row per descriptor.
- :func:`node_html` shows one node: its descriptor and, for indexes,
  manifests and configs, the verified document.
- :func:`layer_entries` and :func:`layer_summary` list a layer's tar entries
  and count its files, directories, whiteouts and bytes; :func:`layer_html`
  shows both.

:class:`ImageExplorer` wires them to ipywidgets controls. A blob that a
descriptor names but the layout does not store is shown as missing, and a
blob that fails verification is shown with the error, in place of its
children, while the rest of the tree stays usable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import _html
from ..errors import ImageError, OcilabError
from ..image import mediatypes
from ..image.layers import list_layer
from ..image.layout import MAX_DEPTH, MAX_NODES, OCILayout
from ..image.models import Descriptor
from ..image.walk import Node, Walker, label, last_sibling_flags

__all__ = [
    "ImageExplorer",
    "LayoutWalk",
    "entries_html",
    "image_tree",
    "layer_entries",
    "layer_html",
    "layer_summary",
    "node_html",
    "walk_layout",
]

ERROR_COLOUR = "#b00020"
TREE_COLUMNS = [
    "depth",
    "kind",
    "media_type",
    "digest",
    "size",
    "size_human",
    "platform",
    "ref_name",
    "parent",
    "parent_row",
    "present",
    "error",
    "label",
]
ENTRY_COLUMNS = [
    "path",
    "type",
    "size",
    "mode_octal",
    "uid",
    "gid",
    "link_target",
    "whiteout",
    "whiteout_target",
]
# Blobs that are not layer tars (in-toto statements of attestation manifests,
# artifact blobs) are shown as text up to this many bytes.
MAX_SHOWN_BLOB_BYTES = 1 << 20
MAX_LISTED_REF_NAMES = 20
_INDEX_FILE = "index.json"


@dataclass
class LayoutWalk:
    """The nodes of a layout walk, and the blobs that could not be read during it.

    ``errors`` maps the digest of an index or manifest to the message of the
    error that stopped the walk from listing its children.
    """

    layout: OCILayout
    nodes: list[Node]
    errors: dict[str, str] = field(default_factory=dict)

    def error_of(self, node: Node) -> str | None:
        return self.errors.get(node.digest) if node.present else None


class _TolerantWalker(Walker):
    """A Walker that records an unreadable index or manifest and walks on.

    OCILayout.walk raises on the first blob that fails verification, which
    would hide every other image of the layout from the explorer.
    """

    # NOTE: this relies on Walker._children being where a walk reads and
    # parses blobs. A change there in walk.py must keep that true.

    def __init__(self, layout: OCILayout, max_depth: int, max_nodes: int) -> None:
        super().__init__(layout, max_depth, max_nodes)
        self.errors: dict[str, str] = {}

    def _children(self, descriptor: Descriptor) -> list[tuple[Descriptor, str]]:
        try:
            return super()._children(descriptor)
        except ImageError as error:  # DigestMismatchError included
            self.errors[descriptor.digest] = str(error)
            return []


def _as_layout(layout: OCILayout | str | os.PathLike[str]) -> OCILayout:
    if isinstance(layout, OCILayout):
        return layout
    if isinstance(layout, (str, os.PathLike)):
        return OCILayout.open(layout)
    raise TypeError(
        f"expected an OCILayout or the path of an image layout folder, "
        f"got {type(layout).__name__}"
    )


def walk_layout(
    layout: OCILayout | str | os.PathLike[str],
    *,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> LayoutWalk:
    """Walk a layout from index.json as OCILayout.walk does, but keep going past bad blobs.

    An index or manifest whose blob fails verification or parsing is
    recorded in ``errors`` and its children are left out. A cycle, nesting
    deeper than ``max_depth``, more than ``max_nodes`` nodes or an invalid
    index.json still raise ImageError, because they concern the whole layout.
    """
    resolved = _as_layout(layout)
    walker = _TolerantWalker(resolved, max_depth, max_nodes)
    for descriptor in resolved.index().manifests:
        walker.visit(descriptor, "entry", None, (_INDEX_FILE,))
    return LayoutWalk(resolved, walker.nodes, walker.errors)


def _tree_labels(walk: LayoutWalk) -> list[str]:
    # The same drawing as OCILayout.tree, with no-break spaces, because an
    # HTML <select> collapses ordinary runs of spaces.
    labels: list[str] = []
    open_levels: list[bool] = []
    flags = last_sibling_flags(walk.nodes)
    for node, is_last in zip(walk.nodes, flags, strict=True):
        del open_levels[node.depth :]
        prefix = "".join(
            "\u00a0" * 4 if last else "│\u00a0\u00a0\u00a0" for last in open_levels
        )
        text = label(node)
        if walk.error_of(node):
            text += "  (unreadable)"
        labels.append(prefix + ("└── " if is_last else "├── ") + text)
        open_levels.append(is_last)
    return labels


def image_tree(layout: OCILayout | str | os.PathLike[str] | LayoutWalk) -> pd.DataFrame:
    """Return one row per descriptor reachable from index.json, in walk order.

    The row index is the node's position in the walk. Columns:

    - depth, and kind: index, manifest, attestation, config, layer or unknown.
    - media_type, digest, size in bytes and size_human.
    - platform: the descriptor's, else the nearest ancestor's.
    - ref_name: the ref name of the index.json entry above the node.
    - parent (a digest) and parent_row (the parent's position, or missing).
    - present: whether the blob is stored in the layout.
    - error: why an index or manifest could not be read, or None.
    - label: the node's line in the tree drawing.
    """
    walk = layout if isinstance(layout, LayoutWalk) else walk_layout(layout)
    labels = _tree_labels(walk)
    rows = []
    parent_rows: list[int] = []
    for position, (node, text) in enumerate(zip(walk.nodes, labels, strict=True)):
        del parent_rows[node.depth :]
        rows.append(
            {
                "depth": node.depth,
                "kind": node.kind,
                "media_type": node.descriptor.media_type,
                "digest": node.digest,
                "size": node.size,
                "size_human": _html.human_size(node.size if node.size >= 0 else None),
                "platform": str(node.platform) if node.platform else None,
                "ref_name": node.ref_name,
                "parent": node.parent,
                "parent_row": parent_rows[-1] if parent_rows else None,
                "present": node.present,
                "error": walk.error_of(node),
                "label": text,
            }
        )
        parent_rows.append(position)
    frame = pd.DataFrame(rows, columns=TREE_COLUMNS)
    frame["parent_row"] = frame["parent_row"].astype("Int64")
    return frame


def _error_html(error: BaseException) -> str:
    return _html.paragraph(f"{type(error).__name__}: {error}", colour=ERROR_COLOUR)


def _size_text(size: int) -> str:
    if size < 0:
        return "unknown (the descriptor has no size)"
    return f"{size:,} bytes ({_html.human_size(size)})"


def _descriptor_rows(node: Node) -> list[tuple[str, Any]]:
    descriptor = node.descriptor
    rows: list[tuple[str, Any]] = [
        ("kind", node.kind),
        ("media type", descriptor.media_type or "(none)"),
        ("digest", descriptor.digest),
        ("size", _size_text(descriptor.size)),
    ]
    if node.platform:
        rows.append(("platform", str(node.platform)))
    if node.ref_name:
        rows.append(("ref name", node.ref_name))
    if descriptor.artifact_type:
        rows.append(("artifact type", descriptor.artifact_type))
    rows.append(("parent", node.parent or _INDEX_FILE))
    rows.append(("blob stored", "yes" if node.present else "no (missing)"))
    rows += [
        (f"annotation {key}", value) for key, value in descriptor.annotations.items()
    ]
    return rows


def _blob_text_html(layout: OCILayout, descriptor: Descriptor) -> str:
    """Read a small blob, verified, and show it as JSON when it parses, else as text."""
    data = layout.read_blob(descriptor, max_bytes=MAX_SHOWN_BLOB_BYTES)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return _html.code_block(data.decode("utf-8", errors="replace"))
    return _html.json_block(document)


def node_html(
    layout: OCILayout | str | os.PathLike[str], node: Node, error: str | None = None
) -> str:
    """Show a node's descriptor and, unless it is a layer, its verified document.

    ``error`` is the walk's error for this node, from LayoutWalk.error_of.
    A missing blob, or one that fails verification, is shown as a message in
    red, and nothing is raised for it.
    """
    resolved = _as_layout(layout)
    parts = [
        _html.heading(f"{node.kind} {node.digest}"),
        _html.key_value_table(_descriptor_rows(node)),
    ]
    if not node.present:
        parts.append(
            _html.paragraph(
                f"Missing blob: {node.digest} is not stored in {resolved.path} "
                f"(expected the file {resolved.blob_path(node.digest)}). An image "
                "layout may leave out blobs, but this node cannot be shown.",
                colour=ERROR_COLOUR,
            )
        )
    if error:
        parts.append(_html.paragraph(f"Unreadable: {error}", colour=ERROR_COLOUR))
    if node.present and node.kind != "layer":
        try:
            body = _blob_text_html(resolved, node.descriptor)
        except OcilabError as failure:
            body = _error_html(failure)
        parts.append(_html.details("document", body, open_=True))
    parts.append(
        _html.details("descriptor", _html.json_block(node.descriptor.to_json()))
    )
    return "".join(parts)


def layer_entries(
    layout: OCILayout | str | os.PathLike[str], descriptor: Descriptor
) -> pd.DataFrame:
    """List a layer blob's tar entries, as ocilab.image.list_layer does.

    The blob streams through a verifying reader, so a blob whose size or
    digest differs from the descriptor raises DigestMismatchError once it
    has been read to the end. A missing blob raises ImageError.
    """
    resolved = _as_layout(layout)
    name = f"layer {descriptor.digest}"
    with resolved.open_blob(descriptor) as reader:
        return list_layer(reader, name=name)


def layer_summary(entries: pd.DataFrame) -> dict[str, int]:
    """Count a layer's entries by kind and the bytes of its regular files.

    Whiteout markers are counted as whiteouts, not as files. Keys: entries,
    files, directories, symlinks, hardlinks, other, whiteouts,
    opaque_whiteouts and file_bytes.
    """
    whiteout = entries["whiteout"].fillna("")
    ordinary = entries[whiteout == ""]
    types = ordinary["type"]
    files = ordinary[types == "file"]
    return {
        "entries": len(entries),
        "files": int((types == "file").sum()),
        "directories": int((types == "dir").sum()),
        "symlinks": int((types == "symlink").sum()),
        "hardlinks": int((types == "hardlink").sum()),
        "other": int((~types.isin(["file", "dir", "symlink", "hardlink"])).sum()),
        "whiteouts": int((whiteout == "file").sum()),
        "opaque_whiteouts": int((whiteout == "opaque").sum()),
        "file_bytes": int(files["size"].sum()),
    }


def _is_layer_tar(media_type: str) -> bool:
    # Unknown or empty media types are tried as tars, since some tools label
    # layers application/octet-stream. Compression comes from the magic bytes.
    if media_type in mediatypes.LAYER_TYPES or not media_type:
        return True
    return media_type == "application/octet-stream" or ".tar" in media_type


def _summary_rows(summary: dict[str, int]) -> list[tuple[str, Any]]:
    return [
        ("entries", summary["entries"]),
        ("files", summary["files"]),
        ("directories", summary["directories"]),
        ("symlinks", summary["symlinks"]),
        ("hard links", summary["hardlinks"]),
        ("other entries", summary["other"]),
        ("whiteouts", summary["whiteouts"]),
        ("opaque whiteouts", summary["opaque_whiteouts"]),
        ("bytes in files", _size_text(summary["file_bytes"])),
    ]


def entries_html(entries: pd.DataFrame, *, max_rows: int = 500) -> str:
    """Show a layer listing: its counts, its whiteouts and its entries."""
    parts = [_html.key_value_table(_summary_rows(layer_summary(entries)))]
    whiteouts = entries[entries["whiteout"].notna()]
    if not whiteouts.empty:
        parts.append(_html.heading("whiteouts", level=5))
        parts.append(
            _html.frame_table(whiteouts[["path", "whiteout", "whiteout_target"]])
        )
    parts.append(_html.heading("entries", level=5))
    parts.append(_html.frame_table(entries[ENTRY_COLUMNS], max_rows=max_rows))
    return "".join(parts)


def layer_html(
    layout: OCILayout | str | os.PathLike[str], descriptor: Descriptor
) -> str:
    """Show a layer's entries and counts, or a non-tar blob's content.

    Blobs whose media type is not a layer tar (such as the in-toto statement
    of an attestation manifest) are shown as JSON or text when they are at
    most MAX_SHOWN_BLOB_BYTES. Errors are shown as a message in red.
    """
    resolved = _as_layout(layout)
    heading = _html.heading(f"layer {descriptor.digest}")
    try:
        if not _is_layer_tar(descriptor.media_type):
            note = _html.paragraph(
                f"{descriptor.media_type} is not a layer tar media type, so the "
                "blob is shown as it is stored."
            )
            return heading + note + _blob_text_html(resolved, descriptor)
        entries = layer_entries(resolved, descriptor)
    except OcilabError as error:
        return heading + _error_html(error)
    return heading + entries_html(entries)


def _summary_html(walk: LayoutWalk) -> str:
    kinds = pd.Series([node.kind for node in walk.nodes], dtype="object")
    counts = kinds.value_counts()
    missing = sum(1 for node in walk.nodes if not node.present)
    rows: list[tuple[str, Any]] = [
        ("image layout", str(walk.layout.path)),
        ("descriptors", len(walk.nodes)),
    ]
    for kind in ("index", "manifest", "attestation", "config", "layer", "unknown"):
        if counts.get(kind):
            rows.append((kind, int(counts[kind])))
    names = sorted({node.ref_name for node in walk.nodes if node.ref_name})
    listed_names = ", ".join(names[:MAX_LISTED_REF_NAMES])
    if len(names) > MAX_LISTED_REF_NAMES:
        listed_names += f" … and {len(names) - MAX_LISTED_REF_NAMES} more"
    rows.append(("ref names", listed_names or "(none)"))
    rows.append(("missing blobs", missing))
    rows.append(("unreadable documents", len(walk.errors)))
    return _html.key_value_table(rows)


class ImageExplorer:
    """Browse an image layout: pick a node of the tree to see its document or entries.

    Controls:

    - ``filter`` (Text): keeps the tree rows whose ref name, platform,
      digest, kind or media type contains the text, ignoring case.
    - ``node`` (Select): the tree, with row positions of ``tree`` as values.
    - ``reload`` (Button): reads the layout again.

    Panes (widgets.HTML): ``summary_pane`` (counts, or the error that stopped
    the walk), ``node_pane`` (descriptor and document) and ``layer_pane``
    (a layer's entries). ``tree`` is the DataFrame of :func:`image_tree`.
    """

    def __init__(
        self, layout: OCILayout | str | os.PathLike[str], *, rows: int = 16
    ) -> None:
        import ipywidgets as widgets

        self.layout = _as_layout(layout)
        self.tree = pd.DataFrame(columns=TREE_COLUMNS)
        self._walk = LayoutWalk(self.layout, [])
        self.filter = widgets.Text(
            description="Filter",
            placeholder="ref name, platform, digest, kind or media type",
            continuous_update=False,
        )
        self.reload = widgets.Button(
            description="Reload", tooltip="read the layout again"
        )
        self.node = widgets.Select(
            options=[], rows=rows, layout=widgets.Layout(width="100%")
        )
        self.summary_pane = widgets.HTML()
        self.node_pane = widgets.HTML()
        self.layer_pane = widgets.HTML()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.filter, self.reload]),
                self.summary_pane,
                self.node,
                self.node_pane,
                self.layer_pane,
            ]
        )
        self.filter.observe(self._on_filter, names="value")
        self.node.observe(self._on_node, names="value")
        self.reload.on_click(lambda _button: self.refresh())
        self.refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def refresh(self) -> None:
        """Walk the layout again and rebuild the tree, keeping the filter."""
        self.node_pane.value = ""
        self.layer_pane.value = ""
        try:
            self._walk = walk_layout(self.layout)
        except OcilabError as error:
            self._walk = LayoutWalk(self.layout, [])
            self.tree = image_tree(self._walk)
            self.summary_pane.value = _error_html(error)
            self._set_options()
            return
        self.tree = image_tree(self._walk)
        self.summary_pane.value = _summary_html(self._walk)
        self._set_options()

    def _set_options(self) -> None:
        text = self.filter.value.strip().lower()
        rows = self.tree
        if text:
            columns = ["ref_name", "platform", "digest", "kind", "media_type"]
            haystack = rows[columns].fillna("").astype(str).agg(" ".join, axis=1)
            rows = rows[haystack.str.lower().str.contains(text, regex=False)]
        self.node.options = [
            (row.label, int(position)) for position, row in rows.iterrows()
        ]
        self.node.value = None

    def _on_filter(self, _change: dict[str, Any]) -> None:
        self._set_options()

    def _on_node(self, change: dict[str, Any]) -> None:
        position = change["new"]
        if position is None:
            self.node_pane.value = ""
            self.layer_pane.value = ""
            return
        self.show(position)

    def show(self, position: int) -> None:
        """Show the node at a row position of ``tree`` in the panes."""
        if not 0 <= position < len(self._walk.nodes):
            raise IndexError(
                f"no node at position {position}: the tree has "
                f"{len(self._walk.nodes)} rows (0 to {len(self._walk.nodes) - 1})"
            )
        node = self._walk.nodes[position]
        self.node_pane.value = node_html(self.layout, node, self._walk.error_of(node))
        if node.kind == "layer" and node.present:
            self.layer_pane.value = layer_html(self.layout, node.descriptor)
        else:
            self.layer_pane.value = ""
