"""RegistryClient against the lab's docker-registry 2.8, and faults from fakes.

Tests named ``*_lab`` talk to the real registry. Faults a real registry
cannot show come from an httpx.MockTransport whose handler is named
``fault_injector_*``, or from a small HTTP server on 127.0.0.1 that drops
the connection mid-body.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from ocilab.distribution import client as client_module
from ocilab.distribution.client import RegistryClient
from ocilab.distribution.exchange import redact_url, with_query
from ocilab.errors import DigestMismatchError, ImageError, RegistryError
from ocilab.image import LayerBuilder, build_image, mediatypes
from ocilab.image.build import canonical_json
from ocilab.image.digest import digest_bytes
from ocilab.image.models import ImageManifest
from ocilab.lab import LabInfo

# A closed port: if a fake transport were ever missing, nothing leaves the host.
FAKE_URL = "http://127.0.0.1:1"
MIB = 1 << 20


def _blob(size: int, seed: int = 0) -> bytes:
    """Return size bytes that differ by seed, so that tests never share a digest."""
    return (seed.to_bytes(4, "big") + bytes(range(256)) * (size // 256 + 1))[:size]


def _statuses(client: RegistryClient) -> list[tuple[str, int | None]]:
    return [(record.method, record.status) for record in client.exchanges]


def _image(text: str):
    layer = LayerBuilder()
    layer.add_file("hello.txt", text.encode())
    return build_image([layer.build()], container_config={"Cmd": ["cat", "/hello.txt"]})


def _push_image(client: RegistryClient, repository: str, text: str, tag: str):
    image = _image(text)
    for blob in image.blobs:
        client.push_blob(repository, blob.data)
    pushed = client.put_manifest(
        repository, tag, image.manifest.data, mediatypes.OCI_MANIFEST
    )
    return image, pushed


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry delays in place of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr(client_module, "_sleep", delays.append)
    return delays


def _fake(
    handler: Callable[[httpx.Request], httpx.Response], **options
) -> RegistryClient:
    return RegistryClient(FAKE_URL, transport=httpx.MockTransport(handler), **options)


# The real registry.


@pytest.mark.lab
def test_ping_lab(lab: LabInfo) -> None:
    with RegistryClient(lab.registry_url) as client:
        assert client.ping() == "registry/2.0"
        assert _statuses(client) == [("GET", 200)]


@pytest.mark.lab
def test_blob_monolithic_round_trip_lab(lab: LabInfo) -> None:
    data = _blob(MIB, seed=1)
    with RegistryClient(lab.registry_url) as client:
        pushed = client.push_blob("tests/client-mono", data)
        assert pushed.digest == digest_bytes(data)
        assert pushed.skipped is False
        assert _statuses(client) == [("HEAD", 404), ("POST", 202), ("PUT", 201)]
        descriptor = {"mediaType": "application/octet-stream", **_sized(data)}
        assert b"".join(client.get_blob("tests/client-mono", descriptor)) == data
        assert client.exchanges[-1].bytes_received == len(data)


def _sized(data: bytes) -> dict[str, object]:
    return {"digest": digest_bytes(data), "size": len(data)}


@pytest.mark.lab
def test_blob_chunked_round_trip_lab(lab: LabInfo) -> None:
    data = _blob(MIB, seed=2)
    with RegistryClient(lab.registry_url) as client:
        pushed = client.push_blob("tests/client-chunked", data, chunk_size=64 << 10)
        assert pushed.chunks == 16
        statuses = _statuses(client)
        assert statuses[:2] == [("HEAD", 404), ("POST", 202)]
        assert statuses[2:-1] == [("PATCH", 202)] * 16
        assert statuses[-1] == ("PUT", 201)
        records = client.exchanges
        # Each request goes to the Location of the response before it.
        for previous, current in itertools.pairwise(records[1:]):
            location = previous.response_headers["Location"]
            assert current.url.startswith(location)
        assert records[2].request_headers["Content-Range"] == "0-65535"
        assert records[2].response_headers["Range"] == "0-65535"
        assert "digest=sha256%3A" in records[-1].url
        descriptor = {"mediaType": "application/octet-stream", **_sized(data)}
        assert b"".join(client.get_blob("tests/client-chunked", descriptor)) == data


@pytest.mark.lab
def test_push_blob_skips_existing_lab(lab: LabInfo, tmp_path: Path) -> None:
    data = _blob(4096, seed=3)
    source = tmp_path / "blob"
    source.write_bytes(data)
    with RegistryClient(lab.registry_url) as client:
        assert client.push_blob("tests/client-skip", source).skipped is False
        client.clear_exchanges()
        with source.open("rb") as handle:
            again = client.push_blob("tests/client-skip", handle, digest_bytes(data))
        assert again.skipped is True
        assert _statuses(client) == [("HEAD", 200)]


@pytest.mark.lab
def test_download_blob_to_path_lab(lab: LabInfo, tmp_path: Path) -> None:
    data = _blob(300_000, seed=4)
    target = tmp_path / "out" / "blob"
    target.parent.mkdir()
    with RegistryClient(lab.registry_url) as client:
        client.push_blob("tests/client-download", data)
        client.download_blob("tests/client-download", _sized(data), target)
    assert target.read_bytes() == data
    assert os.listdir(target.parent) == ["blob"]


@pytest.mark.lab
def test_manifest_round_trip_lab(lab: LabInfo) -> None:
    with RegistryClient(lab.registry_url) as client:
        image, pushed = _push_image(client, "tests/client-manifest", "manifest", "v1")
        assert pushed.digest == image.manifest.digest
        by_tag = client.get_manifest("tests/client-manifest", "v1")
        assert by_tag.data == image.manifest.data
        assert by_tag.digest == image.manifest.digest
        assert by_tag.media_type == mediatypes.OCI_MANIFEST
        assert isinstance(by_tag.document, ImageManifest)
        by_digest = client.get_manifest("tests/client-manifest", pushed.digest)
        assert by_digest.data == image.manifest.data
        head = client.head_manifest("tests/client-manifest", "v1")
        assert head is not None
        assert head.digest == pushed.digest
        assert head.size == len(image.manifest.data)
        assert head.media_type == mediatypes.OCI_MANIFEST
        assert client.head_manifest("tests/client-manifest", "absent") is None


@pytest.mark.lab
def test_media_type_from_content_type_lab(lab: LabInfo) -> None:
    repository = "tests/client-mediatype"
    with RegistryClient(lab.registry_url) as client:
        image, _ = _push_image(client, repository, "media type", "with-field")
        document = json.loads(image.manifest.data)
        del document["mediaType"]
        data = canonical_json(document)
        client.put_manifest(repository, "without-field", data, mediatypes.OCI_MANIFEST)
        with_field = client.get_manifest(repository, "with-field")
        without_field = client.get_manifest(repository, "without-field")
    assert "mediaType" not in json.loads(without_field.data)
    assert without_field.media_type == mediatypes.OCI_MANIFEST
    assert without_field.content_type == mediatypes.OCI_MANIFEST
    assert with_field.media_type == mediatypes.OCI_MANIFEST


@pytest.mark.lab
def test_delete_manifest_then_get_lab(lab: LabInfo) -> None:
    with RegistryClient(lab.registry_url) as client:
        _, pushed = _push_image(client, "tests/client-delete", "deleted", "gone")
        client.delete_manifest("tests/client-delete", pushed.digest)
        assert _statuses(client)[-1] == ("DELETE", 202)
        with pytest.raises(RegistryError) as caught:
            client.get_manifest("tests/client-delete", pushed.digest)
    assert caught.value.status == 404
    assert caught.value.codes == ["MANIFEST_UNKNOWN"]
    # docker-registry 2.8 keeps the repository and lists its tags as null.
    with RegistryClient(lab.registry_url) as client:
        assert client.tags("tests/client-delete") == []


@pytest.mark.lab
def test_accept_without_oci_lab(lab: LabInfo) -> None:
    with RegistryClient(lab.registry_url) as client:
        _push_image(client, "tests/client-accept", "accept", "v1")
        with pytest.raises(RegistryError) as caught:
            client.get_manifest(
                "tests/client-accept", "v1", accept=[mediatypes.DOCKER_MANIFEST]
            )
    assert caught.value.status == 404
    assert caught.value.codes == ["MANIFEST_UNKNOWN"]
    assert "accept header" in str(caught.value)


@pytest.mark.lab
def test_mount_across_repositories_lab(lab: LabInfo) -> None:
    data = _blob(2048, seed=5)
    digest = digest_bytes(data)
    with RegistryClient(lab.registry_url) as client:
        client.push_blob("tests/client-mount-from", data)
        result = client.mount_blob(
            "tests/client-mount-to", digest, "tests/client-mount-from"
        )
        assert result.mounted is True
        assert _statuses(client)[-1] == ("POST", 201)
        assert client.head_blob("tests/client-mount-to", digest) is not None


@pytest.mark.lab
def test_mount_unknown_blob_falls_back_lab(lab: LabInfo) -> None:
    digest = digest_bytes(b"never pushed anywhere")
    with RegistryClient(lab.registry_url) as client:
        result = client.mount_blob("tests/client-mount-to", digest, "tests/nowhere")
    assert result.mounted is False
    assert result.location is not None
    assert "/v2/tests/client-mount-to/blobs/uploads/" in result.location


@pytest.mark.lab
def test_unknown_blob_lab(lab: LabInfo) -> None:
    data = b"absent blob"
    with RegistryClient(lab.registry_url) as client:
        assert client.head_blob("tests/client-unknown", digest_bytes(data)) is None
        with pytest.raises(RegistryError) as caught:
            b"".join(client.get_blob("tests/client-unknown", _sized(data)))
    assert caught.value.status == 404
    assert caught.value.codes == ["BLOB_UNKNOWN"]
    assert "BLOB_UNKNOWN" in str(caught.value)


@pytest.mark.lab
def test_delete_blob_lab(lab: LabInfo) -> None:
    data = _blob(1024, seed=6)
    with RegistryClient(lab.registry_url) as client:
        client.push_blob("tests/client-delete-blob", data)
        client.delete_blob("tests/client-delete-blob", digest_bytes(data))
        assert _statuses(client)[-1] == ("DELETE", 202)
        assert client.head_blob("tests/client-delete-blob", digest_bytes(data)) is None


@pytest.mark.lab
def test_tags_lab(lab: LabInfo) -> None:
    repository = "tests/client-tags"
    tags = ["a", "b", "c", "d", "e"]
    with RegistryClient(lab.registry_url) as client:
        image = _image("tags")
        for blob in image.blobs:
            client.push_blob(repository, blob.data)
        for tag in tags:
            client.put_manifest(
                repository, tag, image.manifest.data, image.manifest.media_type
            )
        client.clear_exchanges()
        listed = client.tags(repository, n=2)
        records = client.exchanges
    # docker-registry 2.8 ignores n on tags/list: one page, unsorted, no Link.
    assert sorted(listed) == tags
    assert records[0].url.endswith("/tags/list?n=2")
    assert all(record.status == 200 for record in records)


@pytest.mark.lab
def test_catalog_pagination_lab(lab: LabInfo) -> None:
    with RegistryClient(lab.registry_url) as client:
        _push_image(client, "tests/client-catalog-a", "catalog a", "v1")
        _push_image(client, "tests/client-catalog-b", "catalog b", "v1")
        everything = client.catalog()
        client.clear_exchanges()
        paged = client.catalog(n=1)
        records = client.exchanges
    assert {"tests/client-catalog-a", "tests/client-catalog-b"} <= set(everything)
    assert paged == everything
    assert len(records) >= len(everything)
    assert "Link" in records[0].response_headers
    assert all(record.status == 200 for record in records)


def test_tags_follow_relative_link() -> None:
    pages = {
        "/v2/r/tags/list?n=2": (["a", "b"], '</v2/r/tags/list?n=2&last=b>; rel="next"'),
        "/v2/r/tags/list?n=2&last=b": (["c", "d"], '<?n=2&last=d>; rel="next"'),
        "/v2/r/tags/list?n=2&last=d": (["e"], None),
    }

    def fault_injector_pages(request: httpx.Request) -> httpx.Response:
        tags, link = pages[request.url.raw_path.decode()]
        headers = {"Link": link} if link else {}
        return httpx.Response(200, headers=headers, json={"name": "r", "tags": tags})

    with _fake(fault_injector_pages) as client:
        assert client.tags("r", n=2) == ["a", "b", "c", "d", "e"]
        assert len(client.exchanges) == 3


def test_tags_link_loop_detected() -> None:
    def fault_injector_loop(request: httpx.Request) -> httpx.Response:
        headers = {"Link": '</v2/r/tags/list>; rel="next"'}
        return httpx.Response(200, headers=headers, json={"tags": ["a"]})

    client = _fake(fault_injector_loop)
    with client, pytest.raises(RegistryError, match="pagination loop"):
        client.tags("r")


@pytest.mark.lab
def test_referrers_tag_schema_fallback_lab(lab: LabInfo) -> None:
    repository = "tests/client-referrers"
    artifact_type = "application/vnd.example.sbom.v1+json"
    with RegistryClient(lab.registry_url) as client:
        _, subject = _push_image(client, repository, "subject", "v1")
        subject_size = len(client.get_manifest(repository, "v1").data)
        empty = b"{}"
        client.push_blob(repository, empty)
        empty_descriptor = {"mediaType": mediatypes.OCI_EMPTY, **_sized(empty)}
        artifact = canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": mediatypes.OCI_MANIFEST,
                "artifactType": artifact_type,
                "config": empty_descriptor,
                "layers": [empty_descriptor],
                "subject": {
                    "mediaType": mediatypes.OCI_MANIFEST,
                    "digest": subject.digest,
                    "size": subject_size,
                },
            }
        )
        artifact_digest = digest_bytes(artifact)
        pushed = client.put_manifest(
            repository, artifact_digest, artifact, mediatypes.OCI_MANIFEST
        )
        assert pushed.digest == artifact_digest
        assert pushed.subject is None  # docker-registry 2.8 predates OCI-Subject
        index = canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": mediatypes.OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": mediatypes.OCI_MANIFEST,
                        "digest": artifact_digest,
                        "size": len(artifact),
                        "artifactType": artifact_type,
                    }
                ],
            }
        )
        tag = "sha256-" + subject.digest.split(":", 1)[1]
        client.put_manifest(repository, tag, index, mediatypes.OCI_INDEX)
        client.clear_exchanges()
        found = client.referrers(repository, subject.digest)
        api_request = client.exchanges[0]
        other_type = client.referrers(repository, subject.digest, "application/other")
    assert found.source == "tag-schema"
    assert found.tag == tag
    assert [d.digest for d in found.descriptors] == [artifact_digest]
    assert found.descriptors[0].artifact_type == artifact_type
    assert api_request.url.endswith(f"/referrers/{subject.digest}")
    assert api_request.status == 404
    assert other_type.descriptors == []


@pytest.mark.lab
def test_referrers_none_lab(lab: LabInfo) -> None:
    with RegistryClient(lab.registry_url) as client:
        _, subject = _push_image(client, "tests/client-no-referrers", "alone", "v1")
        found = client.referrers("tests/client-no-referrers", subject.digest)
    assert found.source == "tag-schema"
    assert found.descriptors == []


@pytest.mark.lab
def test_exchange_frame_lab(lab: LabInfo) -> None:
    with RegistryClient(lab.registry_url) as client:
        client.push_blob("tests/client-frame", _blob(1000, seed=8))
        frame = client.exchanges_frame()
        client.clear_exchanges()
        assert client.exchanges == []
    assert list(frame["method"]) == ["HEAD", "POST", "PUT"]
    assert list(frame["status"]) == [404, 202, 201]
    assert list(frame["attempt"]) == [0, 0, 0]
    assert frame["bytes_sent"].iloc[-1] == 1000
    assert (frame["elapsed"] > 0).all()


def test_basic_auth_redacted(basic_auth_registry) -> None:
    registry = basic_auth_registry
    credentials = httpx.BasicAuth(registry.username, registry.password)
    with RegistryClient(registry.url, auth=credentials) as client:
        client.push_blob("tests/auth", b"authenticated")
        records = client.exchanges
        text = repr(records) + client.exchanges_frame().to_string()
    assert [record.status for record in records] == [404, 202, 201]
    assert {r.request_headers["Authorization"] for r in records} == {"Basic …"}
    assert registry.password not in text
    assert "YWxpY2U6" not in text  # the base64 of "alice:"


def test_unauthorized_shows_challenge(basic_auth_registry) -> None:
    with RegistryClient(basic_auth_registry.url) as client:
        with pytest.raises(RegistryError) as caught:
            client.ping()
        record = client.exchanges[0]
    assert caught.value.status == 401
    assert caught.value.codes == ["UNAUTHORIZED"]
    assert record.response_headers["WWW-Authenticate"].startswith("Basic ")


# Faults from fakes.


def test_retry_after_honoured(no_sleep: list[float]) -> None:
    replies = iter([429, 200])

    def fault_injector_rate_limit(request: httpx.Request) -> httpx.Response:
        status = next(replies)
        headers = {
            "Retry-After": "2",
            "Docker-Distribution-API-Version": "registry/2.0",
        }
        return httpx.Response(status, headers=headers)

    with _fake(fault_injector_rate_limit) as client:
        assert client.ping() == "registry/2.0"
        assert [(r.status, r.attempt) for r in client.exchanges] == [(429, 0), (200, 1)]
        assert client.exchanges[0].response_headers["Retry-After"] == "2"
    assert no_sleep == [2.0]


def test_retry_after_capped(no_sleep: list[float]) -> None:
    def fault_injector_rate_limit(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "3600"})

    client = _fake(fault_injector_rate_limit, retries=2, max_delay=0.5)
    with client, pytest.raises(RegistryError) as caught:
        client.ping()
    assert caught.value.status == 429
    assert no_sleep == [0.5, 0.5]


def test_server_error_then_success(no_sleep: list[float]) -> None:
    replies = iter([500, 503, 200])

    def fault_injector_flaky(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(replies))

    with _fake(fault_injector_flaky, backoff=0.1) as client:
        client.ping()
        assert [r.status for r in client.exchanges] == [500, 503, 200]
    assert no_sleep == [0.1, 0.2]


def test_server_error_exhausts_retries(no_sleep: list[float]) -> None:
    def fault_injector_down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html><body>Bad Gateway</body></html>")

    with _fake(fault_injector_down, retries=2) as client:
        with pytest.raises(RegistryError) as caught:
            client.ping()
        assert len(client.exchanges) == 3
    assert caught.value.status == 502
    assert caught.value.codes == []
    assert "not OCI error JSON" in str(caught.value)
    assert "Bad Gateway" in str(caught.value)


def test_upload_post_not_retried_after_500(no_sleep: list[float]) -> None:
    def fault_injector_upload(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(404)
        return httpx.Response(
            500, json={"errors": [{"code": "UNKNOWN", "message": "x"}]}
        )

    with _fake(fault_injector_upload) as client:
        with pytest.raises(RegistryError) as caught:
            client.push_blob("r", b"data")
        assert _statuses(client) == [("HEAD", 404), ("POST", 500)]
    assert caught.value.codes == ["UNKNOWN"]
    assert no_sleep == []


def test_upload_post_retried_after_429(no_sleep: list[float]) -> None:
    replies = iter([429, 202])

    def fault_injector_upload(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(404)
        if request.method == "POST":
            return httpx.Response(next(replies), headers={"Location": "/v2/r/up/1"})
        return httpx.Response(201)

    with _fake(fault_injector_upload) as client:
        client.push_blob("r", b"data")
        assert _statuses(client) == [
            ("HEAD", 404),
            ("POST", 429),
            ("POST", 202),
            ("PUT", 201),
        ]


def test_dropped_connection_retried_on_get(no_sleep: list[float]) -> None:
    failures = iter([httpx.ReadError("connection reset"), None])

    def fault_injector_reset(request: httpx.Request) -> httpx.Response:
        error = next(failures)
        if error is not None:
            raise error
        return httpx.Response(200, json={"tags": ["a"]})

    with _fake(fault_injector_reset) as client:
        assert client.tags("r") == ["a"]
        assert [r.status for r in client.exchanges] == [None, 200]
        assert client.exchanges[0].error == "ReadError: connection reset"


def test_upload_post_retried_only_when_nothing_sent(no_sleep: list[float]) -> None:
    errors = [httpx.ConnectError("refused"), httpx.ReadError("reset after send")]

    def fault_injector_post(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(404)
        raise errors.pop(0)

    client = _fake(fault_injector_post)
    with client, pytest.raises(RegistryError, match="ReadError"):
        client.push_blob("r", b"data")
    assert [r.method for r in client.exchanges] == ["HEAD", "POST", "POST"]
    assert no_sleep == [0.2]


def test_timeout_names_url(no_sleep: list[float]) -> None:
    def fault_injector_slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with _fake(fault_injector_slow, retries=1) as client:
        with pytest.raises(RegistryError, match="timed out") as caught:
            client.get_manifest("r", "v1")
        assert [r.error for r in client.exchanges] == ["ReadTimeout: timed out"] * 2
    assert caught.value.url == f"{FAKE_URL}/v2/r/manifests/v1"
    assert caught.value.status == 0


def test_wrong_manifest_digest_served() -> None:
    served = b'{"schemaVersion":2,"mediaType":"%s","manifests":[]}' % (
        mediatypes.OCI_INDEX.encode()
    )
    claimed = digest_bytes(b"something else")

    def fault_injector_wrong_digest(request: httpx.Request) -> httpx.Response:
        headers = {
            "Docker-Content-Digest": claimed,
            "Content-Type": mediatypes.OCI_INDEX,
        }
        return httpx.Response(200, headers=headers, content=served)

    with _fake(fault_injector_wrong_digest) as client:
        with pytest.raises(DigestMismatchError) as by_header:
            client.get_manifest("r", "v1")
        with pytest.raises(DigestMismatchError) as by_reference:
            client.get_manifest("r", digest_bytes(b"requested"))
    assert by_header.value.expected == claimed
    assert by_header.value.actual == digest_bytes(served)
    assert "Docker-Content-Digest" in str(by_header.value)
    assert by_reference.value.expected == claimed


def test_media_type_content_type_parameters() -> None:
    body = b'{"schemaVersion":2,"config":{},"layers":[]}'

    def fault_injector_content_type(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "Application/VND.oci.image.manifest.v1+JSON; q=1"}
        return httpx.Response(200, headers=headers, content=body)

    with _fake(fault_injector_content_type) as client:
        manifest = client.get_manifest("r", "v1")
    assert manifest.media_type == mediatypes.OCI_MANIFEST
    assert manifest.digest == digest_bytes(body)
    assert isinstance(manifest.document, ImageManifest)


def test_wrong_blob_served(tmp_path: Path) -> None:
    expected = b"the right blob"

    def fault_injector_wrong_blob(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"the wrong blob")

    target = tmp_path / "blob"
    with _fake(fault_injector_wrong_blob) as client:
        with pytest.raises(DigestMismatchError):
            b"".join(client.get_blob("r", _sized(expected)))
        with pytest.raises(DigestMismatchError):
            client.download_blob("r", _sized(expected), target)
    assert os.listdir(tmp_path) == []


def test_blob_too_long_stops_early() -> None:
    produced: list[int] = []

    def endless() -> Iterator[bytes]:
        for number in range(1000):
            produced.append(number)
            yield b"x" * 1024

    def fault_injector_endless_blob(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    client = _fake(fault_injector_endless_blob)
    with client, pytest.raises(DigestMismatchError, match="more"):
        b"".join(client.get_blob("r", _sized(b"y" * 2048)))
    assert len(produced) < 10


def test_huge_json_declared_length() -> None:
    def fault_injector_huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Length": str(50 * MIB)}, content=b""
        )

    client = _fake(fault_injector_huge)
    with client, pytest.raises(RegistryError, match=f"{50 * MIB} bytes") as caught:
        client.tags("r")
    assert "limit of 4194304 bytes" in str(caught.value)


def test_huge_json_streamed_stops_early() -> None:
    produced: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"tags": ["'
        for number in range(10_000):
            produced.append(number)
            yield b"a" * 1024

    def fault_injector_huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    client = _fake(fault_injector_huge, max_json_bytes=64 * 1024)
    with client, pytest.raises(RegistryError, match="limit of 65536 bytes"):
        client.tags("r")
    assert len(produced) < 100


def test_tags_null_is_empty() -> None:
    def fault_injector_no_tags(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": "r", "tags": None})

    with _fake(fault_injector_no_tags) as client:
        assert client.tags("r") == []


def test_relative_location_with_query() -> None:
    data = bytes(range(200)) * 10
    digest = digest_bytes(data)
    received = bytearray()
    requests: list[httpx.Request] = []

    def fault_injector_upload(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.method == "HEAD":
            return httpx.Response(404)
        if request.method == "POST":
            return httpx.Response(
                202, headers={"Location": "/v2/r/blobs/uploads/u1?_state=s0%3D"}
            )
        if request.method == "PATCH":
            # Keep only half of each chunk, so the client must resend from Range.
            chunk = request.content[: max(1, len(request.content) // 2)]
            received.extend(chunk)
            state = len(requests)
            headers = {
                "Location": f"u1?_state=s{state}%3D",
                "Range": f"0-{len(received) - 1}",
            }
            return httpx.Response(202, headers=headers)
        received.extend(request.content)
        return httpx.Response(201, headers={"Location": f"/v2/r/blobs/{digest}"})

    with _fake(fault_injector_upload) as client:
        pushed = client.push_blob("r", data, chunk_size=512)
    assert bytes(received) == data
    closing = requests[-1]
    last_patch = len(requests) - 1
    assert str(closing.url) == (
        f"{FAKE_URL}/v2/r/blobs/uploads/u1?_state=s{last_patch}%3D&digest=sha256%3A"
        + digest.split(":", 1)[1]
    )
    assert pushed.location == f"/v2/r/blobs/{digest}"
    assert pushed.chunks == len(requests) - 3


def test_referrers_api_supported() -> None:
    subject = digest_bytes(b"subject")
    referrer = {
        "mediaType": mediatypes.OCI_MANIFEST,
        "digest": digest_bytes(b"r"),
        "size": 1,
        "artifactType": "a/b",
    }

    def fault_injector_referrers(request: httpx.Request) -> httpx.Response:
        body = {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [referrer],
        }
        return httpx.Response(
            200, headers={"Content-Type": mediatypes.OCI_INDEX}, json=body
        )

    with _fake(fault_injector_referrers) as client:
        found = client.referrers("r", subject)
        filtered = client.referrers("r", subject, artifact_type="other/type")
        assert len(client.exchanges) == 2
    assert found.source == "referrers-api"
    assert [d.digest for d in found.descriptors] == [referrer["digest"]]
    assert filtered.descriptors == []


def test_referrers_wrong_content_type_falls_back() -> None:
    subject = digest_bytes(b"subject")
    tag = "sha256-" + subject.split(":", 1)[1]

    def fault_injector_json_not_index(request: httpx.Request) -> httpx.Response:
        if "/referrers/" in request.url.path:
            return httpx.Response(200, json={"schemaVersion": 2, "manifests": []})
        assert request.url.path == f"/v2/r/manifests/{tag}"
        return httpx.Response(
            404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "m"}]}
        )

    with _fake(fault_injector_json_not_index) as client:
        found = client.referrers("r", subject)
    assert found.source == "tag-schema"
    assert found.descriptors == []


def test_bearer_authorization_redacted() -> None:
    class StaticBearer(httpx.Auth):
        def auth_flow(self, request: httpx.Request):
            request.headers["Authorization"] = "Bearer secret-token-value"
            yield request

    def fault_injector_ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    with _fake(fault_injector_ok, auth=StaticBearer()) as client:
        client.ping()
        text = repr(client.exchanges) + client.exchanges_frame().to_string()
        assert client.exchanges[0].request_headers["Authorization"] == "Bearer …"
    assert "secret-token-value" not in text


def test_redact_url_signature() -> None:
    url = "https://s3.test/blob?X-Amz-Signature=abc&X-Amz-Credential=def&part=1"
    assert (
        redact_url(url)
        == "https://s3.test/blob?X-Amz-Signature=…&X-Amz-Credential=…&part=1"
    )


def test_with_query_keeps_state() -> None:
    assert with_query("http://h/u?_state=a%3D%3D", digest="sha256:1") == (
        "http://h/u?_state=a%3D%3D&digest=sha256%3A1"
    )
    assert with_query("http://h/u", digest="d") == "http://h/u?digest=d"


def test_invalid_names_send_nothing() -> None:
    def fault_injector_unused(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with _fake(fault_injector_unused) as client:
        with pytest.raises(ImageError, match="invalid repository name"):
            client.tags("../etc")
        with pytest.raises(ImageError, match="invalid reference"):
            client.get_manifest("r", "bad/tag")
        with pytest.raises(ImageError, match="invalid digest"):
            client.delete_blob("r", "sha256:XYZ")
        assert client.exchanges == []


# A server that drops the connection in the middle of a blob.


class _DroppingBlobHandler(BaseHTTPRequestHandler):
    blob = b""
    drops_left = 1

    def do_GET(self) -> None:
        size = len(self.blob)
        start = 0
        ranged = self.headers.get("Range")
        if ranged:
            start = int(ranged.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        if type(self).drops_left > 0:
            type(self).drops_left -= 1
            self.wfile.write(self.blob[start : start + (size - start) // 2])
            self.wfile.flush()
            return
        self.wfile.write(self.blob[start:])

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def dropping_server() -> Iterator[tuple[str, type[_DroppingBlobHandler]]]:
    handler = type("Handler", (_DroppingBlobHandler,), {"blob": _blob(400_000, 9)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_dropped_blob_resumed_with_range(dropping_server, no_sleep, tmp_path) -> None:
    url, handler = dropping_server
    target = tmp_path / "blob"
    with RegistryClient(url) as client:
        client.download_blob("r", _sized(handler.blob), target)
        records = client.exchanges
    assert target.read_bytes() == handler.blob
    assert [record.status for record in records] == [200, 206]
    assert records[0].error is not None
    assert records[0].bytes_received == len(handler.blob) // 2
    assert records[1].request_headers["Range"] == f"bytes={len(handler.blob) // 2}-"
    assert len(no_sleep) == 1


def test_dropped_blob_gives_up(dropping_server, no_sleep, tmp_path) -> None:
    url, handler = dropping_server
    handler.drops_left = 100
    with RegistryClient(url, retries=2) as client:
        with pytest.raises(RegistryError, match="failed after"):
            client.download_blob("r", _sized(handler.blob), tmp_path / "blob")
        assert len(client.exchanges) == 3
    assert os.listdir(tmp_path) == []


def test_registry_auth_challenge_logged(basic_auth_registry) -> None:
    from ocilab.distribution.auth import RegistryAuth

    registry = basic_auth_registry
    auth = RegistryAuth(registry.url, registry.username, registry.password)
    with RegistryClient(registry.url, auth=auth) as client:
        client.ping()
        records = client.exchanges
        text = repr(records) + client.exchanges_frame().to_string()
    assert [record.status for record in records] == [401, 200]
    assert "Authorization" not in records[0].request_headers
    assert records[1].request_headers["Authorization"] == "Basic …"
    assert registry.password not in text
