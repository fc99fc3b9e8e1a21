"""FaultInjectingRegistry: an HTTP server on loopback that serves one image and injects faults.

docker-registry cannot be made to drop a connection in the middle of a blob,
send fewer bytes than its Content-Length, serve the wrong bytes for a digest
or stall, so these faults come from this small server. It speaks just enough
of the distribution spec for RegistryClient and copy_image to pull one image:
``GET /v2/``, ``GET``/``HEAD`` of manifests by tag or digest, and ``GET`` of
blobs with ``Range`` support.

Each scenario sets one :class:`Fault`. The server counts every request it
receives (``hits``) and every fault it injects (``injected``), so a test can
check that a client's retries are bounded.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ocilab.image import LayerBuilder, build_image, mediatypes
from ocilab.image.build import BuiltImage

REPOSITORY = "faults/image"
TAG = "v1"
USERNAME = "carol"
PASSWORD = "fault-pw"
TOKEN = "token-for-fault-registry"
# A fault with times=None is injected on every matching request, up to this
# cap. After it the server replies normally, so a client that retries without
# a bound ends up succeeding and the test that expects an error fails.
FOREVER_CAP = 50

# Fault kinds, one per scenario.
AUTH_BASIC = "auth-basic"
AUTH_BEARER = "auth-bearer"
AUTH_SEVERAL = "auth-several-challenges"
AUTH_MALFORMED = "auth-malformed-header"
NOT_FOUND = "not-found"
RATE_LIMITED = "rate-limited"
SERVER_ERROR = "server-error"
DROP = "drop-mid-body"
TRUNCATE = "truncated-body"
WRONG_DIGEST = "wrong-digest"
HTML = "html-body"
HUGE_JSON = "huge-json"
SLOW = "slow"

AUTH_KINDS = (AUTH_BASIC, AUTH_BEARER, AUTH_SEVERAL, AUTH_MALFORMED)


def build_fault_image(layer_bytes: int = 300_000) -> BuiltImage:
    """Build an image whose layer contains random bytes, so gzip keeps it about layer_bytes long."""
    layer = LayerBuilder()
    layer.add_file("noise.bin", random.Random(7).randbytes(layer_bytes))
    return build_image([layer.build()], container_config={"Cmd": ["true"]})


@dataclass
class Fault:
    """One fault: its kind, the requests it applies to, and how often.

    ``target`` is "manifest", "blob", "ping" or "any". ``times`` is the number
    of matching requests that get the fault (None: every one, up to
    FOREVER_CAP). ``options`` contains kind-specific settings, such as
    ``retry_after`` for RATE_LIMITED or ``delay`` for SLOW.
    """

    kind: str
    target: str = "any"
    times: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """One request as the server received it."""

    method: str
    path: str
    authorization: str | None
    range: str | None
    injected: str | None


class FaultInjectingRegistry:
    """A registry on ``host`` and a free port that serves one image and injects one fault.

    Use it as a context manager. ``image`` is the image it serves under
    REPOSITORY:TAG, ``url`` its base URL and ``reference`` the image reference
    that copy_image takes. Set ``fault`` before the client runs.
    """

    def __init__(
        self, host: str = "127.0.0.1", image: BuiltImage | None = None
    ) -> None:
        self.host = host
        self.image = image or build_fault_image()
        self.blobs = {blob.digest: blob.data for blob in self.image.blobs}
        self.fault: Fault | None = None
        # Blob requests that pass authentication get a 307 to this base URL,
        # as from registries that keep blobs in object storage.
        self.redirect_to: str | None = None
        self.hits: list[Hit] = []
        self.injected = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"registry": self})
        self._server = ThreadingHTTPServer((host, 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def reference(self) -> str:
        return f"{self.host}:{self.port}/{REPOSITORY}:{TAG}"

    def __enter__(self) -> FaultInjectingRegistry:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def hits_on(self, target: str) -> list[Hit]:
        """Return the hits on manifests, blobs, the ping or the token endpoint."""
        return [hit for hit in self.hits if _target_of(hit.path) == target]

    def take_fault(self, path: str, authorization: str | None) -> Fault | None:
        """Return the fault for this request and count it, or None for a normal reply."""
        fault = self.fault
        if fault is None or _target_of(path) == "token":
            return None
        if fault.target != "any" and fault.target != _target_of(path):
            return None
        if fault.kind in AUTH_KINDS and _authorized(fault, authorization):
            return None
        with self._lock:
            limit = FOREVER_CAP if fault.times is None else fault.times
            if self.injected >= limit:
                return None
            self.injected += 1
        return fault

    def count_injected(self) -> None:
        with self._lock:
            self.injected += 1

    def record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)


def _target_of(path: str) -> str:
    if path == "/token":
        return "token"
    if path in ("/v2", "/v2/"):
        return "ping"
    if "/manifests/" in path:
        return "manifest"
    if "/blobs/" in path:
        return "blob"
    return "other"


def _authorized(fault: Fault, authorization: str | None) -> bool:
    basic = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    if fault.kind == AUTH_BASIC:
        return authorization == basic
    return authorization == f"Bearer {TOKEN}"


class _Handler(BaseHTTPRequestHandler):
    registry: FaultInjectingRegistry
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    # Dispatch.

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def _handle(self, *, head: bool) -> None:
        registry = self.registry
        path = urlsplit(self.path).path
        authorization = self.headers.get("Authorization")
        fault = registry.take_fault(path, authorization)
        registry.record(
            Hit(
                self.command,
                path,
                authorization,
                self.headers.get("Range"),
                fault.kind if fault else None,
            )
        )
        if path == "/token":
            self._token()
            return
        if fault is not None:
            self._inject(fault, path, head)
            return
        self._serve(path, head)

    # Normal answers.

    def _serve(self, path: str, head: bool) -> None:
        if _target_of(path) == "ping":
            self._send(200, b"{}", "application/json", head=head)
            return
        prefix = f"/v2/{REPOSITORY}/"
        reference = path.rsplit("/", 1)[-1]
        manifest = self.registry.image.manifest
        if path.startswith(prefix + "manifests/") and reference in (
            TAG,
            manifest.digest,
        ):
            self._send(
                200,
                manifest.data,
                mediatypes.OCI_MANIFEST,
                head=head,
                headers={"Docker-Content-Digest": manifest.digest},
            )
            return
        data = self.registry.blobs.get(reference)
        if path.startswith(prefix + "blobs/") and data is not None:
            if self.registry.redirect_to:
                self.registry.count_injected()
                location = f"{self.registry.redirect_to}{path}"
                self._send(
                    307, b"", "text/plain", head=head, headers={"Location": location}
                )
                return
            self._send_blob(data, head)
            return
        code = "BLOB_UNKNOWN" if "/blobs/" in path else "MANIFEST_UNKNOWN"
        self._send_oci_error(404, code, f"{reference} is not in this registry")

    def _send_blob(self, data: bytes, head: bool, *, body: bytes | None = None) -> None:
        """Send a blob, or its tail after a Range request; body replaces the bytes sent."""
        start = self._range_start()
        sent = data if body is None else body
        if start:
            self._send(
                206,
                sent[start:],
                "application/octet-stream",
                head=head,
                headers={"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
            )
            return
        self._send(200, sent, "application/octet-stream", head=head)

    def _range_start(self) -> int:
        value = self.headers.get("Range", "")
        if not value.startswith("bytes="):
            return 0
        return int(value.removeprefix("bytes=").split("-", 1)[0])

    def _token(self) -> None:
        basic = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != basic:
            self._send_oci_error(401, "UNAUTHORIZED", "token server: bad credentials")
            return
        query = parse_qs(urlsplit(self.path).query)
        body = {"token": TOKEN, "expires_in": 300, "query": query}
        self._send(200, json.dumps(body).encode(), "application/json")

    # Faults.

    def _inject(self, fault: Fault, path: str, head: bool) -> None:
        """Send the reply of the fault in place of the normal reply."""
        kind = fault.kind
        if kind in AUTH_KINDS:
            self._challenge(fault)
        elif kind == NOT_FOUND:
            code = "BLOB_UNKNOWN" if "/blobs/" in path else "MANIFEST_UNKNOWN"
            self._send_oci_error(404, code, "injected: not found", head=head)
        elif kind == RATE_LIMITED:
            retry_after = str(fault.options.get("retry_after", "1"))
            self._send_oci_error(
                429,
                "TOOMANYREQUESTS",
                "injected: rate limited",
                head=head,
                headers={"Retry-After": retry_after},
            )
        elif kind == SERVER_ERROR:
            self._send_oci_error(500, "UNKNOWN", "injected: internal error", head=head)
        elif kind in (DROP, TRUNCATE):
            self._cut_body(path, reset=kind == DROP)
        elif kind == WRONG_DIGEST:
            data = self.registry.blobs[path.rsplit("/", 1)[-1]]
            # Same length, other bytes: only the digest can tell.
            self._send_blob(data, head, body=bytes(byte ^ 0xFF for byte in data))
        elif kind == HTML:
            page = (
                b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"
            )
            self._send(200, page, "text/html; charset=utf-8", head=head)
        elif kind == HUGE_JSON:
            self._huge_json(fault.options.get("size", 8 << 20), fault.options)
        elif kind == SLOW:
            self._slow(fault, path, head)
        else:
            raise ValueError(f"unknown fault kind {kind!r}")

    def _challenge(self, fault: Fault) -> None:
        registry = self.registry
        realm = f"{registry.url}/token"
        scope = f"repository:{REPOSITORY}:pull"
        bearer = f'Bearer realm="{realm}",service="fault-registry",scope="{scope}"'
        basic = 'Basic realm="fault-registry"'
        headers: list[tuple[str, str]]
        if fault.kind == AUTH_BASIC:
            headers = [("WWW-Authenticate", basic)]
        elif fault.kind == AUTH_BEARER:
            headers = [("WWW-Authenticate", bearer)]
        elif fault.kind == AUTH_SEVERAL:
            # Two challenges in one header value, Basic first.
            headers = [("WWW-Authenticate", f"{basic}, {bearer}")]
        else:
            headers = [("WWW-Authenticate", 'Bearer realm="http://unterminated')]
        body = _oci_error_body("UNAUTHORIZED", "injected: authentication required")
        self.send_response(401)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _cut_body(self, path: str, *, reset: bool) -> None:
        """Send the headers and half the body, then close (RST when reset, else FIN)."""
        reference = path.rsplit("/", 1)[-1]
        data = self.registry.blobs.get(reference)
        if data is None:
            data = self.registry.image.manifest.data
        start = self._range_start()
        remaining = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header(
                "Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"
            )
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(remaining)))
        self.end_headers()
        self.wfile.write(remaining[: len(remaining) // 2])
        self.wfile.flush()
        self.close_connection = True
        if reset:
            # SO_LINGER with a zero timeout makes close() send RST, as a crashed
            # proxy or a dropped network path would. The socket is closed here,
            # because socketserver would first send FIN with shutdown(SHUT_WR).
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.rfile.close()
            self.connection.close()

    def _huge_json(self, size: int, options: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", mediatypes.OCI_MANIFEST)
        if options.get("declare_length", True):
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b'{"padding":"' + b"a" * 65536
        try:
            for _ in range(size // len(chunk) + 1):
                if options.get("declare_length", True):
                    self.wfile.write(chunk)
                else:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the client stopped reading, as it should
        self.close_connection = True

    def _slow(self, fault: Fault, path: str, head: bool) -> None:
        """Stall before the headers, or in the middle of a blob body with mid_body."""
        delay = float(fault.options.get("delay", 2.0))
        stopping = self.registry.stopping
        if not fault.options.get("mid_body"):
            stopping.wait(delay)
            self._serve(path, head)
            return
        data = self.registry.blobs[path.rsplit("/", 1)[-1]]
        start = self._range_start()
        remaining = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header(
                "Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"
            )
        self.send_header("Content-Length", str(len(remaining)))
        self.end_headers()
        self.wfile.write(remaining[: len(remaining) // 2])
        self.wfile.flush()
        stopping.wait(delay)
        self.close_connection = True

    # Helpers.

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        head: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _send_oci_error(
        self,
        status: int,
        code: str,
        message: str,
        *,
        head: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = _oci_error_body(code, message)
        self._send(status, body, "application/json", head=head, headers=headers)


def _oci_error_body(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


def iter_blob_files(layout_path: Path) -> Iterator[Path]:
    """Yield every file under blobs/ of an OCI layout folder, hidden files included."""
    blobs = layout_path / "blobs"
    if blobs.exists():
        yield from (path for path in sorted(blobs.rglob("*")) if path.is_file())
