"""Registry authentication: WWW-Authenticate challenges, Basic and Bearer tokens.

A registry rejects an unauthenticated request with 401 and a challenge. For
``Basic`` the client resends the request with credentials. For ``Bearer``
(the Docker token protocol) the client first fetches a token from the
challenge's ``realm`` with its ``service`` and ``scope`` values, then resends
the request with ``Authorization: Bearer <token>``.

Credentials go only to the registry host (host and port) they were given
for. The one exception is the token request: :class:`RegistryAuth` sends the
Basic credentials to a realm on another host unless
``send_credentials_to_realm=False``. That default is needed for Docker Hub,
whose realm (auth.docker.io) is not its registry host (registry-1.docker.io).
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import RegistryError
from .docker_config import Credentials, DockerConfig, load_docker_config

__all__ = [
    "Challenge",
    "Credentials",
    "DockerConfig",
    "RegistryAuth",
    "load_docker_config",
    "parse_www_authenticate",
]

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 token68, when it is the whole rest of a challenge.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*[ \t]*(?=,|$)")
_WHITESPACE = re.compile(r"[ \t]*")
_SEPARATORS = re.compile(r"[ \t,]*")
_QUOTED_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_UNQUOTED_VALUE = re.compile(r'[^,\s"]+')
_PARAM_START = re.compile(_TOKEN.pattern + r"[ \t]*=")
# The Docker token specification's default token lifetime, in seconds.
_DEFAULT_EXPIRES_IN = 60


@dataclass(frozen=True)
class Challenge:
    """One challenge of a WWW-Authenticate header.

    ``scheme`` and the parameter names are lower-cased. ``token68`` is set
    instead of ``params`` for the ``Scheme abc123==`` form.
    """

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None


class _ChallengeParser:
    def __init__(self, header: str, url: str) -> None:
        self.header = header
        self.pos = 0
        self.url = url

    def fail(self, problem: str) -> RegistryError:
        return RegistryError(
            f"invalid WWW-Authenticate header {self.header!r}: {problem} at "
            f"character {self.pos}",
            url=self.url,
            status=401,
        )

    def peek(self) -> str:
        return self.header[self.pos : self.pos + 1]

    def skip(self, pattern: re.Pattern[str] = _WHITESPACE) -> str:
        match = pattern.match(self.header, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group()

    def skip_separators(self) -> None:
        # Empty list elements (",," or a leading comma) are allowed in HTTP lists.
        self.skip(_SEPARATORS)

    def token(self, what: str) -> str:
        token = self.skip(_TOKEN)
        if not token:
            raise self.fail(f"expected {what}, found {self.peek() or 'the end'!r}")
        return token

    def quoted_string(self) -> str:
        match = _QUOTED_STRING.match(self.header, self.pos)
        if match is None:
            raise self.fail("unterminated quoted string")
        self.pos = match.end()
        return re.sub(r"\\(.)", r"\1", match.group(1), flags=re.DOTALL)

    def value(self) -> str:
        if self.peek() == '"':
            return self.quoted_string()
        # Lenient: accept unquoted values such as realm=https://a/b that are
        # not RFC 9110 tokens, up to the next comma or whitespace.
        value = self.skip(_UNQUOTED_VALUE)
        if not value:
            raise self.fail("missing parameter value")
        return value

    def starts_param(self) -> bool:
        """Tell whether a parameter (token, optional spaces, "=") comes next."""
        return _PARAM_START.match(self.header, self.pos) is not None

    def challenge(self) -> Challenge:
        scheme = self.token("an authentication scheme").lower()
        if not self.skip() and self.peek() not in ("", ","):
            raise self.fail("expected a space after the scheme")
        token68 = self.skip(_TOKEN68)
        if token68:
            return Challenge(scheme, token68=token68.strip())
        params: dict[str, str] = {}
        while self.starts_param():
            name = self.token("a parameter name").lower()
            self.skip()
            self.pos += 1  # the "=" that starts_param found
            self.skip()
            if name in params:
                raise self.fail(f"parameter {name!r} repeated")
            params[name] = self.value()
            self.skip()
            if self.peek() not in ("", ","):
                raise self.fail(f"expected ',' after {name!r}")
            self.skip_separators()
        return Challenge(scheme, params)


def parse_www_authenticate(header: str, *, url: str = "") -> list[Challenge]:
    """Parse a WWW-Authenticate value (RFC 9110 section 11.6.1) into challenges.

    A new challenge starts where a token is followed by a space and not by
    "=". url names the response, for the error. Raises RegistryError with
    status 401 on malformed input, and shows the header.
    """
    parser = _ChallengeParser(header, url)
    challenges: list[Challenge] = []
    parser.skip_separators()
    while parser.pos < len(header):
        challenges.append(parser.challenge())
        parser.skip_separators()
    if not challenges:
        raise parser.fail("no challenge")
    return challenges


def _origin(url: httpx.URL | str) -> tuple[str, int | None]:
    # httpx normalizes a default port (80 for http, 443 for https) to None.
    url = httpx.URL(url)
    return url.host.lower(), url.port


def _basic_header(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _registry_errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return [error for error in body["errors"] if isinstance(error, dict)]
    return []


def _rejected(response: httpx.Response, problem: str) -> RegistryError:
    errors = _registry_errors(response)
    detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    request = response.request
    return RegistryError(
        f"{problem}: {request.method} {request.url} returned "
        f"{response.status_code}: {detail or response.text[:300] or '(empty body)'}",
        url=str(request.url),
        status=response.status_code,
        errors=errors,
    )


@dataclass
class _Token:
    value: str
    expires_at: float


class RegistryAuth(httpx.Auth):
    """An httpx auth flow that handles a registry's Basic and Bearer challenges.

    registry is the registry's URL or ``host[:port]``. Credentials come from
    username and password, else from docker_config. The flow sends each
    request as it is, and on 401 reads the challenges, prefers Bearer over
    Basic, and retries once with credentials or a token. Raises RegistryError
    when credentials are missing or rejected.

    Requests match the registry by host and port, not by scheme. Tokens are
    cached per (realm, service, scopes) until ``expires_in``. The
    last Authorization value that worked is sent up front on later requests
    to the registry host, which saves a round trip for the same scope.
    """

    requires_response_body = True

    def __init__(
        self,
        registry: str,
        username: str | None = None,
        password: str | None = None,
        *,
        docker_config: DockerConfig | None = None,
        send_credentials_to_realm: bool = True,
    ) -> None:
        if "://" not in registry:
            registry = f"https://{registry}"
        self.registry = _origin(registry)
        host = httpx.URL(registry).netloc.decode("ascii")
        if (username is None) != (password is None):
            raise ValueError("pass both username and password, or neither")
        if username is not None and password is not None:
            self.credentials: Credentials | None = Credentials(username, password)
        elif docker_config is not None:
            self.credentials = docker_config.credentials_for(host)
        else:
            self.credentials = None
        self.host = host
        self.send_credentials_to_realm = send_credentials_to_realm
        self._tokens: dict[tuple[str, str, frozenset[str]], _Token] = {}
        self._last_authorization: str | None = None

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Send the request, and after a 401 from the registry retry it once."""
        if _origin(request.url) != self.registry:
            # Never attach credentials or tokens for another host.
            yield request
            return
        if self._last_authorization and "Authorization" not in request.headers:
            request.headers["Authorization"] = self._last_authorization
        response = yield request
        if response.status_code != 401 or _origin(response.url) != self.registry:
            return
        headers = response.headers.get_list("www-authenticate")
        if not headers:
            return
        challenges = parse_www_authenticate(", ".join(headers), url=str(request.url))
        bearer = [challenge for challenge in challenges if challenge.scheme == "bearer"]
        if bearer:
            authorization = yield from self._bearer(bearer, request)
        elif any(challenge.scheme == "basic" for challenge in challenges):
            authorization = self._basic(request)
        else:
            schemes = ", ".join(challenge.scheme for challenge in challenges)
            raise _rejected(response, f"unsupported authentication scheme {schemes}")
        request.headers["Authorization"] = authorization
        response = yield request
        if response.status_code == 401:
            self._forget(authorization)
            raise _rejected(response, f"authentication failed for {self.host}")
        self._last_authorization = authorization

    def _forget(self, authorization: str) -> None:
        self._last_authorization = None
        for key, token in list(self._tokens.items()):
            if authorization == f"Bearer {token.value}":
                del self._tokens[key]

    def _basic(self, request: httpx.Request) -> str:
        if self.credentials is None or self.credentials.password is None:
            raise RegistryError(
                f"credentials required for {self.host}: pass username/password or "
                "a Docker config",
                url=str(request.url),
                status=401,
            )
        return _basic_header(self.credentials)

    def _bearer(
        self, challenges: list[Challenge], request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, str]:
        realm = challenges[0].params.get("realm", "")
        realm_url = self._realm_url(realm, request)
        service = challenges[0].params.get("service", "")
        scopes = _scopes(challenges, realm)

        key = (realm, service, frozenset(scopes))
        cached = self._tokens.get(key)
        if cached is not None and cached.expires_at > time.monotonic():
            return f"Bearer {cached.value}"

        token_request = self._token_request(realm_url, service, scopes)
        # A Request built here lacks the client's timeout, so it takes the original's.
        token_request.extensions.update(_timeout_of(request))
        response = yield token_request
        token = _read_token(response)
        self._tokens[key] = token
        log.debug("got a token from %s for scopes %s", realm, scopes)
        return f"Bearer {token.value}"

    def _realm_url(self, realm: str, request: httpx.Request) -> httpx.URL:
        realm_url = httpx.URL(realm) if "://" in realm else None
        if (
            realm_url is None
            or realm_url.scheme not in ("http", "https")
            or not realm_url.host
        ):
            raise RegistryError(
                f"invalid Bearer challenge from {self.host}: realm {realm!r} is not "
                "an absolute http(s) URL",
                url=str(request.url),
                status=401,
            )
        return realm_url

    def _token_request(
        self, realm: httpx.URL, service: str, scopes: list[str]
    ) -> httpx.Request:
        params = [("service", service)] if service else []
        params += [("scope", scope) for scope in scopes]
        credentials = self.credentials
        if credentials is not None and not self._may_send_to(realm):
            log.info("not sending credentials for %s to realm %s", self.host, realm)
            credentials = None
        if credentials is not None and credentials.identity_token:
            # OAuth2 refresh-token grant, as docker uses for an identitytoken.
            form = {
                "grant_type": "refresh_token",
                "refresh_token": credentials.identity_token,
                "client_id": "ocilab",
                "service": service,
                "scope": " ".join(scopes),
            }
            return httpx.Request("POST", realm, data=form)
        headers = {}
        if credentials is not None and credentials.password is not None:
            headers["Authorization"] = _basic_header(credentials)
        return httpx.Request("GET", realm, params=params, headers=headers)

    def _may_send_to(self, realm: httpx.URL) -> bool:
        return _origin(realm) == self.registry or self.send_credentials_to_realm


def _timeout_of(request: httpx.Request) -> dict[str, Any]:
    timeout = request.extensions.get("timeout")
    return {"timeout": timeout} if timeout is not None else {}


def _scopes(challenges: list[Challenge], realm: str) -> list[str]:
    # A scope value may list several scopes separated by spaces, and several
    # Bearer challenges for the same realm add theirs. Each scope stays whole.
    scopes: list[str] = []
    for challenge in challenges:
        if challenge.params.get("realm") == realm:
            scopes += challenge.params.get("scope", "").split()
    return list(dict.fromkeys(scopes))


def _read_token(response: httpx.Response) -> _Token:
    if response.status_code != 200:
        raise _rejected(response, "token request failed")
    try:
        body = response.json()
    except ValueError:
        body = None
    value = None
    if isinstance(body, dict):
        value = body.get("token") or body.get("access_token")
    if not isinstance(value, str) or not value:
        raise RegistryError(
            f"token response from {response.request.url} has no 'token' or "
            f"'access_token' string: {response.text[:200]!r}",
            url=str(response.request.url),
            status=response.status_code,
        )
    expires_in = body.get("expires_in")
    if not isinstance(expires_in, int) or expires_in <= 0:
        expires_in = _DEFAULT_EXPIRES_IN
    # Renew 5 seconds early, so a token does not expire in flight.
    return _Token(value, time.monotonic() + max(expires_in - 5, 1))
