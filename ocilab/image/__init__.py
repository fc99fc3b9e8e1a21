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
from .layers import diff_layers, list_layer, open_layer
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
from .plots import plot_layer_sizes
from .unpack import UnpackReport, unpack_layers

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
    "UnpackReport",
    "VerifyingReader",
    "build_image",
    "canonical_json",
    "chain_ids",
    "digest_bytes",
    "diff_layers",
    "digest_stream",
    "extend_image",
    "host_platform",
    "image_to_runtime_config",
    "list_layer",
    "mediatypes",
    "open_archive",
    "open_layer",
    "parse_digest",
    "parse_document",
    "platform_matches",
    "plot_layer_sizes",
    "save_archive",
    "unpack_layers",
    "verify_bytes",
]
