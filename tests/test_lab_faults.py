"""Faults injected into real labs: killed parts, a killed `lab up`, leftovers, leaks.

Each test starts a lab of its own under tmp_path, except the listener tests,
which read the session lab. The session lab runs during the other tests too,
so the host snapshots from :mod:`tests.lab_host`, taken before a lab starts
and after it is removed, leave out every other lab's items.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from ocilab.cri import CRIClient
from ocilab.lab import Lab, LabInfo, _cleanup, _health, _net
from ocilab.lab._config import LabPaths
from ocilab.lab._state import lab_name, read_info

from .lab_host import (
    host_snapshot,
    kill_all,
    kill_lab,
    ocilab_cli,
    pod_processes,
    run_pod,
    snapshot_changes,
    snapshot_counts,
)

pytestmark = pytest.mark.lab

UP_CYCLES = 20
POD_EVERY = 5  # cycles 0, 5, 10 and 15 run a pod
SETTLE_SECONDS = 3.0


def assert_nothing_left(before: dict[str, list[str]], state_dir: Path) -> None:
    # Another lab may be between creating its bridge and starting its first
    # process, when nothing yet ties the bridge to it, so a difference must
    # last SETTLE_SECONDS to count as a leak.
    deadline = time.monotonic() + SETTLE_SECONDS
    after = host_snapshot(state_dir)
    while snapshot_counts(after) != snapshot_counts(before):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
        after = host_snapshot(state_dir)
    assert snapshot_counts(after) == snapshot_counts(before), snapshot_changes(
        before, after
    )
    assert not state_dir.exists()


# -- a killed part of a running lab ------------------------------------------


@pytest.mark.parametrize("part", ["containerd", "registry"])
def test_killed_part_status_and_repair(lab: LabInfo, tmp_path: Path, part: str) -> None:
    state_dir = tmp_path / "lab"
    before = host_snapshot(state_dir)
    second = Lab(state_dir)
    info = second.up()
    try:
        run_pod(info)
        os.kill(info.pids[part], signal.SIGKILL)
        time.sleep(0.2)

        status = ocilab_cli("lab", "status", "--state-dir", str(state_dir))
        assert status.returncode == 1, status.stderr
        assert f"{part}_process" in status.stderr
        assert "`ocilab lab up` starts the lab again" in status.stderr
        record = json.loads(
            ocilab_cli("lab", "status", "--json", "--state-dir", str(state_dir)).stdout
        )
        assert record["healthy"] is False
        assert f"{part}_process" in record["problems"]

        up = ocilab_cli("lab", "up", "--json", "--state-dir", str(state_dir))
        assert up.returncode == 0, up.stderr
        repaired = json.loads(up.stdout)
        assert repaired["pids"][part] != info.pids[part]
        healthy = ocilab_cli("lab", "status", "--state-dir", str(state_dir))
        assert healthy.returncode == 0, healthy.stderr
        with CRIClient(repaired["cri_endpoint"]) as cri:
            assert cri.status().ready
    finally:
        report = second.down()
    assert report.leftovers == []
    assert_nothing_left(before, state_dir)


# -- `ocilab lab up` killed while it starts the lab --------------------------


def _bridge_created(paths: LabPaths) -> bool:
    return _net.link_exists(lab_name(paths.state_dir))


def _registry_started(paths: LabPaths) -> bool:
    info = read_info(paths.state_dir)
    return info is not None and _health.registry_answers(info.registry_url)


def _containerd_started(paths: LabPaths) -> bool:
    return paths.socket.is_socket()


def _images_pushed(paths: LabPaths) -> bool:
    repositories = paths.registry_root / "docker/registry/v2/repositories/ocilab"
    return any(repositories.glob("*/_manifests/tags/lab"))


@pytest.mark.parametrize(
    "reached",
    [_bridge_created, _registry_started, _containerd_started, _images_pushed],
    ids=["bridge", "registry", "containerd", "images"],
)
def test_up_killed_during_start(
    lab: LabInfo, tmp_path: Path, reached: Callable[[LabPaths], bool]
) -> None:
    state_dir = tmp_path / "lab"
    paths = LabPaths(state_dir)
    before = host_snapshot(state_dir)
    command = [sys.executable, "-m", "ocilab.cli", "lab", "up"]
    starter = subprocess.Popen(
        [*command, "--state-dir", str(state_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not reached(paths) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert reached(paths), f"`lab up` never reached {reached.__name__}"
        starter.send_signal(signal.SIGKILL)
    finally:
        starter.wait(timeout=30)
    assert starter.returncode == -signal.SIGKILL, "`lab up` finished before the kill"
    assert paths.marker.exists()

    second = Lab(state_dir)
    try:
        info = second.up()
        assert second.status()["healthy"] is True
        run_pod(info)
    finally:
        report = second.down()
    assert report.leftovers == []
    assert_nothing_left(before, state_dir)


# -- leftovers of a lab killed while a pod runs ------------------------------


@pytest.mark.parametrize(
    ("kill_pods", "repair"),
    [(True, "up"), (False, "up"), (True, "down"), (False, "down")],
    ids=[
        "all-then-up",
        "orphan-pods-then-up",
        "all-then-down",
        "orphan-pods-then-down",
    ],
)
def test_killed_lab_leftovers_removed(
    lab: LabInfo, tmp_path: Path, kill_pods: bool, repair: str
) -> None:
    state_dir = tmp_path / "lab"
    paths = LabPaths(state_dir)
    before = host_snapshot(state_dir)
    second = Lab(state_dir)
    info = second.up()
    run_pod(info)
    pods = pod_processes(paths)
    assert pods, "the pod's processes should be in its cgroups"

    # Send SIGKILL to containerd, the registry and the shims. With kill_pods
    # the pod processes get it too, otherwise they live on as orphans.
    if kill_pods:
        kill_lab(paths)
    else:
        kill_all(_cleanup.find_processes(paths))
        assert all(_cleanup.pid_alive(pid) for pid in pods)
    killed = host_snapshot(state_dir)
    changes = snapshot_changes(before, killed)
    for kind in ("mounts", "veths", "host files", "cgroups", "state dir files"):
        assert changes.get(kind, {}).get("added"), f"the killed lab left no {kind}"
    assert _net.link_exists(info.bridge)

    if repair == "up":
        up = ocilab_cli("lab", "up", "--state-dir", str(state_dir))
        assert up.returncode == 0, up.stderr
        assert "cleaning up what an earlier lab left behind" in up.stderr
        assert not any(_cleanup.pid_alive(pid) for pid in pods)
        restarted = second.require_info()
        run_pod(restarted)
    down = ocilab_cli("lab", "down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert "left behind" not in down.stderr
    assert not any(_cleanup.pid_alive(pid) for pid in pods)
    assert_nothing_left(before, state_dir)


# -- repeated up and down ----------------------------------------------------


@pytest.mark.timeout(300)
def test_twenty_up_down_cycles_leak_nothing(lab: LabInfo, tmp_path: Path) -> None:
    state_dir = tmp_path / "lab"
    before = host_snapshot(state_dir)
    pods_run = 0
    for cycle in range(UP_CYCLES):
        second = Lab(state_dir)
        try:
            info = second.up()
            if cycle % POD_EVERY == 0:
                run_pod(info, name=f"cycle-{cycle}")
                pods_run += 1
                if cycle == 0:
                    # The snapshot must see a running lab, or equal counts prove nothing.
                    running = snapshot_changes(before, host_snapshot(state_dir))
                    for kind in ("processes", "mounts", "bridges", "veths", "cgroups"):
                        assert running.get(kind, {}).get("added"), kind
        finally:
            report = second.down()
        assert report.leftovers == [], f"cycle {cycle}"
        assert report.pods == (1 if cycle % POD_EVERY == 0 else 0)
    assert pods_run == UP_CYCLES // POD_EVERY
    assert_nothing_left(before, state_dir)


# -- what the lab exposes ----------------------------------------------------


def _listen_addresses(pid: int) -> list[str]:
    return sorted(
        connection.laddr.ip
        for connection in psutil.Process(pid).net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    )


def test_registry_listens_on_loopback_only(lab: LabInfo) -> None:
    pid = lab.pids["registry"]
    listeners = psutil.Process(pid).net_connections(kind="inet")
    ports = [c.laddr.port for c in listeners if c.status == psutil.CONN_LISTEN]
    assert ports == [lab.registry_port]
    assert _listen_addresses(pid) == ["127.0.0.1"]


def test_containerd_listens_on_loopback_only(lab: LabInfo) -> None:
    # containerd 1.6 opens a TCP socket only for the CRI streaming server
    # (exec, attach, port-forward); its gRPC and ttrpc APIs are unix sockets.
    addresses = _listen_addresses(lab.pids["containerd"])
    assert addresses, "containerd should listen for the CRI streaming server"
    assert set(addresses) == {"127.0.0.1"}


def test_port_forward_url_on_loopback(lab: LabInfo) -> None:
    pod_id = run_pod(lab, name="port-forward-url")
    with CRIClient(lab.cri_endpoint) as cri:
        try:
            url = cri.runtime.PortForward(pod_sandbox_id=pod_id, port=[80]).url
        finally:
            cri.runtime.StopPodSandbox(pod_sandbox_id=pod_id)
            cri.runtime.RemovePodSandbox(pod_sandbox_id=pod_id)
    assert url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("existing_mode", [None, 0o755], ids=["new", "existing-0755"])
def test_state_dir_private(tmp_path: Path, existing_mode: int | None) -> None:
    state_dir = tmp_path / "lab"
    if existing_mode is not None:
        state_dir.mkdir()
        state_dir.chmod(existing_mode)
    second = Lab(state_dir)
    try:
        info = second.up()
        run_pod(info)
        assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
        # Below containerd/ lie image layers and container root filesystems,
        # whose modes come from the images (a container's /tmp is 1777).
        writable = [
            str(path)
            for path in state_dir.rglob("*")
            if not path.is_relative_to(state_dir / "containerd")
            and not path.is_symlink()
            and path.lstat().st_mode & stat.S_IWOTH
        ]
        assert writable == []
        # containerd and the registry log request details there.
        for log_file in (state_dir / "logs").iterdir():
            assert stat.S_IMODE(log_file.stat().st_mode) == 0o600, log_file
    finally:
        assert second.down().leftovers == []
