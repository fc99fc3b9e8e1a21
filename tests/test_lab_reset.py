"""`ocilab lab reset` against a second lab of its own, so the session lab keeps its state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ocilab.cri import CRIClient
from ocilab.distribution import push_image
from ocilab.errors import LabError, LabNotRunningError
from ocilab.image import build_image
from ocilab.lab import Lab, LabInfo
from ocilab.lab._seed import build_busybox_layer, build_lab_images

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def reset_lab(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab of this module's own; depends on `lab` so the session's lab starts first."""
    second = Lab(tmp_path_factory.mktemp("reset") / "lab")
    second.up()
    try:
        yield second
    finally:
        report = second.down()
        assert report.leftovers == []


def _catalog(info: LabInfo) -> list[str]:
    return httpx.get(f"{info.registry_url}/v2/_catalog", timeout=10).json()[
        "repositories"
    ]


def _run_workload(cri: CRIClient, info: LabInfo) -> str:
    """Start a pod with a logging container from a second repository; return its image."""
    # An image of its own: the seeded images' content would share their image id.
    image = build_image(
        [build_busybox_layer().build()],
        container_config={"Env": [f"EXERCISE={uuid.uuid4().hex}"], "Cmd": ["sh"]},
    )
    repository = f"exercise/{uuid.uuid4().hex[:8]}"
    push_image(info.registry_url, repository, image, ["v1"])
    reference = f"{info.registry_url.removeprefix('http://')}/{repository}:v1"
    cri.pull_image(reference)
    uid = str(uuid.uuid4())
    pod_config = {
        "metadata": {"name": "reset", "namespace": "reset", "uid": uid, "attempt": 0},
        "log_directory": str(Path(info.state_dir) / "pod-logs" / "reset"),
        "linux": {"cgroup_parent": f"{info.cgroup_parent}/pod-{uid}"},
    }
    pod_id = cri.run_pod(pod_config)
    container_id = cri.create_container(
        pod_id,
        {
            "metadata": {"name": "main", "attempt": 0},
            "image": {"image": reference},
            "command": ["sh", "-c", "echo hello; sleep 600"],
            "log_path": "main/0.log",
        },
        pod_config,
    )
    cri.start_container(container_id)
    return reference


def test_reset_restores_seeded_state(reset_lab: Lab) -> None:
    info = reset_lab.require_info()
    seeded_repositories = _catalog(info)
    with CRIClient(info.cri_endpoint, timeout=60) as cri:
        extra = _run_workload(cri, info)
        assert len(cri.list_pods()) == 1
        assert extra.split("/", 1)[1].rsplit(":", 1)[0] in _catalog(info)

        report = reset_lab.reset()

        assert report.pods == 1
        assert report.containers == 1
        assert report.images == [extra]
        assert report.repositories == [extra.split("/", 1)[1].rsplit(":", 1)[0]]
        # The client opened before the reset still works: containerd kept running.
        assert cri.list_pods() == []
        assert cri.list_containers() == []
        tags = {
            tag for image in cri.images.ListImages().images for tag in image.repo_tags
        }
        assert extra not in tags
    assert _catalog(info) == seeded_repositories
    assert list((Path(info.state_dir) / "pod-logs").iterdir()) == []
    after = reset_lab.require_info()
    assert after.registry_url == info.registry_url
    assert after.cri_endpoint == info.cri_endpoint
    assert after.pids["containerd"] == info.pids["containerd"]
    assert after.pids["registry"] != info.pids["registry"]


def test_reset_keeps_seeded_images_pullable(reset_lab: Lab) -> None:
    info = reset_lab.require_info()
    reset_lab.reset()
    with CRIClient(info.cri_endpoint, timeout=60) as cri:
        for reference in info.images.values():
            assert cri.pull_image(reference).startswith("sha256:")
    assert reset_lab.status()["healthy"]


def test_reset_command_prints_counts(reset_lab: Lab) -> None:
    info = reset_lab.require_info()
    push_image(info.registry_url, "cli/reset", build_lab_images().busybox, ["x"])
    result = subprocess.run(
        [sys.executable, "-m", "ocilab.cli", "lab", "reset", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OCILAB_STATE_DIR": info.state_dir},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["repositories"] == ["cli/reset"]
    assert "lab reset in" in result.stderr


def test_reset_without_lab(tmp_path: Path) -> None:
    with pytest.raises(LabNotRunningError, match="ocilab lab up"):
        Lab(tmp_path / "none").reset()


def test_reset_broken_lab_points_to_up(reset_lab: Lab) -> None:
    info = reset_lab.require_info()
    os.kill(info.pids["registry"], signal.SIGKILL)
    try:
        with pytest.raises(LabError, match="run `ocilab lab up`"):
            reset_lab.reset()
    finally:
        # `up` repairs a broken lab; the module's fixture removes it afterwards.
        reset_lab.up()
    assert reset_lab.status()["healthy"]
