"""The CRI conformance check passes on the lab and leaves nothing behind, also when checks fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocilab.cri import CRIClient
from ocilab.cri.conformance import CHECKS, run_conformance
from ocilab.lab import LabInfo

pytestmark = pytest.mark.lab


def _snapshot(cri: CRIClient) -> tuple[list[str], list[str], list[str]]:
    return (
        sorted(p.id for p in cri.list_pods()),
        sorted(c.id for c in cri.list_containers()),
        sorted(i.id for i in cri.list_images()),
    )


@pytest.mark.parametrize("api_version", ["v1", "v1alpha2"])
def test_conformance_passes_on_lab(lab: LabInfo, api_version: str) -> None:
    with CRIClient(lab.cri_endpoint, api_version=api_version, timeout=60) as cri:
        before = _snapshot(cri)
        run = run_conformance(
            cri,
            lab.images["busybox"],
            log_directory=Path(lab.state_dir) / "pod-logs",
            cgroup_parent=lab.cgroup_parent,
        )
        after = _snapshot(cri)
    frame = run.frame()
    assert list(frame["check"]) == [name for name, _ in CHECKS]
    failed = frame[frame["result"] == "fail"]
    assert failed.empty, failed.to_dict("records")
    assert run.passed
    assert (frame["result"] == "pass").sum() >= 8
    assert after == before


def test_conformance_failure_still_cleans_up(lab: LabInfo) -> None:
    missing = f"{lab.registry_url.removeprefix('http://')}/ocilab/absent:none"
    with CRIClient(lab.cri_endpoint, timeout=60) as cri:
        before = _snapshot(cri)
        run = run_conformance(
            cri, missing, log_directory=Path(lab.state_dir) / "pod-logs"
        )
        after = _snapshot(cri)
    results = dict(zip(run.frame()["check"], run.frame()["result"]))
    assert results["image pull and status"] == "fail"
    assert results["pod lifecycle"] == "pass"
    assert results["container lifecycle"] == "fail"
    assert results["exec sync"] == "skip"
    assert not run.passed
    assert after == before
