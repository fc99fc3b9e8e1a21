"""Plain Python values for CRI replies that lessons display."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RuntimeCondition", "RuntimeStatus", "RuntimeVersion", "decode_info"]


@dataclass(frozen=True)
class RuntimeVersion:
    """The reply to Version, with the API package and endpoint it came from."""

    version: str
    runtime_name: str
    runtime_version: str
    runtime_api_version: str
    api_package: str
    endpoint: str


@dataclass(frozen=True)
class RuntimeCondition:
    """One condition of the runtime's Status, such as RuntimeReady or NetworkReady."""

    type: str
    status: bool
    reason: str
    message: str


@dataclass(frozen=True)
class RuntimeStatus:
    """The reply to Status: conditions, and the verbose info decoded from JSON."""

    conditions: list[RuntimeCondition]
    info: dict[str, Any] = field(default_factory=dict)

    def condition(self, condition_type: str) -> RuntimeCondition | None:
        """Return the condition of that type, or None when the runtime did not report it."""
        return next((c for c in self.conditions if c.type == condition_type), None)

    @property
    def ready(self) -> bool:
        """True when every reported condition holds."""
        return bool(self.conditions) and all(c.status for c in self.conditions)


def decode_info(info: dict[str, str]) -> dict[str, Any]:
    """Decode the values of a verbose ``info`` map, which runtimes send as JSON strings.

    A value that is not valid JSON is kept as the original string.
    """
    decoded: dict[str, Any] = {}
    for key, value in info.items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded
