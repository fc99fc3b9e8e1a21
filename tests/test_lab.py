"""The lab: status, idempotent up, seeded images, prerequisites, unclean stops, leftovers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from ocilab.cri import CRIClient
from ocilab.errors import LabError, PrerequisiteError
from ocilab.image import mediatypes
from ocilab.lab import Lab, LabInfo, _cleanup, _prereq
from ocilab.lab._config import LabPaths
from ocilab.lab._seed import build_lab_images

pytestmark = pytest.mark.lab


def _ocilab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocilab.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_status_json_fields(lab: LabInfo) -> None:
    result = _ocilab("lab", "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["cri_endpoint"] == lab.cri_endpoint
    assert status["registry_url"].startswith("http://127.0.0.1:")
    assert status["state_dir"] == lab.state_dir
    assert sorted(status["images"]) == ["busybox", "pause"]
    assert status["pids"]["containerd"] > 1
    assert status["pids"]["registry"] > 1
    for api in ("v1", "v1alpha2"):
        assert status["runtime_versions"][api]["runtime_name"] == "containerd"
    assert status["health"]["RuntimeReady"] is True
    assert status["health"]["NetworkReady"] is True
    assert status["health"]["registry_http"] is True


def test_status_text_for_people(lab: LabInfo) -> None:
    result = _ocilab("lab", "status")
    assert result.returncode == 0
    assert f"CRI endpoint   {lab.cri_endpoint}" in result.stdout
    assert "runtime.v1alpha2 containerd" in result.stdout


def test_second_up_changes_nothing(lab: LabInfo) -> None:
    result = _ocilab("lab", "up", "--json")
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stderr
    assert json.loads(result.stdout)["pids"] == lab.pids
    assert _cleanup.pid_alive(lab.pids["containerd"])


def test_seeded_images_in_registry(lab: LabInfo) -> None:
    built = build_lab_images()
    for name, image in (("busybox", built.busybox), ("pause", built.pause)):
        reference = lab.images[name]
        repository, tag = reference.split("/", 1)[1].rsplit(":", 1)
        response = httpx.get(
            f"{lab.registry_url}/v2/{repository}/manifests/{tag}",
            headers={"Accept": mediatypes.OCI_MANIFEST},
        )
        assert response.status_code == 200
        assert response.headers["Docker-Content-Digest"] == image.manifest.digest
        assert response.content == image.manifest.data


def test_lab_images_reproducible() -> None:
    first = build_lab_images()
    second = build_lab_images()
    assert first.busybox.manifest.digest == second.busybox.manifest.digest
    assert first.pause.manifest.digest == second.pause.manifest.digest
    # Both images share the one busybox layer.
    assert first.busybox.layers == first.pause.layers


def test_missing_package_named_with_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = _prereq._Need(
        "a test-only tool", "/nonexistent/ocilab-test-tool", "ocilab-test-package"
    )
    monkeypatch.setattr(_prereq, "_NEEDS", [*_prereq._NEEDS, missing])
    with pytest.raises(PrerequisiteError) as caught:
        _prereq.check_prerequisites()
    message = str(caught.value)
    assert "a test-only tool not found (/nonexistent/ocilab-test-tool)" in message
    assert "apt-get install -y ocilab-test-package" in message


def test_fake_non_root_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite runs as root and cannot start its own Python as another user
    # (the interpreter lives under /root), so only the uid check is faked.
    monkeypatch.setattr(_prereq.os, "geteuid", lambda: 1000)
    with pytest.raises(PrerequisiteError, match="not running as root.*sudo"):
        _prereq.check_prerequisites()


def test_port_in_use_rejected(tmp_path: Path) -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    state_dir = tmp_path / "lab"
    try:
        with pytest.raises(
            PrerequisiteError, match=f"127.0.0.1:{port} is in use"
        ) as caught:
            Lab(state_dir, registry_port=port).up()
    finally:
        holder.close()
    assert "--registry-port" in str(caught.value)
    assert not state_dir.exists()


def _host_snapshot() -> dict[str, object]:
    """What a lab could leave on the host, counted the same way before and after."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    live = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _cleanup.pid_alive(int(entry.name)):
            argv = _cleanup._cmdline(int(entry.name))
            if argv and Path(argv[0]).name in (
                "containerd",
                "containerd-shim-runc-v2",
                "docker-registry",
                "sleep",
            ):
                live.append(argv[0])
    return {
        "mounts": len(Path("/proc/self/mountinfo").read_text().splitlines()),
        "links": sorted(
            line.split(":")[1].strip().split("@")[0] for line in links.splitlines()
        ),
        "processes": sorted(live),
        "shim sockets": sorted(os.listdir("/run/containerd/s"))
        if os.path.isdir("/run/containerd/s")
        else [],
        "cni cache": sorted(os.listdir("/var/lib/cni/results"))
        if os.path.isdir("/var/lib/cni/results")
        else [],
    }


def _run_pod(info: LabInfo) -> None:
    with CRIClient(info.cri_endpoint, timeout=120) as cri:
        config = {
            "metadata": {
                "name": "leak-check",
                "namespace": "ocilab-tests",
                "uid": str(uuid.uuid4()),
            },
            "log_directory": str(Path(info.state_dir) / "pod-logs"),
            "linux": {},
        }
        pod_id = cri.runtime.RunPodSandbox(config=config).pod_sandbox_id
        cri.images.PullImage(image={"image": info.images["busybox"]})
        container_id = cri.runtime.CreateContainer(
            pod_sandbox_id=pod_id,
            config={
                "metadata": {"name": "sleeper"},
                "image": {"image": info.images["busybox"]},
                "command": ["sleep", "600"],
                "log_path": "sleeper.log",
            },
            sandbox_config=config,
        ).container_id
        cri.runtime.StartContainer(container_id=container_id)


def test_unclean_stop_then_up_and_down(lab: LabInfo, tmp_path: Path) -> None:
    before = _host_snapshot()
    second = Lab(tmp_path / "lab")
    info = second.up()
    assert info.subnet != lab.subnet
    assert info.bridge != lab.bridge
    _run_pod(info)

    # Kill the whole lab with SIGKILL: containerd, registry, shims and the pods.
    paths = LabPaths(Path(info.state_dir))
    cgroup_pids = [
        int(pid)
        for folder in _cleanup.runc_cgroup_paths(paths)
        if folder.parent.name == "k8s.io" and "memory" in folder.parts
        for pid in (folder / "cgroup.procs").read_text().split()
    ]
    for pid in [*_cleanup.find_processes(paths), *cgroup_pids]:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    assert _cleanup.lab_mounts(paths), "the killed lab should leave mounts behind"
    assert second.info() is None

    restarted = second.up()
    assert restarted.pids["containerd"] != info.pids["containerd"]
    with CRIClient(restarted.cri_endpoint) as cri:
        assert cri.status().ready
    _run_pod(restarted)

    report = second.down()
    assert report.leftovers == []
    assert report.pods == 1
    assert report.containers == 1
    assert not Path(restarted.state_dir).exists()
    assert _host_snapshot() == before


def test_context_manager_starts_and_stops(tmp_path: Path, lab: LabInfo) -> None:
    state_dir = tmp_path / "lab"
    with Lab(state_dir) as info:
        with CRIClient(info.cri_endpoint) as cri:
            assert cri.version().runtime_name == "containerd"
    assert not state_dir.exists()
    assert not Path(info.cri_endpoint.removeprefix("unix://")).exists()


def test_context_manager_keeps_running_lab(lab: LabInfo) -> None:
    with Lab(lab.state_dir) as info:
        assert info.pids == lab.pids
    assert _cleanup.pid_alive(lab.pids["containerd"])


def test_up_refuses_folder_with_user_data(tmp_path: Path) -> None:
    folder = tmp_path / "my-data"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious")
    with pytest.raises(LabError, match="not empty and was not made by ocilab"):
        Lab(folder).up()
    assert (folder / "thesis.txt").read_text() == "precious"


def test_down_keeps_folder_with_user_data(tmp_path: Path) -> None:
    folder = tmp_path / "my-data"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious")
    report = Lab(folder).down()
    assert (folder / "thesis.txt").read_text() == "precious"
    assert f"folder {folder}" in report.leftovers
