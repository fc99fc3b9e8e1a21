"""A browser of a /v2/ registry: repositories, tags, manifests, blobs and the HTTP exchanges.

The functions take a :class:`~ocilab.distribution.RegistryClient` and return
DataFrames, documents or HTML, so tests and scripts use them without a
display:

- :func:`repository_frame` and :func:`tag_frame` list the catalog and a
  repository's tags.
- :func:`manifest_view` fetches a manifest or index and tabulates its
  entries (an index) or its config and layers (an image manifest).
- :func:`fetch_config` and :func:`remote_layer_entries` read blobs, verified;
  a layer is streamed into the tar reader, never held whole in memory.
- :func:`exchange_table` lists the client's exchanges from a given index,
  which the browser shows for the last action, because the lesson is the
  HTTP protocol.

:class:`RegistryBrowser` wires them to ipywidgets controls.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import _html
from ..distribution.client import Manifest, RegistryClient
from ..errors import ImageError, OcilabError, RegistryError
from ..image import mediatypes
from ..image.layers import list_layer
from ..image.models import Descriptor, ImageIndex, ImageManifest, load_json
from . import close_tree
from .image import ERROR_COLOUR, MAX_SHOWN_BLOB_BYTES, _is_layer_tar, entries_html

__all__ = [
    "ManifestView",
    "RegistryBrowser",
    "blob_frame",
    "error_html",
    "exchange_table",
    "exchanges_html",
    "fetch_config",
    "index_frame",
    "manifest_html",
    "manifest_view",
    "remote_layer_entries",
    "remote_layer_html",
    "repository_frame",
    "tag_frame",
]

EXCHANGE_COLUMNS = [
    "index",
    "method",
    "url",
    "status",
    "attempt",
    "accept",
    "content_type",
    "docker_content_digest",
    "location",
    "bytes_sent",
    "bytes_received",
    "elapsed_ms",
    "error",
]
INDEX_COLUMNS = [
    "position",
    "kind",
    "platform",
    "media_type",
    "digest",
    "size",
    "size_human",
]
BLOB_COLUMNS = ["position", "role", "media_type", "digest", "size", "size_human"]


def _short(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}" if encoded else digest


def _as_client(client: RegistryClient | str) -> tuple[RegistryClient, bool]:
    """Return the client and whether this module created it (and must close it)."""
    if isinstance(client, RegistryClient):
        return client, False
    if isinstance(client, str):
        if not client.startswith(("http://", "https://")):
            raise RegistryError(
                f"invalid registry URL {client!r}: use http://HOST:PORT or "
                "https://HOST, for example the lab's http://127.0.0.1:5000",
                url=client,
                status=0,
            )
        return RegistryClient(client), True
    raise TypeError(
        f"expected a RegistryClient or a registry URL, got {type(client).__name__}"
    )


def error_html(error: BaseException) -> str:
    """Show an error in red, with the OCI error codes of a RegistryError on their own line."""
    text = _html.paragraph(f"{type(error).__name__}: {error}", colour=ERROR_COLOUR)
    if isinstance(error, RegistryError):
        codes = ", ".join(code for code in error.codes if code) or "none"
        text += _html.paragraph(
            f"HTTP status {error.status}; OCI error codes: {codes}",
            colour=ERROR_COLOUR,
        )
    return text


# Catalog and tags.


def repository_frame(client: RegistryClient) -> pd.DataFrame:
    """List the registry's repositories (GET /v2/_catalog, every page)."""
    return pd.DataFrame({"repository": client.catalog()}, columns=["repository"])


def tag_frame(client: RegistryClient, repository: str) -> pd.DataFrame:
    """List a repository's tags (GET /v2/<name>/tags/list, every page), sorted."""
    return pd.DataFrame({"tag": sorted(client.tags(repository))}, columns=["tag"])


# Manifests.


def _entry_kind(descriptor: Descriptor) -> str:
    if descriptor.media_type in mediatypes.INDEX_TYPES:
        return "index"
    reference_type = descriptor.annotations.get(mediatypes.DOCKER_REFERENCE_TYPE)
    platform = descriptor.platform
    unknown = platform is not None and (platform.os, platform.architecture) == (
        "unknown",
        "unknown",
    )
    if reference_type == mediatypes.ATTESTATION_MANIFEST or unknown:
        return "attestation"
    if descriptor.media_type in mediatypes.MANIFEST_TYPES:
        return "manifest"
    return "unknown"


def index_frame(index: ImageIndex) -> pd.DataFrame:
    """Tabulate an index's entries: position, kind, platform, media type, digest, size."""
    rows = [
        {
            "position": position,
            "kind": _entry_kind(descriptor),
            "platform": str(descriptor.platform) if descriptor.platform else None,
            "media_type": descriptor.media_type,
            "digest": descriptor.digest,
            "size": descriptor.size,
            "size_human": _html.human_size(descriptor.size),
        }
        for position, descriptor in enumerate(index.manifests)
    ]
    return pd.DataFrame(rows, columns=INDEX_COLUMNS)


def blob_frame(manifest: ImageManifest) -> pd.DataFrame:
    """Tabulate an image manifest's blobs: the config (position -1), then each layer."""
    rows = []
    if manifest.config is not None:
        rows.append(("config", -1, manifest.config))
    rows += [
        ("layer", position, layer) for position, layer in enumerate(manifest.layers)
    ]
    return pd.DataFrame(
        [
            {
                "position": position,
                "role": role,
                "media_type": descriptor.media_type,
                "digest": descriptor.digest,
                "size": descriptor.size,
                "size_human": _html.human_size(descriptor.size),
            }
            for role, position, descriptor in rows
        ],
        columns=BLOB_COLUMNS,
    )


@dataclass(frozen=True)
class ManifestView:
    """A fetched manifest or index with its table.

    ``entries`` is the table of an index (:func:`index_frame`), and ``blobs``
    is the table of an image manifest (:func:`blob_frame`). Only one of them
    is set, and neither is set for a document that is neither kind.
    """

    repository: str
    reference: str
    manifest: Manifest
    entries: pd.DataFrame | None
    blobs: pd.DataFrame | None

    @property
    def index(self) -> ImageIndex | None:
        document = self.manifest.document
        return document if isinstance(document, ImageIndex) else None

    @property
    def image_manifest(self) -> ImageManifest | None:
        document = self.manifest.document
        return document if isinstance(document, ImageManifest) else None


def manifest_view(
    client: RegistryClient, repository: str, reference: str
) -> ManifestView:
    """GET a manifest or index by tag or digest, verify its digest and tabulate it.

    Raises RegistryError (with the registry's codes, such as
    MANIFEST_UNKNOWN) and DigestMismatchError as RegistryClient.get_manifest does.
    """
    manifest = client.get_manifest(repository, reference)
    document = manifest.document
    entries = index_frame(document) if isinstance(document, ImageIndex) else None
    blobs = blob_frame(document) if isinstance(document, ImageManifest) else None
    return ManifestView(repository, reference, manifest, entries, blobs)


def manifest_html(view: ManifestView) -> str:
    """Show a fetched manifest: its facts, its table and its exact JSON."""
    manifest = view.manifest
    rows: list[tuple[str, Any]] = [
        ("repository", view.repository),
        ("reference", view.reference),
        ("media type", manifest.media_type),
        ("Content-Type", manifest.content_type),
        ("digest", manifest.digest),
        ("size", f"{manifest.size:,} bytes ({_html.human_size(manifest.size)})"),
    ]
    parts = [
        _html.heading(f"{view.repository}:{view.reference}"),
        _html.key_value_table(rows),
    ]
    if view.entries is not None:
        parts.append(_html.heading("index entries", level=5))
        parts.append(_html.frame_table(view.entries))
    elif view.blobs is not None:
        parts.append(_html.heading("blobs", level=5))
        parts.append(_html.frame_table(view.blobs))
    else:
        parts.append(
            _html.paragraph(
                f"{manifest.media_type} is neither an image manifest nor an index."
            )
        )
    try:
        body = _html.json_block(json.loads(manifest.data))
    except (ValueError, UnicodeDecodeError):
        body = _html.code_block(manifest.data.decode("utf-8", errors="replace"))
    parts.append(_html.details("manifest JSON, as served", body, open_=True))
    return "".join(parts)


# Blobs.


def _read_small_blob(
    client: RegistryClient, repository: str, descriptor: Descriptor, limit: int
) -> bytes:
    if descriptor.size > limit:
        raise ImageError(
            f"blob {descriptor.digest} is {descriptor.size} bytes, more than the "
            f"{limit} bytes shown here"
        )
    return b"".join(client.get_blob(repository, descriptor))


def fetch_config(
    client: RegistryClient, repository: str, descriptor: Descriptor
) -> dict[str, Any]:
    """GET an image config blob, verify its digest and size, and parse it as JSON."""
    data = _read_small_blob(client, repository, descriptor, client.max_json_bytes)
    return load_json(data, f"config {descriptor.digest}")


class _ChunkReader(io.RawIOBase):
    """A readable raw stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def remote_layer_entries(
    client: RegistryClient, repository: str, descriptor: Descriptor
) -> pd.DataFrame:
    """Stream a layer blob from the registry into list_layer and return its entries.

    The listing reads the blob to its end, so the client's digest and size
    check runs and raises DigestMismatchError for a blob that does not match.
    """
    chunks = client.get_blob(repository, descriptor)
    with io.BufferedReader(_ChunkReader(iter(chunks))) as stream:
        return list_layer(stream, name=f"layer {descriptor.digest}")


def remote_layer_html(
    client: RegistryClient, repository: str, descriptor: Descriptor
) -> str:
    """Show a layer's entries and counts, or a non-tar blob's content, with errors in red."""
    heading = _html.heading(f"layer {descriptor.digest}")
    try:
        if not _is_layer_tar(descriptor.media_type):
            data = _read_small_blob(
                client, repository, descriptor, MAX_SHOWN_BLOB_BYTES
            )
            note = _html.paragraph(
                f"{descriptor.media_type} is not a layer tar media type, so the "
                "blob is shown as it is stored."
            )
            return (
                heading
                + note
                + _html.code_block(data.decode("utf-8", errors="replace"))
            )
        entries = remote_layer_entries(client, repository, descriptor)
    except OcilabError as error:
        return heading + error_html(error)
    return heading + entries_html(entries)


# The exchange log.


def exchange_table(client: RegistryClient, start: int = 0) -> pd.DataFrame:
    """List the client's exchanges from index ``start`` on, with the headers a lesson needs.

    accept is the request's Accept header; content_type, docker_content_digest
    and location are response headers. elapsed_ms runs from sending the
    request to the end of the response body.
    """
    rows = [
        {
            "index": record.index,
            "method": record.method,
            "url": record.url,
            "status": record.status,
            "attempt": record.attempt,
            "accept": record.request_headers.get("Accept"),
            "content_type": record.response_headers.get("Content-Type"),
            "docker_content_digest": record.response_headers.get(
                "Docker-Content-Digest"
            ),
            "location": record.response_headers.get("Location"),
            "bytes_sent": record.bytes_sent,
            "bytes_received": record.bytes_received,
            "elapsed_ms": round(record.elapsed * 1000, 1),
            "error": record.error,
        }
        for record in client.exchanges[start:]
    ]
    frame = pd.DataFrame(rows, columns=EXCHANGE_COLUMNS)
    return frame.astype({"status": "Int64"})


def exchanges_html(client: RegistryClient, start: int, action: str) -> str:
    """Show the exchanges of one action: those recorded from index ``start`` on."""
    table = exchange_table(client, start)
    title = f"HTTP exchanges of the last action ({action}): {len(table)}"
    if table.empty:
        return _html.heading(title, level=5)
    return _html.heading(title, level=5) + _html.frame_table(table)


class RegistryBrowser:
    """Browse a registry: repositories → tags → manifest → platform → blobs.

    Controls:

    - ``repository`` and ``tag`` (Select).
    - ``reference`` (Text): a tag or digest of the chosen repository, fetched
      when the text is committed.
    - ``platform`` (Select): an index's entries, with positions as values.
    - ``layer`` (Select): the image manifest's layers, with positions as values.
    - ``refresh`` (Button): reloads the catalog.

    Panes (widgets.HTML):

    - ``status_pane``: the catalog and tag listings, and their errors.
    - ``manifest_pane``: the document of the reference.
    - ``image_pane``: the chosen image manifest, its blobs and its config.
    - ``layer_pane``: a layer's entries.
    - ``exchanges_pane``: the HTTP exchanges of the last action.

    Pass a URL to let the browser create a RegistryClient, which
    :meth:`close` closes.
    """

    def __init__(self, client: RegistryClient | str, *, rows: int = 8) -> None:
        import ipywidgets as widgets

        self.client, self._owns_client = _as_client(client)
        self.view: ManifestView | None = None
        self.image_manifest: ImageManifest | None = None
        self._updating = False
        wide = widgets.Layout(width="100%")
        self.repository = widgets.Select(
            description="Repository", options=[], rows=rows, layout=wide
        )
        self.tag = widgets.Select(description="Tag", options=[], rows=rows, layout=wide)
        self.reference = widgets.Text(
            description="Reference",
            placeholder="tag or digest",
            continuous_update=False,
            layout=wide,
        )
        self.platform = widgets.Select(
            description="Platform", options=[], rows=4, layout=wide
        )
        self.layer = widgets.Select(
            description="Layer", options=[], rows=6, layout=wide
        )
        self.refresh = widgets.Button(description="Reload catalog")
        self.status_pane = widgets.HTML()
        self.manifest_pane = widgets.HTML()
        self.image_pane = widgets.HTML()
        self.layer_pane = widgets.HTML()
        self.exchanges_pane = widgets.HTML()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.repository, self.tag]),
                widgets.HBox([self.reference, self.refresh]),
                self.status_pane,
                self.manifest_pane,
                self.platform,
                self.image_pane,
                self.layer,
                self.layer_pane,
                self.exchanges_pane,
            ]
        )
        self.repository.observe(self._on_repository, names="value")
        self.tag.observe(self._on_tag, names="value")
        self.reference.observe(self._on_reference, names="value")
        self.platform.observe(self._on_platform, names="value")
        self.layer.observe(self._on_layer, names="value")
        self.refresh.on_click(lambda _button: self.load_catalog())
        self.load_catalog()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Close the widgets, and the client if the browser created it from a URL."""
        close_tree(self.widget)
        if self._owns_client:
            self.client.close()

    # Actions. Each one shows its own errors and its HTTP exchanges.

    def _record(self, action: str, start: int) -> None:
        self.exchanges_pane.value = exchanges_html(self.client, start, action)

    def _set_options(self, control: Any, options: list[Any]) -> None:
        # Programmatic changes of options reset the value, which must not
        # start another action.
        self._updating = True
        try:
            control.options = options
            control.value = None
        finally:
            self._updating = False

    def _clear_from(self, level: str) -> None:
        order = ["tags", "manifest", "image", "layer"]
        for name in order[order.index(level) :]:
            if name == "tags":
                self._set_options(self.tag, [])
            elif name == "manifest":
                self.view = None
                self.manifest_pane.value = ""
                self._set_options(self.platform, [])
            elif name == "image":
                self.image_manifest = None
                self.image_pane.value = ""
                self._set_options(self.layer, [])
            else:
                self.layer_pane.value = ""

    def load_catalog(self) -> None:
        """List the repositories again (GET /v2/_catalog)."""
        start = len(self.client.exchanges)
        self._clear_from("tags")
        try:
            repositories = repository_frame(self.client)["repository"].tolist()
        except OcilabError as error:
            self.status_pane.value = error_html(error)
            self._set_options(self.repository, [])
        else:
            self.status_pane.value = _html.paragraph(
                f"{len(repositories)} repositories in {self.client.base_url}"
            )
            self._set_options(self.repository, repositories)
        self._record("catalog", start)

    def open_repository(self, repository: str) -> None:
        """List a repository's tags."""
        start = len(self.client.exchanges)
        self._clear_from("tags")
        try:
            tags = tag_frame(self.client, repository)["tag"].tolist()
        except OcilabError as error:
            self.status_pane.value = error_html(error)
        else:
            self.status_pane.value = _html.paragraph(f"{repository}: {len(tags)} tags")
            self._set_options(self.tag, tags)
        self._record(f"tags of {repository}", start)

    def open_reference(self, reference: str) -> None:
        """Fetch a manifest or index of the chosen repository by tag or digest."""
        repository = self.repository.value
        start = len(self.client.exchanges)
        self._clear_from("manifest")
        if not repository:
            self.manifest_pane.value = _html.paragraph(
                "Choose a repository first.", colour=ERROR_COLOUR
            )
            self._record(f"manifest {reference}", start)
            return
        try:
            self.view = manifest_view(self.client, repository, reference)
        except OcilabError as error:
            self.manifest_pane.value = error_html(error)
        else:
            self.manifest_pane.value = manifest_html(self.view)
            if self.view.entries is not None:
                options = [
                    (
                        f"{row.platform or row.kind}  {_short(row.digest)}  {row.kind}",
                        row.position,
                    )
                    for row in self.view.entries.itertuples()
                ]
                self._set_options(self.platform, options)
            elif self.view.image_manifest is not None:
                self._show_image(repository, self.view.image_manifest, None)
        self._record(f"manifest {repository}:{reference}", start)

    def open_platform(self, position: int) -> None:
        """Fetch the entry at a position of the current index and show its blobs."""
        if self.view is None or self.view.index is None:
            return
        start = len(self.client.exchanges)
        self._clear_from("image")
        descriptor = self.view.index.manifests[position]
        repository = self.view.repository
        try:
            child = manifest_view(self.client, repository, descriptor.digest)
        except OcilabError as error:
            self.image_pane.value = error_html(error)
        else:
            if child.image_manifest is not None:
                self._show_image(repository, child.image_manifest, child)
            else:
                note = _html.paragraph(
                    "This entry is not an image manifest. Type its digest into "
                    "Reference to open it."
                )
                self.image_pane.value = note + manifest_html(child)
        self._record(f"platform manifest {_short(descriptor.digest)}", start)

    def _show_image(
        self, repository: str, manifest: ImageManifest, child: ManifestView | None
    ) -> None:
        """Show an image manifest's blobs and config, and offer its layers."""
        self.image_manifest = manifest
        parts = []
        if child is not None:
            parts.append(manifest_html(child))
        if manifest.config is None:
            parts.append(_html.paragraph("The manifest has no config descriptor."))
        else:
            try:
                config = fetch_config(self.client, repository, manifest.config)
            except OcilabError as error:
                body = error_html(error)
            else:
                body = _html.json_block(config)
            parts.append(
                _html.details(f"config {manifest.config.digest}", body, open_=True)
            )
        self.image_pane.value = "".join(parts)
        options = [
            (
                f"{position}: {_short(layer.digest)}  {_html.human_size(layer.size)}",
                position,
            )
            for position, layer in enumerate(manifest.layers)
        ]
        self._set_options(self.layer, options)

    def open_layer(self, position: int) -> None:
        """Stream the layer at a position of the image manifest and list its entries."""
        if self.image_manifest is None or self.repository.value is None:
            return
        start = len(self.client.exchanges)
        descriptor = self.image_manifest.layers[position]
        self.layer_pane.value = remote_layer_html(
            self.client, self.repository.value, descriptor
        )
        self._record(f"layer {_short(descriptor.digest)}", start)

    # Callbacks of the controls.

    def _on_repository(self, change: dict[str, Any]) -> None:
        if self._updating or change["new"] is None:
            return
        self._updating = True
        try:
            self.reference.value = ""
        finally:
            self._updating = False
        self.open_repository(change["new"])

    def _on_tag(self, change: dict[str, Any]) -> None:
        if self._updating or change["new"] is None:
            return
        self._updating = True
        try:
            self.reference.value = change["new"]
        finally:
            self._updating = False
        self.open_reference(change["new"])

    def _on_reference(self, change: dict[str, Any]) -> None:
        reference = change["new"].strip()
        if self._updating or not reference:
            return
        self.open_reference(reference)

    def _on_platform(self, change: dict[str, Any]) -> None:
        if self._updating or change["new"] is None:
            return
        self.open_platform(change["new"])

    def _on_layer(self, change: dict[str, Any]) -> None:
        if self._updating or change["new"] is None:
            return
        self.open_layer(change["new"])
