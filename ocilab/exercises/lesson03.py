"""Exercise checks for lesson 03 (debugging a node with the CRI)."""

from __future__ import annotations

from ..cri import CRIClient
from . import CheckResult, Solution, not_answered, solution_lookup

__all__ = [
    "SOLUTIONS",
    "check_most_restarted",
    "check_unused_images",
    "solution",
    "unused_image_ids",
]


def unused_image_ids(cri: CRIClient) -> set[str]:
    """Return the ids of images that no container (running or exited) uses."""
    in_use = {container.image_ref for container in cri.list_containers()}
    return {image.id for image in cri.list_images()} - in_use


def check_most_restarted(answer: str | None, cri: CRIClient) -> CheckResult:
    """Exercise 1: the name of the container with the highest attempt number."""
    name = "Exercise 1"
    hint = "list_containers() returns every attempt; compare metadata.attempt, or use containers_frame()"
    if answer is None:
        return not_answered(name, hint)
    containers = cri.list_containers()
    if not containers:
        return CheckResult(
            name,
            False,
            "no container runs on this node; create the demo workload first.",
        )
    highest = max(container.metadata.attempt for container in containers)
    leaders = {c.metadata.name for c in containers if c.metadata.attempt == highest}
    if answer in leaders:
        return CheckResult(
            name,
            True,
            f"it has reached attempt {highest}: the kubelet keeps restarting it.",
        )
    return CheckResult(
        name, False, f"{answer!r} has not been restarted the most. Hint: {hint}"
    )


def check_unused_images(answer: int | None, cri: CRIClient) -> CheckResult:
    """Exercise 2: how many images no container uses."""
    name = "Exercise 2"
    hint = "collect image_ref of every container, then count the images whose id is not among them"
    if answer is None:
        return not_answered(name, hint)
    if answer == len(unused_image_ids(cri)):
        return CheckResult(
            name,
            True,
            "those are what the kubelet's image garbage collection may remove.",
        )
    return CheckResult(name, False, f"{answer!r} is not the count. Hint: {hint}")


SOLUTIONS = {
    1: Solution(
        lesson="03",
        exercise=1,
        answer="answer_1",
        code="""\
containers = cri.list_containers()
most_restarted = max(containers, key=lambda container: container.metadata.attempt)
answer_1 = most_restarted.metadata.name
answer_1
""",
        explanation=(
            "The kubelet creates a new container with attempt + 1 for each "
            "restart, and ListContainers returns exited attempts too, so the "
            "highest attempt marks the container that restarts most."
        ),
    ),
    2: Solution(
        lesson="03",
        exercise=2,
        answer="answer_2",
        code="""\
in_use = {container.image_ref for container in cri.list_containers()}
answer_2 = sum(1 for listed in cri.list_images() if listed.id not in in_use)
answer_2
""",
        explanation=(
            "A container's image_ref is the id of the image it runs; an image "
            "whose id no container names, running or exited, is what image "
            "garbage collection may remove."
        ),
    ),
}
solution = solution_lookup("03", SOLUTIONS)
