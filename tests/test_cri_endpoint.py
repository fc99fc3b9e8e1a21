"""CRI endpoint strings: bare paths, unix:// forms, rejected forms, defaults."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from ocilab.cri import CRIClient, parse_endpoint
from ocilab.cri import endpoint as endpoint_module
from ocilab.errors import EndpointError, SocketNotFoundError

SOCKET = "/run/containerd/containerd.sock"


@pytest.mark.parametrize(
    "text",
    [
        SOCKET,
        f"unix://{SOCKET}",
        f"unix:{SOCKET}",
        f"  unix://{SOCKET}  ",
        "/run/containerd/./containerd.sock",
    ],
    ids=["bare", "unix-triple-slash", "unix-single-slash", "whitespace", "dot-segment"],
)
def test_endpoint_accepted_forms(text: str) -> None:
    endpoint = parse_endpoint(text)
    assert endpoint.path == SOCKET
    assert endpoint.target == f"unix://{SOCKET}"


def test_endpoint_accepts_pathlike() -> None:
    assert parse_endpoint(Path(SOCKET)).path == SOCKET


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unix://run/containerd.sock", "did you mean unix:///run/containerd.sock"),
        ("tcp://127.0.0.1:1234", "scheme 'tcp' is not supported"),
        ("http://127.0.0.1:1234", "scheme 'http' is not supported"),
        ("", "empty CRI endpoint"),
        ("   ", "empty CRI endpoint"),
        ("run/containerd.sock", "the path is relative"),
        ("unix:run/containerd.sock", "invalid CRI endpoint"),
    ],
    ids=[
        "unix-relative",
        "tcp",
        "http",
        "empty",
        "blank",
        "bare-relative",
        "unix-colon-relative",
    ],
)
def test_endpoint_rejected_forms(text: str, expected: str) -> None:
    with pytest.raises(EndpointError, match=expected) as caught:
        parse_endpoint(text)
    assert "unix:///absolute/path" in str(caught.value)


def test_endpoint_regular_file_rejected(tmp_path: Path) -> None:
    regular = tmp_path / "not-a-socket"
    regular.write_text("")
    with pytest.raises(EndpointError, match="exists but is not a socket"):
        CRIClient(str(regular))


def test_endpoint_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(EndpointError, match="is a directory"):
        CRIClient(f"unix://{tmp_path}")


def test_endpoint_bare_path_warns_once(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    path = str(tmp_path / "warn-once.sock")
    with caplog.at_level(logging.WARNING, logger="ocilab.cri.endpoint"):
        parse_endpoint(path)
        parse_endpoint(path)
        parse_endpoint(path)
    warnings = [r for r in caplog.records if path in r.getMessage()]
    assert len(warnings) == 1
    assert f"unix://{path}" in warnings[0].getMessage()


def test_endpoint_unix_form_does_not_warn(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with caplog.at_level(logging.WARNING, logger="ocilab.cri.endpoint"):
        parse_endpoint(f"unix://{tmp_path}/quiet.sock")
    assert caplog.records == []


def test_default_probe_reports_socket_that_answered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.sock"
    listening = tmp_path / "answers.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(listening))
    server.listen(1)
    monkeypatch.setenv("OCILAB_STATE_DIR", str(tmp_path / "no-lab"))
    monkeypatch.setattr(
        endpoint_module,
        "DEFAULT_ENDPOINTS",
        (("first", str(missing)), ("second", str(listening))),
    )
    monkeypatch.setattr(
        "ocilab.cri.client.DEFAULT_ENDPOINTS", endpoint_module.DEFAULT_ENDPOINTS
    )
    try:
        client = CRIClient()
        assert client.endpoint.path == str(listening)
        assert client.endpoint_source == "second's default socket"
        client.close()
    finally:
        server.close()


def test_default_probe_none_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OCILAB_STATE_DIR", str(tmp_path / "no-lab"))
    monkeypatch.setattr(
        "ocilab.cri.client.DEFAULT_ENDPOINTS", (("only", str(tmp_path / "x.sock")),)
    )
    with pytest.raises(SocketNotFoundError, match="ocilab lab up") as caught:
        CRIClient()
    assert str(tmp_path / "x.sock") in str(caught.value)


def test_environment_variable_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONTAINER_RUNTIME_ENDPOINT", f"unix://{tmp_path}/env.sock")
    client = CRIClient()
    assert client.endpoint.path == f"{tmp_path}/env.sock"
    assert client.endpoint_source == "$CONTAINER_RUNTIME_ENDPOINT"
    client.close()


@pytest.mark.parametrize(
    "value", [5, b"/run/x.sock", None], ids=["int", "bytes", "none"]
)
def test_endpoint_wrong_type_rejected(value: object) -> None:
    with pytest.raises(EndpointError, match="unix:///absolute/path"):
        parse_endpoint(value)  # type: ignore[arg-type]


def test_endpoint_nul_byte_rejected() -> None:
    with pytest.raises(EndpointError, match="NUL byte"):
        parse_endpoint("/run/x\0.sock")


def test_endpoint_path_too_long_rejected() -> None:
    path = "/tmp/" + "d" * 120 + ".sock"
    with pytest.raises(EndpointError, match="at most 107") as caught:
        parse_endpoint(path)
    assert "symlink" in str(caught.value)


@pytest.mark.parametrize("text", ["localhost:10000", "unix-abstract:cri"])
def test_endpoint_host_port_rejected(text: str) -> None:
    with pytest.raises(EndpointError, match="unix sockets only"):
        parse_endpoint(text)


def test_endpoint_target_percent_encoded() -> None:
    endpoint = parse_endpoint("/tmp/a b/x%41?y#z.sock")
    assert endpoint.uri == "unix:///tmp/a b/x%41?y#z.sock"
    assert endpoint.target == "unix:///tmp/a%20b/x%2541%3Fy%23z.sock"


def test_invalid_environment_endpoint_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINER_RUNTIME_ENDPOINT", "tcp://127.0.0.1:1")
    with pytest.raises(
        EndpointError, match=r"\$CONTAINER_RUNTIME_ENDPOINT: .*unset it"
    ):
        CRIClient()


def test_missing_environment_socket_names_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONTAINER_RUNTIME_ENDPOINT", f"unix://{tmp_path}/gone.sock")
    with CRIClient(timeout=5) as cri:
        with pytest.raises(
            SocketNotFoundError, match=r"comes from \$CONTAINER_RUNTIME_ENDPOINT"
        ):
            cri.version()


@pytest.mark.parametrize("timeout", [None, 0, -1, float("inf"), "10"])
def test_client_timeout_validated(tmp_path: Path, timeout: object) -> None:
    with pytest.raises(ValueError, match="invalid timeout"):
        CRIClient(f"unix://{tmp_path}/x.sock", timeout=timeout)  # type: ignore[arg-type]
