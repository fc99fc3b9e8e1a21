"""Exercise checks for lesson 01 (first contact with the CRI)."""

from __future__ import annotations

from collections.abc import Iterable

from ..cri import API_MODULES, CRIClient
from . import CheckResult, Solution, not_answered, solution_lookup

__all__ = [
    "SOLUTIONS",
    "check_image_fs_mountpoint",
    "check_methods_new_in_v1",
    "solution",
]


def methods_new_in_v1(service: str = "RuntimeService") -> set[str]:
    """Return the methods of runtime.v1's service that runtime.v1alpha2's lacks."""
    v1 = API_MODULES["v1"].DESCRIPTOR.services_by_name[service]
    v1alpha2 = API_MODULES["v1alpha2"].DESCRIPTOR.services_by_name[service]
    return {m.name for m in v1.methods} - {m.name for m in v1alpha2.methods}


def check_methods_new_in_v1(answer: Iterable[str] | None) -> CheckResult:
    """Exercise 1: the RuntimeService methods that exist in v1 but not in v1alpha2."""
    name = "Exercise 1"
    hint = "each API module has DESCRIPTOR.services_by_name[...].methods; compare the names as sets"
    if answer is None:
        return not_answered(name, hint)
    given = {str(item) for item in answer}
    expected = methods_new_in_v1()
    if given == expected:
        return CheckResult(name, True, f"all {len(expected)} methods found.")
    missing, extra = len(expected - given), len(given - expected)
    return CheckResult(
        name,
        False,
        f"{missing} missing and {extra} that are not new in v1. Hint: {hint}",
    )


def check_image_fs_mountpoint(answer: str | None, cri: CRIClient) -> CheckResult:
    """Exercise 2: the mountpoint of the runtime's first image filesystem, read over v1alpha2."""
    name = "Exercise 2"
    hint = "call 'runtime.v1alpha2.ImageService/ImageFsInfo' with cri.call and read image_filesystems[0].fs_id.mountpoint"
    if answer is None:
        return not_answered(name, hint)
    reply = cri.call("runtime.v1alpha2.ImageService/ImageFsInfo")
    expected = (
        reply.image_filesystems[0].fs_id.mountpoint if reply.image_filesystems else ""
    )
    if answer == expected:
        return CheckResult(
            name, True, "that is where the runtime's snapshotter keeps image layers."
        )
    return CheckResult(
        name,
        False,
        f"{answer!r} is not the mountpoint the runtime reports. Hint: {hint}",
    )


SOLUTIONS = {
    1: Solution(
        lesson="01",
        exercise=1,
        answer="answer_1",
        code="""\
from ocilab.cri import API_MODULES

v1 = API_MODULES["v1"].DESCRIPTOR.services_by_name["RuntimeService"]
v1alpha2 = API_MODULES["v1alpha2"].DESCRIPTOR.services_by_name["RuntimeService"]
answer_1 = {method.name for method in v1.methods}
answer_1 -= {method.name for method in v1alpha2.methods}
sorted(answer_1)
""",
        explanation=(
            "The generated modules carry the proto files' descriptors, so the "
            "service definitions of both API versions can be compared as sets of "
            "method names without calling the runtime."
        ),
    ),
    2: Solution(
        lesson="01",
        exercise=2,
        answer="answer_2",
        code="""\
reply = cri.call("runtime.v1alpha2.ImageService/ImageFsInfo")
answer_2 = reply.image_filesystems[0].fs_id.mountpoint
answer_2
""",
        explanation=(
            "cri.call takes the full gRPC method path, so the same client reaches"
            " the older API; the reply is the v1alpha2 message, whose fields "
            "match v1's for this call."
        ),
    ),
}
solution = solution_lookup("01", SOLUTIONS)
