"""HTTP exchanges with a registry: the exchange log and helpers to read responses.

A :class:`RecordingTransport` wraps the httpx transport, so it records each
request that goes on the wire: retries, authentication challenges and
redirects included. Each exchange becomes one frozen :class:`Exchange`. The
record is written when the response headers arrive and replaced with the
final byte count and elapsed time once the body has been read or closed.

Only the headers in :data:`RECORDED_HEADERS` are kept. The Authorization
header is kept as its scheme alone ("Bearer …"), and query parameters that
look like credentials (signatures and tokens of pre-signed redirect URLs)
are replaced with "…".

The helpers at the end read a registry's responses: bounded bodies, OCI
error bodies, Retry-After, Location and Range headers.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import email.utils
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pandas as pd

from ..errors import RegistryError

__all__ = [
    "RECORDED_HEADERS",
    "Exchange",
    "ExchangeLog",
    "RecordingTransport",
    "current_attempt",
    "json_object",
    "location_of",
    "media_type_of",
    "next_offset",
    "oci_errors",
    "read_limited",
    "redact_authorization",
    "redact_url",
    "registry_error",
    "retry_after_seconds",
    "text_excerpt",
    "with_query",
]

RECORDED_HEADERS = (
    "Accept",
    "Authorization",
    "Content-Type",
    "Content-Length",
    "Content-Range",
    "Location",
    "Range",
    "Docker-Content-Digest",
    "Docker-Upload-UUID",
    "Link",
    "WWW-Authenticate",
    "OCI-Subject",
    "OCI-Filters-Applied",
    "Retry-After",
)
_SECRET_QUERY_WORDS = ("signature", "token", "credential", "secret", "password")

# The retry number of the request being sent (0 for the first try). The client
# sets it around each attempt, so the transport can record it.
current_attempt: contextvars.ContextVar[int] = contextvars.ContextVar(
    "current_attempt", default=0
)


@dataclass(frozen=True)
class Exchange:
    """One request and its response, as recorded by a RecordingTransport.

    ``status`` is None when no response arrived, and ``error`` then names the
    transport error. ``elapsed`` is in seconds, from sending the request to
    the end of the response body (or to the error).
    """

    index: int
    attempt: int
    method: str
    url: str
    status: int | None
    request_headers: Mapping[str, str] = field(default_factory=dict)
    response_headers: Mapping[str, str] = field(default_factory=dict)
    bytes_sent: int = 0
    bytes_received: int = 0
    elapsed: float = 0.0
    error: str | None = None

    def __str__(self) -> str:
        status = self.status if self.status is not None else self.error
        retry = f" (retry {self.attempt})" if self.attempt else ""
        return f"{self.method} {self.url} -> {status}{retry}"


class ExchangeLog:
    """A thread-safe list of Exchange records, in the order requests were sent."""

    def __init__(self) -> None:
        self._records: list[Exchange] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def append(self, **values: object) -> int:
        """Add a record and return its index, for a later :meth:`update`."""
        with self._lock:
            index = len(self._records)
            self._records.append(Exchange(index=index, **values))  # type: ignore[arg-type]
            return index

    def update(self, index: int, **changes: object) -> None:
        with self._lock:
            if index < len(self._records) and self._records[index].index == index:
                self._records[index] = dataclasses.replace(
                    self._records[index], **changes
                )

    def records(self) -> list[Exchange]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def frame(self) -> pd.DataFrame:
        """Return one row per exchange, with the recorded headers as dict columns."""
        rows = [dataclasses.asdict(record) for record in self.records()]
        columns = [f.name for f in dataclasses.fields(Exchange)]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.astype({"status": "Int64"})


def redact_authorization(value: str) -> str:
    """Keep the scheme of an Authorization header and hide its credentials."""
    scheme = value.split(" ", 1)[0] if value.strip() else ""
    return f"{scheme} …" if scheme else "…"


def redact_url(url: str) -> str:
    """Replace the values of credential-like query parameters with "…"."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = []
    for pair in parts.query.split("&"):
        key = unquote(pair.split("=", 1)[0]).lower()
        if any(word in key for word in _SECRET_QUERY_WORDS):
            pair = f"{pair.split('=', 1)[0]}=…"
        pairs.append(pair)
    return urlunsplit(parts._replace(query="&".join(pairs)))


def _chosen_headers(headers: httpx.Headers) -> dict[str, str]:
    chosen = {}
    for name in RECORDED_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        chosen[name] = redact_authorization(value) if name == "Authorization" else value
    return chosen


class _CountingStream(httpx.SyncByteStream):
    """A response body stream that reports its byte count when it ends or closes."""

    def __init__(
        self, inner: httpx.SyncByteStream, finish: Callable[[int, str | None], None]
    ) -> None:
        self._inner = inner
        self._finish = finish
        self._count = 0
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._count += len(chunk)
                yield chunk
        except httpx.TransportError as error:
            self._report(f"{type(error).__name__}: {error}")
            raise
        self._report(None)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._report(None)

    def _report(self, error: str | None) -> None:
        if not self._done:
            self._done = True
            self._finish(self._count, error)


class RecordingTransport(httpx.BaseTransport):
    """An httpx transport that records every exchange of the transport it wraps."""

    def __init__(self, inner: httpx.BaseTransport, log: ExchangeLog) -> None:
        self._inner = inner
        self._log = log

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        base = {
            "attempt": current_attempt.get(),
            "method": request.method,
            "url": redact_url(str(request.url)),
            "request_headers": _chosen_headers(request.headers),
            "bytes_sent": int(request.headers.get("Content-Length") or 0),
        }
        try:
            response = self._inner.handle_request(request)
        except httpx.TransportError as error:
            self._log.append(
                **base,
                status=None,
                elapsed=time.perf_counter() - started,
                error=f"{type(error).__name__}: {error}",
            )
            raise
        index = self._log.append(
            **base,
            status=response.status_code,
            response_headers=_chosen_headers(response.headers),
            elapsed=time.perf_counter() - started,
        )

        def finish(count: int, error: str | None) -> None:
            self._log.update(
                index,
                bytes_received=count,
                elapsed=time.perf_counter() - started,
                error=error,
            )

        # A new Response, because one built from bytes (as fakes do) is already
        # read and would bypass the counting stream.
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CountingStream(response.stream, finish),  # type: ignore[arg-type]
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        self._inner.close()


# Reading registry responses. The helpers below expect a streamed response and
# leave closing it to the caller.


def read_limited(
    response: httpx.Response, limit: int, *, truncate: bool = False
) -> bytes:
    """Read a response body of at most limit bytes, stopping as soon as it is larger.

    With truncate the first limit bytes are returned; without it RegistryError
    names the size and the limit. A Content-Length above the limit raises
    before any byte is read.
    """
    declared = response.headers.get("Content-Length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        raise _too_large(response, f"is {declared} bytes (Content-Length)", limit)
    buffer = bytearray()
    for chunk in response.iter_bytes():
        buffer += chunk
        if len(buffer) > limit:
            if truncate:
                return bytes(buffer[:limit])
            raise _too_large(
                response, f"exceeds {limit} bytes (read {len(buffer)} so far)", limit
            )
    return bytes(buffer)


def _too_large(response: httpx.Response, size: str, limit: int) -> RegistryError:
    request = response.request
    return RegistryError(
        f"{request.method} {request.url}: response body {size}, more than the limit "
        f"of {limit} bytes; raise max_json_bytes if the document is expected",
        url=str(request.url),
        status=response.status_code,
    )


def text_excerpt(body: bytes, limit: int = 300) -> str:
    """Return body as one line of text, truncated to limit characters."""
    text = " ".join(body.decode("utf-8", errors="replace").split())
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(body)} bytes, truncated)"


def oci_errors(body: bytes) -> list[dict[str, Any]]:
    """Return the error objects of an OCI error body, or [] for any other body."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return []
    return [error for error in errors if isinstance(error, dict)]


def registry_error(
    response: httpx.Response, body: bytes, expected: tuple[int, ...]
) -> RegistryError:
    """Build the RegistryError for an unexpected status, with the body's OCI errors."""
    errors = oci_errors(body)
    if errors:
        detail = "; ".join(_describe_error(error) for error in errors)
    elif body:
        detail = f"body is not OCI error JSON: {text_excerpt(body)}"
    else:
        detail = "(empty body)"
    request = response.request
    hint = _status_hint(response.status_code)
    return RegistryError(
        f"{request.method} {request.url} returned {response.status_code} "
        f"(expected {' or '.join(map(str, expected))}): {detail}"
        + (f"; {hint}" if hint else ""),
        url=str(request.url),
        status=response.status_code,
        errors=errors,
    )


_STATUS_HINTS = {
    401: "the registry requires authentication: pass credentials, for example "
    "auth=RegistryAuth(registry, username, password)",
    403: "the credentials lack access: check them and the repository name",
    404: "check the repository name and the tag or digest (tags() lists the tags)",
    429: "the registry limits the request rate: wait, or raise retries= and max_delay=",
}


def _status_hint(status: int) -> str:
    """Return what to do next after an unexpected status, or "" when nothing general applies."""
    if status >= 500:
        return "the registry failed: try again later, or raise retries="
    return _STATUS_HINTS.get(status, "")


def _describe_error(error: dict[str, Any]) -> str:
    text = f"{error.get('code')}: {error.get('message')}"
    if error.get("detail"):
        detail = json.dumps(error["detail"], separators=(",", ":"))
        text += f" (detail {detail[:200]})"
    return text


def json_object(data: bytes, response: httpx.Response) -> dict[str, Any]:
    """Parse a response body that must be a JSON object; raise RegistryError if not."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        request = response.request
        raise RegistryError(
            f"{request.method} {request.url} returned a body that is not a JSON "
            f"object: {text_excerpt(data)}; check that the URL is a registry's "
            "/v2/ API and not a web page or a proxy's login page",
            url=str(request.url),
            status=response.status_code,
        )
    return document


def media_type_of(response: httpx.Response) -> str:
    """Return the Content-Type without parameters, in lower case ("" when absent)."""
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Return the Retry-After delay in seconds (delta-seconds or HTTP-date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    now = datetime.datetime.now(datetime.UTC)
    return max(0.0, (moment - now).total_seconds())


def location_of(response: httpx.Response) -> str:
    """Return the Location header resolved against the request URL; raise if absent."""
    location = response.headers.get("Location")
    request = response.request
    if not location:
        raise RegistryError(
            f"{request.method} {request.url} returned {response.status_code} without "
            "a Location header, so the upload cannot continue",
            url=str(request.url),
            status=response.status_code,
        )
    return urljoin(str(request.url), location)


def next_offset(response: httpx.Response, sent_until: int) -> int:
    """Return the next upload offset from the Range header ("0-<last byte>").

    Without a Range header the registry is taken to have every byte sent.
    RegistryError is raised when it claims more bytes than were sent.
    """
    value = response.headers.get("Range")
    if value is None:
        return sent_until
    match = re.fullmatch(r"\s*(?:bytes=)?0-(\d+)\s*", value)
    request = response.request
    if match is None or int(match.group(1)) + 1 > sent_until:
        raise RegistryError(
            f"{request.method} {request.url} returned Range {value!r}, which does "
            f"not fit the {sent_until} bytes sent so far",
            url=str(request.url),
            status=response.status_code,
        )
    return int(match.group(1)) + 1


def with_query(url: str, **params: str) -> str:
    """Append query parameters, keeping an existing (opaque) query byte for byte."""
    parts = urlsplit(url)
    added = urlencode(params)
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))
