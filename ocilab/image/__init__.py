"""The OCI image spec: models, digests, layouts, layers, building and conversion."""

from __future__ import annotations

from . import mediatypes
from .archive import open_archive, save_archive
from .build import (
    Blob,
    BuiltImage,
    LayerBuilder,
    build_image,
    canonical_json,
    chain_ids,
    extend_image,
    host_platform,
)
from .convert import image_to_runtime_config
from .digest import digest_bytes, digest_stream, parse_digest, verify_bytes
from .layout import ImageRef, Node, OCILayout, VerifyingReader, platform_matches
from .models import (
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    OCILayoutHeader,
    Platform,
    parse_document,
)

__all__ = [
    "Blob",
    "BuiltImage",
    "Descriptor",
    "ImageConfig",
    "ImageIndex",
    "ImageManifest",
    "ImageRef",
    "LayerBuilder",
    "Node",
    "OCILayout",
    "OCILayoutHeader",
    "Platform",
    "VerifyingReader",
    "build_image",
    "canonical_json",
    "chain_ids",
    "digest_bytes",
    "digest_stream",
    "extend_image",
    "host_platform",
    "image_to_runtime_config",
    "mediatypes",
    "open_archive",
    "parse_digest",
    "parse_document",
    "platform_matches",
    "save_archive",
    "verify_bytes",
]
