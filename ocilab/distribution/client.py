"""A transparent client of the OCI distribution spec v1.1 (the /v2/ API).

Every request goes through a :class:`~.exchange.RecordingTransport`, so
``client.exchanges`` lists each exchange with its status and chosen headers,
which is the point of a lesson about the protocol.

Retries: 429, 500, 502, 503, 504 and transport errors are retried with
exponential backoff on idempotent requests (GET, HEAD, DELETE, and PUT of a
manifest). A request that is not idempotent (POST that starts an upload,
PATCH of a chunk, the PUT that closes an upload) is retried only after a 429,
which means the registry did not process it, or when the connection could not
be opened, so nothing was sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Self
from urllib.parse import quote, urlencode, urljoin

import httpx
import pandas as pd

from .._version import __version__
from ..errors import DigestMismatchError, ImageError, RegistryError
from ..image import mediatypes
from ..image.blobio import CHUNK_SIZE, MAX_JSON_BYTES, temporary_file
from ..image.digest import digest_bytes, digest_stream, parse_digest
from ..image.models import Descriptor, ImageIndex, ImageManifest, parse_document
from . import exchange
from .exchange import (
    Exchange,
    ExchangeLog,
    RecordingTransport,
    current_attempt,
    with_query,
)

__all__ = [
    "DEFAULT_ACCEPT",
    "Manifest",
    "MountResult",
    "PushedBlob",
    "PushedManifest",
    "Referrers",
    "RegistryClient",
]

log = logging.getLogger(__name__)

DEFAULT_ACCEPT = (
    mediatypes.OCI_MANIFEST,
    mediatypes.OCI_INDEX,
    mediatypes.DOCKER_MANIFEST,
    mediatypes.DOCKER_MANIFEST_LIST,
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Transport errors raised before any byte of the request was sent.
_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_sleep = time.sleep


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as the registry served it, with its exact bytes in ``data``."""

    repository: str
    reference: str
    media_type: str
    digest: str
    data: bytes
    content_type: str
    document: ImageManifest | ImageIndex | None

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> Descriptor:
        return Descriptor(
            media_type=self.media_type, digest=self.digest, size=self.size
        )


@dataclass(frozen=True)
class PushedManifest:
    """The result of a manifest PUT: its digest and the OCI-Subject header, if sent."""

    digest: str
    subject: str | None
    location: str | None


@dataclass(frozen=True)
class PushedBlob:
    """The result of push_blob. ``skipped`` is True when HEAD found the blob already."""

    digest: str
    size: int
    skipped: bool
    chunks: int = 0
    location: str | None = None


@dataclass(frozen=True)
class MountResult:
    """The result of a cross-repository mount.

    When ``mounted`` is False the registry opened an upload session at
    ``location`` in place of the mount, and the blob still has to be pushed.
    """

    mounted: bool
    location: str | None


@dataclass(frozen=True)
class Referrers:
    """The referrers of a manifest and how they were found.

    ``source`` is "referrers-api" when GET /v2/<name>/referrers/<digest>
    returned an image index, else "tag-schema": the index under the tag
    ``<alg>-<hex>`` (``tag``). With "tag-schema", an empty list means that
    the tag does not exist.
    """

    descriptors: list[Descriptor]
    source: Literal["referrers-api", "tag-schema"]
    tag: str | None = None
    filtered_by_registry: bool = False


class RegistryClient:
    """A client of one registry's /v2/ API that records every exchange.

    ``auth`` is any httpx.Auth (for example a Basic or Bearer challenge
    handler). ``timeout`` is in seconds per network operation, ``backoff``
    the first retry delay in seconds (doubled on each retry), ``max_delay``
    the cap of any delay (Retry-After included), and ``max_json_bytes`` the
    limit of a JSON response body in bytes.
    ``transport`` replaces the HTTP transport, which tests use to inject
    faults. Environment proxies are ignored so that every request passes the
    recording transport: pass ``proxy`` to use one.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.2,
        max_delay: float = 30.0,
        max_json_bytes: int = MAX_JSON_BYTES,
        verify: bool | str = True,
        user_agent: str = f"ocilab/{__version__}",
        proxy: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if retries < 0 or backoff < 0 or max_json_bytes <= 0:
            raise ValueError(
                "invalid client settings: retries and backoff must be >= 0 "
                "and max_json_bytes > 0"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_delay = max_delay
        self.max_json_bytes = max_json_bytes
        self._log = ExchangeLog()
        inner = transport or httpx.HTTPTransport(verify=verify, proxy=proxy)
        self._http = httpx.Client(
            auth=auth,
            timeout=timeout,
            headers={"User-Agent": user_agent},
            transport=RecordingTransport(inner, self._log),
            trust_env=False,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # The exchange log.

    @property
    def exchanges(self) -> list[Exchange]:
        """Every exchange so far, oldest first."""
        return self._log.records()

    def exchanges_frame(self) -> pd.DataFrame:
        return self._log.frame()

    def clear_exchanges(self) -> None:
        self._log.clear()

    # Sending, retrying and reading.

    def _send(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        headers: Mapping[str, str] | None = None,
        content: bytes | Callable[[], Iterator[bytes]] | None = None,
    ) -> httpx.Response:
        """Send a request and return the streamed response, after any retries."""
        for attempt in range(self.retries + 1):
            body = content() if callable(content) else content
            request = self._http.build_request(
                method, url, headers=headers, content=body
            )
            token = current_attempt.set(attempt)
            try:
                response = self._http.send(request, stream=True, follow_redirects=True)
            except httpx.TransportError as error:
                retry = idempotent or isinstance(error, _NOTHING_SENT)
                if not retry or attempt == self.retries:
                    raise self._transport_error(method, url, error) from error
                self._wait(method, url, attempt, f"{type(error).__name__}: {error}")
                continue
            finally:
                current_attempt.reset(token)
            status = response.status_code
            retry = idempotent or status == 429
            if status not in RETRY_STATUSES or not retry or attempt == self.retries:
                return response
            response.close()
            self._wait(method, url, attempt, f"status {status}", response)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(
        self,
        method: str,
        url: str,
        attempt: int,
        reason: str,
        response: httpx.Response | None = None,
    ) -> None:
        delay = min(self.backoff * 2**attempt, self.max_delay)
        retry_after = exchange.retry_after_seconds(response) if response else None
        if retry_after is not None:
            delay = min(retry_after, self.max_delay)
        log.warning(
            "retrying %s %s in %.2f s (retry %d of %d) after %s",
            method,
            url,
            delay,
            attempt + 1,
            self.retries,
            reason,
        )
        _sleep(delay)

    def _transport_error(
        self, method: str, url: str, error: httpx.TransportError
    ) -> RegistryError:
        if isinstance(error, httpx.TimeoutException):
            return RegistryError(
                f"{method} {url} timed out after {self.timeout} s "
                f"({type(error).__name__}); raise timeout= or check the registry",
                url=url,
                status=0,
            )
        return RegistryError(
            f"{method} {url} failed: {type(error).__name__}: {error}; check that "
            "the registry is running and reachable",
            url=url,
            status=0,
        )

    def _read(self, response: httpx.Response, limit: int | None = None) -> bytes:
        """Read a streamed body of at most limit bytes (max_json_bytes by default)."""
        # NOTE: a connection dropped while a JSON body is read is not retried.
        limit = self.max_json_bytes if limit is None else limit
        request = response.request
        try:
            return exchange.read_limited(response, limit)
        except httpx.TransportError as error:
            raise self._transport_error(
                request.method, str(request.url), error
            ) from error
        finally:
            response.close()

    def _read_json(
        self, response: httpx.Response, expected: tuple[int, ...]
    ) -> tuple[bytes, dict[str, Any]]:
        self._check(response, expected)
        data = self._read(response)
        return data, exchange.json_object(data, response)

    def _check(self, response: httpx.Response, expected: tuple[int, ...]) -> None:
        """Raise RegistryError, with the OCI error codes of the body, unless expected."""
        if response.status_code in expected:
            return
        body = b"" if response.request.method == "HEAD" else self._read_error(response)
        response.close()
        raise exchange.registry_error(response, body, expected)

    def _read_error(self, response: httpx.Response) -> bytes:
        try:
            return exchange.read_limited(
                response, min(self.max_json_bytes, 1 << 16), truncate=True
            )
        except httpx.TransportError:
            return b""

    def _url(self, repository: str, kind: str, reference: str = "") -> str:
        _check_repository(repository)
        return f"{self.base_url}/v2/{repository}/{kind}/{reference}"

    # Registry, catalog and tags.

    def ping(self) -> str | None:
        """GET /v2/ and return its Docker-Distribution-API-Version header, if any."""
        response = self._send("GET", f"{self.base_url}/v2/", idempotent=True)
        self._check(response, (200,))
        self._read(response)
        return response.headers.get("Docker-Distribution-API-Version")

    def catalog(self, n: int | None = None) -> list[str]:
        """List every repository, following Link headers in pages of n."""
        return self._paginate(f"{self.base_url}/v2/_catalog", "repositories", n)

    def tags(self, repository: str, n: int | None = None) -> list[str]:
        """List every tag of a repository, following Link headers in pages of n."""
        return self._paginate(self._url(repository, "tags", "list"), "tags", n)

    def _paginate(self, url: str, key: str, n: int | None) -> list[str]:
        # links.paginate drives a bare httpx.Client, so this loop keeps the
        # retries and the JSON size limit and only borrows the Link parser.
        from .links import next_link

        if n is not None:
            url = with_query(url, n=str(n))
        items: list[str] = []
        seen: set[str] = set()
        next_url: str | None = url
        while next_url is not None:
            if next_url in seen:
                raise RegistryError(
                    f"pagination loop: the Link header of {next_url} points back "
                    "to a page already read",
                    url=next_url,
                    status=200,
                )
            seen.add(next_url)
            response = self._send("GET", next_url, idempotent=True)
            _, body = self._read_json(response, (200,))
            # A repository without tags may return "tags": null.
            items.extend(str(item) for item in body.get(key) or [])
            next_url = next_link(response)
        return items

    # Manifests.

    def get_manifest(
        self,
        repository: str,
        reference: str,
        accept: list[str] | tuple[str, ...] = DEFAULT_ACCEPT,
    ) -> Manifest:
        """GET a manifest by tag or digest and verify its digest.

        The media type is the body's mediaType when present, else the
        Content-Type. The digest is checked against the Docker-Content-Digest
        header and, when reference is a digest, against the reference
        (DigestMismatchError on either).
        """
        _check_reference(reference)
        response = self._send(
            "GET",
            self._url(repository, "manifests", reference),
            idempotent=True,
            headers={"Accept": ", ".join(accept)},
        )
        data, body = self._read_json(response, (200,))
        content_type = exchange.media_type_of(response)
        media_type = body.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            media_type = content_type
        digest = _verify_manifest_digest(data, response, reference)
        try:
            document = parse_document(body, media_type)
        except ImageError:
            document = None
        return Manifest(
            repository, reference, media_type, digest, data, content_type, document
        )

    def head_manifest(
        self,
        repository: str,
        reference: str,
        accept: list[str] | tuple[str, ...] = DEFAULT_ACCEPT,
    ) -> Descriptor | None:
        """HEAD a manifest; return its descriptor from the headers, or None when absent."""
        _check_reference(reference)
        response = self._send(
            "HEAD",
            self._url(repository, "manifests", reference),
            idempotent=True,
            headers={"Accept": ", ".join(accept)},
        )
        if response.status_code == 404:
            response.close()
            return None
        self._check(response, (200,))
        response.close()
        digest = response.headers.get("Docker-Content-Digest")
        if digest is None and ":" in reference:
            digest = reference
        return Descriptor(
            media_type=exchange.media_type_of(response),
            digest=digest or "",
            size=int(response.headers.get("Content-Length") or -1),
        )

    def put_manifest(
        self, repository: str, reference: str, data: bytes, media_type: str
    ) -> PushedManifest:
        """PUT a manifest under a tag or digest; return the digest the registry reports.

        Without a Docker-Content-Digest header the digest is computed locally.
        """
        _check_reference(reference)
        response = self._send(
            "PUT",
            self._url(repository, "manifests", reference),
            idempotent=True,
            headers={"Content-Type": media_type},
            content=data,
        )
        self._check(response, (201,))
        self._read(response)
        headers = response.headers
        digest = headers.get("Docker-Content-Digest") or digest_bytes(data)
        return PushedManifest(
            digest, headers.get("OCI-Subject"), headers.get("Location")
        )

    def delete_manifest(self, repository: str, digest: str) -> None:
        """DELETE a manifest by digest (202). Tags are removed with it."""
        parse_digest(digest)
        response = self._send(
            "DELETE", self._url(repository, "manifests", digest), idempotent=True
        )
        self._check(response, (202,))
        self._read(response)

    # Referrers.

    def referrers(
        self, repository: str, digest: str, artifact_type: str | None = None
    ) -> Referrers:
        """List the manifests whose subject is digest, by the API or the tag schema.

        The referrers API counts as supported only when it returns 200 with an
        OCI image index (Content-Type and schemaVersion 2). Anything else
        falls back to the index under the tag ``<alg>-<hex>``. The
        artifact_type filter is applied here whenever the registry did not.
        """
        algorithm, encoded = parse_digest(digest)
        url = self._url(repository, "referrers", digest)
        if artifact_type:
            url = with_query(url, artifactType=artifact_type)
        response = self._send(
            "GET", url, idempotent=True, headers={"Accept": mediatypes.OCI_INDEX}
        )
        found = self._referrers_from_api(response)
        if found is not None:
            filtered = "artifactType" in response.headers.get("OCI-Filters-Applied", "")
            descriptors = found if filtered else _only(found, artifact_type)
            return Referrers(descriptors, "referrers-api", None, filtered)
        tag = _referrers_tag(algorithm, encoded)
        try:
            index = self.get_manifest(repository, tag, accept=[mediatypes.OCI_INDEX])
        except RegistryError as error:
            if error.status != 404:
                raise
            return Referrers([], "tag-schema", tag)
        if not isinstance(index.document, ImageIndex):
            raise ImageError(
                f"tag {tag} of {repository} should contain a referrers image "
                f"index, but contains {index.media_type}"
            )
        return Referrers(
            _only(list(index.document.manifests), artifact_type), "tag-schema", tag
        )

    def _referrers_from_api(self, response: httpx.Response) -> list[Descriptor] | None:
        is_index = exchange.media_type_of(response) == mediatypes.OCI_INDEX
        if response.status_code != 200 or not is_index:
            self._read_error(response)
            response.close()
            return None
        data = self._read(response)
        try:
            body = exchange.json_object(data, response)
        except RegistryError:
            return None
        if body.get("schemaVersion") != 2:
            return None
        return list(ImageIndex.from_json(body).manifests)

    # Blobs.

    def head_blob(self, repository: str, digest: str) -> Descriptor | None:
        """HEAD a blob; return its descriptor from the headers, or None when absent."""
        parse_digest(digest)
        response = self._send(
            "HEAD", self._url(repository, "blobs", digest), idempotent=True
        )
        response.close()
        if response.status_code == 404:
            return None
        self._check(response, (200,))
        return Descriptor(
            media_type=exchange.media_type_of(response),
            digest=response.headers.get("Docker-Content-Digest", digest),
            size=int(response.headers.get("Content-Length") or -1),
        )

    def get_blob(
        self, repository: str, descriptor: Descriptor | Mapping[str, Any]
    ) -> Iterator[bytes]:
        """Stream a blob, verifying its size and digest as the bytes arrive.

        A connection dropped mid-body is resumed with a Range request, up to
        ``retries`` times. DigestMismatchError is raised as soon as too many
        bytes arrive, and after the last chunk when the size or digest
        differs, so only a caller who reads to the end can trust the bytes.
        """
        expected_blob = _as_descriptor(descriptor)
        parse_digest(expected_blob.digest)
        if expected_blob.size < 0:
            raise ImageError(
                f"descriptor of {expected_blob.digest} has no size: a size is required"
            )
        return self._blob_chunks(
            self._url(repository, "blobs", expected_blob.digest), expected_blob
        )

    def _blob_chunks(self, url: str, expected_blob: Descriptor) -> Iterator[bytes]:
        hasher = hashlib.new(expected_blob.digest.split(":", 1)[0])
        received = 0
        for resume in range(self.retries + 1):
            # The digest covers the blob itself, so ask for it without compression.
            headers = {"Accept-Encoding": "identity"}
            if received:
                headers["Range"] = f"bytes={received}-"
            response = self._send("GET", url, idempotent=True, headers=headers)
            try:
                self._check(response, (206,) if received else (200,))
                _check_resume(response, received, expected_blob.size)
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    _check_not_too_long(expected_blob, received)
                    hasher.update(chunk)
                    yield chunk
                break
            except httpx.TransportError as error:
                if resume == self.retries:
                    raise RegistryError(
                        f"GET {url} failed after {received} of {expected_blob.size} bytes "
                        f"and {resume} resumes: {type(error).__name__}: {error}; the "
                        "connection keeps breaking: check the network path to the "
                        "registry, or raise retries=",
                        url=url,
                        status=0,
                    ) from error
                self._wait("GET", url, resume, f"{type(error).__name__} mid-body")
            finally:
                response.close()
        _check_complete(expected_blob, received, f"{hasher.name}:{hasher.hexdigest()}")

    def download_blob(
        self,
        repository: str,
        descriptor: Descriptor | Mapping[str, Any],
        path: str | os.PathLike[str],
    ) -> Path:
        """Write a verified blob to path through a temporary file and a rename.

        On any error the temporary file is removed, so path never contains a
        partial or unverified blob.
        """
        target = Path(path)
        file_descriptor, temporary = temporary_file(target.parent)
        try:
            with os.fdopen(file_descriptor, "wb") as handle:
                for chunk in self.get_blob(repository, descriptor):
                    handle.write(chunk)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def push_blob(
        self,
        repository: str,
        source: bytes | str | os.PathLike[str] | IO[bytes],
        digest: str | None = None,
        *,
        chunk_size: int | None = None,
    ) -> PushedBlob:
        """Upload a blob unless HEAD finds it: monolithic, or chunked with PATCH.

        ``source`` is bytes, a file path or a seekable binary file. Without a
        digest, the content is hashed first. With chunk_size each PATCH sends
        at most that many bytes with a Content-Range, and the next one starts
        where the registry's Range header says it stopped.
        """
        if chunk_size is not None and chunk_size <= 0:
            raise ValueError(
                f"invalid chunk_size {chunk_size}: use a positive byte count"
            )
        with _open_source(source, digest) as blob:
            if self.head_blob(repository, blob.digest) is not None:
                log.info("blob %s already in %s, skipped", blob.digest, repository)
                return PushedBlob(blob.digest, blob.size, skipped=True)
            location = self._start_upload(repository)
            chunks = 0
            if chunk_size is not None:
                location, chunks = self._patch_chunks(location, blob, chunk_size)
                closing = self._send(
                    "PUT",
                    with_query(location, digest=blob.digest),
                    idempotent=False,
                    headers={"Content-Type": "application/octet-stream"},
                    content=b"",
                )
            else:
                closing = self._send(
                    "PUT",
                    with_query(location, digest=blob.digest),
                    idempotent=False,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(blob.size),
                    },
                    content=blob.iter_all,
                )
            self._check(closing, (201,))
            self._read(closing)
        return PushedBlob(
            blob.digest, blob.size, False, chunks, closing.headers.get("Location")
        )

    def _start_upload(self, repository: str) -> str:
        response = self._send(
            "POST", self._url(repository, "blobs", "uploads/"), idempotent=False
        )
        self._check(response, (202,))
        self._read(response)
        return exchange.location_of(response)

    def _patch_chunks(
        self, location: str, blob: _BlobSource, chunk_size: int
    ) -> tuple[str, int]:
        offset = 0
        chunks = 0
        while offset < blob.size:
            data = blob.read_range(offset, chunk_size)
            end = offset + len(data) - 1
            response = self._send(
                "PATCH",
                location,
                idempotent=False,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{end}",
                },
                content=data,
            )
            self._check(response, (202,))
            self._read(response)
            # Each response carries the newest upload URL and the bytes received.
            location = exchange.location_of(response)
            offset = exchange.next_offset(response, end + 1)
            chunks += 1
        return location, chunks

    def mount_blob(
        self, repository: str, digest: str, from_repository: str
    ) -> MountResult:
        """Mount a blob from another repository of this registry (POST ?mount=&from=).

        201 means mounted. 202 means the registry opened an upload in place of
        the mount (it may not have the blob, or the client may lack access).
        """
        parse_digest(digest)
        _check_repository(from_repository)
        query = urlencode({"mount": digest, "from": from_repository})
        url = f"{self._url(repository, 'blobs', 'uploads/')}?{query}"
        response = self._send("POST", url, idempotent=False)
        self._check(response, (201, 202))
        self._read(response)
        location = response.headers.get("Location")
        if location is not None:
            location = urljoin(str(response.request.url), location)
        if response.status_code == 202:
            log.info(
                "mount of %s from %s fell back to an upload", digest, from_repository
            )
        return MountResult(response.status_code == 201, location)

    def delete_blob(self, repository: str, digest: str) -> None:
        """DELETE a blob (202)."""
        parse_digest(digest)
        response = self._send(
            "DELETE", self._url(repository, "blobs", quote(digest)), idempotent=True
        )
        self._check(response, (202,))
        self._read(response)


def _only(descriptors: list[Descriptor], artifact_type: str | None) -> list[Descriptor]:
    if not artifact_type:
        return descriptors
    return [d for d in descriptors if d.artifact_type == artifact_type]


_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# Repository name grammar of the distribution spec v1.1.
_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)


def _check_repository(repository: str) -> None:
    if not _REPOSITORY.fullmatch(repository):
        raise ImageError(
            f"invalid repository name {repository!r}: use lowercase path components "
            "of letters and digits separated by '.', '_', '__' or '-', for example "
            "library/alpine"
        )


def _check_reference(reference: str) -> None:
    if ":" in reference:
        parse_digest(reference)
    elif not _TAG.fullmatch(reference):
        raise ImageError(
            f"invalid reference {reference!r}: use a tag of up to 128 letters, digits, "
            "'_', '.' or '-' (not starting with '.' or '-'), or a digest"
        )


def _verify_manifest_digest(
    data: bytes, response: httpx.Response, reference: str
) -> str:
    """Check data against Docker-Content-Digest and a digest reference; return the digest."""
    claims = []
    header = response.headers.get("Docker-Content-Digest")
    if header:
        claims.append((header, "the Docker-Content-Digest header"))
    if ":" in reference:
        claims.append((reference, "the requested digest"))
    for claimed, source in claims:
        actual = digest_bytes(data, parse_digest(claimed)[0])
        if actual != claimed:
            raise DigestMismatchError(
                f"manifest from {response.request.url} hashes to {actual}, but "
                f"{source} is {claimed}",
                expected=claimed,
                actual=actual,
            )
    return claims[0][0] if claims else digest_bytes(data)


def _referrers_tag(algorithm: str, encoded: str) -> str:
    # The fallback tag schema truncates the algorithm to 32 and the hex to 64 characters.
    return f"{algorithm[:32]}-{encoded[:64]}"


def _as_descriptor(descriptor: Descriptor | Mapping[str, Any]) -> Descriptor:
    if isinstance(descriptor, Descriptor):
        return descriptor
    return Descriptor.from_json(descriptor)


def _check_resume(response: httpx.Response, received: int, size: int) -> None:
    """Raise unless a 206 response continues the blob at byte offset received."""
    if not received:
        return
    content_range = response.headers.get("Content-Range", "")
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", content_range.strip())
    if match is None or int(match.group(1)) != received:
        raise RegistryError(
            f"cannot resume GET {response.request.url} at byte {received} of {size}: "
            f"the registry returned Content-Range {content_range!r}",
            url=str(response.request.url),
            status=response.status_code,
        )


def _check_not_too_long(expected_blob: Descriptor, received: int) -> None:
    if received > expected_blob.size:
        raise DigestMismatchError(
            f"size mismatch for {expected_blob.digest}: the descriptor gives {expected_blob.size} bytes, "
            f"the registry sent more (stopped reading at {received})",
            expected=str(expected_blob.size),
            actual=str(received),
        )


def _check_complete(expected_blob: Descriptor, received: int, actual: str) -> None:
    if received != expected_blob.size:
        raise DigestMismatchError(
            f"size mismatch for {expected_blob.digest}: the descriptor gives {expected_blob.size} bytes, "
            f"the registry sent {received}",
            expected=str(expected_blob.size),
            actual=str(received),
        )
    if actual != expected_blob.digest:
        raise DigestMismatchError(
            f"digest mismatch: the descriptor gives {expected_blob.digest}, the blob the "
            f"registry sent hashes to {actual}",
            expected=expected_blob.digest,
            actual=actual,
        )


class _BlobSource:
    """Blob content in a seekable binary file, with its digest and size."""

    def __init__(self, handle: IO[bytes], digest: str | None) -> None:
        self._handle = handle
        self._start = handle.tell()
        if digest is None:
            digest, size = digest_stream(handle)
        else:
            parse_digest(digest)
            size = handle.seek(0, io.SEEK_END) - self._start
        self.digest = digest
        self.size = size

    def read_range(self, offset: int, length: int) -> bytes:
        self._handle.seek(self._start + offset)
        return self._handle.read(length)

    def iter_all(self) -> Iterator[bytes]:
        self._handle.seek(self._start)
        while chunk := self._handle.read(CHUNK_SIZE):
            yield chunk


@contextlib.contextmanager
def _open_source(
    source: bytes | str | os.PathLike[str] | IO[bytes], digest: str | None
) -> Iterator[_BlobSource]:
    """Open bytes, a path (str or PathLike) or a binary file as a _BlobSource."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        handle: IO[bytes] = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        handle = open(source, "rb")  # noqa: SIM115 - closed below
    else:
        handle = source
    try:
        yield _BlobSource(handle, digest)
    finally:
        if handle is not source:
            handle.close()
