"""Exercise checks for lesson 01 (first contact with the CRI)."""

from __future__ import annotations

from collections.abc import Iterable

from ..cri import API_MODULES, CRIClient
from . import CheckResult, not_answered

__all__ = ["check_image_fs_mountpoint", "check_methods_new_in_v1"]


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
