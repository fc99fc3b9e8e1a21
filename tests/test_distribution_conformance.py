"""The OCI distribution-spec v1.1.1 conformance checks, run through RegistryClient.

The v1.1.1 release of opencontainers/distribution-spec ships a Ginkgo suite
(conformance/0{1..4}_*_test.go) in four groups: Pull, Push, Content
Discovery and Content Management. This module re-creates its checks as a
table and runs them in order against the lab's docker-registry 2.8. Client
methods send the requests where one fits. Malformed or out-of-protocol
requests go through ``RegistryClient._send``, so that they also pass the
recording transport and show in ``client.exchanges_frame()``.

Each row records the statuses the suite accepts, the actual status and a
result: "pass", "fail", "unsupported" (the suite accepts the status as "this
optional API is disabled", for example 405 on DELETE), or "deviation" (a
known difference of docker-registry 2.8 that the v1.1.1 suite reports as a
failure, listed in the ``deviation`` column).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
import pandas as pd
import pytest

from ocilab.distribution.client import RegistryClient
from ocilab.errors import RegistryError
from ocilab.image import mediatypes
from ocilab.image.digest import digest_bytes
from ocilab.image.models import Descriptor

pytestmark = pytest.mark.lab

PULL = "Pull"
PUSH = "Push"
DISCOVERY = "Content Discovery"
MANAGEMENT = "Content Management"

# Digest of a blob that no test pushes: sha256 of "hello world".
MISSING_DIGEST = digest_bytes(b"hello world")
INVALID_MANIFEST_NAME = ".INVALID_MANIFEST_NAME"
ARTIFACT_TYPE_A = "application/vnd.nhl.peanut.butter.bagel"
ARTIFACT_TYPE_B = "application/vnd.nhl.peanut.butter.waffle"
ANNOTATION_KEY = "org.opencontainers.conformance.test"
EMPTY_JSON = b"{}"
# The error codes of the distribution spec. A 400 body must use one of them.
OCI_ERROR_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
)
SUCCESS = tuple(range(200, 300))

# docker-registry 2.8 implements the distribution spec v1.0, which has no
# referrers API: GET /v2/<name>/referrers/<digest> returns 404, and a
# manifest PUT never sends OCI-Subject. The v1.1.1 suite expects 200 and the
# header with no fallback, so it reports these checks as failures.
NO_REFERRERS_API = "docker-registry 2.8 has no referrers API (404)"
NO_SUBJECT_HEADER = "docker-registry 2.8 does not send OCI-Subject"
MISSING_SUBJECT_HEADER = "OCI-Subject header missing"


@dataclass(frozen=True)
class Outcome:
    """The actual status of one check, and what else in the response was wrong."""

    status: int
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deviation:
    """A known failure on docker-registry 2.8: the statuses and problems it shows."""

    reason: str
    statuses: tuple[int, ...] = ()
    problems: tuple[str, ...] = ()


# docker-registry 2.8 ignores Content-Range on PATCH and appends the chunk,
# and each PATCH invalidates the previous upload URL (its _state parameter),
# so the old URL returns 404 where the suite expects 416 or 204.
CHUNK_DEVIATION = Deviation(
    "docker-registry 2.8 ignores Content-Range (202) and expires old upload URLs (404)",
    statuses=(202, 404),
)
STALE_UPLOAD = "docker-registry 2.8 expires the upload URL of an earlier PATCH (404)"
# docker-registry 2.8 ignores n and last on GET /v2/<name>/tags/list and
# returns every tag, where the v1.1.1 suite expects a page of n tags.
TAGS_DEVIATION = Deviation(
    "docker-registry 2.8 ignores n and last on the tags list",
    problems=("4 tags, not 2", "4 tags, more than n=2", "the page contains last=test3"),
)


@dataclass(frozen=True)
class Check:
    """One row of the suite: what it sends, which statuses pass, and how to run it.

    ``run`` returns None when the suite skips the check in this state (for
    example the GET of a mounted blob after the mount fell back to an upload).
    """

    group: str
    name: str
    method: str
    path: str
    expected: tuple[int, ...]
    run: Callable[[ConformanceRun], Outcome | None]
    unsupported: tuple[int, ...] = ()
    deviation: Deviation | None = None


def blob_descriptor(media_type: str, data: bytes, **extra: object) -> dict[str, object]:
    return {
        "mediaType": media_type,
        "digest": digest_bytes(data),
        "size": len(data),
        **extra,
    }


def manifest_json(
    config: dict[str, object],
    layers: list[dict[str, object]],
    **extra: object,
) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": config,
        "layers": layers,
        **extra,
    }
    return json.dumps(document, separators=(",", ":")).encode()


class ConformanceRun:
    """The content, state and recorded rows of one run against one registry."""

    def __init__(self, client: RegistryClient, run_id: str) -> None:
        self.client = client
        self.name = f"conformance/{run_id}"
        self.crossmount = f"conformance-mount/{run_id}"
        self.rows: list[dict[str, object]] = []
        self.state: dict[str, object] = {}
        self.pushed_blobs: set[tuple[str, str]] = set()
        self.pushed_manifests: set[tuple[str, str]] = set()

        def config(index: int) -> bytes:
            document = {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": []},
                "author": f"conformance {run_id} config {index}",
            }
            return json.dumps(document).encode()

        self.configs = [config(index) for index in range(5)]
        self.layer = f"conformance layer {run_id}\n".encode() * 64
        self.blob_a = f"reference blob A {run_id}".encode()
        self.blob_b = f"reference blob B {run_id}".encode()
        # 24 bytes in three chunks of 8, for the chunked upload checks.
        self.chunked_blob = run_id.encode()[:24].ljust(24, b"x")
        self.manifests = [
            manifest_json(
                blob_descriptor(mediatypes.OCI_CONFIG, data),
                [blob_descriptor(mediatypes.OCI_LAYER_TAR_GZIP, self.layer)],
            )
            for data in self.configs
        ]

    # Requests.

    def url(self, path: str) -> str:
        return urljoin(self.client.base_url + "/", path.lstrip("/"))

    def raw(
        self,
        method: str,
        path_or_url: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one request through the client's recording transport and read the body."""
        idempotent = method in ("GET", "HEAD", "DELETE")
        response = self.client._send(
            method,
            self.url(path_or_url),
            idempotent=idempotent,
            headers=headers,
            content=content,
        )
        try:
            response.read()
        finally:
            response.close()
        return response

    def call(self, operation: Callable[[], object]) -> tuple[int, object]:
        """Run a client method; return the status of its last exchange and its result."""
        try:
            result = operation()
        except RegistryError as error:
            return error.status, error
        return self.client.exchanges[-1].status or 0, result

    def push_blob(
        self, data: bytes, repository: str | None = None, chunk_size: int | None = None
    ) -> Outcome:
        repository = repository or self.name
        status, result = self.call(
            lambda: self.client.push_blob(repository, data, chunk_size=chunk_size)
        )
        self.pushed_blobs.add((repository, digest_bytes(data)))
        return Outcome(status)

    def put_manifest(
        self,
        reference: str,
        data: bytes,
        media_type: str = mediatypes.OCI_MANIFEST,
        subject: str | None = None,
    ) -> Outcome:
        status, result = self.call(
            lambda: self.client.put_manifest(self.name, reference, data, media_type)
        )
        self.pushed_manifests.add((self.name, digest_bytes(data)))
        problems = []
        if status == 201 and not result.location:
            problems.append("Location header missing")
        if subject is not None and status == 201 and result.subject != subject:
            problems.append(MISSING_SUBJECT_HEADER)
        return Outcome(status, tuple(problems))

    def tag_list(self, **query: str) -> tuple[int, list[str]]:
        url = httpx.URL(self.url(f"/v2/{self.name}/tags/list"), params=query)
        response = self.raw("GET", str(url))
        if response.status_code != 200:
            return response.status_code, []
        return 200, list(response.json().get("tags") or [])

    def referrers_status(
        self, digest: str, artifact_type: str | None = None
    ) -> tuple[int, object]:
        """Call client.referrers; return the status of its referrers API request."""
        first = len(self.client.exchanges)
        status, result = self.call(
            lambda: self.client.referrers(self.name, digest, artifact_type)
        )
        for record in self.client.exchanges[first:]:
            if "/referrers/" in record.url:
                return record.status or 0, result
        return status, result

    def cleanup(self) -> None:
        """Delete what the run pushed and the checks did not delete (errors ignored)."""
        for repository, digest in self.pushed_manifests:
            with suppress(RegistryError):
                self.client.delete_manifest(repository, digest)
        for repository, digest in self.pushed_blobs:
            with suppress(RegistryError):
                self.client.delete_blob(repository, digest)

    # Running the table.

    def run(self, checks: list[Check]) -> pd.DataFrame:
        for check in checks:
            outcome = check.run(self)
            if outcome is None:
                continue
            self.rows.append(self.row(check, outcome))
        return pd.DataFrame(self.rows)

    @staticmethod
    def row(check: Check, outcome: Outcome) -> dict[str, object]:
        deviation = check.deviation
        if outcome.status in check.expected and not outcome.problems:
            result = "pass"
        elif outcome.status in check.unsupported and not outcome.problems:
            result = "unsupported"
        elif (
            deviation is not None
            and (outcome.status in check.expected + deviation.statuses)
            and set(outcome.problems) <= set(deviation.problems)
        ):
            result = "deviation"
        else:
            result = "fail"
        return {
            "group": check.group,
            "name": check.name,
            "method": check.method,
            "path": check.path,
            "expected": "|".join(map(str, _compact(check.expected))),
            "actual": outcome.status,
            "result": result,
            "problems": "; ".join(outcome.problems),
            "deviation": deviation.reason if result == "deviation" else "",
        }


def _compact(statuses: tuple[int, ...]) -> list[str | int]:
    if statuses == SUCCESS:
        return ["2xx"]
    if statuses[: len(SUCCESS)] == SUCCESS:
        return ["2xx", *statuses[len(SUCCESS) :]]
    return list(statuses)


# Pull.


def pull_setup_blob(index: int) -> Callable[[ConformanceRun], Outcome]:
    return lambda run: run.push_blob(run.configs[index])


def pull_head_blob(run: ConformanceRun) -> Outcome:
    digest = digest_bytes(run.configs[0])
    status, result = run.call(lambda: run.client.head_blob(run.name, digest))
    problems = []
    if isinstance(result, Descriptor) and result.digest != digest:
        problems.append(f"Docker-Content-Digest is {result.digest}")
    return Outcome(status, tuple(problems))


def pull_get_blob(digest_of: Callable[[ConformanceRun], tuple[str, int]]):
    def run_check(run: ConformanceRun) -> Outcome:
        digest, size = digest_of(run)
        descriptor = Descriptor(mediatypes.OCI_CONFIG, digest, size)
        status, _ = run.call(
            lambda: b"".join(run.client.get_blob(run.name, descriptor))
        )
        return Outcome(status)

    return run_check


def head_manifest(reference_of: Callable[[ConformanceRun], str], digest_index: int):
    def run_check(run: ConformanceRun) -> Outcome:
        reference = reference_of(run)
        expected = digest_bytes(run.manifests[digest_index])
        status, result = run.call(
            lambda: run.client.head_manifest(
                run.name, reference, accept=[mediatypes.OCI_MANIFEST]
            )
        )
        problems = []
        if isinstance(result, Descriptor) and result.digest != expected:
            problems.append(f"Docker-Content-Digest is {result.digest}")
        return Outcome(status, tuple(problems))

    return run_check


def get_manifest(reference_of: Callable[[ConformanceRun], str]):
    def run_check(run: ConformanceRun) -> Outcome:
        reference = reference_of(run)
        status, _ = run.call(lambda: run.client.get_manifest(run.name, reference))
        return Outcome(status)

    return run_check


def pull_error_codes(run: ConformanceRun) -> Outcome:
    response = run.raw("GET", f"/v2/{run.name}/manifests/sha256:totallywrong")
    problems = []
    if response.status_code == 400:
        errors = response.json().get("errors") or [{}]
        code = errors[0].get("code")
        if code not in OCI_ERROR_CODES:
            problems.append(f"error code {code!r} is not an OCI error code")
    return Outcome(response.status_code, tuple(problems))


def delete_manifest(index: int):
    def run_check(run: ConformanceRun) -> Outcome:
        digest = digest_bytes(run.manifests[index])
        status, _ = run.call(lambda: run.client.delete_manifest(run.name, digest))
        return Outcome(status)

    return run_check


def delete_blob(data_of: Callable[[ConformanceRun], bytes]):
    def run_check(run: ConformanceRun) -> Outcome:
        digest = digest_bytes(data_of(run))
        status, _ = run.call(lambda: run.client.delete_blob(run.name, digest))
        return Outcome(status)

    return run_check


def digest_of_manifest(index: int) -> Callable[[ConformanceRun], str]:
    return lambda run: digest_bytes(run.manifests[index])


PULL_CHECKS = [
    Check(
        PULL,
        "Setup: push config blob 0",
        "POST+PUT",
        "/v2/<name>/blobs/uploads/",
        SUCCESS,
        pull_setup_blob(0),
    ),
    Check(
        PULL,
        "Setup: push config blob 1",
        "POST+PUT",
        "/v2/<name>/blobs/uploads/",
        SUCCESS,
        pull_setup_blob(1),
    ),
    Check(
        PULL,
        "Setup: push layer blob",
        "POST+PUT",
        "/v2/<name>/blobs/uploads/",
        SUCCESS,
        lambda run: run.push_blob(run.layer),
    ),
    Check(
        PULL,
        "Setup: PUT manifest 0 by tag",
        "PUT",
        "/v2/<name>/manifests/tagtest0",
        SUCCESS,
        lambda run: run.put_manifest("tagtest0", run.manifests[0]),
    ),
    Check(
        PULL,
        "Setup: PUT manifest 1 by digest",
        "PUT",
        "/v2/<name>/manifests/<digest>",
        SUCCESS,
        lambda run: run.put_manifest(digest_bytes(run.manifests[1]), run.manifests[1]),
    ),
    Check(
        PULL,
        "HEAD nonexistent blob",
        "HEAD",
        "/v2/<name>/blobs/<digest>",
        (404,),
        lambda run: Outcome(
            run.call(lambda: run.client.head_blob(run.name, MISSING_DIGEST))[0]
        ),
    ),
    Check(
        PULL,
        "HEAD existing blob",
        "HEAD",
        "/v2/<name>/blobs/<digest>",
        (200,),
        pull_head_blob,
    ),
    Check(
        PULL,
        "GET nonexistent blob",
        "GET",
        "/v2/<name>/blobs/<digest>",
        (404,),
        pull_get_blob(lambda run: (MISSING_DIGEST, 11)),
    ),
    Check(
        PULL,
        "GET existing blob",
        "GET",
        "/v2/<name>/blobs/<digest>",
        (200,),
        pull_get_blob(lambda run: (digest_bytes(run.configs[0]), len(run.configs[0]))),
    ),
    Check(
        PULL,
        "HEAD nonexistent manifest",
        "HEAD",
        f"/v2/<name>/manifests/{INVALID_MANIFEST_NAME}",
        (404,),
        lambda run: Outcome(
            run.raw(
                "HEAD", f"/v2/{run.name}/manifests/{INVALID_MANIFEST_NAME}"
            ).status_code
        ),
    ),
    Check(
        PULL,
        "HEAD manifest 0 by digest",
        "HEAD",
        "/v2/<name>/manifests/<digest>",
        (200,),
        head_manifest(digest_of_manifest(0), 0),
    ),
    Check(
        PULL,
        "HEAD manifest 1 by digest",
        "HEAD",
        "/v2/<name>/manifests/<digest>",
        (200,),
        head_manifest(digest_of_manifest(1), 1),
    ),
    Check(
        PULL,
        "HEAD manifest by tag",
        "HEAD",
        "/v2/<name>/manifests/tagtest0",
        (200,),
        head_manifest(lambda run: "tagtest0", 0),
    ),
    Check(
        PULL,
        "GET nonexistent manifest",
        "GET",
        f"/v2/<name>/manifests/{INVALID_MANIFEST_NAME}",
        (404,),
        lambda run: Outcome(
            run.raw(
                "GET", f"/v2/{run.name}/manifests/{INVALID_MANIFEST_NAME}"
            ).status_code
        ),
    ),
    Check(
        PULL,
        "GET manifest 0 by digest",
        "GET",
        "/v2/<name>/manifests/<digest>",
        (200,),
        get_manifest(digest_of_manifest(0)),
    ),
    Check(
        PULL,
        "GET manifest 1 by digest",
        "GET",
        "/v2/<name>/manifests/<digest>",
        (200,),
        get_manifest(digest_of_manifest(1)),
    ),
    Check(
        PULL,
        "GET manifest by tag",
        "GET",
        "/v2/<name>/manifests/tagtest0",
        (200,),
        get_manifest(lambda run: "tagtest0"),
    ),
    Check(
        PULL,
        "Error codes: 400 body is OCI error JSON",
        "GET",
        "/v2/<name>/manifests/sha256:totallywrong",
        (400, 404),
        pull_error_codes,
        deviation=Deviation(
            "docker-registry 2.8 returns 500 for an invalid digest", statuses=(500,)
        ),
    ),
    Check(
        PULL,
        "Teardown: delete manifest 0",
        "DELETE",
        "/v2/<name>/manifests/<digest>",
        (*SUCCESS, 405),
        delete_manifest(0),
    ),
    Check(
        PULL,
        "Teardown: delete manifest 1",
        "DELETE",
        "/v2/<name>/manifests/<digest>",
        (*SUCCESS, 405),
        delete_manifest(1),
    ),
    Check(
        PULL,
        "Teardown: delete config blob 0",
        "DELETE",
        "/v2/<name>/blobs/<digest>",
        (*SUCCESS, 404, 405),
        delete_blob(lambda run: run.configs[0]),
    ),
    Check(
        PULL,
        "Teardown: delete config blob 1",
        "DELETE",
        "/v2/<name>/blobs/<digest>",
        (*SUCCESS, 404, 405),
        delete_blob(lambda run: run.configs[1]),
    ),
    Check(
        PULL,
        "Teardown: delete layer blob",
        "DELETE",
        "/v2/<name>/blobs/<digest>",
        (*SUCCESS, 404, 405),
        delete_blob(lambda run: run.layer),
    ),
]


# Push.


def start_upload(run: ConformanceRun, repository: str | None = None) -> httpx.Response:
    repository = repository or run.name
    return run.raw("POST", f"/v2/{repository}/blobs/uploads/")


def location(response: httpx.Response) -> str:
    return urljoin(str(response.request.url), response.headers.get("Location", ""))


def push_streamed_patch(run: ConformanceRun) -> Outcome:
    post = start_upload(run)
    if "Location" not in post.headers:
        return Outcome(post.status_code, ("POST returned no Location header",))
    patch = run.raw(
        "PATCH",
        location(post),
        headers={"Content-Type": "application/octet-stream"},
        content=run.configs[2],
    )
    run.state["streamed_location"] = location(patch)
    run.pushed_blobs.add((run.name, digest_bytes(run.configs[2])))
    return Outcome(patch.status_code)


def push_streamed_put(run: ConformanceRun) -> Outcome:
    url = str(
        httpx.URL(run.state["streamed_location"]).copy_merge_params(
            {"digest": digest_bytes(run.configs[2])}
        )
    )
    put = run.raw("PUT", url, headers={"Content-Length": "0"}, content=b"")
    problems = () if "Location" in put.headers else ("Location header missing",)
    return Outcome(put.status_code, problems)


def push_post_with_digest(run: ConformanceRun) -> Outcome:
    data = run.configs[3]
    post = run.raw(
        "POST",
        f"/v2/{run.name}/blobs/uploads/?digest={digest_bytes(data)}",
        headers={"Content-Type": "application/octet-stream"},
        content=data,
    )
    run.state["monolithic_post_status"] = post.status_code
    run.pushed_blobs.add((run.name, digest_bytes(data)))
    problems = () if "Location" in post.headers else ("Location header missing",)
    return Outcome(post.status_code, problems)


def push_get_after_post(run: ConformanceRun) -> Outcome:
    # The suite expects the blob only when the POST completed the upload (201).
    response = run.raw("GET", f"/v2/{run.name}/blobs/{digest_bytes(run.configs[3])}")
    expected = 200 if run.state["monolithic_post_status"] == 201 else 404
    problems = () if response.status_code == expected else (f"expected {expected}",)
    return Outcome(response.status_code, problems)


def push_post_session(run: ConformanceRun) -> Outcome:
    post = start_upload(run)
    run.state["monolithic_location"] = location(post)
    return Outcome(post.status_code)


def push_put_monolithic(run: ConformanceRun) -> Outcome:
    data = run.configs[3]
    url = str(
        httpx.URL(run.state["monolithic_location"]).copy_merge_params(
            {"digest": digest_bytes(data)}
        )
    )
    put = run.raw(
        "PUT", url, headers={"Content-Type": "application/octet-stream"}, content=data
    )
    problems = () if "Location" in put.headers else ("Location header missing",)
    return Outcome(put.status_code, problems)


def chunk(run: ConformanceRun, number: int) -> tuple[bytes, str]:
    """Return chunk 1, 2 or 3 of the chunked blob and its Content-Range."""
    start = (number - 1) * 8
    return run.chunked_blob[start : start + 8], f"{start}-{start + 7}"


def patch_chunk(run: ConformanceRun, url: str, number: int) -> httpx.Response:
    data, content_range = chunk(run, number)
    return run.raw(
        "PATCH",
        url,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": content_range,
        },
        content=data,
    )


def push_chunk_out_of_order(run: ConformanceRun) -> Outcome:
    post = start_upload(run)
    return Outcome(patch_chunk(run, location(post), 2).status_code)


def push_chunk_first(run: ConformanceRun) -> Outcome:
    post = start_upload(run)
    run.state["chunk_first_location"] = location(post)
    patch = patch_chunk(run, location(post), 1)
    run.state["chunk_location"] = location(patch)
    run.pushed_blobs.add((run.name, digest_bytes(run.chunked_blob)))
    problems = []
    if patch.headers.get("Range") != "0-7":
        problems.append(f"Range header is {patch.headers.get('Range')!r}, not '0-7'")
    return Outcome(patch.status_code, tuple(problems))


def push_chunk_retry(run: ConformanceRun) -> Outcome:
    patch = patch_chunk(run, run.state["chunk_first_location"], 1)
    return Outcome(patch.status_code)


def push_chunk_status(run: ConformanceRun) -> Outcome:
    response = run.raw("GET", run.state["chunk_first_location"])
    problems = []
    if "Location" not in response.headers:
        problems.append("Location header missing")
    if response.headers.get("Range") != "0-7":
        problems.append(f"Range header is {response.headers.get('Range')!r}, not '0-7'")
    return Outcome(response.status_code, tuple(problems))


def push_chunk_rest(run: ConformanceRun) -> Outcome:
    patch = patch_chunk(run, run.state["chunk_location"], 2)
    if patch.status_code == 202:
        patch = patch_chunk(run, location(patch), 3)
    run.state["chunk_location"] = location(patch)
    problems = () if "Location" in patch.headers else ("Location header missing",)
    return Outcome(patch.status_code, problems)


def push_chunk_close(run: ConformanceRun) -> Outcome:
    url = str(
        httpx.URL(run.state["chunk_location"]).copy_merge_params(
            {"digest": digest_bytes(run.chunked_blob)}
        )
    )
    put = run.raw("PUT", url, headers={"Content-Length": "0"}, content=b"")
    problems = () if "Location" in put.headers else ("Location header missing",)
    return Outcome(put.status_code, problems)


def push_mount_without_from(run: ConformanceRun) -> Outcome:
    post = run.raw(
        "POST", f"/v2/{run.crossmount}/blobs/uploads/?mount={MISSING_DIGEST}"
    )
    problems = () if "Location" in post.headers else ("Location header missing",)
    return Outcome(post.status_code, problems)


def push_mount(run: ConformanceRun) -> Outcome:
    digest = digest_bytes(run.configs[3])
    status, result = run.call(
        lambda: run.client.mount_blob(run.crossmount, digest, run.name)
    )
    run.state["mount"] = result
    run.pushed_blobs.add((run.crossmount, digest))
    return Outcome(status)


def push_get_mounted(run: ConformanceRun) -> Outcome | None:
    mount = run.state["mount"]
    if not getattr(mount, "mounted", False):
        return None
    expected_path = f"/v2/{run.crossmount}/blobs/{digest_bytes(run.configs[3])}"
    problems = []
    if httpx.URL(mount.location).path != expected_path:
        problems.append(f"Location {mount.location} is not {expected_path}")
    return Outcome(run.raw("GET", mount.location).status_code, tuple(problems))


def push_mount_fell_back(run: ConformanceRun) -> Outcome | None:
    mount = run.state["mount"]
    if getattr(mount, "mounted", True):
        return None
    prefix = f"/v2/{run.crossmount}/blobs/uploads/"
    problems = []
    if not httpx.URL(mount.location or "").path.startswith(prefix):
        problems.append(f"Location {mount.location} does not start with {prefix}")
    return Outcome(202, tuple(problems))


def push_put_tag(tag: str):
    return lambda run: run.put_manifest(tag, run.manifests[1])


def push_empty_layer(run: ConformanceRun) -> Outcome:
    data = manifest_json(blob_descriptor(mediatypes.OCI_CONFIG, run.configs[1]), [])
    run.state["empty_layer_manifest"] = data
    return run.put_manifest("emptylayer", data)


PUSH_CHECKS = [
    Check(
        PUSH,
        "Setup: push config blob 1",
        "POST+PUT",
        "/v2/<name>/blobs/uploads/",
        SUCCESS,
        pull_setup_blob(1),
    ),
    Check(
        PUSH,
        "Streamed: PATCH with blob in body",
        "PATCH",
        "<location>",
        (202,),
        push_streamed_patch,
    ),
    Check(
        PUSH,
        "Streamed: PUT to session URL with digest",
        "PUT",
        "<location>?digest=<digest>",
        (201,),
        push_streamed_put,
    ),
    Check(
        PUSH,
        "Monolithic: GET nonexistent blob",
        "GET",
        "/v2/<name>/blobs/<digest>",
        (404,),
        pull_get_blob(lambda run: (digest_bytes(run.configs[3]), len(run.configs[3]))),
    ),
    Check(
        PUSH,
        "Monolithic: POST with digest and blob",
        "POST",
        "/v2/<name>/blobs/uploads/?digest=<digest>",
        (201, 202),
        push_post_with_digest,
    ),
    Check(
        PUSH,
        "Monolithic: GET blob from prior request",
        "GET",
        "/v2/<name>/blobs/<digest>",
        (200, 404),
        push_get_after_post,
    ),
    Check(
        PUSH,
        "Monolithic: POST yields session ID",
        "POST",
        "/v2/<name>/blobs/uploads/",
        (202,),
        push_post_session,
    ),
    Check(
        PUSH,
        "Monolithic: PUT upload of a blob",
        "PUT",
        "<location>?digest=<digest>",
        (201,),
        push_put_monolithic,
    ),
    Check(
        PUSH,
        "Monolithic: GET existing blob",
        "GET",
        "/v2/<name>/blobs/<digest>",
        (200,),
        pull_get_blob(lambda run: (digest_bytes(run.configs[3]), len(run.configs[3]))),
    ),
    Check(
        PUSH,
        "Monolithic: PUT upload of a layer blob",
        "POST+PUT",
        "/v2/<name>/blobs/uploads/",
        (201,),
        lambda run: run.push_blob(run.layer),
    ),
    Check(
        PUSH,
        "Monolithic: GET existing layer",
        "GET",
        "/v2/<name>/blobs/<digest>",
        (200,),
        pull_get_blob(lambda run: (digest_bytes(run.layer), len(run.layer))),
    ),
    Check(
        PUSH,
        "Chunked: out-of-order upload",
        "PATCH",
        "<location>",
        (416,),
        push_chunk_out_of_order,
        deviation=CHUNK_DEVIATION,
    ),
    Check(
        PUSH, "Chunked: first chunk", "PATCH", "<location>", (202,), push_chunk_first
    ),
    Check(
        PUSH,
        "Chunked: retry previous chunk",
        "PATCH",
        "<old location>",
        (416,),
        push_chunk_retry,
        deviation=CHUNK_DEVIATION,
    ),
    Check(
        PUSH,
        "Chunked: GET stale upload",
        "GET",
        "<old location>",
        (204,),
        push_chunk_status,
        deviation=Deviation(
            STALE_UPLOAD,
            statuses=(404,),
            problems=("Location header missing", "Range header is None, not '0-7'"),
        ),
    ),
    Check(
        PUSH,
        "Chunked: remaining chunks",
        "PATCH",
        "<location>",
        (202,),
        push_chunk_rest,
    ),
    Check(
        PUSH,
        "Chunked: PUT with digest",
        "PUT",
        "<location>?digest=<digest>",
        (201,),
        push_chunk_close,
    ),
    Check(
        PUSH,
        "Mount without from yields session",
        "POST",
        "/v2/<crossmount>/blobs/uploads/?mount=<digest>",
        (202,),
        push_mount_without_from,
    ),
    Check(
        PUSH,
        "Mount another repository's blob",
        "POST",
        "/v2/<crossmount>/blobs/uploads/?mount=<digest>&from=<name>",
        (201, 202),
        push_mount,
    ),
    Check(
        PUSH,
        "GET mounted digest in target repository",
        "GET",
        "<location>",
        (200,),
        push_get_mounted,
    ),
    Check(
        PUSH,
        "Mount fallback yields upload session",
        "-",
        "/v2/<crossmount>/blobs/uploads/",
        (202,),
        push_mount_fell_back,
    ),
    Check(
        PUSH,
        "GET nonexistent manifest",
        "GET",
        f"/v2/<name>/manifests/{INVALID_MANIFEST_NAME}",
        (404,),
        lambda run: Outcome(
            run.raw(
                "GET", f"/v2/{run.name}/manifests/{INVALID_MANIFEST_NAME}"
            ).status_code
        ),
    ),
    *[
        Check(
            PUSH,
            f"PUT manifest by tag test{i}",
            "PUT",
            f"/v2/<name>/manifests/test{i}",
            (201,),
            push_put_tag(f"test{i}"),
        )
        for i in range(4)
    ],
    # The suite only warns when a manifest without layers is rejected.
    Check(
        PUSH,
        "PUT manifest with no layers",
        "PUT",
        "/v2/<name>/manifests/emptylayer",
        (201,),
        push_empty_layer,
        unsupported=tuple(range(400, 500)),
    ),
    Check(
        PUSH,
        "GET manifest by digest",
        "GET",
        "/v2/<name>/manifests/<digest>",
        (200,),
        get_manifest(digest_of_manifest(1)),
    ),
    Check(
        PUSH,
        "Teardown: delete manifest",
        "DELETE",
        "/v2/<name>/manifests/<digest>",
        (*SUCCESS, 405),
        delete_manifest(1),
    ),
    Check(
        PUSH,
        "Teardown: delete empty-layer manifest",
        "DELETE",
        "/v2/<name>/manifests/<digest>",
        (*SUCCESS, 404, 405),
        lambda run: Outcome(
            run.call(
                lambda: run.client.delete_manifest(
                    run.name, digest_bytes(run.state["empty_layer_manifest"])
                )
            )[0]
        ),
    ),
    *[
        Check(
            PUSH,
            f"Teardown: delete blob {label}",
            "DELETE",
            "/v2/<name>/blobs/<digest>",
            (*SUCCESS, 404, 405),
            delete_blob(data_of),
        )
        for label, data_of in (
            ("config 1", lambda run: run.configs[1]),
            ("config 2", lambda run: run.configs[2]),
            ("config 3", lambda run: run.configs[3]),
            ("chunked", lambda run: run.chunked_blob),
            ("layer", lambda run: run.layer),
        )
    ],
]


# Content Discovery.


def referrer(
    run: ConformanceRun, name: str, subject_index: int, **kind: object
) -> bytes:
    """Build a referrer manifest of manifests[subject_index] with one annotation."""
    subject = blob_descriptor(mediatypes.OCI_MANIFEST, run.manifests[subject_index])
    blob = run.blob_a if name.startswith("A") else run.blob_b
    if "config_type" in kind:
        config = blob_descriptor(str(kind["config_type"]), EMPTY_JSON)
        extra: dict[str, object] = {}
    else:
        config = blob_descriptor(mediatypes.OCI_EMPTY, EMPTY_JSON)
        extra = {"artifactType": kind["artifact_type"]}
    return manifest_json(
        config,
        [blob_descriptor("application/octet-stream", blob)],
        subject=subject,
        annotations={ANNOTATION_KEY: name},
        **extra,
    )


def discovery_setup_referrers(run: ConformanceRun) -> Outcome:
    """Push blobs, then five referrers of manifests[4] and one of manifests[3]."""
    for data in (EMPTY_JSON, run.blob_a, run.blob_b):
        outcome = run.push_blob(data)
        if outcome.status not in SUCCESS:
            return outcome
    subject = digest_bytes(run.manifests[4])
    a_config = referrer(run, "A config", 4, config_type=ARTIFACT_TYPE_A)
    a_layer = referrer(run, "A layer", 4, artifact_type=ARTIFACT_TYPE_A)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "artifactType": ARTIFACT_TYPE_B,
            "manifests": [blob_descriptor(mediatypes.OCI_MANIFEST, a_config)],
            "subject": blob_descriptor(mediatypes.OCI_MANIFEST, run.manifests[4]),
            "annotations": {ANNOTATION_KEY: "index"},
        }
    ).encode()
    steps = [
        (a_config, mediatypes.OCI_MANIFEST, subject),
        (a_layer, mediatypes.OCI_MANIFEST, subject),
        (index, mediatypes.OCI_INDEX, subject),
        # The subject itself is pushed after three of its referrers.
        (run.manifests[4], mediatypes.OCI_MANIFEST, None),
        (
            referrer(run, "B config", 4, config_type=ARTIFACT_TYPE_B),
            mediatypes.OCI_MANIFEST,
            subject,
        ),
        (
            referrer(run, "B layer", 4, artifact_type=ARTIFACT_TYPE_B),
            mediatypes.OCI_MANIFEST,
            subject,
        ),
        # manifests[3] is never pushed.
        (
            referrer(run, "C layer", 3, artifact_type=ARTIFACT_TYPE_A),
            mediatypes.OCI_MANIFEST,
            digest_bytes(run.manifests[3]),
        ),
    ]
    problems: set[str] = set()
    status = 0
    for data, media_type, subject_digest in steps:
        outcome = run.put_manifest(digest_bytes(data), data, media_type, subject_digest)
        status = outcome.status
        problems.update(outcome.problems)
        if status not in SUCCESS:
            break
    run.state["referrer_manifests"] = [data for data, _, _ in steps]
    return Outcome(status, tuple(sorted(problems)))


def discovery_tags(run: ConformanceRun) -> Outcome:
    status, tags = run.call(lambda: run.client.tags(run.name))
    run.state["tags"] = tags if isinstance(tags, list) else []
    return Outcome(status)


def discovery_tags_n(run: ConformanceRun) -> Outcome:
    count = len(run.state["tags"]) // 2
    status, tags = run.tag_list(n=str(count))
    problems = () if len(tags) == count else (f"{len(tags)} tags, not {count}",)
    return Outcome(status, problems)


def discovery_tags_last(run: ConformanceRun) -> Outcome:
    count = len(run.state["tags"]) // 2
    status, tags = run.tag_list(n=str(count))
    if status != 200:
        return Outcome(status)
    last = tags[count - 1]
    status, tags = run.tag_list(n=str(count), last=last)
    problems = []
    if len(tags) > count:
        problems.append(f"{len(tags)} tags, more than n={count}")
    if last in tags:
        problems.append(f"the page contains last={last}")
    return Outcome(status, tuple(problems))


def discovery_referrers(
    digest_of: Callable[[ConformanceRun], str], artifact_type: str | None = None
):
    def run_check(run: ConformanceRun) -> Outcome:
        status, _ = run.referrers_status(digest_of(run), artifact_type)
        return Outcome(status)

    return run_check


def discovery_teardown(run: ConformanceRun) -> Outcome:
    """Delete the referrers, the subject and manifests[2]; return the worst status."""
    statuses = []
    digests = [digest_bytes(data) for data in run.state.get("referrer_manifests", [])]
    for digest in [digest_bytes(run.manifests[2]), *reversed(digests)]:
        status, _ = run.call(lambda: run.client.delete_manifest(run.name, digest))
        statuses.append(status)
    allowed = (*SUCCESS, 404, 405)
    return Outcome(next((s for s in statuses if s not in allowed), statuses[0]))


def discovery_delete_blobs(run: ConformanceRun) -> Outcome:
    statuses = []
    for data in (
        run.configs[2],
        run.configs[4],
        run.layer,
        run.blob_a,
        run.blob_b,
        EMPTY_JSON,
    ):
        status, _ = run.call(
            lambda: run.client.delete_blob(run.name, digest_bytes(data))
        )
        statuses.append(status)
    allowed = (*SUCCESS, 404, 405)
    return Outcome(next((s for s in statuses if s not in allowed), statuses[0]))


REFERRERS_DEVIATION = Deviation(NO_REFERRERS_API, statuses=(404,))

DISCOVERY_CHECKS = [
    Check(
        DISCOVERY,
        "Setup: push config blobs (chunked) and layer",
        "POST+PATCH+PUT",
        "/v2/<name>/blobs/uploads/",
        SUCCESS,
        lambda run: next(
            (
                o
                for o in (
                    run.push_blob(run.configs[2], chunk_size=64),
                    run.push_blob(run.configs[4], chunk_size=64),
                    run.push_blob(run.layer),
                )
                if o.status not in SUCCESS
            ),
            Outcome(201),
        ),
    ),
    *[
        Check(
            DISCOVERY,
            f"Setup: PUT manifest by tag test{i}",
            "PUT",
            f"/v2/<name>/manifests/test{i}",
            SUCCESS,
            (lambda tag: lambda run: run.put_manifest(tag, run.manifests[2]))(
                f"test{i}"
            ),
        )
        for i in range(4)
    ],
    Check(
        DISCOVERY,
        "Setup: push referrers",
        "PUT",
        "/v2/<name>/manifests/<digest>",
        SUCCESS,
        discovery_setup_referrers,
        deviation=Deviation(NO_SUBJECT_HEADER, problems=(MISSING_SUBJECT_HEADER,)),
    ),
    Check(
        DISCOVERY, "List tags", "GET", "/v2/<name>/tags/list", (200,), discovery_tags
    ),
    Check(
        DISCOVERY,
        "Limit tags with n",
        "GET",
        "/v2/<name>/tags/list?n=<count/2>",
        (200,),
        discovery_tags_n,
        deviation=TAGS_DEVIATION,
    ),
    Check(
        DISCOVERY,
        "Start tags after last",
        "GET",
        "/v2/<name>/tags/list?n=<count/2>&last=<tag>",
        (200,),
        discovery_tags_last,
        deviation=TAGS_DEVIATION,
    ),
    Check(
        DISCOVERY,
        "Referrers of nonexistent digest",
        "GET",
        "/v2/<name>/referrers/<digest>",
        (200,),
        discovery_referrers(lambda run: MISSING_DIGEST),
        deviation=REFERRERS_DEVIATION,
    ),
    Check(
        DISCOVERY,
        "Referrers of existing manifest",
        "GET",
        "/v2/<name>/referrers/<digest>",
        (200,),
        discovery_referrers(digest_of_manifest(4)),
        deviation=REFERRERS_DEVIATION,
    ),
    Check(
        DISCOVERY,
        "Referrers with artifactType filter",
        "GET",
        "/v2/<name>/referrers/<digest>?artifactType=<type>",
        (200,),
        discovery_referrers(digest_of_manifest(4), ARTIFACT_TYPE_A),
        deviation=REFERRERS_DEVIATION,
    ),
    Check(
        DISCOVERY,
        "Referrers of never-pushed manifest",
        "GET",
        "/v2/<name>/referrers/<digest>",
        (200,),
        discovery_referrers(digest_of_manifest(3)),
        deviation=REFERRERS_DEVIATION,
    ),
    Check(
        DISCOVERY,
        "Teardown: delete manifests and referrers",
        "DELETE",
        "/v2/<name>/manifests/<digest>",
        (*SUCCESS, 404, 405),
        discovery_teardown,
    ),
    Check(
        DISCOVERY,
        "Teardown: delete blobs",
        "DELETE",
        "/v2/<name>/blobs/<digest>",
        (*SUCCESS, 404, 405),
        discovery_delete_blobs,
    ),
]


# Content Management.


def management_setup(run: ConformanceRun) -> Outcome:
    for data in (run.configs[0], run.layer):
        outcome = run.push_blob(data)
        if outcome.status not in SUCCESS:
            return outcome
    outcome = run.put_manifest("tagtest0", run.manifests[0])
    status, tags = run.call(lambda: run.client.tags(run.name))
    run.state["tag_count"] = len(tags) if isinstance(tags, list) else 0
    return outcome if outcome.status not in SUCCESS else Outcome(status)


def management_delete_tag(run: ConformanceRun) -> Outcome:
    response = run.raw("DELETE", f"/v2/{run.name}/manifests/tagtest0")
    run.state["tag_deleted"] = response.status_code == 202
    problems = []
    if response.status_code == 400:
        errors = response.json().get("errors") or [{}]
        if errors[0].get("code") != "UNSUPPORTED":
            problems.append(f"400 with error code {errors[0].get('code')!r}")
    return Outcome(response.status_code, tuple(problems))


def management_get_deleted_manifest(run: ConformanceRun) -> Outcome:
    digest = digest_bytes(run.manifests[0])
    status, _ = run.call(lambda: run.client.get_manifest(run.name, digest))
    return Outcome(status)


def management_tags_after_delete(run: ConformanceRun) -> Outcome:
    status, tags = run.call(lambda: run.client.tags(run.name))
    expected = run.state["tag_count"] - 1
    problems = []
    if status == 200 and run.state["tag_deleted"] and len(tags) != expected:
        problems.append(f"{len(tags)} tags, not {expected}")
    if status == 404 and expected != 0:
        problems.append(f"404 although {expected} tags should remain")
    return Outcome(status, tuple(problems))


def management_delete_blobs(run: ConformanceRun) -> Outcome:
    statuses = []
    for data in (run.configs[0], run.layer):
        status, _ = run.call(
            lambda: run.client.delete_blob(run.name, digest_bytes(data))
        )
        statuses.append(status)
    run.state["blob_deleted"] = statuses[0] == 202
    return Outcome(next((s for s in statuses if s != 202), 202))


def management_get_deleted_blob(run: ConformanceRun) -> Outcome | None:
    if not run.state["blob_deleted"]:
        return None
    return pull_get_blob(
        lambda run: (digest_bytes(run.configs[0]), len(run.configs[0]))
    )(run)


MANAGEMENT_CHECKS = [
    Check(
        MANAGEMENT,
        "Setup: push image and count tags",
        "POST+PUT+GET",
        "/v2/<name>/tags/list",
        (200,),
        management_setup,
    ),
    # 400 (with code UNSUPPORTED) and 405 mean that deleting by tag is disabled.
    Check(
        MANAGEMENT,
        "Delete manifest by tag",
        "DELETE",
        "/v2/<name>/manifests/tagtest0",
        (202,),
        management_delete_tag,
        unsupported=(400, 405),
        deviation=Deviation(
            "docker-registry 2.8 rejects a tag with 400 DIGEST_INVALID, not UNSUPPORTED",
            statuses=(400,),
            problems=("400 with error code 'DIGEST_INVALID'",),
        ),
    ),
    Check(
        MANAGEMENT,
        "Delete manifest by digest",
        "DELETE",
        "/v2/<name>/manifests/<digest>",
        (202, 404),
        delete_manifest(0),
    ),
    Check(
        MANAGEMENT,
        "GET deleted manifest",
        "GET",
        "/v2/<name>/manifests/<digest>",
        (404,),
        management_get_deleted_manifest,
        unsupported=(200,),
    ),
    Check(
        MANAGEMENT,
        "Tags list reflects deletion",
        "GET",
        "/v2/<name>/tags/list",
        (200, 404),
        management_tags_after_delete,
    ),
    Check(
        MANAGEMENT,
        "Delete config and layer blobs",
        "DELETE",
        "/v2/<name>/blobs/<digest>",
        (202, 404),
        management_delete_blobs,
        unsupported=(405,),
    ),
    Check(
        MANAGEMENT,
        "GET deleted blob",
        "GET",
        "/v2/<name>/blobs/<digest>",
        (404,),
        management_get_deleted_blob,
    ),
]

CHECKS = PULL_CHECKS + PUSH_CHECKS + DISCOVERY_CHECKS + MANAGEMENT_CHECKS


def test_conformance_v1_1_1_suite(lab) -> None:
    with RegistryClient(lab.registry_url, retries=0) as client:
        run = ConformanceRun(client, uuid.uuid4().hex[:12])
        try:
            frame = run.run(CHECKS)
        finally:
            run.cleanup()
        exchanges = client.exchanges_frame()

    with pd.option_context(
        "display.width", 250, "display.max_rows", None, "display.max_colwidth", 60
    ):
        print()
        print(frame.drop(columns=["path"]).to_string())
        print(frame.groupby(["group", "result"]).size().to_string())

    assert set(frame["group"]) == {PULL, PUSH, DISCOVERY, MANAGEMENT}
    assert len(exchanges) > len(frame)
    failed = frame[frame["result"] == "fail"]
    assert failed.empty, "conformance checks failed:\n" + failed.to_string()
