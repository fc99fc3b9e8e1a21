"""Exercise checks for lesson 05 (a container as a bundle and a lifecycle)."""

from __future__ import annotations

from collections.abc import Iterable

from ..runtime.spec import default_config
from . import CheckResult, not_answered

__all__ = ["check_default_namespaces", "check_memory_limit"]


def check_default_namespaces(answer: Iterable[str] | None) -> CheckResult:
    """Exercise 1: the namespace types that `runc spec`'s default config creates."""
    name = "Exercise 1"
    hint = "read linux.namespaces of ocilab.runtime.default_config(), or explain it with namespaces_frame"
    if answer is None:
        return not_answered(name, hint)
    expected = {namespace.type for namespace in default_config().linux.namespaces}
    if isinstance(answer, str):
        return CheckResult(
            name, False, f"give a set of names, not the string {answer!r}. Hint: {hint}"
        )
    given = {str(item) for item in answer}
    if given == expected:
        return CheckResult(
            name,
            True,
            "no user namespace: the container's root is the host's root, confined by the rest.",
        )
    return CheckResult(
        name,
        False,
        f"{len(expected - given)} missing and {len(given - expected)} extra. Hint: {hint}",
    )


def check_memory_limit(
    answer: int | None, limit_bytes: int = 32 * 1024 * 1024
) -> CheckResult:
    """Exercise 2: what the container reads from memory.limit_in_bytes with a 32 MiB limit."""
    name = "Exercise 2"
    hint = "set linux.resources.memory.limit in config.json, run `cat /sys/fs/cgroup/memory/memory.limit_in_bytes`"
    if answer is None:
        return not_answered(name, hint)
    try:
        value = int(answer)
    except (TypeError, ValueError):
        return CheckResult(
            name, False, f"give the number of bytes as an integer, not {answer!r}."
        )
    if value == limit_bytes:
        return CheckResult(
            name, True, "runc wrote the limit into the container's memory cgroup."
        )
    return CheckResult(
        name, False, f"{answer!r} is not what a 32 MiB limit gives. Hint: {hint}"
    )
