"""The OCI distribution spec: talking to /v2/ registries."""

from __future__ import annotations

from .push import push_blob, push_image, push_manifest, raise_for_registry_error

__all__ = ["push_blob", "push_image", "push_manifest", "raise_for_registry_error"]
