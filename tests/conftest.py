"""Shared fixtures: a clean environment, the live lab, and ../shared reference data."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocilab.lab import Lab, LabInfo

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# Set before any test runs, so that every default (CRI endpoint, notebooks,
# `ocilab lab status`) resolves to the test lab and never to a user's lab.
_SESSION_STATE = Path(tempfile.mkdtemp(prefix="ocilab-test-", dir="/tmp")) / "lab"
os.environ["OCILAB_STATE_DIR"] = str(_SESSION_STATE)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CONTAINER_RUNTIME_ENDPOINT",
        "IMAGE_SERVICE_ENDPOINT",
        "DOCKER_CONFIG",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared, or skip the test when the folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"reference data {path} is absent (it sits beside the repository in ../shared)"
        )
    return path


@pytest.fixture(scope="session")
def lab() -> Iterator[LabInfo]:
    """The live lab for the whole session, stopped and checked for leftovers at the end."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (containerd, runc and CNI)")
    session_lab = Lab(_SESSION_STATE)
    info = session_lab.up()
    try:
        yield info
    finally:
        report = session_lab.down()
        _SESSION_STATE.parent.rmdir()
        assert report.leftovers == [], f"lab down left: {report.leftovers}"
