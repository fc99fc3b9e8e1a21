"""Exercise checks for lesson 02 (pods and containers, one call at a time)."""

from __future__ import annotations

from ..cri import CRIClient
from . import CheckResult, Solution, not_answered, solution_lookup

__all__ = ["SOLUTIONS", "check_exit_code", "check_pod_ip", "solution"]


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


SOLUTIONS = {
    1: Solution(
        lesson="02",
        exercise=1,
        answer="answer_1",
        code="""\
exercise = container_config("exit-3", image, command=["sh", "-c", "exit 3"])
exercise_container_id = cri.create_container(pod_id, exercise, pod)
cri.start_container(exercise_container_id)
for _ in range(100):  # at most 20 s
    status = cri.container_status(exercise_container_id).status
    if status.state == 2:  # CONTAINER_EXITED
        break
    time.sleep(0.2)
answer_1 = cri.container_status(exercise_container_id).status.exit_code
answer_1
""",
        explanation=(
            "StartContainer returns as soon as the process runs; the exit code is"
            " known only once ContainerStatus reports CONTAINER_EXITED (state 2),"
            " and the runtime keeps it until the container is removed."
        ),
    ),
    2: Solution(
        lesson="02",
        exercise=2,
        answer="answer_2",
        code="""\
probe = container_config("probe", image, command=["sleep", "300"])
probe_id = cri.create_container(pod_id, probe, pod)
cri.start_container(probe_id)
output = cri.exec_sync(probe_id, ["ip", "-4", "addr", "show", "eth0"]).text
inet = [line.split()[1] for line in output.splitlines() if "inet " in line]
answer_2 = inet[0].split("/")[0]
answer_2
""",
        explanation=(
            "Every container of a pod joins the sandbox's network namespace, so "
            "eth0 inside any of them carries the address that the CNI plugin gave"
            " the pod and PodSandboxStatus reports."
        ),
    ),
}
solution = solution_lookup("02", SOLUTIONS)
