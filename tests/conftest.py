"""Shared fixtures: a clean environment, the live lab, and ../shared reference data."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ocilab.lab import Lab, LabInfo

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# Set before any test runs, so that every default (CRI endpoint, notebooks,
# `ocilab lab status`) resolves to the test lab and never to a user's lab.
_SESSION_STATE = Path(tempfile.mkdtemp(prefix="ocilab-test-", dir="/tmp")) / "lab"
os.environ["OCILAB_STATE_DIR"] = str(_SESSION_STATE)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the session's temporary folder when no lab was started in it."""
    for folder in (_SESSION_STATE, _SESSION_STATE.parent):
        try:
            folder.rmdir()
        except OSError:
            pass  # absent, or contains a lab that its fixture is removing


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
        assert report.leftovers == [], f"lab down left: {report.leftovers}"


@dataclass(frozen=True)
class AuthRegistry:
    """A second docker-registry, with htpasswd Basic authentication."""

    url: str
    host: str
    username: str
    password: str


@pytest.fixture(scope="session")
def basic_auth_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthRegistry]:
    """Start docker-registry with Basic auth on a free loopback port."""
    import bcrypt

    from ocilab.lab._prereq import free_port

    if shutil.which("docker-registry") is None:
        pytest.skip(
            "docker-registry is not installed (apt-get install docker-registry)"
        )
    folder = tmp_path_factory.mktemp("auth-registry")
    username, password = "alice", "s3cret-pw"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    (folder / "htpasswd").write_text(f"{username}:{hashed}\n")
    port = free_port()
    (folder / "config.yml").write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  htpasswd:\n    realm: ocilab-test\n    path: {folder / 'htpasswd'}\n"
    )
    log = (folder / "registry.log").open("wb")
    process = subprocess.Popen(
        ["docker-registry", "serve", str(folder / "config.yml")], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/v2/", timeout=1).status_code == 401:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield AuthRegistry(url, f"127.0.0.1:{port}", username, password)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@dataclass(frozen=True)
class BearerRegistry:
    """A docker-registry with token auth, and the test token server it trusts."""

    url: str
    host: str
    username: str
    password: str
    token_url: str
    token_server: object


@pytest.fixture(scope="session")
def bearer_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BearerRegistry]:
    """Start a token server and docker-registry with ``auth: token`` on loopback."""
    from ocilab.lab._prereq import free_port

    from .token_server import (
        TokenIssuer,
        TokenServer,
        make_signing_key,
        registry_config,
    )

    if shutil.which("docker-registry") is None or shutil.which("openssl") is None:
        pytest.skip("docker-registry and openssl are needed for the Bearer token tests")
    folder = tmp_path_factory.mktemp("bearer-registry")
    key, cert = make_signing_key(folder)
    username, password = "bob", "t0ken-pw"
    with TokenServer(TokenIssuer(key, cert), username, password) as server:
        port = free_port()
        (folder / "config.yml").write_text(
            registry_config(folder, port, server.url, cert)
        )
        log = (folder / "registry.log").open("wb")
        process = subprocess.Popen(
            ["docker-registry", "serve", str(folder / "config.yml")],
            stdout=log,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{url}/v2/", timeout=1).status_code == 401:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            yield BearerRegistry(
                url, f"127.0.0.1:{port}", username, password, server.url, server
            )
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()
