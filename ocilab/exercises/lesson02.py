"""Exercise checks for lesson 02 (pods and containers, one call at a time)."""

from __future__ import annotations

from ..cri import CRIClient
from . import CheckResult, not_answered

__all__ = ["check_exit_code", "check_pod_ip"]


def check_exit_code(
    answer: int | None, cri: CRIClient, container_id: str | None
) -> CheckResult:
    """Exercise 1: the exit code the runtime reports for a container that ran `exit 3`."""
    name = "Exercise 1"
    hint = "wait until ContainerStatus(...).status.state is CONTAINER_EXITED, then read .exit_code"
    if answer is None or container_id is None:
        return not_answered(name, hint)
    status = cri.container_status(container_id).status
    if status.state != 2:
        return CheckResult(
            name, False, f"the container has not exited yet. Hint: {hint}"
        )
    if status.exit_code != 3:
        return CheckResult(
            name,
            False,
            f"that container exited with {status.exit_code}; make it run sh -c 'exit 3'.",
        )
    if answer == status.exit_code:
        return CheckResult(
            name,
            True,
            "the runtime keeps the exit code after the container has exited.",
        )
    return CheckResult(
        name, False, f"{answer!r} is not what the runtime reports. Hint: {hint}"
    )


def check_pod_ip(answer: str | None, cri: CRIClient, pod_id: str) -> CheckResult:
    """Exercise 2: the pod's IP address, read inside the container."""
    name = "Exercise 2"
    hint = "run ['ip', '-4', 'addr', 'show', 'eth0'] with cri.exec_sync and find the 'inet' line"
    if answer is None:
        return not_answered(name, hint)
    expected = cri.pod_status(pod_id).status.network.ip
    if str(answer).split("/")[0] == expected:
        return CheckResult(
            name,
            True,
            "the address inside the pod is the one PodSandboxStatus reports.",
        )
    return CheckResult(
        name, False, f"{answer!r} is not the pod's address. Hint: {hint}"
    )
