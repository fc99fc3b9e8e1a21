"""Build OCI images by hand, reproducibly: layer tars, config, manifest.

Every byte is determined by the inputs: tar entries are sorted by name, owned
by 0:0 with a fixed mtime, gzip carries no file name or time, and JSON
documents are written with sorted keys and no spaces. Building the same files
twice therefore gives the same digests.
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import platform
import tarfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from . import mediatypes
from .digest import digest_bytes

__all__ = [
    "Blob",
    "BuiltImage",
    "LayerBuilder",
    "build_image",
    "canonical_json",
    "host_platform",
]

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

    @property
    def digest(self) -> str:
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
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
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
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data) if entry.data else None)
        return buffer.getvalue()

    def build(self) -> tuple[Blob, str]:
        """Return the gzip-compressed layer blob and its diff_id."""
        raw = self.tar_bytes()
        compressed = gzip.compress(raw, compresslevel=6, mtime=0)
        return Blob(mediatypes.OCI_LAYER_TAR_GZIP, compressed), digest_bytes(raw)


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

    ``layers`` holds (blob, diff_id) pairs from LayerBuilder.build(), lowest first.
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
