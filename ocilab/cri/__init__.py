"""The Kubernetes Container Runtime Interface (CRI) over gRPC on a unix socket."""

from __future__ import annotations

from ._api import ExecResult
from .client import API_MODULES, CRIClient, resolve_endpoint
from .configs import (
    container_config,
    dump_config,
    load_container_config,
    load_pod_config,
    pod_config,
)
from .endpoint import DEFAULT_ENDPOINTS, Endpoint, parse_endpoint
from .logs import LogEntry, follow_log, log_frame, log_text, read_log
from .types import RuntimeCondition, RuntimeStatus, RuntimeVersion, decode_info

__all__ = [
    "API_MODULES",
    "CRIClient",
    "DEFAULT_ENDPOINTS",
    "Endpoint",
    "ExecResult",
    "LogEntry",
    "RuntimeCondition",
    "RuntimeStatus",
    "RuntimeVersion",
    "container_config",
    "decode_info",
    "dump_config",
    "follow_log",
    "load_container_config",
    "load_pod_config",
    "log_frame",
    "log_text",
    "parse_endpoint",
    "pod_config",
    "read_log",
    "resolve_endpoint",
]
