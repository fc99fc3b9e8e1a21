"""gRPC failures become ocilab errors at one boundary, with the cause kept and a fix named."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from ocilab.cri import CRIClient
from ocilab.cri._translate import CODE_TO_ERROR
from ocilab.errors import (
    CRIError,
    CRITimeout,
    CRIUnimplementedError,
    OcilabError,
    RuntimeUnavailableError,
    SocketNotFoundError,
    SocketPermissionError,
)


def test_every_grpc_status_code_mapped() -> None:
    unmapped = [code.name for code in grpc.StatusCode if code not in CODE_TO_ERROR]
    assert unmapped == []


def test_specific_codes_have_specific_errors() -> None:
    assert CODE_TO_ERROR[grpc.StatusCode.DEADLINE_EXCEEDED] is CRITimeout
    assert CODE_TO_ERROR[grpc.StatusCode.UNIMPLEMENTED] is CRIUnimplementedError
    assert CODE_TO_ERROR[grpc.StatusCode.UNAVAILABLE] is RuntimeUnavailableError
    assert all(issubclass(error, CRIError) for error in CODE_TO_ERROR.values())


def test_socket_missing_suggests_lab(tmp_path: Path) -> None:
    path = tmp_path / "gone.sock"
    with CRIClient(f"unix://{path}", timeout=5) as cri:
        with pytest.raises(SocketNotFoundError) as caught:
            cri.version()
    message = str(caught.value)
    assert f"no CRI socket at {path}" in message
    assert "ocilab lab up" in message
    assert isinstance(caught.value.__cause__, grpc.RpcError)
    assert caught.value.code == "UNAVAILABLE"


def test_socket_without_listener_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.close()  # the socket file remains and no process accepts
    with CRIClient(f"unix://{path}", timeout=5) as cri:
        with pytest.raises(RuntimeUnavailableError, match="not responding") as caught:
            cri.version()
    assert not isinstance(caught.value, SocketNotFoundError)
    assert caught.value.endpoint == f"unix://{path}"


_CHILD = """
import json, sys
from ocilab.cri import CRIClient
from ocilab.errors import OcilabError
try:
    with CRIClient(sys.argv[1], timeout=5) as cri:
        cri.version()
except OcilabError as error:
    print(json.dumps({"type": type(error).__name__, "message": str(error)}))
"""


@pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to create a socket owned by another user"
)
@pytest.mark.skipif(
    shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed"
)
def test_socket_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "private.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o600)
    os.chmod(tmp_path, 0o755)
    try:
        # Root without CAP_DAC_OVERRIDE obeys file modes like any other user.
        result = subprocess.run(
            [
                "setpriv",
                "--bounding-set",
                "-dac_override,-dac_read_search",
                sys.executable,
                "-c",
                _CHILD,
                f"unix://{path}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        listener.close()
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["type"] == SocketPermissionError.__name__
    assert "permission denied" in reply["message"]
    assert "run as root" in reply["message"]


def test_errors_share_one_root() -> None:
    for error in (
        SocketNotFoundError,
        SocketPermissionError,
        CRITimeout,
        CRIUnimplementedError,
    ):
        assert issubclass(error, OcilabError)
