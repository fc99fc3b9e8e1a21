"""Check OCI image documents against the image spec and report every finding.

Each validator returns :class:`Findings`, a list of :class:`Finding`. A finding
names the rule it breaks, by a stable id such as ``descriptor.digest.format``,
and the spec level of that rule (MUST or SHOULD). It points into the document
with an RFC 6901 JSON pointer, and its message shows the offending value (a
Python repr) and what was expected. The validators never stop at the first
problem. Malformed JSON, ``null`` and values of the wrong JSON type become
findings, never exceptions.

What is checked, by page of image-spec v1.1:

- descriptor.md: mediaType, digest and size are required. A media type must
  match the pattern of the upstream JSON schema for RFC 6838 names. A digest
  must match the digest grammar, and a sha256 or sha512 digest must be lowercase
  hex of the right length. A digest whose algorithm is not registered fits the
  grammar but cannot be verified, so it is a SHOULD finding of its own. size is
  an int64 of at least 0, urls are RFC 3986 URIs (http or https recommended),
  annotations map strings to strings, and data is padded base64 whose decoded
  bytes match size and digest. artifactType is a media type, and a platform
  needs architecture and os strings.
- manifest.md: schemaVersion is 2, mediaType names the manifest type, config
  and layers are descriptors, subject is a descriptor, and artifactType is
  required when the config is the empty descriptor.
- image-index.md: schemaVersion is 2, mediaType names the index type, and
  manifests is an array of descriptors whose platform is checked.
- config.md: architecture, os and rootfs are required, rootfs.type is
  "layers", diff_ids are digests, created is an RFC 3339 date-time, Env entries
  are NAME=VALUE, ExposedPorts keys are ports, and every execution parameter
  and history entry has its JSON type. config.md lets any OPTIONAL field of a
  config be null, which means absent, so those nulls are no finding.
- image-layout.md: imageLayoutVersion is "1.0.0".

The Docker schema 2 manifest, manifest list and image config follow the same
rules as their OCI counterparts, except that mediaType names the Docker type.
Besides the JSON schemas, upstream's own validator decodes documents in Go,
which rejects uppercase hex digests, unpadded base64 in ``data`` and Env
entries without ``=``. These checks are part of the rules here as well.

This module contains :func:`validate_document` and re-exports the rest. The
rules live in ``_rules_descriptor``, ``_rules_manifest`` (manifest, index and
oci-layout) and ``_rules_config``. ``_findings`` contains Finding, Findings, the
RULES table and the checks that several rule modules share.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

# The `as` aliases re-export names that callers import from here but __all__ omits.
from ..errors import ValidationError as ValidationError
from . import mediatypes
from ._findings import (
    FRAME_COLUMNS,
    MUST,
    RULES,
    SHOULD,
    Finding,
    Findings,
    _finding,
    _show,
)
from ._rules_config import validate_config
from ._rules_descriptor import INT64_MAX as INT64_MAX
from ._rules_descriptor import validate_blob, validate_descriptor
from ._rules_manifest import validate_index, validate_layout_header, validate_manifest

__all__ = [
    "FRAME_COLUMNS",
    "MUST",
    "RULES",
    "SHOULD",
    "Finding",
    "Findings",
    "validate_blob",
    "validate_config",
    "validate_descriptor",
    "validate_document",
    "validate_index",
    "validate_layout_header",
    "validate_manifest",
]


_VALIDATORS: dict[str, Callable[[Any, str], Findings]] = {
    mediatypes.OCI_DESCRIPTOR: lambda document, _: validate_descriptor(document),
    mediatypes.OCI_MANIFEST: validate_manifest,
    mediatypes.DOCKER_MANIFEST: validate_manifest,
    mediatypes.OCI_INDEX: validate_index,
    mediatypes.DOCKER_MANIFEST_LIST: validate_index,
    mediatypes.OCI_CONFIG: lambda document, _: validate_config(document),
    mediatypes.DOCKER_CONFIG: lambda document, _: validate_config(document),
    mediatypes.OCI_LAYOUT: lambda document, _: validate_layout_header(document),
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(data: bytes | str) -> tuple[Any, Finding | None]:
    """Parse JSON text into (value, None), or return (None, a json.syntax finding)."""
    try:
        return json.loads(data, parse_constant=_reject_constant), None
    except json.JSONDecodeError as error:
        near = error.doc[max(0, error.pos - 20) : error.pos + 20]
        message = (
            f"invalid JSON at line {error.lineno} column {error.colno}: "
            f"{error.msg}, near {near!r}"
        )
    except (ValueError, RecursionError) as error:
        # ValueError covers invalid UTF-8 and NaN or Infinity.
        message = f"invalid JSON: {error}"
    return None, _finding("json.syntax", "", message)


def validate_document(
    data: bytes | str | Mapping[str, Any], media_type: str
) -> Findings:
    """Parse a document if it is JSON text, then check it as media_type.

    The OCI descriptor, manifest, index, config and layout header types are
    known, and so are the Docker schema 2 manifest, manifest list and config.
    Malformed JSON and an unknown media type each give a finding.
    """
    findings = Findings()
    validator = _VALIDATORS.get(media_type) if isinstance(media_type, str) else None
    if validator is None:
        known = ", ".join(sorted(_VALIDATORS))
        findings.append(
            _finding(
                "document.mediaType.unknown",
                "",
                f"no rules for media type {_show(media_type)}: expected one of {known}",
            )
        )
    document: Any = data
    if isinstance(data, bytes | bytearray | str):
        document, syntax_error = _parse_json(data)
        if syntax_error is not None:
            findings.append(syntax_error)
            return findings
    if validator is not None:
        findings.extend(validator(document, media_type))
    return findings
