"""Exercise checks for lesson 05 (a container as a bundle and a lifecycle)."""

from __future__ import annotations

from collections.abc import Iterable

from ..runtime.spec import default_config
from . import CheckResult, Solution, not_answered, solution_lookup

__all__ = ["SOLUTIONS", "check_default_namespaces", "check_memory_limit", "solution"]


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


SOLUTIONS = {
    1: Solution(
        lesson="05",
        exercise=1,
        answer="answer_1",
        code="""\
answer_1 = {namespace.type for namespace in default_config().linux.namespaces}
answer_1
""",
        explanation=(
            "runc spec creates pid, network, ipc, uts and mount namespaces; "
            "ocilab's image conversion also adds cgroup, and neither adds a user "
            "namespace, so root inside is root outside, confined by capabilities,"
            " seccomp and the rest."
        ),
    ),
    2: Solution(
        lesson="05",
        exercise=2,
        answer="answer_2",
        code="""\
exit_code, output = run_with(
    {"linux": {"resources": {"memory": {"limit": 32 * 1024 * 1024}}}},
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
)
answer_2 = int(output)
answer_2
""",
        explanation=(
            "runc writes linux.resources.memory.limit into the container's memory"
            " cgroup, and the container reads it back through its own cgroup "
            "mount: 32 MiB is 33554432 bytes."
        ),
    ),
}
solution = solution_lookup("05", SOLUTIONS)
