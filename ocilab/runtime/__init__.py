"""The OCI runtime spec: config.json models, defaults, validation and explanation.

The explain frames (namespaces, mounts, capabilities, resources of a config)
stay in :mod:`ocilab.runtime.explain`, because :mod:`ocilab.runtime.inspect`
has frames of the same names that read a running process instead.
"""

from __future__ import annotations

from .bundle import Bundle, bundle_from_image, make_bundle
from .driver import ContainerState, Crun, OCIRuntime, Runc, RunResult
from .spec import (
    RuntimeConfig,
    RuntimeConfigError,
    default_config,
    dumps,
    parse,
    rootless_config,
    to_rootless,
)
from .validate import ConfigFindings, validate_config

__all__ = [
    "Bundle",
    "ContainerState",
    "Crun",
    "OCIRuntime",
    "RunResult",
    "Runc",
    "bundle_from_image",
    "make_bundle",
    "ConfigFindings",
    "RuntimeConfig",
    "RuntimeConfigError",
    "default_config",
    "dumps",
    "parse",
    "rootless_config",
    "to_rootless",
    "validate_config",
]
