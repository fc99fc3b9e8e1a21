"""Copy images between OCI layouts and registries, byte for byte.

References are ``oci:PATH[:REF]`` for an image layout (REF is the
``org.opencontainers.image.ref.name`` of an index.json entry) and
``HOST[:PORT]/REPO[:TAG|@DIGEST]`` for a registry. Registries on 127.0.0.1
and localhost are reached over plain http, others over https.

The copy reads every manifest first (children of an image index included),
then copies the blobs they list, then writes the manifests children first, so
a destination never contains a manifest whose blobs are missing. Manifests are
copied as the exact bytes read, so their digests are unchanged. Up to
MAX_PARALLEL_BLOBS blobs are copied at the same time, each in its own thread:
socket reads, file writes and hashlib release the GIL, so one blob's transfer
overlaps another's disk and network waits.
"""

from __future__ import annotations

import io
import logging
import sys
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import httpx
from tqdm import tqdm

from ..errors import ImageError
from ..image import mediatypes
from ..image.blobio import write_atomic
from ..image.digest import parse_digest
from ..image.layout import OCILayout
from ..image.models import Descriptor, ImageIndex, ImageManifest, parse_document
from ..image.platforms import as_platform, normalize, platform_matches
from .client import RegistryClient

__all__ = [
    "MAX_PARALLEL_BLOBS",
    "CopyResult",
    "LayoutReference",
    "RegistryReference",
    "copy_image",
    "parse_reference",
]

log = logging.getLogger(__name__)

LAYOUT_PREFIX = "oci:"
# Blobs copied at the same time by default. skopeo 1.9 copies up to 6 layers
# at once (maxParallelDownloads in containers/image's copy/copy.go).
MAX_PARALLEL_BLOBS = 4
_PLAIN_HTTP_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


@dataclass(frozen=True)
class LayoutReference:
    """An image in an OCI layout folder, named by an optional ref name."""

    path: Path
    ref: str | None = None

    def __str__(self) -> str:
        return f"{LAYOUT_PREFIX}{self.path}" + (f":{self.ref}" if self.ref else "")


@dataclass(frozen=True)
class RegistryReference:
    """An image in a registry repository, named by a tag or a digest."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    scheme: str = "https"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def reference(self) -> str:
        """The digest when given, else the tag, else "latest"."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


Reference = LayoutReference | RegistryReference


def parse_reference(text: str, *, scheme: str | None = None) -> Reference:
    """Parse ``oci:PATH[:REF]`` or ``HOST[:PORT]/REPO[:TAG|@DIGEST]``.

    ``scheme`` overrides the http/https choice for a registry reference.
    """
    if text.startswith(LAYOUT_PREFIX):
        return _parse_layout(text.removeprefix(LAYOUT_PREFIX))
    return _parse_registry(text, scheme)


def _parse_layout(text: str) -> LayoutReference:
    # A colon inside the path's folders is kept: the ref is after the last one.
    path, colon, ref = text.rpartition(":")
    if colon and path and "/" not in ref:
        return LayoutReference(Path(path), ref or None)
    if not text:
        raise ImageError("invalid layout reference 'oci:': use oci:PATH[:REF]")
    return LayoutReference(Path(text))


def _parse_registry(text: str, scheme: str | None) -> RegistryReference:
    host, slash, rest = text.partition("/")
    if not slash or not rest or not host:
        raise ImageError(
            f"invalid image reference {text!r}: use HOST[:PORT]/REPO[:TAG|@DIGEST] "
            "for a registry or oci:PATH[:REF] for a layout"
        )
    rest, at, digest = rest.partition("@")
    if at:
        parse_digest(digest)
    repository, tag = rest, None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = rest.rsplit(":", 1)
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    default_scheme = "http" if hostname in _PLAIN_HTTP_HOSTS else "https"
    return RegistryReference(
        host, repository, tag or None, digest or None, scheme or default_scheme
    )


@dataclass(frozen=True)
class CopyResult:
    """The outcome of copy_image.

    ``digest`` is the digest of the manifest or index written at the
    destination. Blobs skipped are those the destination already had.
    ``bytes_copied`` counts blob bytes transferred or mounted, not manifests.
    """

    digest: str
    blobs_copied: int
    blobs_skipped: int
    bytes_copied: int
    manifests: list[Descriptor] = field(default_factory=list)


@dataclass(frozen=True)
class _ManifestBytes:
    descriptor: Descriptor
    data: bytes
    document: ImageManifest | ImageIndex


class _Source(Protocol):
    def root(self) -> _ManifestBytes: ...
    def child(self, descriptor: Descriptor) -> _ManifestBytes: ...
    def open_blob(self, descriptor: Descriptor) -> IO[bytes]: ...


class _Destination(Protocol):
    def has_blob(self, descriptor: Descriptor) -> bool: ...
    def put_blob(self, descriptor: Descriptor, source: _Source) -> None: ...
    def put_manifest(self, manifest: _ManifestBytes, tag: str | None) -> None: ...


def _document(data: bytes, media_type: str) -> ImageManifest | ImageIndex:
    return parse_document(data, media_type or None)


class _LayoutEnd:
    """An OCI layout as the source or the destination of a copy."""

    def __init__(self, reference: LayoutReference, *, create: bool) -> None:
        self.reference = reference
        self.layout = (
            OCILayout.create(reference.path)
            if create
            else OCILayout.open(reference.path)
        )

    def root(self) -> _ManifestBytes:
        entries = list(self.layout.index().manifests)
        ref = self.reference.ref
        matches = [e for e in entries if ref is None or e.ref_name == ref]
        if len(matches) != 1:
            names = sorted(str(e.ref_name) for e in entries)
            problem = "not found" if not matches else "ambiguous"
            raise ImageError(
                f"image {self.reference} {problem}: index.json has "
                f"{len(matches)} matching entries (ref names: {', '.join(names) or 'none'})."
                " Name one with oci:PATH:REF"
            )
        return self.child(matches[0])

    def child(self, descriptor: Descriptor) -> _ManifestBytes:
        data = self.layout.read_blob(descriptor)
        return _ManifestBytes(descriptor, data, _document(data, descriptor.media_type))

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        return self.layout.open_blob(descriptor)  # type: ignore[return-value]

    def has_blob(self, descriptor: Descriptor) -> bool:
        return self.layout.has_blob(descriptor.digest)

    def put_blob(self, descriptor: Descriptor, source: _Source) -> None:
        if isinstance(source, _RegistryEnd):
            chunks = source.client.get_blob(source.repository, descriptor)
            self._write_verified(descriptor, chunks)
            return
        with source.open_blob(descriptor) as stream:
            self.layout.write_blob(stream, descriptor)

    def _write_verified(self, descriptor: Descriptor, chunks: Iterator[bytes]) -> None:
        """Store a blob from RegistryClient.get_blob, hashing it only once.

        get_blob checks the size and digest as the chunks arrive and raises
        DigestMismatchError from its last iteration, before the temporary file
        is renamed to the blob's path, so a mismatch leaves no blob behind.
        OCILayout.write_blob would hash the same bytes a second time.
        """
        target = self.layout.blob_path(descriptor.digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, chunks)

    def put_manifest(self, manifest: _ManifestBytes, tag: str | None) -> None:
        self.layout.write_blob(manifest.data, manifest.descriptor)
        if tag is None:
            return
        raw = {
            "mediaType": manifest.descriptor.media_type,
            "digest": manifest.descriptor.digest,
            "size": manifest.descriptor.size,
            "annotations": {mediatypes.ANNOTATION_REF_NAME: tag},
        }
        if manifest.descriptor.platform is not None:
            raw["platform"] = manifest.descriptor.platform.raw
        self.layout.add_index_entry(Descriptor.from_json(raw))


class _RegistryEnd:
    """A registry repository as the source or the destination of a copy."""

    def __init__(self, reference: RegistryReference, client: RegistryClient) -> None:
        self.reference = reference
        self.client = client
        self.repository = reference.repository
        self.mount_from: str | None = None

    def root(self) -> _ManifestBytes:
        manifest = self.client.get_manifest(self.repository, self.reference.reference)
        descriptor = manifest.descriptor()
        return _ManifestBytes(
            descriptor, manifest.data, _document(manifest.data, manifest.media_type)
        )

    def child(self, descriptor: Descriptor) -> _ManifestBytes:
        manifest = self.client.get_manifest(self.repository, descriptor.digest)
        return _ManifestBytes(
            descriptor, manifest.data, _document(manifest.data, manifest.media_type)
        )

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        return _ChunkReader(self.client.get_blob(self.repository, descriptor))

    def has_blob(self, descriptor: Descriptor) -> bool:
        return self.client.head_blob(self.repository, descriptor.digest) is not None

    def put_blob(self, descriptor: Descriptor, source: _Source) -> None:
        if self.mount_from is not None:
            mounted = self.client.mount_blob(
                self.repository, descriptor.digest, self.mount_from
            )
            if mounted.mounted:
                return
            # NOTE: the upload session opened by a rejected mount is left to expire.
        if isinstance(source, _LayoutEnd):
            path = source.layout.blob_path(descriptor.digest)
            self.client.push_blob(self.repository, path, descriptor.digest)
            return
        # push_blob needs a seekable file for its Content-Length, so spool it.
        with tempfile.TemporaryFile() as spool:
            with source.open_blob(descriptor) as stream:
                while chunk := stream.read(1 << 20):
                    spool.write(chunk)
            spool.seek(0)
            self.client.push_blob(self.repository, spool, descriptor.digest)

    def put_manifest(self, manifest: _ManifestBytes, tag: str | None) -> None:
        descriptor = manifest.descriptor
        self.client.put_manifest(
            self.repository,
            tag or descriptor.digest,
            manifest.data,
            descriptor.media_type,
        )


class _ChunkReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def copy_image(
    source: str | Reference,
    destination: str | Reference,
    *,
    platform: str | None = None,
    auth: httpx.Auth | Mapping[str, httpx.Auth] | None = None,
    progress: bool = True,
    clients: Mapping[str, RegistryClient] | None = None,
    jobs: int | None = None,
) -> CopyResult:
    """Copy an image or image index from source to destination.

    Without ``platform`` an index is copied with every child manifest. With
    ``platform`` (``os/arch[/variant]``) only the matching child manifest is
    copied, unchanged, and tagged at the destination. ``auth`` is an
    httpx.Auth for every registry, or a mapping from ``host[:port]`` to one.
    ``clients`` maps a registry's ``host[:port]`` to a RegistryClient that
    the caller owns, so the caller can read its exchange log. Clients for
    other registries are opened and closed here. ``jobs`` is the number of
    blobs copied at the same time. The default is MAX_PARALLEL_BLOBS, or 1
    when ``clients`` is given, so that the caller's exchange log lists each
    blob's requests together and in a repeatable order.
    """
    if jobs is None:
        jobs = 1 if clients else MAX_PARALLEL_BLOBS
    if jobs < 1:
        raise ValueError(f"invalid jobs {jobs}: use 1 or more blobs at a time")
    source_ref = _as_reference(source)
    destination_ref = _as_reference(destination)
    opened: list[RegistryClient] = []
    try:
        source_end = _open_end(source_ref, auth, clients, opened, create=False)
        destination_end = _open_end(destination_ref, auth, clients, opened, create=True)
        _plan_mount(source_end, destination_end)
        return _copy(source_end, destination_end, platform, progress, jobs)
    finally:
        for client in opened:
            client.close()


def _as_reference(value: str | Reference) -> Reference:
    return parse_reference(value) if isinstance(value, str) else value


def _open_end(
    reference: Reference,
    auth: httpx.Auth | Mapping[str, httpx.Auth] | None,
    clients: Mapping[str, RegistryClient] | None,
    opened: list[RegistryClient],
    *,
    create: bool,
) -> _LayoutEnd | _RegistryEnd:
    if isinstance(reference, LayoutReference):
        return _LayoutEnd(reference, create=create)
    client = (clients or {}).get(reference.host)
    if client is None:
        host_auth = auth.get(reference.host) if isinstance(auth, Mapping) else auth
        client = RegistryClient(reference.url, auth=host_auth)
        opened.append(client)
    return _RegistryEnd(reference, client)


def _plan_mount(source: _Source, destination: _Destination) -> None:
    if not isinstance(source, _RegistryEnd) or not isinstance(
        destination, _RegistryEnd
    ):
        return
    same_registry = source.client.base_url == destination.client.base_url
    if same_registry and source.repository != destination.repository:
        destination.mount_from = source.repository


def _copy(
    source: _LayoutEnd | _RegistryEnd,
    destination: _LayoutEnd | _RegistryEnd,
    platform: str | None,
    progress: bool,
    jobs: int,
) -> CopyResult:
    root = source.root()
    if platform is not None:
        root = _select_platform(source, root, platform)
    manifests = _collect_manifests(source, root)
    blobs = _collect_blobs(manifests)
    with tqdm(
        total=len(blobs),
        desc="blobs",
        unit=" blob",
        file=sys.stderr,
        disable=not progress,
    ) as bar:
        if jobs == 1 or len(blobs) < 2:
            outcomes = []
            for blob in blobs:
                outcomes.append(_copy_blob(source, destination, blob))
                bar.update()
        else:
            outcomes = _copy_blobs_parallel(source, destination, blobs, jobs, bar)
    copied = sum(outcomes)
    skipped = len(blobs) - copied
    copied_bytes = sum(blob.size for blob, done in zip(blobs, outcomes) if done)
    for manifest in manifests[:-1]:
        destination.put_manifest(manifest, None)
    destination.put_manifest(manifests[-1], _destination_tag(source, destination))
    log.info("copied %s: %d blobs, %d skipped", root.descriptor.digest, copied, skipped)
    return CopyResult(
        root.descriptor.digest,
        copied,
        skipped,
        copied_bytes,
        [manifest.descriptor for manifest in manifests],
    )


def _copy_blob(
    source: _LayoutEnd | _RegistryEnd,
    destination: _LayoutEnd | _RegistryEnd,
    blob: Descriptor,
) -> bool:
    """Copy one blob unless the destination has it; return True when it was copied."""
    if destination.has_blob(blob):
        return False
    destination.put_blob(blob, source)
    return True


def _copy_blobs_parallel(
    source: _LayoutEnd | _RegistryEnd,
    destination: _LayoutEnd | _RegistryEnd,
    blobs: list[Descriptor],
    jobs: int,
    bar: tqdm,
) -> list[bool]:
    """Copy blobs in up to jobs threads and return _copy_blob's result for each.

    The first error cancels the blobs not yet started, waits for those in
    flight and is raised. httpx.Client and ExchangeLog are safe to share
    between threads.
    """
    with ThreadPoolExecutor(max_workers=min(jobs, len(blobs))) as pool:
        futures: list[Future[bool]] = [
            pool.submit(_copy_blob, source, destination, blob) for blob in blobs
        ]
        pending: set[Future[bool]] = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            bar.update(len(done))
            for future in done:
                if future.exception() is not None:
                    for waiting in pending:
                        waiting.cancel()
                    raise future.exception()  # type: ignore[misc]
    return [future.result() for future in futures]


def _select_platform(
    source: _LayoutEnd | _RegistryEnd, root: _ManifestBytes, platform: str
) -> _ManifestBytes:
    """Return the child manifest of an index that matches platform.

    A root that is already a single manifest is returned as it is.
    """
    if not isinstance(root.document, ImageIndex):
        return root
    requested = as_platform(platform)
    children = [d for d in root.document.manifests if d.platform is not None]
    exact = [d for d in children if normalize(d.platform) == normalize(requested)]  # type: ignore[arg-type]
    matches = exact or [
        d
        for d in children
        if platform_matches(d.platform, requested)  # type: ignore[arg-type]
    ]
    if not matches:
        available = ", ".join(str(d.platform) for d in children) or "none"
        raise ImageError(
            f"platform {requested} not found in index {root.descriptor.digest}: "
            f"it lists {available}"
        )
    return source.child(matches[0])


def _collect_manifests(
    source: _LayoutEnd | _RegistryEnd, root: _ManifestBytes
) -> list[_ManifestBytes]:
    """Read root and every manifest below it, children before their parents."""
    ordered: list[_ManifestBytes] = []
    seen: set[str] = set()

    def visit(manifest: _ManifestBytes) -> None:
        if isinstance(manifest.document, ImageIndex):
            for child in manifest.document.manifests:
                if child.digest not in seen:
                    seen.add(child.digest)
                    visit(source.child(child))
        ordered.append(manifest)

    seen.add(root.descriptor.digest)
    visit(root)
    return ordered


def _collect_blobs(manifests: list[_ManifestBytes]) -> list[Descriptor]:
    blobs: dict[str, Descriptor] = {}
    for manifest in manifests:
        document = manifest.document
        if not isinstance(document, ImageManifest):
            continue
        for blob in (document.config, *document.layers):
            if blob is not None:
                blobs.setdefault(blob.digest, blob)
    return list(blobs.values())


def _destination_tag(
    source: _LayoutEnd | _RegistryEnd, destination: _LayoutEnd | _RegistryEnd
) -> str | None:
    """Name the root at the destination: its own tag or ref, else the source's."""
    if isinstance(destination, _RegistryEnd):
        own: str | None = destination.reference.tag
        if destination.reference.digest:
            return None
    else:
        own = destination.reference.ref
    if own:
        return own
    if isinstance(source, _RegistryEnd):
        return None if source.reference.digest else source.reference.reference
    return source.reference.ref
