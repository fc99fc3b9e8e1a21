"""The OCI distribution spec: a transparent client for /v2/ registries."""

from __future__ import annotations

from .auth import Challenge, RegistryAuth, parse_www_authenticate
from .client import Manifest, RegistryClient
from .copy import CopyResult, copy_image, parse_reference
from .docker_config import Credentials, DockerConfig, load_docker_config
from .links import Link, next_link, paginate, parse_link_header
from .push import push_blob, push_image, push_manifest, raise_for_registry_error

__all__ = [
    "Challenge",
    "CopyResult",
    "Credentials",
    "DockerConfig",
    "Link",
    "Manifest",
    "RegistryAuth",
    "RegistryClient",
    "copy_image",
    "load_docker_config",
    "next_link",
    "paginate",
    "parse_link_header",
    "parse_reference",
    "parse_www_authenticate",
    "push_blob",
    "push_image",
    "push_manifest",
    "raise_for_registry_error",
]
