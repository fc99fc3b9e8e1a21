"""A small Docker token server for tests, and a docker-registry that trusts it.

The registry is the real CNCF distribution (docker-registry) with ``auth:
token``; the token server is this module's: it checks Basic credentials and
issues RS256 JSON Web Tokens signed with ``openssl`` (no Python crypto
library needed), carrying the certificate in the ``x5c`` header so that the
registry can check it against its root certificate bundle.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ISSUER = "ocilab-test-token-server"
SERVICE = "ocilab-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_signing_key(folder: Path) -> tuple[Path, Path]:
    """Create an RSA key and a self-signed certificate with openssl; return their paths."""
    key, cert = folder / "token.key", folder / "token.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            f"/CN={ISSUER}",
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


def _certificate_der(cert: Path) -> bytes:
    return subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout


@dataclass
class TokenIssuer:
    """Signs tokens granting the actions requested in Docker scope strings."""

    key: Path
    cert: Path

    def token(self, subject: str, scopes: list[str], lifetime: int = 300) -> str:
        header = {
            "alg": "RS256",
            "typ": "JWT",
            "x5c": [base64.b64encode(_certificate_der(self.cert)).decode()],
        }
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + lifetime,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": [_access(scope) for scope in scopes],
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"


def _access(scope: str) -> dict[str, object]:
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


class TokenServer:
    """Serve GET /token on 127.0.0.1, granting every scope to one user with a password."""

    def __init__(self, issuer: TokenIssuer, username: str, password: str) -> None:
        self.issuer, self.username, self.password = issuer, username, password
        self.requests: list[dict[str, list[str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                query = parse_qs(urlsplit(self.path).query)
                server.requests.append(query)
                if not server.authorized(self.headers.get("Authorization", "")):
                    self.send_response(401)
                    self.end_headers()
                    return
                token = server.issuer.token(server.username, query.get("scope", []))
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                # The OAuth2 password grant that containerd tries first.
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                server.requests.append(form)
                user = form.get("username", [""])[0]
                password = form.get("password", [""])[0]
                if (user, password) != (server.username, server.password):
                    self.send_response(401)
                    self.end_headers()
                    return
                scopes = [
                    s for value in form.get("scope", []) for s in value.split(" ")
                ]
                token = server.issuer.token(server.username, scopes)
                body = json.dumps({"access_token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def authorized(self, header: str) -> bool:
        expected = base64.b64encode(
            f"{self.username}:{self.password}".encode()
        ).decode()
        return header == f"Basic {expected}"

    def __enter__(self) -> TokenServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def registry_config(folder: Path, port: int, token_url: str, cert: Path) -> str:
    """Return a docker-registry config.yml that accepts this module's tokens."""
    return (
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  token:\n    realm: {token_url}\n    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n    rootcertbundle: {cert}\n"
    )
