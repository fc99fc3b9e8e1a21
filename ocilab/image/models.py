"""Models of the OCI image spec's JSON documents, as frozen dataclasses.

Each model keeps the document it was parsed from in ``raw``, so a lesson can
show the exact JSON and nothing is lost for fields the model does not name.
Parsing is lenient about shape: ``null`` where an object or list belongs reads
as absent, and fields of the wrong type read as absent too. Checking a
document against the spec is the job of ``ocilab.image.validate``, which
reports every finding; parsing never raises for a well-formed JSON object.

Sources: image-spec v1.1 descriptor.md, manifest.md, image-index.md,
config.md and image-layout.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ImageError
from . import mediatypes

__all__ = [
    "Descriptor",
    "ImageConfig",
    "ImageIndex",
    "ImageManifest",
    "OCILayoutHeader",
    "Platform",
    "load_json",
    "parse_document",
]


def load_json(data: bytes | str, what: str = "document") -> dict[str, Any]:
    """Parse JSON text that must be an object; raise ImageError naming what it was."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as error:
        # ValueError covers invalid UTF-8 and integers of more than 4300 digits,
        # and RecursionError covers very deep nesting.
        raise ImageError(f"invalid JSON in {what}: {error}") from error
    if not isinstance(value, dict):
        raise ImageError(
            f"invalid {what}: expected a JSON object, got {type(value).__name__}"
        )
    return value


def _str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _int(raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    return value if isinstance(value, list) else []


def _strings(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(item for item in _list(raw, key) if isinstance(item, str))


def _annotations(raw: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in _dict(raw, "annotations").items() if isinstance(v, str)}


@dataclass(frozen=True)
class Platform:
    """The platform an image runs on: architecture, os, and optional variant and features."""

    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Platform:
        return cls(
            architecture=_str(raw, "architecture") or "",
            os=_str(raw, "os") or "",
            variant=_str(raw, "variant"),
            os_version=_str(raw, "os.version"),
            os_features=_strings(raw, "os.features"),
            raw=dict(raw),
        )

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse "os/arch[/variant]", as in "linux/arm64/v8"."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ImageError(
                f"invalid platform {text!r}: use os/architecture[/variant], e.g. linux/amd64"
            )
        return cls(
            architecture=parts[1],
            os=parts[0],
            variant=parts[2] if len(parts) == 3 else None,
        )

    def __str__(self) -> str:
        return "/".join(
            part for part in (self.os, self.architecture, self.variant) if part
        )


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: media type, digest, size, and optional extras."""

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    data: str | None = None
    artifact_type: str | None = None
    platform: Platform | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Descriptor:
        platform = raw.get("platform")
        return cls(
            media_type=_str(raw, "mediaType") or "",
            digest=_str(raw, "digest") or "",
            size=_int(raw, "size") if _int(raw, "size") is not None else -1,
            urls=_strings(raw, "urls"),
            annotations=_annotations(raw),
            data=_str(raw, "data"),
            artifact_type=_str(raw, "artifactType"),
            platform=Platform.from_json(platform)
            if isinstance(platform, dict)
            else None,
            raw=dict(raw),
        )

    @property
    def ref_name(self) -> str | None:
        """The org.opencontainers.image.ref.name annotation (a tag in a layout's index.json)."""
        return self.annotations.get(mediatypes.ANNOTATION_REF_NAME)

    def to_json(self) -> dict[str, Any]:
        return (
            dict(self.raw)
            if self.raw
            else {
                "mediaType": self.media_type,
                "digest": self.digest,
                "size": self.size,
            }
        )

    def _repr_html_(self) -> str:
        from ._html_views import descriptor_html

        return descriptor_html(self)


def _descriptor(raw: Mapping[str, Any], key: str) -> Descriptor | None:
    value = raw.get(key)
    return Descriptor.from_json(value) if isinstance(value, dict) else None


def _descriptors(raw: Mapping[str, Any], key: str) -> tuple[Descriptor, ...]:
    return tuple(
        Descriptor.from_json(item) for item in _list(raw, key) if isinstance(item, dict)
    )


@dataclass(frozen=True)
class ImageManifest:
    """An image manifest: one config and ordered layers (OCI or Docker schema 2)."""

    schema_version: int | None
    media_type: str | None
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ImageManifest:
        return cls(
            schema_version=_int(raw, "schemaVersion"),
            media_type=_str(raw, "mediaType"),
            config=_descriptor(raw, "config"),
            layers=_descriptors(raw, "layers"),
            artifact_type=_str(raw, "artifactType"),
            subject=_descriptor(raw, "subject"),
            annotations=_annotations(raw),
            raw=dict(raw),
        )

    def _repr_html_(self) -> str:
        from ._html_views import manifest_html

        return manifest_html(self)


@dataclass(frozen=True)
class ImageIndex:
    """An image index (or Docker manifest list): descriptors of manifests or indexes."""

    schema_version: int | None
    media_type: str | None
    manifests: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ImageIndex:
        return cls(
            schema_version=_int(raw, "schemaVersion"),
            media_type=_str(raw, "mediaType"),
            manifests=_descriptors(raw, "manifests"),
            artifact_type=_str(raw, "artifactType"),
            subject=_descriptor(raw, "subject"),
            annotations=_annotations(raw),
            raw=dict(raw),
        )

    def _repr_html_(self) -> str:
        from ._html_views import index_html

        return index_html(self)


@dataclass(frozen=True)
class ImageConfig:
    """An image configuration: platform, container defaults, layer diff IDs and history."""

    architecture: str
    os: str
    variant: str | None = None
    created: str | None = None
    author: str | None = None
    user: str | None = None
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str | None = None
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    diff_ids: tuple[str, ...] = ()
    rootfs_type: str | None = None
    history: tuple[dict[str, Any], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ImageConfig:
        config = _dict(raw, "config")
        rootfs = _dict(raw, "rootfs")
        entrypoint = config.get("Entrypoint")
        cmd = config.get("Cmd")
        return cls(
            architecture=_str(raw, "architecture") or "",
            os=_str(raw, "os") or "",
            variant=_str(raw, "variant"),
            created=_str(raw, "created"),
            author=_str(raw, "author"),
            user=_str(config, "User"),
            env=_strings(config, "Env"),
            entrypoint=tuple(x for x in entrypoint if isinstance(x, str))
            if isinstance(entrypoint, list)
            else None,
            cmd=tuple(x for x in cmd if isinstance(x, str))
            if isinstance(cmd, list)
            else None,
            working_dir=_str(config, "WorkingDir"),
            exposed_ports=tuple(_dict(config, "ExposedPorts")),
            volumes=tuple(_dict(config, "Volumes")),
            labels={
                k: v for k, v in _dict(config, "Labels").items() if isinstance(v, str)
            },
            stop_signal=_str(config, "StopSignal"),
            diff_ids=_strings(rootfs, "diff_ids"),
            rootfs_type=_str(rootfs, "type"),
            history=tuple(
                item for item in _list(raw, "history") if isinstance(item, dict)
            ),
            raw=dict(raw),
        )

    @property
    def platform(self) -> Platform:
        return Platform(
            architecture=self.architecture, os=self.os, variant=self.variant
        )

    def _repr_html_(self) -> str:
        from ._html_views import config_html

        return config_html(self)


@dataclass(frozen=True)
class OCILayoutHeader:
    """The oci-layout file at the root of an image layout."""

    image_layout_version: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OCILayoutHeader:
        return cls(image_layout_version=_str(raw, "imageLayoutVersion"), raw=dict(raw))


_INDEX_TYPES = {mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST}
_MANIFEST_TYPES = {mediatypes.OCI_MANIFEST, mediatypes.DOCKER_MANIFEST}


def parse_document(
    data: bytes | str | Mapping[str, Any], media_type: str | None = None
) -> ImageManifest | ImageIndex:
    """Parse a manifest or index, by the given media type, else its own, else its shape.

    A document with "manifests" is an index and one with "layers" or "config"
    a manifest, which is how clients read documents whose mediaType is absent.
    """
    raw = (
        dict(data)
        if isinstance(data, Mapping)
        else load_json(data, "manifest or index")
    )
    kind = media_type or _str(raw, "mediaType")
    if kind in _INDEX_TYPES or (kind not in _MANIFEST_TYPES and "manifests" in raw):
        return ImageIndex.from_json(raw)
    if kind in _MANIFEST_TYPES or "layers" in raw or "config" in raw:
        return ImageManifest.from_json(raw)
    raise ImageError(
        f"cannot tell whether this document is a manifest or an index: mediaType is "
        f"{kind!r} and it has neither 'manifests' nor 'layers'"
    )
