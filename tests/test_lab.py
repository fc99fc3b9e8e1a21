"""The lab: status, idempotent up, seeded images, prerequisites, unclean stops, leftovers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ocilab.cri import CRIClient
from ocilab.errors import LabError, PrerequisiteError
from ocilab.image import mediatypes
from ocilab.lab import Lab, LabInfo, _cleanup, _prereq, running_lab
from ocilab.lab._config import LabPaths
from ocilab.lab._seed import build_lab_images
from ocilab.lab._state import read_info

from .lab_host import (
    host_snapshot,
    kill_lab,
    ocilab_cli,
    run_pod,
    snapshot_changes,
    snapshot_counts,
)

pytestmark = pytest.mark.lab


def test_status_json_fields(lab: LabInfo) -> None:
    result = ocilab_cli("lab", "status", "--json")
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
    result = ocilab_cli("lab", "status")
    assert result.returncode == 0
    assert f"CRI endpoint   {lab.cri_endpoint}" in result.stdout
    assert "runtime.v1alpha2 containerd" in result.stdout


def test_second_up_changes_nothing(lab: LabInfo) -> None:
    result = ocilab_cli("lab", "up", "--json")
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


def test_unclean_stop_then_up_and_down(lab: LabInfo, tmp_path: Path) -> None:
    before = host_snapshot(tmp_path / "lab")
    second = Lab(tmp_path / "lab")
    info = second.up()
    assert info.subnet != lab.subnet
    assert info.bridge != lab.bridge
    run_pod(info)

    paths = LabPaths(Path(info.state_dir))
    kill_lab(paths)
    assert _cleanup.lab_mounts(paths), "the killed lab should leave mounts behind"
    assert second.info() is None

    restarted = second.up()
    assert restarted.pids["containerd"] != info.pids["containerd"]
    with CRIClient(restarted.cri_endpoint) as cri:
        assert cri.status().ready
    run_pod(restarted)

    report = second.down()
    assert report.leftovers == []
    assert report.pods == 1
    assert report.containers == 1
    assert not Path(restarted.state_dir).exists()
    after = host_snapshot(tmp_path / "lab")
    assert snapshot_counts(after) == snapshot_counts(before), snapshot_changes(
        before, after
    )


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
    assert report.leftovers == [
        f"{folder} is not an ocilab lab folder (no .ocilab-lab); nothing was removed"
    ]


@pytest.fixture
def tmpfs(tmp_path: Path):
    """A tmpfs mounted on tmp_path/mnt, unmounted again at the end."""
    point = tmp_path / "mnt"
    point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "ocilab-test", str(point)], check=True
    )
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def test_down_non_lab_folder_keeps_mounts(tmp_path: Path, tmpfs: Path) -> None:
    (tmpfs / "data.txt").write_text("keep")
    report = Lab(tmp_path).down()
    assert (tmpfs / "data.txt").read_text() == "keep"
    assert os.path.ismount(tmpfs)
    assert "nothing was removed" in report.leftovers[0]


def test_up_rejects_mount_point(tmpfs: Path) -> None:
    with pytest.raises(LabError, match="is a mount point"):
        Lab(tmpfs).up()
    assert os.path.ismount(tmpfs)


def test_up_rejects_long_state_dir(tmp_path: Path) -> None:
    state_dir = tmp_path / ("x" * 100)
    lab = Lab(state_dir)
    with pytest.raises(LabError, match="too long for unix socket paths"):
        lab.up()
    assert not state_dir.exists()
    assert (
        not subprocess.run(
            ["ip", "link", "show", lab.name], capture_output=True
        ).returncode
        == 0
    )


def test_empty_state_dir_rejected() -> None:
    with pytest.raises(LabError, match="empty lab state dir"):
        Lab("")


@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_registry_port_range_checked(port: int) -> None:
    with pytest.raises(LabError, match=f"invalid registry port {port}"):
        Lab("/tmp/ocilab-unused", registry_port=port)


def test_running_lab_ignores_reused_pid(lab: LabInfo, tmp_path: Path) -> None:
    record = json.loads((Path(lab.state_dir) / "lab.json").read_text())
    record["state_dir"] = str(tmp_path)
    record["pids"] = {"containerd": os.getpid(), "registry": os.getpid()}
    (tmp_path / "lab.json").write_text(json.dumps(record))
    assert running_lab(tmp_path) is None


def test_malformed_lab_json_ignored(lab: LabInfo, tmp_path: Path) -> None:
    record = json.loads((Path(lab.state_dir) / "lab.json").read_text())
    record["pids"] = [1]
    (tmp_path / "lab.json").write_text(json.dumps(record))
    assert read_info(tmp_path) is None
    assert running_lab(tmp_path) is None


def test_broken_lab_status_and_repair(lab: LabInfo, tmp_path: Path) -> None:
    second = Lab(tmp_path / "lab")
    info = second.up()
    try:
        os.kill(info.pids["registry"], signal.SIGKILL)
        time.sleep(0.2)
        status = second.status()
        assert status["running"] is True
        assert status["healthy"] is False
        assert "registry_process" in status["problems"]
        repaired = second.up()
        assert repaired.pids["registry"] != info.pids["registry"]
        assert second.status()["healthy"] is True
    finally:
        assert second.down().leftovers == []


def test_concurrent_up_same_state_dir(lab: LabInfo, tmp_path: Path) -> None:
    state_dir = tmp_path / "lab"
    command = [
        sys.executable,
        "-m",
        "ocilab.cli",
        "lab",
        "up",
        "--json",
        "--state-dir",
        str(state_dir),
    ]
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    second = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    outputs = [process.communicate(timeout=180) for process in (first, second)]
    try:
        assert [first.returncode, second.returncode] == [0, 0], outputs
        assert sum("already running" in stderr for _, stderr in outputs) == 1
        pids = [json.loads(stdout)["pids"] for stdout, _ in outputs]
        assert pids[0] == pids[1]
    finally:
        assert Lab(state_dir).down().leftovers == []


def test_shim_sockets_removed_after_shims_killed(lab: LabInfo, tmp_path: Path) -> None:
    second = Lab(tmp_path / "lab")
    info = second.up()
    run_pod(info)
    paths = LabPaths(Path(info.state_dir))
    expected = _cleanup.shim_sockets(paths, _cleanup.container_ids(paths))
    assert any(path.exists() for path in expected)
    for pid, argv in _cleanup.find_processes(paths).items():
        if Path(argv[0]).name.startswith("containerd-shim"):
            os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    report = second.down()
    assert report.leftovers == []
    assert [path for path in expected if path.exists()] == []
