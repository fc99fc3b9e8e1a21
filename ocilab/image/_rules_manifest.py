"""Rules for image manifests, image indexes and the oci-layout file.

These follow image-spec manifest.md, image-index.md and image-layout.md, and
also accept the Docker schema 2 manifest and manifest list media types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import mediatypes
from ._findings import (
    _STRING,
    Finding,
    Findings,
    _bad_media_type,
    _finding,
    _is_int,
    _missing,
    _not_an_object,
    _show,
    _unwrap,
    _wrong_map,
)
from ._rules_descriptor import validate_descriptor


# schemaVersion is REQUIRED and MUST be 2 (manifest.md, image-index.md).
def _schema_version(document: dict[str, Any], scope: str) -> Iterator[Finding]:
    yield from _missing(
        document, "schemaVersion", f"{scope}.schemaVersion.required", "", "2"
    )
    if "schemaVersion" not in document:
        return
    version = document["schemaVersion"]
    if not (_is_int(version) and version == 2):
        yield _finding(
            f"{scope}.schemaVersion.value",
            "/schemaVersion",
            f"invalid schemaVersion {_show(version)}: expected the integer 2",
        )


# mediaType SHOULD be set and, when set, MUST be the document's own media type.
def _own_media_type(
    document: dict[str, Any], scope: str, expected: frozenset[str]
) -> Iterator[Finding]:
    names = " or ".join(repr(name) for name in sorted(expected))
    if "mediaType" not in document:
        yield _finding(
            f"{scope}.mediaType.missing",
            "/mediaType",
            f"the {scope} has no mediaType: it should be set to {names}",
        )
        return
    value = document["mediaType"]
    if not isinstance(value, str) or value not in expected:
        yield _finding(
            f"{scope}.mediaType.value",
            "/mediaType",
            f"invalid mediaType {_show(value)} for this {scope}: expected {names}",
        )


# artifactType, when present, MUST be an RFC 6838 media type.
def _artifact_type(document: dict[str, Any], scope: str) -> Iterator[Finding]:
    if "artifactType" in document:
        yield from _bad_media_type(
            document["artifactType"], "/artifactType", f"{scope}.artifactType.format"
        )


# subject, when present, MUST be a descriptor.
def _subject(document: dict[str, Any]) -> Iterator[Finding]:
    if "subject" in document:
        yield from validate_descriptor(document["subject"], "/subject")


# annotations MUST map string keys to string values (annotations.md).
def _annotations(document: dict[str, Any], scope: str) -> Iterator[Finding]:
    yield from _wrong_map(
        document, "annotations", _STRING, f"{scope}.annotations.type", "", null_ok=False
    )


# config is REQUIRED and MUST be a descriptor.
def _manifest_config(manifest: dict[str, Any]) -> Iterator[Finding]:
    yield from _missing(
        manifest, "config", "manifest.config.required", "", "a descriptor"
    )
    if "config" in manifest:
        yield from validate_descriptor(manifest["config"], "/config")


# layers is REQUIRED and each entry MUST be a descriptor.
def _manifest_layers(manifest: dict[str, Any]) -> Iterator[Finding]:
    yield from _missing(
        manifest, "layers", "manifest.layers.required", "", "an array of descriptors"
    )
    if "layers" not in manifest:
        return
    layers = manifest["layers"]
    if not isinstance(layers, list):
        yield _finding(
            "manifest.layers.type",
            "/layers",
            f"invalid layers {_show(layers)}: expected an array of descriptors",
        )
        return
    for index, layer in enumerate(layers):
        yield from validate_descriptor(layer, f"/layers/{index}")


# In manifest.md an entry in layers is only a SHOULD, but the schema sets minItems 1
# and upstream's tests reject an empty array, so an empty array is a MUST finding.
def _manifest_layers_empty(manifest: dict[str, Any]) -> Iterator[Finding]:
    if manifest.get("layers") == []:
        yield _finding(
            "manifest.layers.empty",
            "/layers",
            "invalid layers []: expected at least one descriptor, for example the "
            f"empty descriptor of media type {mediatypes.OCI_EMPTY!r}",
        )


# artifactType MUST be set when config.mediaType is the empty media type.
def _manifest_artifact_type_required(manifest: dict[str, Any]) -> Iterator[Finding]:
    config = manifest.get("config")
    if not isinstance(config, dict) or "artifactType" in manifest:
        return
    if config.get("mediaType") == mediatypes.OCI_EMPTY:
        yield _finding(
            "manifest.artifactType.required",
            "/artifactType",
            f"missing artifactType: config.mediaType is {mediatypes.OCI_EMPTY!r}, "
            "so artifactType must name the artifact's media type",
        )


def validate_manifest(obj: Any, media_type: str | None = None) -> Findings:
    """Check an image manifest (manifest.md), OCI or Docker schema 2.

    obj is the parsed JSON or a models.ImageManifest. With media_type None,
    the manifest's own mediaType may be either manifest type. Otherwise it
    must equal media_type.
    """
    manifest = _unwrap(obj)
    if not isinstance(manifest, dict):
        return Findings([_not_an_object(manifest, "document.type", "", "manifest")])
    expected = frozenset({media_type}) if media_type else mediatypes.MANIFEST_TYPES
    findings = Findings()
    findings.extend(_schema_version(manifest, "manifest"))
    findings.extend(_own_media_type(manifest, "manifest", expected))
    findings.extend(_artifact_type(manifest, "manifest"))
    findings.extend(_manifest_config(manifest))
    findings.extend(_manifest_layers(manifest))
    findings.extend(_manifest_layers_empty(manifest))
    findings.extend(_manifest_artifact_type_required(manifest))
    findings.extend(_subject(manifest))
    findings.extend(_annotations(manifest, "manifest"))
    return findings


# manifests is REQUIRED, MAY be empty, and each entry MUST be a descriptor.
def _index_manifests(index: dict[str, Any]) -> Iterator[Finding]:
    yield from _missing(
        index, "manifests", "index.manifests.required", "", "an array of descriptors"
    )
    if "manifests" not in index:
        return
    manifests = index["manifests"]
    if not isinstance(manifests, list):
        yield _finding(
            "index.manifests.type",
            "/manifests",
            f"invalid manifests {_show(manifests)}: expected an array of descriptors",
        )
        return
    for position, entry in enumerate(manifests):
        yield from validate_descriptor(entry, f"/manifests/{position}")


def validate_index(obj: Any, media_type: str | None = None) -> Findings:
    """Check an image index (image-index.md), OCI or Docker manifest list.

    obj is the parsed JSON or a models.ImageIndex. With media_type None, the
    index's own mediaType may be either index type. Otherwise it must equal
    media_type.
    """
    index = _unwrap(obj)
    if not isinstance(index, dict):
        return Findings([_not_an_object(index, "document.type", "", "index")])
    expected = frozenset({media_type}) if media_type else mediatypes.INDEX_TYPES
    findings = Findings()
    findings.extend(_schema_version(index, "index"))
    findings.extend(_own_media_type(index, "index", expected))
    findings.extend(_artifact_type(index, "index"))
    findings.extend(_index_manifests(index))
    findings.extend(_subject(index))
    findings.extend(_annotations(index, "index"))
    return findings


# imageLayoutVersion is REQUIRED and MUST be "1.0.0".
def _layout_version(header: dict[str, Any]) -> Iterator[Finding]:
    yield from _missing(
        header,
        "imageLayoutVersion",
        "layout.imageLayoutVersion.required",
        "",
        "'1.0.0'",
    )
    version = header.get("imageLayoutVersion", "1.0.0")
    if version != "1.0.0":
        yield _finding(
            "layout.imageLayoutVersion.value",
            "/imageLayoutVersion",
            f"invalid imageLayoutVersion {_show(version)}: expected '1.0.0'",
        )


def validate_layout_header(obj: Any) -> Findings:
    """Check the oci-layout file of an image layout (image-layout.md)."""
    header = _unwrap(obj)
    if not isinstance(header, dict):
        return Findings([_not_an_object(header, "document.type", "", "oci-layout")])
    return Findings(_layout_version(header))
