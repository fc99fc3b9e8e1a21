"""Rules for descriptors (image-spec descriptor.md) and for blobs checked against them."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import ImageError
from ._findings import (
    _STRING,
    Finding,
    Findings,
    _bad_digest,
    _bad_media_type,
    _child,
    _finding,
    _is_int,
    _missing,
    _not_an_object,
    _show,
    _unwrap,
    _wrong_map,
    _wrong_string_array,
    _wrong_type,
)
from .digest import digest_bytes, parse_digest

INT64_MAX = 2**63 - 1
# Padded base64 of RFC 4648 section 4, the encoding Go's encoding/json expects.
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
# An RFC 3986 URI: a scheme, then only unreserved, reserved and %-encoded
# characters. This is a character-level check that does not parse the parts.
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*:"
    r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*"
)


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
