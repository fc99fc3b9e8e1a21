"""Exercise checks accept the right answer and give a hint, not the answer, for a wrong one."""

from __future__ import annotations

import pytest

from ocilab.cri import CRIClient
from ocilab.exercises import lesson01
from ocilab.lab import LabInfo


def test_lesson01_new_methods_right() -> None:
    expected = lesson01.methods_new_in_v1()
    assert "ListMetricDescriptors" in expected
    assert "Version" not in expected
    assert lesson01.check_methods_new_in_v1(expected).passed is True


def test_lesson01_new_methods_wrong_gives_hint() -> None:
    result = lesson01.check_methods_new_in_v1({"Version"})
    assert result.passed is False
    assert "Hint:" in result.message
    assert "ListMetricDescriptors" not in result.message


def test_lesson01_unanswered() -> None:
    result = lesson01.check_methods_new_in_v1(None)
    assert result.passed is None
    assert "not answered" in str(result)


@pytest.mark.lab
def test_lesson01_mountpoint(lab: LabInfo) -> None:
    with CRIClient(lab.cri_endpoint) as cri:
        reply = cri.call("runtime.v1alpha2.ImageService/ImageFsInfo")
        mountpoint = reply.image_filesystems[0].fs_id.mountpoint
        assert lesson01.check_image_fs_mountpoint(mountpoint, cri).passed is True
        wrong = lesson01.check_image_fs_mountpoint("/nowhere", cri)
    assert wrong.passed is False
    assert mountpoint not in wrong.message
