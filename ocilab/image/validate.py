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
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import re
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ImageError, ValidationError
from . import mediatypes
from .digest import DIGEST_GRAMMAR as _DIGEST_GRAMMAR
from .digest import REGISTERED_ALGORITHMS as _REGISTERED_ALGORITHMS
from .digest import digest_bytes, parse_digest
from .models import Descriptor, ImageConfig, ImageIndex, ImageManifest, OCILayoutHeader

if TYPE_CHECKING:
    import pandas as pd

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

MUST = "MUST"
SHOULD = "SHOULD"
FRAME_COLUMNS = ("rule", "level", "pointer", "message")
INT64_MAX = 2**63 - 1

# Fields of the image config that are plain optional strings, at the top level
# and in the execution parameters ("config").
_CONFIG_STRINGS = ("author", "variant", "os.version")
_EXECUTION_STRINGS = ("User", "WorkingDir", "StopSignal")
_EXECUTION_STRING_ARRAYS = ("Env", "Entrypoint", "Cmd")
_HISTORY_STRINGS = ("author", "created_by", "comment")

# Every rule id and the spec level that it reports.
RULES: dict[str, str] = {
    "json.syntax": MUST,
    "document.type": MUST,
    # Not a spec rule: ocilab cannot vouch for a document it has no rules for.
    "document.mediaType.unknown": MUST,
    "descriptor.type": MUST,
    "descriptor.mediaType.required": MUST,
    "descriptor.mediaType.format": MUST,
    "descriptor.digest.required": MUST,
    "descriptor.digest.format": MUST,
    "descriptor.digest.unsupported": SHOULD,
    "descriptor.size.required": MUST,
    "descriptor.size.type": MUST,
    "descriptor.size.range": MUST,
    "descriptor.urls.type": MUST,
    "descriptor.urls.format": MUST,
    "descriptor.urls.scheme": SHOULD,
    "descriptor.annotations.type": MUST,
    "descriptor.data.format": MUST,
    "descriptor.data.size.mismatch": MUST,
    "descriptor.data.digest.mismatch": MUST,
    "descriptor.artifactType.format": MUST,
    "blob.size.mismatch": MUST,
    "blob.digest.mismatch": MUST,
    "platform.type": MUST,
    "platform.architecture.required": MUST,
    "platform.architecture.type": MUST,
    "platform.os.required": MUST,
    "platform.os.type": MUST,
    "platform.os.version.type": MUST,
    "platform.os.features.type": MUST,
    "platform.variant.type": MUST,
    "manifest.schemaVersion.required": MUST,
    "manifest.schemaVersion.value": MUST,
    "manifest.mediaType.missing": SHOULD,
    "manifest.mediaType.value": MUST,
    "manifest.artifactType.format": MUST,
    "manifest.artifactType.required": MUST,
    "manifest.config.required": MUST,
    "manifest.layers.required": MUST,
    "manifest.layers.type": MUST,
    "manifest.layers.empty": MUST,
    "manifest.annotations.type": MUST,
    "index.schemaVersion.required": MUST,
    "index.schemaVersion.value": MUST,
    "index.mediaType.missing": SHOULD,
    "index.mediaType.value": MUST,
    "index.artifactType.format": MUST,
    "index.manifests.required": MUST,
    "index.manifests.type": MUST,
    "index.annotations.type": MUST,
    "config.architecture.required": MUST,
    "config.architecture.type": MUST,
    "config.os.required": MUST,
    "config.os.type": MUST,
    **{f"config.{key}.type": MUST for key in _CONFIG_STRINGS},
    "config.os.features.type": MUST,
    "config.created.format": MUST,
    "config.config.type": MUST,
    **{f"config.config.{key}.type": MUST for key in _EXECUTION_STRINGS},
    **{f"config.config.{key}.type": MUST for key in _EXECUTION_STRING_ARRAYS},
    "config.config.ArgsEscaped.type": MUST,
    "config.config.Env.format": MUST,
    "config.config.ExposedPorts.type": MUST,
    "config.config.ExposedPorts.format": SHOULD,
    "config.config.Volumes.type": MUST,
    "config.config.Labels.type": MUST,
    "config.rootfs.required": MUST,
    "config.rootfs.type": MUST,
    "config.rootfs.type.required": MUST,
    "config.rootfs.type.value": MUST,
    "config.rootfs.diff_ids.required": MUST,
    "config.rootfs.diff_ids.type": MUST,
    "config.rootfs.diff_ids.format": MUST,
    "config.rootfs.diff_ids.unsupported": SHOULD,
    "config.history.type": MUST,
    "config.history.created.format": MUST,
    **{f"config.history.{key}.type": MUST for key in _HISTORY_STRINGS},
    "config.history.empty_layer.type": MUST,
    "layout.imageLayoutVersion.required": MUST,
    "layout.imageLayoutVersion.value": MUST,
}


@dataclass(frozen=True)
class Finding:
    """One problem in a document: the rule it breaks, where, and what is wrong."""

    rule: str
    level: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.level} {self.rule} at {self.pointer or '(root)'}: {self.message}"


class Findings(list[Finding]):
    """The findings of one validation, MUST and SHOULD alike."""

    @property
    def errors(self) -> Findings:
        """The MUST findings, each of which makes the document invalid."""
        return Findings(finding for finding in self if finding.level == MUST)

    @property
    def warnings(self) -> Findings:
        """The SHOULD findings, which leave the document valid."""
        return Findings(finding for finding in self if finding.level == SHOULD)

    @property
    def ok(self) -> bool:
        """True when there is no MUST finding."""
        return not self.errors

    def frame(self) -> pd.DataFrame:
        """Return the findings as a DataFrame with the columns of FRAME_COLUMNS."""
        import pandas as pd

        rows = [dataclasses.astuple(finding) for finding in self]
        return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))

    def raise_for_findings(self) -> None:
        """Raise ValidationError when there is any MUST finding."""
        if not self.ok:
            raise ValidationError(self)


# ---------------------------------------------------------------- helpers

_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
# Padded base64 of RFC 4648 section 4, the encoding Go's encoding/json expects.
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
# An RFC 3986 URI: a scheme, then only unreserved, reserved and %-encoded
# characters. This is a character-level check that does not parse the parts.
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*:"
    r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*"
)
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.[0-9]+)?(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))"
)
_PORT = re.compile(r"([0-9]{1,5})(?:/(?:tcp|udp|sctp))?")
_MAX_SHOWN = 200
_REPR = reprlib.Repr()
_REPR.maxlevel = 4
_REPR.maxlist = _REPR.maxdict = 8
_REPR.maxstring = _REPR.maxlong = _REPR.maxother = _MAX_SHOWN


def _finding(rule: str, pointer: str, message: str) -> Finding:
    return Finding(rule, RULES[rule], pointer, message)


def _child(pointer: str, key: str | int) -> str:
    """Append one reference token to a JSON pointer, escaping ~ as ~0 and / as ~1."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def _show(value: Any) -> str:
    """Return a repr of value that is at most 200 characters long.

    reprlib limits the nesting depth and the number of items shown, so a huge
    or deeply nested JSON value costs little and cannot exceed the recursion
    limit.
    """
    text = _REPR.repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_media_type(value: Any) -> bool:
    return isinstance(value, str) and _MEDIA_TYPE.fullmatch(value) is not None


def _is_date_time(value: Any) -> bool:
    """Return whether value is an RFC 3339 section 5.6 date-time."""
    match = _DATE_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    # A second of 60 is a leap second, which RFC 3339 allows.
    if hour > 23 or minute > 59 or second > 60:
        return False
    offset_hour, offset_minute = match.group(7), match.group(8)
    return offset_hour is None or (int(offset_hour) <= 23 and int(offset_minute) <= 59)


def _bad_date_time(
    obj: Mapping[str, Any], key: str, rule: str, pointer: str
) -> Iterator[Finding]:
    """Yield a finding when obj[key] is set but not an RFC 3339 date-time."""
    value = obj.get(key)
    if value is not None and not _is_date_time(value):
        yield _finding(
            rule,
            _child(pointer, key),
            f"invalid {key} {_show(value)}: expected an RFC 3339 date-time "
            "such as '2024-01-02T03:04:05Z'",
        )


def _unwrap(obj: Any) -> Any:
    """Return the JSON that a model was parsed from, or obj itself."""
    if isinstance(obj, Descriptor):
        return obj.to_json()
    if isinstance(obj, ImageManifest | ImageIndex | ImageConfig | OCILayoutHeader):
        return obj.raw
    if isinstance(obj, Mapping) and not isinstance(obj, dict):
        return dict(obj)
    return obj


@dataclass(frozen=True)
class _Kind:
    """A JSON type that a value must have: its names for messages, and a test."""

    name: str
    plural: str
    test: Callable[[Any], bool]


_STRING = _Kind("a string", "strings", lambda value: isinstance(value, str))
_BOOLEAN = _Kind("a boolean", "booleans", lambda value: isinstance(value, bool))
_OBJECT = _Kind("an object", "objects", lambda value: isinstance(value, dict))


def _missing(
    obj: Mapping[str, Any], key: str, rule: str, pointer: str, expected: str
) -> Iterator[Finding]:
    """Yield a finding when the required key is absent."""
    if key not in obj:
        yield _finding(
            rule,
            _child(pointer, key),
            f"missing required field {key!r}: expected {expected}",
        )


def _wrong_type(
    obj: Mapping[str, Any],
    key: str,
    kind: _Kind,
    rule: str,
    pointer: str,
    *,
    null_ok: bool = False,
) -> Iterator[Finding]:
    """Yield a finding when obj[key] is present but not of the given kind."""
    if key not in obj or (obj[key] is None and null_ok):
        return
    if not kind.test(obj[key]):
        yield _finding(
            rule,
            _child(pointer, key),
            f"invalid {key} {_show(obj[key])}: expected {kind.name}",
        )


def _wrong_string_array(
    obj: Mapping[str, Any], key: str, rule: str, pointer: str, *, null_ok: bool
) -> Iterator[Finding]:
    """Yield findings when obj[key] is present but not an array of strings."""
    if key not in obj or (obj[key] is None and null_ok):
        return
    value = obj[key]
    if not isinstance(value, list):
        yield _finding(
            rule,
            _child(pointer, key),
            f"invalid {key} {_show(value)}: expected an array of strings",
        )
        return
    for index, item in enumerate(value):
        if not isinstance(item, str):
            yield _finding(
                rule,
                _child(_child(pointer, key), index),
                f"invalid {key} entry {_show(item)}: expected a string",
            )


def _wrong_map(
    obj: Mapping[str, Any],
    key: str,
    kind: _Kind,
    rule: str,
    pointer: str,
    *,
    null_ok: bool,
) -> Iterator[Finding]:
    """Yield findings when obj[key] is present but not an object of kind values."""
    if key not in obj or (obj[key] is None and null_ok):
        return
    value = obj[key]
    if not isinstance(value, dict):
        yield _finding(
            rule,
            _child(pointer, key),
            f"invalid {key} {_show(value)}: expected an object whose values are "
            f"{kind.plural}",
        )
        return
    for name, item in value.items():
        if not kind.test(item):
            yield _finding(
                rule,
                _child(_child(pointer, key), name),
                f"invalid {key} value {_show(item)} for {name!r}: expected {kind.name}",
            )


def _bad_media_type(value: Any, pointer: str, rule: str) -> Iterator[Finding]:
    if not _is_media_type(value):
        yield _finding(
            rule,
            pointer,
            f"invalid media type {_show(value)}: expected type/subtype as RFC 6838 "
            "names them, each part 1 to 127 characters of letters, digits and "
            "!#$&^_.+- that starts with a letter or digit",
        )


def _is_unsupported_digest(value: Any) -> bool:
    """Return whether value fits the digest grammar with an unregistered algorithm."""
    if not isinstance(value, str) or not _DIGEST_GRAMMAR.fullmatch(value):
        return False
    return value.partition(":")[0] not in _REGISTERED_ALGORITHMS


def _bad_digest(value: Any, pointer: str, prefix: str) -> Iterator[Finding]:
    """Yield a ``.format`` or ``.unsupported`` finding for an unusable digest."""
    try:
        parse_digest(value)
    except ImageError as error:
        if _is_unsupported_digest(value):
            algorithm = value.partition(":")[0]
            yield _finding(
                f"{prefix}.unsupported",
                pointer,
                f"digest {value!r} uses the unregistered algorithm {algorithm!r}: "
                "it fits the digest grammar, but only sha256 and sha512 digests "
                "can be verified",
            )
        else:
            yield _finding(f"{prefix}.format", pointer, str(error))


def _verifiable_algorithm(digest: Any) -> str | None:
    """Return the algorithm of a valid sha256 or sha512 digest, else None."""
    try:
        algorithm, _ = parse_digest(digest)
    except ImageError:
        return None
    return algorithm


def _content_mismatches(
    content: bytes,
    descriptor: Mapping[str, Any],
    pointers: tuple[str, str],
    prefix: str,
    label: str,
) -> Iterator[Finding]:
    """Yield findings where content differs from the descriptor's size or digest.

    pointers are where the size and the digest findings point, and label names
    the content in messages. A digest that
    is malformed or unsupported has its own finding and is not compared.
    """
    size = descriptor.get("size")
    if _is_int(size) and len(content) != size:
        yield _finding(
            f"{prefix}.size.mismatch",
            pointers[0],
            f"{label} has {len(content)} bytes, but size is {size!r}",
        )
    digest = descriptor.get("digest")
    algorithm = _verifiable_algorithm(digest)
    if algorithm is None:
        return
    actual = digest_bytes(content, algorithm)
    if actual != digest:
        yield _finding(
            f"{prefix}.digest.mismatch",
            pointers[1],
            f"{label} hashes to {actual!r}, but digest is {digest!r}",
        )


def _not_an_object(value: Any, rule: str, pointer: str, label: str) -> Finding:
    return _finding(
        rule, pointer, f"invalid {label} {_show(value)}: expected an object"
    )


def _run(
    rules: Iterable[Callable[[dict[str, Any]], Iterable[Finding]]],
    document: dict[str, Any],
) -> Findings:
    findings = Findings()
    for rule in rules:
        findings.extend(rule(document))
    return findings


# ------------------------------------------------------------ descriptors


# mediaType is REQUIRED and MUST be an RFC 6838 media type.
def _descriptor_media_type(
    descriptor: dict[str, Any], pointer: str
) -> Iterator[Finding]:
    yield from _missing(
        descriptor,
        "mediaType",
        "descriptor.mediaType.required",
        pointer,
        "a media type such as 'application/vnd.oci.image.layer.v1.tar+gzip'",
    )
    if "mediaType" in descriptor:
        yield from _bad_media_type(
            descriptor["mediaType"],
            _child(pointer, "mediaType"),
            "descriptor.mediaType.format",
        )


# digest is REQUIRED and MUST fit the grammar, but unregistered algorithms SHOULD pass.
def _descriptor_digest(descriptor: dict[str, Any], pointer: str) -> Iterator[Finding]:
    yield from _missing(
        descriptor,
        "digest",
        "descriptor.digest.required",
        pointer,
        "a digest such as 'sha256:' followed by 64 lowercase hex digits",
    )
    if "digest" in descriptor:
        yield from _bad_digest(
            descriptor["digest"], _child(pointer, "digest"), "descriptor.digest"
        )


# size is REQUIRED and is an int64 count of bytes, so 0 <= size <= 2**63 - 1.
def _descriptor_size(descriptor: dict[str, Any], pointer: str) -> Iterator[Finding]:
    yield from _missing(
        descriptor, "size", "descriptor.size.required", pointer, "an integer >= 0"
    )
    if "size" not in descriptor:
        return
    size = descriptor["size"]
    if not _is_int(size):
        yield _finding(
            "descriptor.size.type",
            _child(pointer, "size"),
            f"invalid size {_show(size)}: expected an integer",
        )
    elif not 0 <= size <= INT64_MAX:
        yield _finding(
            "descriptor.size.range",
            _child(pointer, "size"),
            f"invalid size {size!r}: expected an integer from 0 to {INT64_MAX}",
        )


# Each urls entry MUST be an RFC 3986 URI and SHOULD use http or https.
def _descriptor_urls(descriptor: dict[str, Any], pointer: str) -> Iterator[Finding]:
    if "urls" not in descriptor:
        return
    urls = descriptor["urls"]
    if not isinstance(urls, list):
        yield _finding(
            "descriptor.urls.type",
            _child(pointer, "urls"),
            f"invalid urls {_show(urls)}: expected an array of URIs",
        )
        return
    for index, url in enumerate(urls):
        url_pointer = _child(_child(pointer, "urls"), index)
        if not isinstance(url, str) or not _URI.fullmatch(url):
            yield _finding(
                "descriptor.urls.format",
                url_pointer,
                f"invalid URL {_show(url)}: expected an RFC 3986 URI with a scheme, "
                "such as 'https://example.com/blob'",
            )
        elif url.partition(":")[0].lower() not in ("http", "https"):
            yield _finding(
                "descriptor.urls.scheme",
                url_pointer,
                f"URL {url!r} should use the http or https scheme",
            )


# annotations MUST map string keys to string values (annotations.md).
def _descriptor_annotations(
    descriptor: dict[str, Any], pointer: str
) -> Iterator[Finding]:
    yield from _wrong_map(
        descriptor,
        "annotations",
        _STRING,
        "descriptor.annotations.type",
        pointer,
        null_ok=False,
    )


# data MUST be base64 (RFC 4648), and its decoded bytes MUST be the content.
def _descriptor_data(descriptor: dict[str, Any], pointer: str) -> Iterator[Finding]:
    if "data" not in descriptor:
        return
    data = descriptor["data"]
    data_pointer = _child(pointer, "data")
    if not isinstance(data, str) or not _BASE64.fullmatch(data):
        yield _finding(
            "descriptor.data.format",
            data_pointer,
            f"invalid data {_show(data)}: expected padded base64 (RFC 4648 "
            "section 4), whose length is a multiple of 4",
        )
        return
    yield from _content_mismatches(
        base64.b64decode(data),
        descriptor,
        (data_pointer, data_pointer),
        "descriptor.data",
        "decoded data",
    )


# artifactType, when present, MUST be an RFC 6838 media type.
def _descriptor_artifact_type(
    descriptor: dict[str, Any], pointer: str
) -> Iterator[Finding]:
    if "artifactType" in descriptor:
        yield from _bad_media_type(
            descriptor["artifactType"],
            _child(pointer, "artifactType"),
            "descriptor.artifactType.format",
        )


# platform, when present, is an object that REQUIRES architecture and os.
def _descriptor_platform(descriptor: dict[str, Any], pointer: str) -> Iterator[Finding]:
    if "platform" not in descriptor:
        return
    platform = descriptor["platform"]
    platform_pointer = _child(pointer, "platform")
    if not isinstance(platform, dict):
        yield _not_an_object(platform, "platform.type", platform_pointer, "platform")
        return
    for key in ("architecture", "os"):
        yield from _missing(
            platform,
            key,
            f"platform.{key}.required",
            platform_pointer,
            "a string such as 'amd64' or 'linux'",
        )
        yield from _wrong_type(
            platform, key, _STRING, f"platform.{key}.type", platform_pointer
        )
    for key in ("os.version", "variant"):
        yield from _wrong_type(
            platform, key, _STRING, f"platform.{key}.type", platform_pointer
        )
    yield from _wrong_string_array(
        platform,
        "os.features",
        "platform.os.features.type",
        platform_pointer,
        null_ok=False,
    )


_DESCRIPTOR_RULES = (
    _descriptor_media_type,
    _descriptor_digest,
    _descriptor_size,
    _descriptor_urls,
    _descriptor_annotations,
    _descriptor_data,
    _descriptor_artifact_type,
    _descriptor_platform,
)


def validate_descriptor(obj: Any, pointer: str = "") -> Findings:
    """Check a descriptor (descriptor.md), and its platform when it has one.

    obj is the parsed JSON or a models.Descriptor. pointer is where the
    descriptor sits in its document, such as "/layers/0", and prefixes the
    pointer of every finding.
    """
    descriptor = _unwrap(obj)
    if not isinstance(descriptor, dict):
        return Findings(
            [_not_an_object(descriptor, "descriptor.type", pointer, "descriptor")]
        )
    findings = Findings()
    for rule in _DESCRIPTOR_RULES:
        findings.extend(rule(descriptor, pointer))
    return findings


def validate_blob(data: bytes, descriptor: Any, pointer: str = "") -> Findings:
    """Check a descriptor, then check content against its size and digest.

    The content is compared only with a sha256 or sha512 digest. Any other
    digest gets its own finding from the descriptor rules instead.
    """
    findings = validate_descriptor(descriptor, pointer)
    raw = _unwrap(descriptor)
    if isinstance(raw, dict):
        pointers = (_child(pointer, "size"), _child(pointer, "digest"))
        findings.extend(_content_mismatches(data, raw, pointers, "blob", "content"))
    return findings


# ------------------------------------------------- manifests and indexes


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


# ----------------------------------------------------------- image config


def _execution_parameters(config: dict[str, Any]) -> dict[str, Any]:
    """Return config["config"] when it is an object, else an empty dict."""
    parameters = config.get("config")
    return parameters if isinstance(parameters, dict) else {}


def _rootfs(config: dict[str, Any]) -> dict[str, Any] | None:
    rootfs = config.get("rootfs")
    return rootfs if isinstance(rootfs, dict) else None


# architecture and os are REQUIRED strings.
def _config_platform(config: dict[str, Any]) -> Iterator[Finding]:
    for key in ("architecture", "os"):
        yield from _missing(
            config,
            key,
            f"config.{key}.required",
            "",
            "a string such as 'amd64' or 'linux'",
        )
        yield from _wrong_type(config, key, _STRING, f"config.{key}.type", "")


# author, variant, os.version are strings and os.features an array of strings.
def _config_optional_fields(config: dict[str, Any]) -> Iterator[Finding]:
    for key in _CONFIG_STRINGS:
        yield from _wrong_type(
            config, key, _STRING, f"config.{key}.type", "", null_ok=True
        )
    yield from _wrong_string_array(
        config, "os.features", "config.os.features.type", "", null_ok=True
    )


# created, when set, MUST be an RFC 3339 section 5.6 date-time.
def _config_created(config: dict[str, Any]) -> Iterator[Finding]:
    yield from _bad_date_time(config, "created", "config.created.format", "")


# config (the execution parameters) is an OPTIONAL object of typed fields.
def _config_execution_types(config: dict[str, Any]) -> Iterator[Finding]:
    if config.get("config") is None:
        return
    if not isinstance(config["config"], dict):
        yield _not_an_object(
            config["config"], "config.config.type", "/config", "config"
        )
        return
    parameters = config["config"]
    for key in _EXECUTION_STRINGS:
        yield from _wrong_type(
            parameters,
            key,
            _STRING,
            f"config.config.{key}.type",
            "/config",
            null_ok=True,
        )
    for key in _EXECUTION_STRING_ARRAYS:
        yield from _wrong_string_array(
            parameters, key, f"config.config.{key}.type", "/config", null_ok=True
        )
    yield from _wrong_type(
        parameters,
        "ArgsEscaped",
        _BOOLEAN,
        "config.config.ArgsEscaped.type",
        "/config",
        null_ok=True,
    )
    for key, kind in (
        ("ExposedPorts", _OBJECT),
        ("Volumes", _OBJECT),
        ("Labels", _STRING),
    ):
        yield from _wrong_map(
            parameters, key, kind, f"config.config.{key}.type", "/config", null_ok=True
        )


# Each Env entry MUST be NAME=VALUE with a non-empty NAME.
def _config_env(config: dict[str, Any]) -> Iterator[Finding]:
    env = _execution_parameters(config).get("Env")
    if not isinstance(env, list):
        return
    for index, entry in enumerate(env):
        if not isinstance(entry, str):
            continue
        name, separator, _ = entry.partition("=")
        if not separator or not name:
            yield _finding(
                "config.config.Env.format",
                f"/config/Env/{index}",
                f"invalid Env entry {entry!r}: expected NAME=VALUE, such as "
                "'PATH=/usr/bin'",
            )


# ExposedPorts keys are port/tcp, port/udp or a bare port. config.md names no
# MUST keyword here, so this is a SHOULD finding. Docker's port/sctp is accepted.
def _config_exposed_ports(config: dict[str, Any]) -> Iterator[Finding]:
    ports = _execution_parameters(config).get("ExposedPorts")
    if not isinstance(ports, dict):
        return
    for key in ports:
        match = _PORT.fullmatch(key)
        if match is None or not 1 <= int(match.group(1)) <= 65535:
            yield _finding(
                "config.config.ExposedPorts.format",
                _child("/config/ExposedPorts", key),
                f"invalid exposed port {key!r}: expected a port from 1 to 65535, "
                "alone or followed by /tcp, /udp or /sctp, such as '8080/tcp'",
            )


# rootfs is a REQUIRED object.
def _config_rootfs(config: dict[str, Any]) -> Iterator[Finding]:
    yield from _missing(
        config,
        "rootfs",
        "config.rootfs.required",
        "",
        "an object with type 'layers' and diff_ids",
    )
    if "rootfs" in config and _rootfs(config) is None:
        yield _not_an_object(
            config["rootfs"], "config.rootfs.type", "/rootfs", "rootfs"
        )


# rootfs.type is REQUIRED and MUST be "layers".
def _config_rootfs_type(config: dict[str, Any]) -> Iterator[Finding]:
    rootfs = _rootfs(config)
    if rootfs is None:
        return
    yield from _missing(
        rootfs, "type", "config.rootfs.type.required", "/rootfs", "'layers'"
    )
    if "type" in rootfs and rootfs["type"] != "layers":
        yield _finding(
            "config.rootfs.type.value",
            "/rootfs/type",
            f"invalid rootfs type {_show(rootfs['type'])}: expected 'layers'",
        )


# rootfs.diff_ids is a REQUIRED array of digests, one per layer.
def _config_diff_ids(config: dict[str, Any]) -> Iterator[Finding]:
    rootfs = _rootfs(config)
    if rootfs is None:
        return
    yield from _missing(
        rootfs,
        "diff_ids",
        "config.rootfs.diff_ids.required",
        "/rootfs",
        "an array of digests",
    )
    if "diff_ids" not in rootfs:
        return
    diff_ids = rootfs["diff_ids"]
    if not isinstance(diff_ids, list):
        yield _finding(
            "config.rootfs.diff_ids.type",
            "/rootfs/diff_ids",
            f"invalid diff_ids {_show(diff_ids)}: expected an array of digests",
        )
        return
    for index, diff_id in enumerate(diff_ids):
        yield from _bad_digest(
            diff_id, f"/rootfs/diff_ids/{index}", "config.rootfs.diff_ids"
        )


# history is an OPTIONAL array of objects with OPTIONAL typed fields.
def _config_history(config: dict[str, Any]) -> Iterator[Finding]:
    history = config.get("history")
    if history is None:
        return
    if not isinstance(history, list):
        yield _finding(
            "config.history.type",
            "/history",
            f"invalid history {_show(history)}: expected an array of objects",
        )
        return
    for index, entry in enumerate(history):
        yield from _history_entry(entry, f"/history/{index}")


def _history_entry(entry: Any, pointer: str) -> Iterator[Finding]:
    if not isinstance(entry, dict):
        yield _not_an_object(entry, "config.history.type", pointer, "history entry")
        return
    yield from _bad_date_time(
        entry, "created", "config.history.created.format", pointer
    )
    for key in _HISTORY_STRINGS:
        yield from _wrong_type(
            entry, key, _STRING, f"config.history.{key}.type", pointer, null_ok=True
        )
    yield from _wrong_type(
        entry,
        "empty_layer",
        _BOOLEAN,
        "config.history.empty_layer.type",
        pointer,
        null_ok=True,
    )


_CONFIG_RULES = (
    _config_platform,
    _config_optional_fields,
    _config_created,
    _config_execution_types,
    _config_env,
    _config_exposed_ports,
    _config_rootfs,
    _config_rootfs_type,
    _config_diff_ids,
    _config_history,
)


def validate_config(obj: Any) -> Findings:
    """Check an image config (config.md), OCI or Docker.

    obj is the parsed JSON or a models.ImageConfig. Any OPTIONAL field may be
    null, which config.md defines as equal to absent.
    """
    config = _unwrap(obj)
    if not isinstance(config, dict):
        return Findings([_not_an_object(config, "document.type", "", "image config")])
    return _run(_CONFIG_RULES, config)


# ----------------------------------------------------------- image layout


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


# --------------------------------------------------------------- documents


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
