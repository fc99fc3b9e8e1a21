"""Build OCI images by hand, reproducibly: layer tars, config, manifest.

Every byte is determined by the inputs: tar entries are sorted by name, owned
by 0:0 with a fixed mtime, gzip carries no file name or time, and JSON
documents are written with sorted keys and no spaces. Building the same files
twice therefore gives the same digests.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import io
import json
import os
import platform
import stat
import struct
import tarfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ..errors import ImageError
from . import mediatypes
from .digest import digest_bytes

__all__ = [
    "OPAQUE_WHITEOUT",
    "WHITEOUT_PREFIX",
    "chain_ids",
    "extend_image",
    "Blob",
    "BuiltImage",
    "LayerBuilder",
    "build_image",
    "canonical_json",
    "host_platform",
]

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"

# 1970-01-01T00:00:00Z: the time stamp of every entry and of the image, unless
# the caller passes SOURCE_DATE_EPOCH-style seconds of their own.
DEFAULT_EPOCH = 0


def canonical_json(document: Any) -> bytes:
    """Encode a JSON document with sorted keys and no spaces."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def host_platform() -> dict[str, str]:
    """Return this machine's platform in OCI terms, e.g. {"architecture": "amd64", "os": "linux"}."""
    machine = platform.machine().lower()
    architecture = {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "armv7l": "arm",
        "ppc64le": "ppc64le",
        "s390x": "s390x",
        "riscv64": "riscv64",
    }.get(machine, machine)
    result = {"architecture": architecture, "os": "linux"}
    if machine == "armv7l":
        result["variant"] = "v7"
    return result


@dataclass(frozen=True)
class Blob:
    """Content addressed by its digest, with the media type it is stored under."""

    media_type: str
    data: bytes

    @functools.cached_property
    def digest(self) -> str:
        # Cached because manifests, descriptors and writers each read it, and
        # hashing a 100 MB layer takes about 0.1 s.
        return digest_bytes(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """Return the OCI descriptor of this blob; extra keys are added as given."""
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
            **extra,
        }


@dataclass
class _Entry:
    kind: bytes
    mode: int
    data: bytes = b""
    linkname: str = ""
    # A host file whose content is read only when the tar is written.
    source: Path | None = None

    @property
    def size(self) -> int:
        return self.source.stat().st_size if self.source is not None else len(self.data)

    def content(self) -> IO[bytes] | None:
        if self.source is not None:
            return self.source.open("rb")
        return io.BytesIO(self.data) if self.data else None


@dataclass
class LayerBuilder:
    """Collect files, directories and symlinks, then write them as one layer.

    Paths are relative to the image root ("bin/sh" or "/bin/sh" are the same).
    Missing parent directories are added with mode 0755.
    """

    mtime: int = DEFAULT_EPOCH
    entries: dict[str, _Entry] = field(default_factory=dict)

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        self._put(path, _Entry(tarfile.DIRTYPE, mode))

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._put(path, _Entry(tarfile.REGTYPE, mode, data=data))

    def add_symlink(self, path: str, target: str) -> None:
        self._put(path, _Entry(tarfile.SYMTYPE, 0o777, linkname=target))

    def add_hardlink(self, path: str, target: str) -> None:
        """Add a hard link to target, a path of this layer (relative to the image root)."""
        linked = self.entries.get(_clean(target))
        mode = linked.mode if linked is not None else 0o644
        self._put(path, _Entry(tarfile.LNKTYPE, mode, linkname=_clean(target)))

    def add_host_file(self, path: str, source: Path, mode: int | None = None) -> None:
        """Add a regular file whose content is read from source when the tar is written."""
        source_mode = source.stat().st_mode & 0o7777
        self._put(
            path,
            _Entry(
                tarfile.REGTYPE, source_mode if mode is None else mode, source=source
            ),
        )

    def add_whiteout(self, path: str) -> None:
        """Hide path of lower layers: an empty file named .wh.<name> beside it."""
        name = PurePosixPath(_clean(path))
        self._put(
            str(name.parent / f"{WHITEOUT_PREFIX}{name.name}"),
            _Entry(tarfile.REGTYPE, 0o644),
        )

    def add_opaque_whiteout(self, directory: str) -> None:
        """Hide everything lower layers put in directory (the .wh..wh..opq marker)."""
        self._put(
            f"{_clean(directory)}/{OPAQUE_WHITEOUT}", _Entry(tarfile.REGTYPE, 0o644)
        )

    def add_tree(self, folder: Path, prefix: str = "") -> None:
        """Add every file, folder and symlink below folder, under prefix in the image.

        Modes come from the host (permission bits only); owners and times do
        not, so the layer depends only on names, content, modes and links.
        Files that share an inode become one file and hard links to it.
        Sockets, FIFOs and devices raise ImageError naming the path.
        """
        folder = Path(folder)
        seen_inodes: dict[tuple[int, int], str] = {}
        for host_path in sorted(
            folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()
        ):
            relative = host_path.relative_to(folder).as_posix()
            name = f"{prefix.strip('/')}/{relative}" if prefix.strip("/") else relative
            info = host_path.lstat()
            if stat.S_ISLNK(info.st_mode):
                self.add_symlink(name, os.readlink(host_path))
            elif stat.S_ISDIR(info.st_mode):
                self.add_dir(name, mode=info.st_mode & 0o7777)
            elif stat.S_ISREG(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if info.st_nlink > 1 and key in seen_inodes:
                    self.add_hardlink(name, seen_inodes[key])
                    continue
                seen_inodes[key] = name
                self.add_host_file(name, host_path)
            else:
                raise ImageError(
                    f"cannot add {host_path} to a layer: only files, folders and "
                    "symlinks are supported (it is a socket, FIFO or device)"
                )

    def _put(self, path: str, entry: _Entry) -> None:
        name = _clean(path)
        for parent in reversed(PurePosixPath(name).parents):
            key = str(parent)
            if key != "." and key not in self.entries:
                self.entries[key] = _Entry(tarfile.DIRTYPE, 0o755)
        self.entries[name] = entry

    def tar_bytes(self) -> bytes:
        """Return the uncompressed layer tar (its digest is the layer's diff_id)."""
        buffer = io.BytesIO()
        self._write_tar(buffer)
        return buffer.getvalue()

    def _write_tar(self, output: IO[bytes]) -> None:
        with tarfile.open(fileobj=output, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(self.entries):
                entry = self.entries[name]
                info = tarfile.TarInfo(
                    name + "/" if entry.kind == tarfile.DIRTYPE else name
                )
                info.type = entry.kind
                info.mode = entry.mode
                info.mtime = self.mtime
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.linkname = entry.linkname
                info.size = entry.size if entry.kind == tarfile.REGTYPE else 0
                content = entry.content() if entry.kind == tarfile.REGTYPE else None
                try:
                    tar.addfile(info, content)
                finally:
                    if content is not None:
                        content.close()

    def build(self, *, threads: int | None = None) -> tuple[Blob, str]:
        """Return the gzip-compressed layer blob and its diff_id.

        The tar streams into a compressor that deflates 1 MiB blocks in
        ``threads`` threads (default: one per CPU) and joins them into one
        gzip member, as pigz does, so the uncompressed tar is never held in
        memory whole. The output depends only on the entries, never on the
        number of threads.
        """
        output = io.BytesIO()
        with _ParallelGzipWriter(output, threads=threads) as writer:
            self._write_tar(writer)
        return Blob(mediatypes.OCI_LAYER_TAR_GZIP, output.getvalue()), writer.diff_id


# Uncompressed bytes per deflate block of _ParallelGzipWriter. Each block is
# primed with the 32 KiB before it, so the size costs almost no compression.
_GZIP_BLOCK = 1 << 20
_GZIP_LEVEL = 6
_DEFLATE_WINDOW = 1 << 15
# The gzip header of RFC 1952 with no file name, mtime 0, extra flags 0 and
# OS 255 (unknown), so the output does not depend on the host.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def _deflate_block(block: bytes, dictionary: bytes, last: bool) -> bytes:
    """Deflate one block as a raw deflate fragment that the next block continues.

    A block other than the last ends on a byte boundary (Z_SYNC_FLUSH) and
    without the final-block bit, so the fragments concatenate into one valid
    deflate stream. zlib releases the GIL while it compresses.
    """
    options = {"zdict": dictionary} if dictionary else {}
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, **options)
    data = compressor.compress(block)
    return data + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class _ParallelGzipWriter(io.RawIOBase):
    """A writable stream that gzips what it receives with deflate blocks in threads.

    Written bytes are cut into _GZIP_BLOCK blocks, each deflated in a thread
    pool with the previous 32 KiB as its dictionary, and written to ``output``
    in order between one gzip header and trailer (CRC-32 and size). At most
    two blocks per thread are in flight. The sha256 of the uncompressed
    bytes is ``diff_id`` once the writer is closed.
    """

    def __init__(self, output: IO[bytes], *, threads: int | None = None) -> None:
        super().__init__()
        self._output = output
        self._threads = max(1, threads or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self._threads, "ocilab-gzip")
        self._pending: deque[Future[bytes]] = deque()
        # sha256 and CRC-32 of the uncompressed bytes, computed per block in
        # one more thread so that the thread writing the tar does not wait.
        self._checksum_pool = ThreadPoolExecutor(1, "ocilab-gzip-checksum")
        self._checksums: deque[Future[None]] = deque()
        self._written = 0
        self._buffer = bytearray()
        self._dictionary = b""
        self._crc = 0
        self._size = 0
        self._hasher = hashlib.sha256()
        self.diff_id = ""
        self._output.write(_GZIP_HEADER)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        # tarfile.open(mode="w") calls tell() on the file object it is given.
        return self._written

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        self._written += len(view)
        while len(self._buffer) > _GZIP_BLOCK:
            block = bytes(self._buffer[:_GZIP_BLOCK])
            del self._buffer[:_GZIP_BLOCK]
            self._submit(block, last=False)
        return len(view)

    def _checksum(self, block: bytes) -> None:
        # Runs in the one-thread checksum pool, so blocks arrive in order.
        self._hasher.update(block)
        self._crc = zlib.crc32(block, self._crc)
        self._size += len(block)

    def _submit(self, block: bytes, *, last: bool) -> None:
        self._checksums.append(self._checksum_pool.submit(self._checksum, block))
        future = self._pool.submit(_deflate_block, block, self._dictionary, last)
        self._pending.append(future)
        self._dictionary = block[-_DEFLATE_WINDOW:]
        while len(self._pending) > 2 * self._threads:
            self._output.write(self._pending.popleft().result())
        while self._checksums and self._checksums[0].done():
            self._checksums.popleft().result()

    def close(self) -> None:
        if self.closed:
            return
        try:
            # The last block is empty only for empty input, and it still
            # carries the final-block bit.
            self._submit(bytes(self._buffer), last=True)
            self._buffer.clear()
            while self._pending:
                self._output.write(self._pending.popleft().result())
            while self._checksums:
                self._checksums.popleft().result()
            self._output.write(
                struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
            )
            self.diff_id = f"sha256:{self._hasher.hexdigest()}"
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._checksum_pool.shutdown(wait=True, cancel_futures=True)
            super().close()


def _clean(path: str) -> str:
    parts = [part for part in PurePosixPath(path).parts if part not in ("/", ".")]
    if not parts or ".." in parts:
        raise ValueError(
            f"invalid path in layer: {path!r}; use a path below the image root"
        )
    return "/".join(parts)


@dataclass(frozen=True)
class BuiltImage:
    """An image made of a config, layers and the manifest that ties them together."""

    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """The blobs a registry must hold before the manifest may be pushed."""
        return (*self.layers, self.config)


def build_image(
    layers: list[tuple[Blob, str]],
    *,
    container_config: dict[str, Any] | None = None,
    created_by: str = "ocilab",
    epoch: int = DEFAULT_EPOCH,
    platform_: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> BuiltImage:
    """Write the image config and manifest for already built layers.

    ``layers`` contains (blob, diff_id) pairs from LayerBuilder.build(), lowest first.
    ``container_config`` is the config's "config" object (Env, Cmd, Entrypoint…).
    """
    created = _rfc3339(epoch)
    config_document: dict[str, Any] = {
        **(platform_ or host_platform()),
        "created": created,
        "config": container_config or {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
        "history": [{"created": created, "created_by": created_by} for _ in layers],
    }
    config = Blob(mediatypes.OCI_CONFIG, canonical_json(config_document))
    manifest_document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [blob.descriptor() for blob, _ in layers],
    }
    if annotations:
        manifest_document["annotations"] = dict(annotations)
    manifest = Blob(mediatypes.OCI_MANIFEST, canonical_json(manifest_document))
    return BuiltImage(
        manifest=manifest, config=config, layers=tuple(blob for blob, _ in layers)
    )


def _rfc3339(epoch: int) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def chain_ids(diff_ids: list[str]) -> list[str]:
    """Return the ChainID of each layer stack, as image-spec config.md defines it.

    ChainID(L0) = DiffID(L0), and ChainID(L0..Ln) =
    sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)) written as "sha256:<hex>".
    """
    result: list[str] = []
    for diff_id in diff_ids:
        if not result:
            result.append(diff_id)
            continue
        text = f"{result[-1]} {diff_id}".encode()
        result.append(f"sha256:{hashlib.sha256(text).hexdigest()}")
    return result


def extend_image(
    base_manifest: dict[str, Any],
    base_config: dict[str, Any],
    layers: list[tuple[Blob, str]],
    *,
    container_config: dict[str, Any] | None = None,
    created_by: str = "ocilab",
    epoch: int = DEFAULT_EPOCH,
) -> BuiltImage:
    """Add layers on top of an existing image; return the new image.

    The new config keeps the base config, appends each diff_id and a history
    entry, and merges container_config into its "config" object. The new
    manifest lists the base layers, then the new ones. The returned image's
    ``layers`` holds only the new blobs: the base blobs must already be where
    the image goes (registry repository or layout).
    """
    config_document = json.loads(canonical_json(base_config))
    created = _rfc3339(epoch)
    config_document["created"] = created
    rootfs = config_document.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs.setdefault("diff_ids", [])
    rootfs["diff_ids"] = list(rootfs["diff_ids"] or []) + [
        diff_id for _, diff_id in layers
    ]
    history = list(config_document.get("history") or [])
    history += [{"created": created, "created_by": created_by} for _ in layers]
    config_document["history"] = history
    if container_config:
        merged = dict(config_document.get("config") or {})
        merged.update(container_config)
        config_document["config"] = merged
    config = Blob(
        base_config_media_type(base_manifest), canonical_json(config_document)
    )
    manifest_document = json.loads(canonical_json(base_manifest))
    manifest_document["config"] = {
        **manifest_document.get("config", {}),
        **config.descriptor(),
    }
    manifest_document["layers"] = list(manifest_document.get("layers") or []) + [
        blob.descriptor() for blob, _ in layers
    ]
    media_type = manifest_document.get("mediaType") or mediatypes.OCI_MANIFEST
    manifest = Blob(media_type, canonical_json(manifest_document))
    return BuiltImage(
        manifest=manifest, config=config, layers=tuple(blob for blob, _ in layers)
    )


def base_config_media_type(manifest: dict[str, Any]) -> str:
    config = manifest.get("config")
    if isinstance(config, dict) and isinstance(config.get("mediaType"), str):
        return str(config["mediaType"])
    return mediatypes.OCI_CONFIG
