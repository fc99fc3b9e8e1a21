"""The OCI image spec: digests, media types and reproducible image building."""

from __future__ import annotations

from . import mediatypes
from .build import (
    Blob,
    BuiltImage,
    LayerBuilder,
    build_image,
    canonical_json,
    host_platform,
)
from .digest import digest_bytes, digest_stream, parse_digest, verify_bytes

__all__ = [
    "Blob",
    "BuiltImage",
    "LayerBuilder",
    "build_image",
    "canonical_json",
    "digest_bytes",
    "digest_stream",
    "host_platform",
    "mediatypes",
    "parse_digest",
    "verify_bytes",
]
