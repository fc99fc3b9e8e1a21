"""The generated message modules of each CRI API package, by version."""

from __future__ import annotations

from types import ModuleType

from .._proto.runtime.v1 import api_pb2 as v1_pb2
from .._proto.runtime.v1alpha2 import api_pb2 as v1alpha2_pb2

__all__ = ["API_MODULES"]

API_MODULES: dict[str, ModuleType] = {"v1": v1_pb2, "v1alpha2": v1alpha2_pb2}
