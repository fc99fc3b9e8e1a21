"""RegistryClient and copy_image against a FaultInjectingRegistry on loopback.

Each test sets one fault on a real HTTP server (tests/fault_registry.py).
ocilab must either recover within a bounded number of requests, or raise an
ocilab error that names the URL, the status, the OCI error codes and what
to do next. After every failed pull into an OCI layout, no file
under blobs/ may hold bytes that do not hash to its name, and no temporary
file may remain.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocilab.distribution import client as client_module
from ocilab.distribution.auth import RegistryAuth
from ocilab.distribution.client import RegistryClient
from ocilab.distribution.copy import copy_image
from ocilab.errors import DigestMismatchError, OcilabError, RegistryError
from ocilab.image.layout import OCILayout

from .fault_registry import (
    AUTH_BASIC,
    AUTH_BEARER,
    AUTH_MALFORMED,
    AUTH_SEVERAL,
    DROP,
    FOREVER_CAP,
    HTML,
    HUGE_JSON,
    NOT_FOUND,
    PASSWORD,
    RATE_LIMITED,
    REPOSITORY,
    SERVER_ERROR,
    SLOW,
    TAG,
    TOKEN,
    TRUNCATE,
    USERNAME,
    WRONG_DIGEST,
    Fault,
    FaultInjectingRegistry,
    iter_blob_files,
)

RETRIES = 3


@pytest.fixture
def registry() -> Iterator[FaultInjectingRegistry]:
    with FaultInjectingRegistry() as server:
        yield server


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's retry delays in place of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(client_module, "_sleep", recorded.append)
    return recorded


def _client(registry: FaultInjectingRegistry, **options: Any) -> RegistryClient:
    options.setdefault("retries", RETRIES)
    options.setdefault("timeout", 5.0)
    return RegistryClient(registry.url, **options)


def _pull(
    registry: FaultInjectingRegistry,
    layout: Path,
    client: RegistryClient,
    **options: Any,
) -> Any:
    """Copy the registry's image into an OCI layout through client."""
    host = registry.reference.split("/", 1)[0]
    return copy_image(
        registry.reference,
        f"oci:{layout}:{TAG}",
        progress=False,
        clients={host: client},
        **options,
    )


def assert_layout_clean(layout: Path) -> list[Path]:
    """Check every file under blobs/ against its name; return the blob files."""
    files = list(iter_blob_files(layout))
    for path in files:
        assert not path.name.startswith(".tmp-"), f"temporary file left: {path}"
        algorithm = path.parent.name
        actual = hashlib.new(algorithm, path.read_bytes()).hexdigest()
        assert actual == path.name, f"{path} holds bytes that hash to {actual}"
    index = layout / "index.json"
    if index.exists():
        for entry in json.loads(index.read_text()).get("manifests", []):
            algorithm, encoded = entry["digest"].split(":", 1)
            assert (layout / "blobs" / algorithm / encoded).is_file(), entry
    return files


def assert_pulled(registry: FaultInjectingRegistry, layout: Path) -> None:
    files = assert_layout_clean(layout)
    expected = {registry.image.manifest.digest, *registry.blobs}
    assert {f"{path.parent.name}:{path.name}" for path in files} == expected
    entries = OCILayout.open(layout).index().manifests
    assert [entry.digest for entry in entries] == [registry.image.manifest.digest]


def _blob_of(registry: FaultInjectingRegistry) -> dict[str, Any]:
    layer = registry.image.layers[0]
    return {
        "mediaType": layer.media_type,
        "digest": layer.digest,
        "size": len(layer.data),
    }


# Authentication challenges.


def test_basic_challenge_without_credentials(registry, tmp_path) -> None:
    registry.fault = Fault(AUTH_BASIC)
    with _client(registry) as client, pytest.raises(RegistryError) as caught:
        _pull(registry, tmp_path / "layout", client)
    error = caught.value
    assert error.status == 401
    assert error.codes == ["UNAUTHORIZED"]
    assert error.url == f"{registry.url}/v2/{REPOSITORY}/manifests/{TAG}"
    assert error.url in str(error)
    assert "auth=RegistryAuth" in str(error)
    assert len(registry.hits) == 1
    assert_layout_clean(tmp_path / "layout")


def test_basic_challenge_with_credentials(registry, tmp_path) -> None:
    registry.fault = Fault(AUTH_BASIC)
    auth = RegistryAuth(registry.url, USERNAME, PASSWORD)
    with _client(registry, auth=auth) as client:
        _pull(registry, tmp_path / "layout", client)
    assert_pulled(registry, tmp_path / "layout")
    # One 401, then the Authorization header that worked is sent up front.
    assert [hit.injected for hit in registry.hits] == [AUTH_BASIC] + [None] * 3
    assert {hit.authorization for hit in registry.hits[1:]} == {
        auth._last_authorization
    }


def test_bearer_challenge_fetches_token(registry, tmp_path) -> None:
    registry.fault = Fault(AUTH_BEARER)
    auth = RegistryAuth(registry.url, USERNAME, PASSWORD)
    with _client(registry, auth=auth) as client:
        _pull(registry, tmp_path / "layout", client)
        token_requests = [
            r for r in client.exchanges if r.url.startswith(f"{registry.url}/token")
        ]
    assert_pulled(registry, tmp_path / "layout")
    assert len(token_requests) == 1
    assert "service=fault-registry" in token_requests[0].url
    assert "scope=repository%3Afaults%2Fimage%3Apull" in token_requests[0].url
    blob_hits = registry.hits_on("blob")
    assert {hit.authorization for hit in blob_hits} == {f"Bearer {TOKEN}"}


def test_several_challenges_prefer_bearer(registry, tmp_path) -> None:
    registry.fault = Fault(AUTH_SEVERAL)
    auth = RegistryAuth(registry.url, USERNAME, PASSWORD)
    with _client(registry, auth=auth) as client:
        _pull(registry, tmp_path / "layout", client)
    assert_pulled(registry, tmp_path / "layout")
    assert len(registry.hits_on("token")) == 1
    assert registry.hits_on("manifest")[-1].authorization == f"Bearer {TOKEN}"


def test_malformed_challenge_clear_error(registry, tmp_path) -> None:
    registry.fault = Fault(AUTH_MALFORMED)
    auth = RegistryAuth(registry.url, USERNAME, PASSWORD)
    with _client(registry, auth=auth) as client, pytest.raises(RegistryError) as caught:
        _pull(registry, tmp_path / "layout", client)
    message = str(caught.value)
    assert caught.value.status == 401
    assert "invalid WWW-Authenticate header" in message
    assert "unterminated quoted string" in message
    assert 'realm="http://unterminated' in message
    assert len(registry.hits) == 1
    assert_layout_clean(tmp_path / "layout")


def test_wrong_password_not_retried(registry, tmp_path) -> None:
    registry.fault = Fault(AUTH_BASIC)
    auth = RegistryAuth(registry.url, USERNAME, "wrong-password")
    with _client(registry, auth=auth) as client, pytest.raises(RegistryError) as caught:
        _pull(registry, tmp_path / "layout", client)
    assert caught.value.status == 401
    assert f"authentication failed for {registry.host}:{registry.port}" in str(
        caught.value
    )
    assert "wrong-password" not in str(caught.value)
    assert len(registry.hits) == 2


# Error statuses, rate limits and retries.


def test_not_found_names_code_and_fix(registry, tmp_path) -> None:
    registry.fault = Fault(NOT_FOUND, target="blob")
    with _client(registry) as client, pytest.raises(RegistryError) as caught:
        _pull(registry, tmp_path / "layout", client)
    error = caught.value
    assert error.status == 404
    assert error.codes == ["BLOB_UNKNOWN"]
    assert "/blobs/sha256:" in error.url
    assert error.url in str(error)
    assert "check the repository name and the tag or digest" in str(error)
    assert len(registry.hits_on("blob")) == 1
    assert_layout_clean(tmp_path / "layout")


def test_retry_after_seconds_honoured(registry, delays) -> None:
    registry.fault = Fault(RATE_LIMITED, times=2, options={"retry_after": "7"})
    with _client(registry) as client:
        manifest = client.get_manifest(REPOSITORY, TAG)
    assert manifest.digest == registry.image.manifest.digest
    assert delays == [7.0, 7.0]
    assert len(registry.hits) == 3


def test_retry_after_http_date_honoured(registry, delays) -> None:
    moment = email.utils.formatdate(time.time() + 20, usegmt=True)
    registry.fault = Fault(RATE_LIMITED, times=1, options={"retry_after": moment})
    with _client(registry) as client:
        client.get_manifest(REPOSITORY, TAG)
    assert len(delays) == 1
    # The date has a resolution of one second, and some time passed since.
    assert 17.0 <= delays[0] <= 20.0
    assert len(registry.hits) == 2


def test_rate_limit_forever_bounded(registry, delays) -> None:
    registry.fault = Fault(RATE_LIMITED, options={"retry_after": "3600"})
    with (
        _client(registry, max_delay=2.0) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.get_manifest(REPOSITORY, TAG)
    assert caught.value.status == 429
    assert caught.value.codes == ["TOOMANYREQUESTS"]
    assert "raise retries= and max_delay=" in str(caught.value)
    assert delays == [2.0] * RETRIES
    assert len(registry.hits) == RETRIES + 1


def test_server_errors_then_success(registry, delays, tmp_path) -> None:
    registry.fault = Fault(SERVER_ERROR, times=2)
    with _client(registry, backoff=0.1) as client:
        _pull(registry, tmp_path / "layout", client)
    assert_pulled(registry, tmp_path / "layout")
    assert delays == [0.1, 0.2]
    assert [hit.injected for hit in registry.hits[:3]] == [SERVER_ERROR] * 2 + [None]


def test_server_errors_forever_bounded(registry, delays, tmp_path) -> None:
    registry.fault = Fault(SERVER_ERROR, target="blob")
    with _client(registry) as client, pytest.raises(RegistryError) as caught:
        _pull(registry, tmp_path / "layout", client)
    assert caught.value.status == 500
    assert caught.value.codes == ["UNKNOWN"]
    assert "try again later" in str(caught.value)
    assert len(registry.hits_on("blob")) == RETRIES + 1
    assert registry.injected < FOREVER_CAP
    assert_layout_clean(tmp_path / "layout")


# Connections that break in the middle of a body.


@pytest.mark.parametrize("kind", [DROP, TRUNCATE])
def test_cut_blob_resumed_with_range(registry, delays, tmp_path, kind) -> None:
    registry.fault = Fault(kind, target="blob", times=1)
    with _client(registry) as client:
        _pull(registry, tmp_path / "layout", client)
        errors = [record.error for record in client.exchanges if record.error]
    assert_pulled(registry, tmp_path / "layout")
    cut, resumed = registry.hits_on("blob")[:2]
    assert cut.injected == kind
    assert cut.range is None
    assert resumed.path == cut.path
    half = len(registry.blobs[cut.path.rsplit("/", 1)[-1]]) // 2
    if kind == TRUNCATE:
        assert resumed.range == f"bytes={half}-"
    else:
        # An RST discards what the client's kernel had not yet delivered, so
        # the resume starts at whatever byte count had arrived (often 0).
        assert resumed.range in (None, f"bytes={half}-")
    expected_error = "ReadError" if kind == DROP else "RemoteProtocolError"
    assert len(errors) == 1
    assert errors[0].startswith(expected_error)


@pytest.mark.parametrize("kind", [DROP, TRUNCATE])
def test_cut_blob_forever_leaves_nothing(registry, delays, tmp_path, kind) -> None:
    registry.fault = Fault(kind, target="blob")
    with _client(registry) as client, pytest.raises(RegistryError) as caught:
        _pull(registry, tmp_path / "layout", client)
    message = str(caught.value)
    assert caught.value.status == 0
    assert caught.value.url in message
    assert f"and {RETRIES} resumes" in message
    assert "raise retries=" in message
    assert len(registry.hits_on("blob")) == RETRIES + 1
    files = assert_layout_clean(tmp_path / "layout")
    assert files == []


def test_truncated_manifest_clear_error(registry, tmp_path) -> None:
    registry.fault = Fault(TRUNCATE, target="manifest")
    with _client(registry) as client, pytest.raises(RegistryError) as caught:
        _pull(registry, tmp_path / "layout", client)
    assert caught.value.url == f"{registry.url}/v2/{REPOSITORY}/manifests/{TAG}"
    assert "RemoteProtocolError" in str(caught.value)
    assert "check that the registry is running and reachable" in str(caught.value)
    assert len(registry.hits) == 1
    assert_layout_clean(tmp_path / "layout")


# Wrong content.


def test_wrong_digest_blob_rejected(registry, tmp_path) -> None:
    registry.fault = Fault(WRONG_DIGEST, target="blob")
    with _client(registry) as client:
        with pytest.raises(DigestMismatchError) as by_client:
            b"".join(client.get_blob(REPOSITORY, _blob_of(registry)))
        with pytest.raises(DigestMismatchError) as by_copy:
            _pull(registry, tmp_path / "layout", client)
    assert by_client.value.expected == registry.image.layers[0].digest
    assert "hashes to sha256:" in str(by_client.value)
    assert by_copy.value.expected in registry.blobs
    files = assert_layout_clean(tmp_path / "layout")
    assert files == []


def test_wrong_digest_parallel_copy_leaves_nothing(registry, tmp_path) -> None:
    registry.fault = Fault(WRONG_DIGEST, target="blob")
    host = registry.reference.split("/", 1)[0]
    with _client(registry) as client, pytest.raises(DigestMismatchError):
        copy_image(
            registry.reference,
            f"oci:{tmp_path / 'layout'}:{TAG}",
            progress=False,
            clients={host: client},
            jobs=4,
        )
    assert assert_layout_clean(tmp_path / "layout") == []


def test_html_page_instead_of_json(registry, tmp_path) -> None:
    registry.fault = Fault(HTML, target="manifest")
    with _client(registry) as client, pytest.raises(RegistryError) as caught:
        _pull(registry, tmp_path / "layout", client)
    message = str(caught.value)
    assert caught.value.status == 200
    assert "not a JSON object" in message
    assert "Welcome to nginx!" in message
    assert "registry's /v2/ API" in message
    assert len(registry.hits) == 1


@pytest.mark.parametrize("declare_length", [True, False], ids=["declared", "chunked"])
def test_huge_json_rejected(registry, tmp_path, declare_length) -> None:
    registry.fault = Fault(
        HUGE_JSON,
        target="manifest",
        options={"size": 8 << 20, "declare_length": declare_length},
    )
    limit = 64 << 10
    with _client(registry, max_json_bytes=limit) as client:
        with pytest.raises(RegistryError) as caught:
            _pull(registry, tmp_path / "layout", client)
        received = client.exchanges[0].bytes_received
    message = str(caught.value)
    assert f"more than the limit of {limit} bytes" in message
    assert "raise max_json_bytes" in message
    assert caught.value.url in message
    # The client stops at the limit, plus at most one read of the transport.
    assert received <= limit + (1 << 20)
    assert len(registry.hits) == 1


# Redirects to other hosts.


@pytest.mark.parametrize("other_host", ["127.0.0.2", "127.0.0.1"], ids=["host", "port"])
@pytest.mark.parametrize("kind", [AUTH_BASIC, AUTH_BEARER])
def test_redirect_drops_credentials(registry, tmp_path, other_host, kind) -> None:
    with FaultInjectingRegistry(other_host, image=registry.image) as storage:
        registry.fault = Fault(kind)
        registry.redirect_to = storage.url
        auth = RegistryAuth(registry.url, USERNAME, PASSWORD)
        with _client(registry, auth=auth) as client:
            _pull(registry, tmp_path / "layout", client)
    assert_pulled(registry, tmp_path / "layout")
    assert len(storage.hits_on("blob")) == len(registry.blobs)
    assert [hit.authorization for hit in storage.hits] == [None] * len(storage.hits)
    assert all(hit.authorization for hit in registry.hits_on("blob"))


# Slow servers.


def test_slow_headers_time_out(registry, delays) -> None:
    registry.fault = Fault(SLOW, target="manifest", options={"delay": 5.0})
    started = time.monotonic()
    with _client(registry, timeout=0.3, retries=1) as client:
        with pytest.raises(RegistryError) as caught:
            client.get_manifest(REPOSITORY, TAG)
    elapsed = time.monotonic() - started
    assert "timed out after 0.3 s" in str(caught.value)
    assert "raise timeout=" in str(caught.value)
    assert caught.value.url in str(caught.value)
    assert len(registry.hits) == 2
    assert elapsed < 3.0


def test_slow_blob_body_leaves_nothing(registry, delays, tmp_path) -> None:
    registry.fault = Fault(
        SLOW, target="blob", options={"delay": 5.0, "mid_body": True}
    )
    started = time.monotonic()
    with _client(registry, timeout=0.3, retries=1) as client:
        with pytest.raises(RegistryError) as caught:
            _pull(registry, tmp_path / "layout", client)
    assert "ReadTimeout" in str(caught.value)
    assert len(registry.hits_on("blob")) == 2
    assert time.monotonic() - started < 4.0
    assert assert_layout_clean(tmp_path / "layout") == []


# Every scenario, counted.


@dataclass
class Scenario:
    name: str
    fault: Fault
    client_options: dict[str, Any] = field(default_factory=dict)
    credentials: bool = False
    redirect: bool = False
    # None when the pull must succeed, else the error class it must raise.
    error: type[OcilabError] | None = None


SCENARIOS = [
    Scenario("401 Basic, no credentials", Fault(AUTH_BASIC), error=RegistryError),
    Scenario("401 Basic", Fault(AUTH_BASIC), credentials=True),
    Scenario("401 Bearer", Fault(AUTH_BEARER), credentials=True),
    Scenario("401 two challenges", Fault(AUTH_SEVERAL), credentials=True),
    Scenario(
        "401 malformed challenge",
        Fault(AUTH_MALFORMED),
        credentials=True,
        error=RegistryError,
    ),
    Scenario("404 blob", Fault(NOT_FOUND, target="blob"), error=RegistryError),
    Scenario(
        "429 then success", Fault(RATE_LIMITED, times=2, options={"retry_after": "1"})
    ),
    Scenario("429 forever", Fault(RATE_LIMITED), error=RegistryError),
    Scenario("500 then success", Fault(SERVER_ERROR, times=2)),
    Scenario("500 forever", Fault(SERVER_ERROR), error=RegistryError),
    Scenario("dropped blob once", Fault(DROP, target="blob", times=1)),
    Scenario("dropped blob forever", Fault(DROP, target="blob"), error=RegistryError),
    Scenario("truncated blob once", Fault(TRUNCATE, target="blob", times=1)),
    Scenario(
        "truncated blob forever", Fault(TRUNCATE, target="blob"), error=RegistryError
    ),
    Scenario(
        "wrong digest", Fault(WRONG_DIGEST, target="blob"), error=DigestMismatchError
    ),
    Scenario(
        "redirect to another host", Fault(AUTH_BASIC), credentials=True, redirect=True
    ),
    Scenario("HTML for JSON", Fault(HTML, target="manifest"), error=RegistryError),
    Scenario(
        "huge JSON",
        Fault(HUGE_JSON, target="manifest", options={"size": 8 << 20}),
        error=RegistryError,
    ),
    Scenario(
        "slow headers",
        Fault(SLOW, target="manifest", options={"delay": 5.0}),
        {"timeout": 0.3, "retries": 1},
        error=RegistryError,
    ),
]


def test_fault_summary(delays, tmp_path, capsys) -> None:
    outcomes: Counter[str] = Counter()
    injected = 0
    rows = []
    for number, scenario in enumerate(SCENARIOS):
        layout = tmp_path / f"layout-{number}"
        with (
            FaultInjectingRegistry() as registry,
            FaultInjectingRegistry("127.0.0.2", image=registry.image) as storage,
        ):
            registry.fault = scenario.fault
            if scenario.redirect:
                registry.redirect_to = storage.url
            options = dict(scenario.client_options)
            if scenario.credentials:
                options["auth"] = RegistryAuth(registry.url, USERNAME, PASSWORD)
            raised: Exception | None = None
            with _client(registry, **options) as client:
                try:
                    _pull(registry, layout, client)
                except OcilabError as error:
                    raised = error
            if scenario.error is None:
                assert raised is None, f"{scenario.name}: {raised}"
                assert_pulled(registry, layout)
                outcome = "recovered"
            else:
                assert isinstance(raised, scenario.error), (
                    f"{scenario.name}: {raised!r}"
                )
                assert_layout_clean(layout)
                outcome = f"clear error ({type(raised).__name__})"
            assert registry.injected > 0, scenario.name
            assert registry.injected < FOREVER_CAP, (
                f"{scenario.name}: unbounded retries"
            )
            assert all(hit.authorization is None for hit in storage.hits), scenario.name
        outcomes[outcome] += 1
        injected += registry.injected
        rows.append(f"{scenario.name:28} {registry.injected:3} faults  {outcome}")
    assert sum(outcomes.values()) == len(SCENARIOS)
    with capsys.disabled():
        print(f"\nregistry faults: {injected} injected in {len(SCENARIOS)} scenarios")
        print("\n".join(rows))
        print(", ".join(f"{count} {name}" for name, count in sorted(outcomes.items())))


def test_fault_server_speaks_registry(registry, tmp_path) -> None:
    """Without a fault, the server serves the image as a registry would."""
    with _client(registry) as client:
        assert client.ping() == "registry/2.0"
        head = client.head_manifest(REPOSITORY, TAG)
        _pull(registry, tmp_path / "layout", client)
    assert head is not None
    assert head.digest == registry.image.manifest.digest
    assert_pulled(registry, tmp_path / "layout")
    assert registry.injected == 0


def test_refused_connection_is_registry_error() -> None:
    with FaultInjectingRegistry() as stopped:
        url = stopped.url
    with RegistryClient(url, retries=0, timeout=2) as client:
        with pytest.raises(RegistryError) as caught:
            client.ping()
    assert not isinstance(caught.value, httpx.HTTPError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "check that the registry is running and reachable" in str(caught.value)
