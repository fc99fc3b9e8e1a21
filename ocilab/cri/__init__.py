"""The Kubernetes Container Runtime Interface (CRI) over gRPC on a unix socket."""

from __future__ import annotations

from .client import API_MODULES, CRIClient, resolve_endpoint
from .endpoint import DEFAULT_ENDPOINTS, Endpoint, parse_endpoint
from .types import RuntimeCondition, RuntimeStatus, RuntimeVersion, decode_info

__all__ = [
    "API_MODULES",
    "CRIClient",
    "DEFAULT_ENDPOINTS",
    "Endpoint",
    "RuntimeCondition",
    "RuntimeStatus",
    "RuntimeVersion",
    "decode_info",
    "parse_endpoint",
    "resolve_endpoint",
]
