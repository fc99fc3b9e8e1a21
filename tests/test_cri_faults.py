"""CRI faults: unreachable sockets, deadlines, a runtime killed mid-call, and recovery.

The runtime is a FaultInjectingRuntime (tests/cri_test_server.py): the lab's
containerd serves both API versions and replies at once, so it cannot show a
runtime with a single API version or a call held past its deadline. The
socket faults use plain files and sockets in a temporary folder.
test_cri_errors.py covers a missing socket, a socket nobody listens on and a
socket that root without CAP_DAC_OVERRIDE may not open; this file adds the
cases below.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocilab.cri import CRIClient
from ocilab.cri import client as client_module
from ocilab.errors import (
    CRIConnectionError,
    CRITimeout,
    EndpointError,
    RuntimeUnavailableError,
    SocketNotFoundError,
    SocketPermissionError,
)

from .cri_test_server import POD_ID, RUNTIME_NAME, FaultInjectingRuntime, RuntimeProcess


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "runtime.sock"


# Sockets that cannot be reached.


def test_socket_under_regular_file(tmp_path: Path) -> None:
    regular = tmp_path / "not-a-folder"
    regular.write_text("")
    with pytest.raises(EndpointError) as caught:
        CRIClient(f"unix://{regular}/cri.sock", timeout=5)
    message = str(caught.value)
    assert f"inside {str(regular)!r}, which is not a directory" in message
    assert "point it at the runtime's unix socket" in message


def test_folder_replaced_by_file_after_start(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    with CRIClient(f"unix://{folder}/cri.sock", timeout=5) as cri:
        folder.rmdir()
        folder.write_text("")
        with pytest.raises(SocketNotFoundError) as caught:
            cri.version()
    assert f"{folder} is not a directory" in str(caught.value)
    assert "ocilab lab up" in str(caught.value)
    assert caught.value.code == "UNAVAILABLE"


_AS_NOBODY = """
import json, os, sys
from ocilab.cri import CRIClient
from ocilab.errors import OcilabError
# Imported first, as root: the interpreter may sit below /root (mode 0700).
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
try:
    with CRIClient(sys.argv[1], timeout=5) as cri:
        cri.version()
    print(json.dumps({"type": None, "message": "connected"}))
except OcilabError as error:
    print(json.dumps({"type": type(error).__name__, "message": str(error)}))
"""


def _connect_as_nobody(endpoint: str) -> dict[str, Any]:
    """Call Version as uid and gid 65534 in a child process; return the error it got.

    The child imports ocilab as root and then drops to 65534 with os.setuid,
    which also clears root's capabilities, so file modes apply to it.
    """
    result = subprocess.run(
        [sys.executable, "-c", _AS_NOBODY, endpoint],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def public_folder() -> Iterator[Path]:
    """A folder that uid 65534 can search: pytest's tmp_path sits below a 0700 folder."""
    folder = Path(tempfile.mkdtemp(prefix="ocilab-cri-faults-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.chmod(0o700)
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir()


def _listening_socket(path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    return listener


# Root ignores file modes (CAP_DAC_OVERRIDE), so these tests drop to uid 65534
# with os.setuid in a child process, where the modes apply.
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to uid 65534")
def test_socket_mode_000_denied(public_folder: Path) -> None:
    path = public_folder / "locked.sock"
    listener = _listening_socket(path)
    path.chmod(0o000)
    try:
        reply = _connect_as_nobody(f"unix://{path}")
    finally:
        listener.close()
    assert reply["type"] == SocketPermissionError.__name__
    assert f"permission denied on CRI socket {path}" in reply["message"]
    assert "run as root (sudo)" in reply["message"]
    assert "group 'root'" in reply["message"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to uid 65534")
def test_folder_without_search_denied(public_folder: Path) -> None:
    private = public_folder / "private"
    private.mkdir(mode=0o700)
    path = private / "runtime.sock"
    listener = _listening_socket(path)
    try:
        reply = _connect_as_nobody(f"unix://{path}")
    finally:
        listener.close()
    assert reply["type"] == SocketPermissionError.__name__
    assert f"permission denied on a folder above CRI socket {path}" in reply["message"]
    assert "search (x) permission" in reply["message"]


# Deadlines.


def test_call_past_deadline_times_out(socket_path: Path) -> None:
    with FaultInjectingRuntime(
        socket_path, blocking=("ListPodSandbox",), block_seconds=20
    ):
        with CRIClient(f"unix://{socket_path}", timeout=0.5) as cri:
            assert cri.version().runtime_name == RUNTIME_NAME
            started = time.monotonic()
            with pytest.raises(CRITimeout) as caught:
                cri.list_pods()
            elapsed = time.monotonic() - started
            # The client stays usable after a deadline.
            assert cri.status().conditions[0].type == "RuntimeReady"
    message = str(caught.value)
    assert caught.value.code == "DEADLINE_EXCEEDED"
    assert "/runtime.v1.RuntimeService/ListPodSandbox" in message
    assert f"unix://{socket_path}" in message
    assert "raise the timeout" in message
    assert elapsed < 3.0


def test_call_own_deadline_times_out(socket_path: Path) -> None:
    with FaultInjectingRuntime(socket_path, blocking=("ExecSync",), block_seconds=20):
        with CRIClient(f"unix://{socket_path}", timeout=10) as cri:
            started = time.monotonic()
            with pytest.raises(CRITimeout, match="timed out"):
                cri.runtime.ExecSync(container_id="c", cmd=["sleep", "5"], deadline=0.3)
            assert time.monotonic() - started < 3.0


def test_negotiation_past_deadline_not_cached(socket_path: Path) -> None:
    endpoint = f"unix://{socket_path}"
    with FaultInjectingRuntime(socket_path, blocking=("Version",), block_seconds=20):
        with CRIClient(endpoint, timeout=0.3) as cri:
            with pytest.raises(CRITimeout) as caught:
                cri.status()
            target = cri.endpoint.target
    assert "/runtime.v1.RuntimeService/Version" in str(caught.value)
    assert (target, "RuntimeService") not in client_module._negotiated


# A single API version.


@pytest.mark.parametrize("version", ["v1", "v1alpha2"])
def test_single_version_typed_calls(socket_path: Path, version: str) -> None:
    with FaultInjectingRuntime(socket_path, (version,)) as runtime:
        with CRIClient(f"unix://{socket_path}") as cri:
            status = cri.status()
            pods = cri.list_pods()
            assert cri.api_version == version
    assert [condition.type for condition in status.conditions] == [
        "RuntimeReady",
        "NetworkReady",
    ]
    assert [pod.id for pod in pods] == [POD_ID]
    assert pods[0].metadata.name == f"pod-{version}"
    # Nothing was sent to a version the runtime lacks, except the probe.
    other = "v1alpha2" if version == "v1" else "v1"
    assert [call for call in runtime.calls if call.split("/")[0] == other] == []


# Runtimes that stop, die and come back.


def test_client_recovers_after_restart(socket_path: Path) -> None:
    endpoint = f"unix://{socket_path}"
    runtime = FaultInjectingRuntime(socket_path).start()
    cri = CRIClient(endpoint, timeout=5)
    try:
        assert cri.version().runtime_name == RUNTIME_NAME
        runtime.stop()
        # Several failures, so that gRPC's reconnect backoff would have grown.
        for _ in range(4):
            with pytest.raises(CRIConnectionError) as caught:
                cri.version()
            time.sleep(0.3)
        assert isinstance(caught.value, SocketNotFoundError)
        assert f"no CRI socket at {socket_path}" in str(caught.value)
        with FaultInjectingRuntime(socket_path) as again:
            started = time.monotonic()
            assert cri.version().runtime_name == RUNTIME_NAME
            assert time.monotonic() - started < 2.0
            assert cri.list_pods()[0].id == POD_ID
            assert again.calls[-1] == "v1/ListPodSandbox"
    finally:
        cri.close()
        runtime.stop()


def test_client_follows_new_api_version(socket_path: Path) -> None:
    endpoint = f"unix://{socket_path}"
    with CRIClient(endpoint, timeout=5) as cri:
        with FaultInjectingRuntime(socket_path, ("v1",)):
            assert cri.version().api_package == "runtime.v1"
        with pytest.raises(SocketNotFoundError):
            cri.status()
        # The runtime comes back as an older release that serves v1alpha2 only.
        with FaultInjectingRuntime(socket_path, ("v1alpha2",)):
            assert cri.version().api_package == "runtime.v1alpha2"
            assert cri.list_pods()[0].metadata.name == "pod-v1alpha2"


def _call_in_thread(call: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_runtime_killed_mid_call(socket_path: Path) -> None:
    endpoint = f"unix://{socket_path}"
    with CRIClient(endpoint, timeout=5) as cri:
        with RuntimeProcess(socket_path, ("v1",), blocking=("ExecSync",)) as runtime:
            assert cri.version().runtime_name == RUNTIME_NAME
            thread, outcome = _call_in_thread(
                lambda: cri.exec_sync("c1", ["sleep", "5"], timeout=5)
            )
            runtime.wait_for("call v1/ExecSync")
            runtime.kill()
            thread.join(timeout=10)
        assert not thread.is_alive()
        error = outcome.get("error")
        assert isinstance(error, RuntimeUnavailableError), outcome
        assert error.method == "/runtime.v1.RuntimeService/ExecSync"
        assert error.code == "UNAVAILABLE"
        # SIGKILL leaves the socket file behind, with no process listening on it.
        assert socket_path.is_socket()
        with pytest.raises(RuntimeUnavailableError, match="not responding") as caught:
            cri.version()
        assert "check that it is running" in str(caught.value)
        with RuntimeProcess(socket_path, ("v1",)):
            assert cri.version().runtime_name == RUNTIME_NAME
            result = cri.exec_sync("c1", ["true"], timeout=5)
    assert result.exit_code == 0
    assert result.stdout == b"done\n"
