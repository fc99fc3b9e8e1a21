"""The OCI image layout: a folder of blobs and an index.json that names images.

Layout (image-spec v1.1 image-layout.md)::

    oci-layout             {"imageLayoutVersion": "1.0.0"}
    index.json             an image index whose entries may carry ref names
    blobs/<alg>/<encoded>  content, stored under its digest

Blob paths are built only from digests that pass :func:`parse_digest`, so a
digest cannot name a file outside ``blobs/``. Every read is checked against
its descriptor: the size on disk first, then the digest while the bytes stream
past. JSON blobs are verified in full before they are parsed. ``open_blob``
hands bytes on as they arrive and raises at the end of the stream, so a caller
must read to the end before it trusts what it read.
"""

from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from ..errors import DigestMismatchError, ImageError
from . import mediatypes
from .blobio import (
    CHUNK_SIZE,
    MAX_JSON_BYTES,
    VerifyingReader,
    copy,
    json_bytes,
    read_file,
    temporary_file,
    write_atomic,
)
from .build import BuiltImage
from .digest import parse_digest
from .models import (
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    OCILayoutHeader,
    Platform,
    load_json,
)
from .platforms import as_platform, normalize, platform_matches
from .walk import Node, Walker, label, last_sibling_flags

__all__ = [
    "CHUNK_SIZE",
    "LAYOUT_VERSION",
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
    "MAX_NODES",
    "ImageRef",
    "Node",
    "OCILayout",
    "VerifyingReader",
    "platform_matches",
]

LAYOUT_VERSION = "1.0.0"
OCI_LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
BLOBS_DIR = "blobs"
MAX_DEPTH = 8
# Bounds the work of a walk over a hostile layout that lists one blob many times.
MAX_NODES = 100_000
OCTET_STREAM = "application/octet-stream"

# Ref name grammar of image-spec annotations.md (org.opencontainers.image.ref.name).
_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_REF_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_FRAME_COLUMNS = [
    "depth",
    "kind",
    "ref_name",
    "platform",
    "media_type",
    "digest",
    "size",
    "parent",
    "present",
]


@dataclass(frozen=True)
class ImageRef:
    """A runnable image of a layout: its manifest descriptor, manifest and config."""

    ref_name: str | None
    descriptor: Descriptor
    platform: Platform
    manifest: ImageManifest
    config: ImageConfig


class OCILayout:
    """An OCI image layout folder. Use :meth:`create` or :meth:`open`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"OCILayout({str(self.path)!r})"

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> OCILayout:
        """Create an empty layout, or open the layout that is already there.

        Raises ImageError for a file, or for a non-empty folder without an
        oci-layout file.
        """
        root = Path(path)
        if (root / OCI_LAYOUT_FILE).exists():
            return cls.open(root)
        if root.exists() and not root.is_dir():
            raise ImageError(f"cannot create an image layout at {root}: it is a file")
        if root.is_dir() and any(root.iterdir()):
            raise ImageError(
                f"cannot create an image layout in {root}: the folder is not empty "
                f"and has no {OCI_LAYOUT_FILE} file. Choose a new or empty folder"
            )
        (root / BLOBS_DIR).mkdir(parents=True, exist_ok=True)
        empty = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}
        write_atomic(root / INDEX_FILE, json_bytes(empty))
        # oci-layout comes last, so a folder that has it also has index.json.
        header = {"imageLayoutVersion": LAYOUT_VERSION}
        write_atomic(root / OCI_LAYOUT_FILE, json_bytes(header))
        return cls(root)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> OCILayout:
        """Open a layout after checking its oci-layout version and its index.json."""
        root = Path(path)
        if not root.is_dir():
            raise ImageError(f"image layout not found: {root} is not a folder")
        marker = root / OCI_LAYOUT_FILE
        if not marker.is_file():
            raise ImageError(
                f"{root} is not an OCI image layout: its {OCI_LAYOUT_FILE} file "
                "is missing"
            )
        header = OCILayoutHeader.from_json(load_json(read_file(marker), str(marker)))
        if header.image_layout_version != LAYOUT_VERSION:
            raise ImageError(
                f"unsupported imageLayoutVersion {header.image_layout_version!r} "
                f"in {marker}: ocilab reads version {LAYOUT_VERSION}"
            )
        if not (root / INDEX_FILE).is_file():
            raise ImageError(f"invalid image layout {root}: {INDEX_FILE} is missing")
        return cls(root)

    # Blobs

    def blob_path(self, digest: str) -> Path:
        """Return blobs/<algorithm>/<encoded> for a digest that passes parse_digest."""
        algorithm, encoded = parse_digest(digest)
        return self.path / BLOBS_DIR / algorithm / encoded

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def write_blob(
        self,
        data: bytes | bytearray | IO[bytes],
        expected: Descriptor | None = None,
        *,
        media_type: str = OCTET_STREAM,
    ) -> Descriptor:
        """Store content under its digest and return its descriptor.

        The content streams into a temporary file in blobs/<algorithm>/ that
        is renamed into place only after it matched ``expected`` (digest and
        size), so a mismatch raises DigestMismatchError and leaves no blob.
        Without ``expected`` the content is hashed with sha256.
        """
        if isinstance(data, (bytes, bytearray)):
            data = io.BytesIO(data)
        algorithm = parse_digest(expected.digest)[0] if expected else "sha256"
        folder = self.path / BLOBS_DIR / algorithm
        folder.mkdir(parents=True, exist_ok=True)
        file_descriptor, temporary = temporary_file(folder)
        try:
            with os.fdopen(file_descriptor, "wb") as handle:
                digest, size = copy(data, handle, algorithm, expected)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.blob_path(digest))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return expected or Descriptor(media_type=media_type, digest=digest, size=size)

    def open_blob(self, descriptor: Descriptor) -> VerifyingReader:
        """Open a blob as a stream that verifies its size and digest while it is read.

        The size on disk is compared before any byte is hashed, so a
        truncated or padded blob raises DigestMismatchError here.
        """
        path = self.blob_path(descriptor.digest)
        if descriptor.size < 0:
            raise ImageError(f"descriptor of {descriptor.digest} has no size")
        try:
            info = path.stat()
        except FileNotFoundError:
            raise ImageError(
                f"blob {descriptor.digest} not found in image layout {self.path}: "
                f"expected the file {path}"
            ) from None
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"invalid blob {path}: not a regular file")
        if info.st_size != descriptor.size:
            raise DigestMismatchError(
                f"size mismatch for {descriptor.digest}: the descriptor gives "
                f"{descriptor.size} bytes, {path} has {info.st_size}",
                expected=str(descriptor.size),
                actual=str(info.st_size),
            )
        source = open(path, "rb", buffering=0)  # noqa: SIM115 (the reader closes it)
        return VerifyingReader(source, descriptor.digest, descriptor.size)

    def read_blob(
        self, descriptor: Descriptor, max_bytes: int = MAX_JSON_BYTES
    ) -> bytes:
        """Read and verify a small blob, such as a manifest, index or config."""
        if descriptor.size > max_bytes:
            raise ImageError(
                f"blob {descriptor.digest} is {descriptor.size} bytes, more than "
                f"max_bytes={max_bytes}. Stream it with open_blob instead"
            )
        with self.open_blob(descriptor) as reader:
            return reader.read()

    # index.json

    def index(self) -> ImageIndex:
        return ImageIndex.from_json(self._index_json())

    def add_index_entry(self, descriptor: Descriptor) -> None:
        """Append a descriptor to index.json.

        An entry with the same ref name is replaced. A descriptor without a
        ref name is not added twice.
        """
        parse_digest(descriptor.digest)
        if descriptor.size < 0:
            raise ImageError(f"descriptor of {descriptor.digest} has no size")
        ref_name = descriptor.ref_name
        if ref_name is not None:
            _check_ref_name(ref_name)
        raw = self._index_json()
        entries = [
            entry for entry in raw.get("manifests") or [] if isinstance(entry, dict)
        ]
        others = [e for e in entries if ref_name is None or _ref_of(e) != ref_name]
        duplicate = any(
            e.get("digest") == descriptor.digest and _ref_of(e) is None for e in others
        )
        if ref_name is None and duplicate:
            return
        raw["manifests"] = [*others, _descriptor_json(descriptor)]
        write_atomic(self.path / INDEX_FILE, json_bytes(raw))

    def write_image(self, built: BuiltImage) -> Descriptor:
        """Store an image's blobs and manifest, and return the manifest's descriptor.

        The descriptor carries the platform of the image config. index.json is
        not changed, so the manifest can go into a nested index.
        """
        for blob in (*built.layers, built.config, built.manifest):
            expected = Descriptor(blob.media_type, blob.digest, blob.size)
            self.write_blob(blob.data, expected)
        config = ImageConfig.from_json(load_json(built.config.data, "image config"))
        raw = built.manifest.descriptor(platform=_platform_json(config.platform))
        return Descriptor.from_json(raw)

    def add_image(self, built: BuiltImage, ref_name: str | None = None) -> Descriptor:
        """Store an image and list it in index.json, under ref_name if one is given."""
        if ref_name is not None:
            _check_ref_name(ref_name)
        descriptor = self.write_image(built)
        if ref_name is not None:
            raw = {
                **descriptor.raw,
                "annotations": {mediatypes.ANNOTATION_REF_NAME: ref_name},
            }
            descriptor = Descriptor.from_json(raw)
        self.add_index_entry(descriptor)
        return descriptor

    # Walking and selecting

    def walk(
        self, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
    ) -> list[Node]:
        """Return every descriptor reachable from index.json, depth first.

        Indexes and manifests are read, verified and followed. Configs and
        layers are leaves and are not read. Raises ImageError on a cycle, on
        nesting deeper than ``max_depth`` or on more than ``max_nodes``
        nodes, and the message shows the chain of digests from index.json.
        """
        return self._walk(max_depth, max_nodes).nodes

    def images(
        self, platform: str | Platform | None = None, *, ref_name: str | None = None
    ) -> list[ImageRef]:
        """List the runnable images, optionally only those that match a platform.

        Attestation manifests are never included (see :meth:`attestations`),
        and neither are manifests whose blob is not stored.
        """
        found, _ = self._runnable(ref_name)
        if platform is None:
            return found
        requested = as_platform(platform)
        return [image for image in found if platform_matches(image.platform, requested)]

    def attestations(self) -> list[Node]:
        """List the attestation manifests, such as BuildKit's provenance and SBOMs."""
        return [node for node in self.walk() if node.kind == "attestation"]

    def select(
        self, platform: str | Platform, *, ref_name: str | None = None
    ) -> ImageRef:
        """Return the image for a platform, preferring an exact variant match.

        Among equally good matches the first in walk order is returned. Raises ImageError listing the available platforms when none matches,
        or when images of different ref names match and ref_name is not given.
        """
        requested = as_platform(platform)
        found, missing = self._runnable(ref_name)
        exact = [i for i in found if normalize(i.platform) == normalize(requested)]
        matches = exact or [i for i in found if platform_matches(i.platform, requested)]
        if not matches:
            raise ImageError(
                self._no_match_message(requested, ref_name, found, missing)
            )
        digests = {image.descriptor.digest for image in matches}
        names = sorted({str(image.ref_name) for image in matches})
        if len(digests) > 1 and len(names) > 1:
            raise ImageError(
                f"platform {requested} matches images of several ref names in "
                f"{self.path}: {', '.join(names)}. Pass ref_name to choose one"
            )
        return matches[0]

    def tree(self) -> str:
        """Draw the graph from index.json to configs and layers, one line per descriptor."""
        nodes = self.walk()
        lines = [INDEX_FILE]
        open_levels: list[bool] = []
        for node, is_last in zip(nodes, last_sibling_flags(nodes), strict=True):
            del open_levels[node.depth :]
            prefix = "".join("    " if last else "│   " for last in open_levels)
            lines.append(prefix + ("└── " if is_last else "├── ") + label(node))
            open_levels.append(is_last)
        return "\n".join(lines)

    def frame(self) -> pd.DataFrame:
        """Return the nodes of :meth:`walk` as a DataFrame, one row per node."""
        rows = [
            {
                "depth": node.depth,
                "kind": node.kind,
                "ref_name": node.ref_name,
                "platform": str(node.platform) if node.platform else None,
                "media_type": node.descriptor.media_type,
                "digest": node.digest,
                "size": node.size,
                "parent": node.parent,
                "present": node.present,
            }
            for node in self.walk()
        ]
        return pd.DataFrame(rows, columns=_FRAME_COLUMNS)

    def _index_json(self) -> dict[str, Any]:
        path = self.path / INDEX_FILE
        return load_json(read_file(path), str(path))

    def _walk(self, max_depth: int, max_nodes: int) -> Walker:
        walker = Walker(self, max_depth, max_nodes)
        for descriptor in self.index().manifests:
            walker.visit(descriptor, "entry", None, (INDEX_FILE,))
        return walker

    def _runnable(self, ref_name: str | None) -> tuple[list[ImageRef], list[Node]]:
        walker = self._walk(MAX_DEPTH, MAX_NODES)
        found: list[ImageRef] = []
        missing: list[Node] = []
        for node in walker.nodes:
            if node.kind != "manifest":
                continue
            if ref_name is not None and node.ref_name != ref_name:
                continue
            if node.present:
                found.append(self._image(node, walker.documents[node.digest]))
            else:
                missing.append(node)
        return found, missing

    def _image(self, node: Node, manifest: ImageManifest | ImageIndex) -> ImageRef:
        if not isinstance(manifest, ImageManifest) or manifest.config is None:
            raise ImageError(f"manifest {node.digest} has no config descriptor")
        data = self.read_blob(manifest.config)
        config = ImageConfig.from_json(
            load_json(data, f"config {manifest.config.digest}")
        )
        return ImageRef(
            ref_name=node.ref_name,
            descriptor=node.descriptor,
            platform=node.descriptor.platform or config.platform,
            manifest=manifest,
            config=config,
        )

    def _no_match_message(
        self,
        requested: Platform,
        ref_name: str | None,
        found: list[ImageRef],
        missing: list[Node],
    ) -> str:
        where = f"{self.path} (ref name {ref_name})" if ref_name else str(self.path)
        available = sorted({str(image.platform) for image in found})
        message = (
            f"no image for platform {requested} in image layout {where}. "
            f"Available platforms: {', '.join(available) or 'none'}"
        )
        absent = sorted({str(node.platform) for node in missing if node.platform})
        if absent:
            message += f". Listed in an index but not stored: {', '.join(absent)}"
        return message


def _check_ref_name(ref_name: str) -> None:
    if not _REF_NAME.fullmatch(ref_name):
        raise ImageError(
            f"invalid ref name {ref_name!r}: use letters, digits and - . _ : @ + /"
            ", for example demo:1"
        )


def _ref_of(entry: dict[str, Any]) -> str | None:
    annotations = entry.get("annotations")
    if not isinstance(annotations, dict):
        return None
    return annotations.get(mediatypes.ANNOTATION_REF_NAME)


def _descriptor_json(descriptor: Descriptor) -> dict[str, Any]:
    """Serialise a descriptor from its fields, keeping raw keys the model does not name."""
    named = {"mediaType", "digest", "size", "urls", "annotations", "data"}
    named |= {"artifactType", "platform"}
    result: dict[str, Any] = {
        "mediaType": descriptor.media_type,
        "digest": descriptor.digest,
        "size": descriptor.size,
    }
    optional = {
        "urls": list(descriptor.urls),
        "annotations": dict(descriptor.annotations),
        "data": descriptor.data,
        "artifactType": descriptor.artifact_type,
        "platform": _platform_json(descriptor.platform)
        if descriptor.platform
        else None,
    }
    result.update({key: value for key, value in optional.items() if value})
    result.update({k: v for k, v in descriptor.raw.items() if k not in named})
    return result


def _platform_json(platform: Platform) -> dict[str, Any]:
    result: dict[str, Any] = {"architecture": platform.architecture, "os": platform.os}
    if platform.variant:
        result["variant"] = platform.variant
    if platform.os_version:
        result["os.version"] = platform.os_version
    if platform.os_features:
        result["os.features"] = list(platform.os_features)
    return result
