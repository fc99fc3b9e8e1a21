"""The walk of a layout from index.json, and the labels of its tree drawing.

:meth:`OCILayout.walk <ocilab.image.layout.OCILayout.walk>` and the methods
built on it use these types. Only indexes and manifests are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ImageError
from . import mediatypes
from .models import Descriptor, ImageIndex, ImageManifest, Platform, parse_document

if TYPE_CHECKING:
    from .layout import OCILayout

__all__ = ["Node", "Walker", "label", "last_sibling_flags"]

_DOCUMENT_KINDS = frozenset({"index", "manifest", "attestation"})


@dataclass(frozen=True)
class Node:
    """One descriptor reached by walking a layout from index.json.

    ``parent`` is the digest of the index or manifest that lists the
    descriptor, or None for an entry of index.json. ``ref_name`` is the ref
    name of the index.json entry the walk came through, because
    annotations.md makes the ref name valid only on index.json descriptors.
    ``platform`` is the descriptor's own, else the nearest ancestor's.
    ``present`` is True when the blob is stored in the layout, which
    image-layout.md does not require.
    """

    descriptor: Descriptor
    kind: str
    depth: int
    parent: str | None
    ref_name: str | None
    platform: Platform | None
    present: bool

    @property
    def digest(self) -> str:
        return self.descriptor.digest

    @property
    def size(self) -> int:
        return self.descriptor.size


class Walker:
    """Depth-first walk that verifies and caches each index and manifest it reads."""

    def __init__(self, layout: OCILayout, max_depth: int, max_nodes: int) -> None:
        self.layout = layout
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.nodes: list[Node] = []
        self.documents: dict[str, ImageIndex | ImageManifest] = {}

    def visit(
        self,
        descriptor: Descriptor,
        role: str,
        parent: Node | None,
        chain: tuple[str, ...],
    ) -> None:
        # chain contains "index.json" and the digests of this descriptor's ancestors.
        depth = len(chain) - 1
        self._check_limits(descriptor, depth, chain)
        present = self.layout.has_blob(descriptor.digest)
        node = Node(
            descriptor=descriptor,
            kind=_classify(descriptor, role),
            depth=depth,
            parent=parent.digest if parent else None,
            ref_name=parent.ref_name if parent else descriptor.ref_name,
            platform=descriptor.platform or (parent.platform if parent else None),
            present=present,
        )
        self.nodes.append(node)
        if not present or node.kind not in _DOCUMENT_KINDS:
            return
        for child, child_role in self._children(descriptor):
            self.visit(child, child_role, node, (*chain, descriptor.digest))

    def _check_limits(
        self, descriptor: Descriptor, depth: int, chain: tuple[str, ...]
    ) -> None:
        path = " → ".join(_short(item) for item in (*chain, descriptor.digest))
        if descriptor.digest in chain:
            # SHA-256 makes a real cycle infeasible, so only a store that skips
            # verification could reach this. The check keeps the walk finite anyway.
            raise ImageError(
                f"cycle in image layout {self.layout.path}: {path}. "
                f"{descriptor.digest} lists one of its own ancestors"
            )
        if depth > self.max_depth:
            raise ImageError(
                f"image layout {self.layout.path} nests deeper than "
                f"max_depth={self.max_depth}: {path}"
            )
        if len(self.nodes) >= self.max_nodes:
            raise ImageError(
                f"image layout {self.layout.path} has more than "
                f"max_nodes={self.max_nodes} descriptors. The walk stopped at {path}"
            )

    def _children(self, descriptor: Descriptor) -> list[tuple[Descriptor, str]]:
        document = self._document(descriptor)
        if isinstance(document, ImageIndex):
            return [(child, "entry") for child in document.manifests]
        config = [(document.config, "config")] if document.config else []
        return [*config, *((layer, "layer") for layer in document.layers)]

    def _document(self, descriptor: Descriptor) -> ImageIndex | ImageManifest:
        cached = self.documents.get(descriptor.digest)
        if cached is not None:
            return cached
        data = self.layout.read_blob(descriptor)
        document = parse_document(data, descriptor.media_type)
        if document.media_type and document.media_type != descriptor.media_type:
            raise ImageError(
                f"media type mismatch for {descriptor.digest}: the descriptor gives "
                f"{descriptor.media_type}, document says {document.media_type}"
            )
        self.documents[descriptor.digest] = document
        return document


def _classify(descriptor: Descriptor, role: str) -> str:
    if role != "entry":
        return role
    if descriptor.media_type in mediatypes.INDEX_TYPES:
        return "index"
    if descriptor.media_type not in mediatypes.MANIFEST_TYPES:
        return "unknown"
    return "attestation" if _is_attestation(descriptor) else "manifest"


def _is_attestation(descriptor: Descriptor) -> bool:
    reference_type = descriptor.annotations.get(mediatypes.DOCKER_REFERENCE_TYPE)
    if reference_type == mediatypes.ATTESTATION_MANIFEST:
        return True
    platform = descriptor.platform
    if platform is None:
        return False
    return platform.os == "unknown" and platform.architecture == "unknown"


def last_sibling_flags(nodes: list[Node]) -> list[bool]:
    # Scanning backwards, a node is the last of its siblings unless a later
    # node of the same depth came before any shallower one.
    flags: list[bool] = []
    seen_at_depth: list[bool] = []
    for node in reversed(nodes):
        del seen_at_depth[node.depth + 1 :]
        seen_at_depth.extend([False] * (node.depth + 1 - len(seen_at_depth)))
        flags.append(not seen_at_depth[node.depth])
        seen_at_depth[node.depth] = True
    return flags[::-1]


def label(node: Node) -> str:
    parts = [node.kind]
    if node.kind in _DOCUMENT_KINDS and node.descriptor.platform:
        parts.append(str(node.descriptor.platform))
    if node.kind == "unknown":
        parts.append(node.descriptor.media_type or "(no mediaType)")
    parts += [_short(node.digest), _format_size(node.size)]
    if node.depth == 0 and node.ref_name:
        parts.append(f"ref={node.ref_name}")
    if not node.present:
        parts.append("(blob not stored)")
    return "  ".join(parts)


def _short(digest: str) -> str:
    """Cut a digest to its algorithm and 12 hex digits, as docker prints image ids."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}" if encoded else digest


def _format_size(size: int) -> str:
    if size < 0:
        return "size unknown"
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
