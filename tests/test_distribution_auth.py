"""Registry authentication: challenge parsing, fake token flows, a Basic registry."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ocilab.distribution import auth as auth_module
from ocilab.distribution.auth import (
    Challenge,
    Credentials,
    RegistryAuth,
    load_docker_config,
    parse_www_authenticate,
)
from ocilab.errors import RegistryError

REGISTRY = "https://registry.example.test"
REALM = "https://auth.example.test/token"
MANIFEST_URL = f"{REGISTRY}/v2/team/app/manifests/latest"


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# --- parse_www_authenticate --------------------------------------------------

PARSE_CASES = {
    "basic-upper-case": (
        'BASIC realm="Example Repository Manager"',
        [Challenge("basic", {"realm": "Example Repository Manager"})],
    ),
    "bearer-scope-with-comma": (
        (
            f'Bearer realm="{REALM}",service="registry.example.test",'
            'scope="repository:team/app:pull,push"'
        ),
        [
            Challenge(
                "bearer",
                {
                    "realm": REALM,
                    "service": "registry.example.test",
                    "scope": "repository:team/app:pull,push",
                },
            )
        ],
    ),
    "unquoted-after-space": (
        f'Bearer realm="{REALM}", service=registry.example.test',
        [Challenge("bearer", {"realm": REALM, "service": "registry.example.test"})],
    ),
    "basic-and-bearer": (
        f'Basic realm="legacy", Bearer realm="{REALM}",service="r"',
        [
            Challenge("basic", {"realm": "legacy"}),
            Challenge("bearer", {"realm": REALM, "service": "r"}),
        ],
    ),
    "escaped-quote": (
        f'Bearer realm="{REALM}",scope="repository:te\\"am:pull"',
        [Challenge("bearer", {"realm": REALM, "scope": 'repository:te"am:pull'})],
    ),
    "realm-not-a-url-parses": (
        'Bearer realm="not a url"',
        [Challenge("bearer", {"realm": "not a url"})],
    ),
    "parameter-names-lower-cased": (
        'Bearer REALM="x", Service = "y"',
        [Challenge("bearer", {"realm": "x", "service": "y"})],
    ),
    "token68": ("Newauth abc123+/==", [Challenge("newauth", token68="abc123+/==")]),
    "token68-between-challenges": (
        'Basic realm="a", Newauth abc==, Bearer realm="b"',
        [
            Challenge("basic", {"realm": "a"}),
            Challenge("newauth", token68="abc=="),
            Challenge("bearer", {"realm": "b"}),
        ],
    ),
    "scheme-only-and-empty-elements": (
        ' , Negotiate,, Basic realm="a, b" ,',
        [Challenge("negotiate"), Challenge("basic", {"realm": "a, b"})],
    ),
}


@pytest.mark.parametrize(
    ("header", "expected"), PARSE_CASES.values(), ids=PARSE_CASES.keys()
)
def test_parse_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_www_authenticate(header) == expected


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("", "no challenge"),
        ('Bearer realm="unterminated', "unterminated quoted string"),
        ('Bearer realm="x" service="y"', "expected ','"),
        ("Bearer service=x, realm=", "missing parameter value"),
        ('Bearer realm="x", realm="y"', "repeated"),
        ('=Bearer realm="x"', "expected an authentication scheme"),
        ('Bearer"realm"', "expected a space after the scheme"),
    ],
)
def test_parse_malformed_rejected(header: str, problem: str) -> None:
    with pytest.raises(RegistryError, match=problem) as caught:
        parse_www_authenticate(header, url=MANIFEST_URL)
    assert caught.value.status == 401
    assert caught.value.url == MANIFEST_URL
    assert repr(header) in str(caught.value)


# --- fakes: a registry and a token service -----------------------------------


@dataclass
class FakeServers:
    """A fake registry, token service and blob storage behind one transport.

    The registry returns 401 with ``challenge`` until a request carries
    ``accepted`` as Authorization, or any ``Bearer tok-...`` when accepted is
    None. Every request is recorded in ``requests``.
    """

    challenge: str
    accepted: str | None = None
    token_body: dict = field(default_factory=lambda: {"token": "tok"})
    token_status: int = 200
    requests: list[httpx.Request] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    issued: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        # The auth flow edits and resends the same Request, so the header is
        # copied as it was at send time.
        self.requests.append(request)
        self.authorizations.append(request.headers.get("Authorization"))
        if request.url.host == "auth.example.test":
            return self.fake_token_service(request)
        if request.url.host == "storage.example.test":
            return httpx.Response(200, content=b"blob bytes")
        return self.fake_registry(request)

    def fake_token_service(self, request: httpx.Request) -> httpx.Response:
        self.issued += 1
        body = dict(self.token_body)
        for name in ("token", "access_token"):
            if name in body:
                body[name] = f"{body[name]}-{self.issued}"
        return httpx.Response(self.token_status, json=body)

    def fake_registry(self, request: httpx.Request) -> httpx.Response:
        authorization = request.headers.get("Authorization", "")
        if self.accepted is not None:
            allowed = authorization == self.accepted
        else:
            allowed = authorization.startswith("Bearer tok-")
        if not allowed:
            return httpx.Response(
                401,
                headers={"WWW-Authenticate": self.challenge},
                json={"errors": [{"code": "UNAUTHORIZED", "message": "no"}]},
            )
        if request.url.path.endswith("/blobs/sha256:abc"):
            return httpx.Response(
                307, headers={"Location": "https://storage.example.test/blob"}
            )
        return httpx.Response(200, json={"ok": True})

    def client(self, auth: RegistryAuth) -> httpx.Client:
        transport = httpx.MockTransport(self.handler)
        return httpx.Client(transport=transport, auth=auth, follow_redirects=True)

    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == "auth.example.test"]


BEARER = f'Bearer realm="{REALM}",service="registry.example.test",scope="{{}}"'
APP_SCOPE = "repository:team/app:pull,push"


# --- Basic flow ---------------------------------------------------------------


def test_basic_resends_with_credentials() -> None:
    fake = FakeServers(
        'BASIC realm="Example Repository Manager"', accepted=_basic("alice", "pw")
    )
    with fake.client(RegistryAuth(REGISTRY, "alice", "pw")) as client:
        response = client.get(MANIFEST_URL)
    assert response.status_code == 200
    assert fake.authorizations == [None, _basic("alice", "pw")]
    assert fake.token_requests() == []


def test_basic_without_credentials_rejected() -> None:
    fake = FakeServers('BASIC realm="Example Repository Manager"')
    with (
        fake.client(RegistryAuth(REGISTRY)) as client,
        pytest.raises(RegistryError, match="credentials required for") as caught,
    ):
        client.get(MANIFEST_URL)
    assert "registry.example.test" in str(caught.value)
    assert caught.value.status == 401
    assert fake.token_requests() == []


def test_basic_later_requests_sent_up_front() -> None:
    fake = FakeServers('Basic realm="r"', accepted=_basic("alice", "pw"))
    with fake.client(RegistryAuth(REGISTRY, "alice", "pw")) as client:
        client.get(MANIFEST_URL)
        client.get(f"{REGISTRY}/v2/team/app/tags/list")
    assert fake.authorizations == [None] + [_basic("alice", "pw")] * 2


def test_unsupported_scheme_rejected() -> None:
    fake = FakeServers('Digest realm="r", nonce="n"')
    with (
        fake.client(RegistryAuth(REGISTRY, "alice", "pw")) as client,
        pytest.raises(RegistryError, match="unsupported authentication scheme"),
    ):
        client.get(MANIFEST_URL)


# --- Bearer flow --------------------------------------------------------------


def test_bearer_preferred_over_basic() -> None:
    fake = FakeServers(f'Basic realm="legacy", Bearer realm="{REALM}",service="r"')
    with fake.client(RegistryAuth(REGISTRY, "alice", "pw")) as client:
        assert client.get(MANIFEST_URL).status_code == 200
    assert len(fake.token_requests()) == 1
    assert fake.requests[-1].headers["Authorization"] == "Bearer tok-1"


def test_bearer_token_request_exact() -> None:
    challenge = (
        f'Bearer realm="{REALM}",service="registry.example.test",'
        f'scope="{APP_SCOPE} repository:team/base:pull"'
    )
    fake = FakeServers(challenge)
    with fake.client(RegistryAuth(REGISTRY, "alice", "pw")) as client:
        response = client.get(MANIFEST_URL)
    assert response.status_code == 200
    (token_request,) = fake.token_requests()
    assert token_request.method == "GET"
    assert str(token_request.url.copy_with(query=None)) == REALM
    assert token_request.url.params.multi_items() == [
        ("service", "registry.example.test"),
        ("scope", APP_SCOPE),
        ("scope", "repository:team/base:pull"),
    ]
    assert token_request.headers["Authorization"] == _basic("alice", "pw")
    assert fake.requests[-1].url == MANIFEST_URL
    assert fake.requests[-1].headers["Authorization"] == "Bearer tok-1"


def test_bearer_anonymous_token_request() -> None:
    fake = FakeServers(BEARER.format(APP_SCOPE))
    with fake.client(RegistryAuth(REGISTRY)) as client:
        assert client.get(MANIFEST_URL).status_code == 200
    (token_request,) = fake.token_requests()
    assert "Authorization" not in token_request.headers


def test_bearer_token_cached_per_scope() -> None:
    scopes = {"app": "repository:team/app:pull", "base": "repository:team/base:pull"}

    def scoped_handler(request: httpx.Request) -> httpx.Response:
        # The fake registry challenges for the scope of the repository in the path.
        name = "base" if "/team/base/" in request.url.path else "app"
        fake.challenge = BEARER.format(scopes[name])
        token = f"Bearer tok-{list(scopes).index(name) + 1}"
        fake.accepted = token
        return FakeServers.handler(fake, request)

    fake = FakeServers(BEARER.format(scopes["app"]))
    transport = httpx.MockTransport(scoped_handler)
    auth = RegistryAuth(REGISTRY, "alice", "pw")
    with httpx.Client(transport=transport, auth=auth) as client:
        assert client.get(MANIFEST_URL).status_code == 200
        assert client.get(f"{REGISTRY}/v2/team/base/tags/list").status_code == 200
        # The up-front token is for team/base, so the registry returns 401
        # again and the cached team/app token is used without a token request.
        assert client.get(MANIFEST_URL).status_code == 200
    scopes_requested = [r.url.params["scope"] for r in fake.token_requests()]
    assert scopes_requested == [scopes["app"], scopes["base"]]
    assert fake.requests[-1].headers["Authorization"] == "Bearer tok-1"


def test_bearer_token_renewed_after_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth_module.time, "monotonic", lambda: now[0])
    fake = FakeServers(BEARER.format(APP_SCOPE), token_body={"token": "tok"})
    fake.token_body["expires_in"] = 300
    auth = RegistryAuth(REGISTRY)
    with fake.client(auth) as client:
        client.get(MANIFEST_URL)
        auth._last_authorization = None  # force the challenge path again
        client.get(MANIFEST_URL)
        assert len(fake.token_requests()) == 1
        now[0] += 301
        auth._last_authorization = None
        client.get(MANIFEST_URL)
    assert len(fake.token_requests()) == 2


def test_bearer_access_token_accepted() -> None:
    fake = FakeServers(
        BEARER.format(APP_SCOPE), token_body={"access_token": "tok", "expires_in": 60}
    )
    with fake.client(RegistryAuth(REGISTRY)) as client:
        assert client.get(MANIFEST_URL).status_code == 200
    assert fake.requests[-1].headers["Authorization"] == "Bearer tok-1"


def test_bearer_realm_not_url_rejected() -> None:
    fake = FakeServers('Bearer realm="not a url"')
    with (
        fake.client(RegistryAuth(REGISTRY)) as client,
        pytest.raises(RegistryError, match="not an absolute http") as caught,
    ):
        client.get(MANIFEST_URL)
    assert "'not a url'" in str(caught.value)
    assert fake.token_requests() == []


def test_bearer_token_service_error() -> None:
    fake = FakeServers(BEARER.format(APP_SCOPE), token_status=401)
    with (
        fake.client(RegistryAuth(REGISTRY, "alice", "wrong")) as client,
        pytest.raises(RegistryError, match="token request failed") as caught,
    ):
        client.get(MANIFEST_URL)
    assert caught.value.status == 401
    assert caught.value.url.startswith(REALM)


def test_bearer_token_missing_in_response() -> None:
    fake = FakeServers(BEARER.format(APP_SCOPE), token_body={"expires_in": 60})
    with (
        fake.client(RegistryAuth(REGISTRY)) as client,
        pytest.raises(RegistryError, match="no 'token' or 'access_token'"),
    ):
        client.get(MANIFEST_URL)


def test_bearer_token_rejected_shows_codes() -> None:
    fake = FakeServers(BEARER.format(APP_SCOPE), accepted="Bearer never")
    with (
        fake.client(RegistryAuth(REGISTRY)) as client,
        pytest.raises(RegistryError, match="authentication failed") as caught,
    ):
        client.get(MANIFEST_URL)
    assert caught.value.status == 401
    assert caught.value.codes == ["UNAUTHORIZED"]


def test_bearer_identity_token_refresh_grant() -> None:
    fake = FakeServers(BEARER.format(APP_SCOPE), token_body={"access_token": "tok"})
    auth = RegistryAuth(REGISTRY)
    auth.credentials = Credentials("alice", None, identity_token="refresh-me")
    with fake.client(auth) as client:
        assert client.get(MANIFEST_URL).status_code == 200
    (token_request,) = fake.token_requests()
    assert token_request.method == "POST"
    form = dict(httpx.QueryParams(token_request.content.decode()))
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "refresh-me"
    assert form["service"] == "registry.example.test"
    assert form["scope"] == APP_SCOPE


# --- credentials never leave the registry host --------------------------------


@pytest.mark.parametrize(
    "challenge", ['Basic realm="r"', BEARER.format(APP_SCOPE)], ids=["basic", "bearer"]
)
def test_redirect_to_other_host_drops_authorization(challenge: str) -> None:
    fake = FakeServers(challenge)
    if challenge.startswith("Basic"):
        fake.accepted = _basic("alice", "pw")
    with fake.client(RegistryAuth(REGISTRY, "alice", "pw")) as client:
        response = client.get(f"{REGISTRY}/v2/team/app/blobs/sha256:abc")
    assert response.content == b"blob bytes"
    storage = [r for r in fake.requests if r.url.host == "storage.example.test"]
    assert len(storage) == 1
    assert "Authorization" not in storage[0].headers


def test_other_host_challenge_not_answered() -> None:
    fake = FakeServers('Basic realm="r"')
    with fake.client(RegistryAuth(REGISTRY, "alice", "pw")) as client:
        response = client.get("https://elsewhere.example.test/v2/")
    assert response.status_code == 401
    assert len(fake.requests) == 1
    assert fake.authorizations == [None]


def test_other_port_is_other_host() -> None:
    fake = FakeServers('Basic realm="r"')
    with fake.client(RegistryAuth(REGISTRY, "alice", "pw")) as client:
        response = client.get("https://registry.example.test:8443/v2/")
    assert response.status_code == 401
    assert fake.authorizations == [None]


@pytest.mark.parametrize(
    ("send", "expected"), [(True, _basic("alice", "pw")), (False, None)]
)
def test_realm_on_other_host_credentials(send: bool, expected: str | None) -> None:
    fake = FakeServers(BEARER.format(APP_SCOPE))
    auth = RegistryAuth(REGISTRY, "alice", "pw", send_credentials_to_realm=send)
    with fake.client(auth) as client:
        assert client.get(MANIFEST_URL).status_code == 200
    (token_request,) = fake.token_requests()
    assert token_request.headers.get("Authorization") == expected


def test_realm_on_registry_host_always_gets_credentials() -> None:
    challenge = f'Bearer realm="{REGISTRY}/token",service="registry.example.test"'
    fake = FakeServers(challenge)

    def same_host_handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            fake.requests.append(request)
            return httpx.Response(200, json={"token": "tok-same-host"})
        return fake.handler(request)

    auth = RegistryAuth(REGISTRY, "alice", "pw", send_credentials_to_realm=False)
    transport = httpx.MockTransport(same_host_handler)
    with httpx.Client(transport=transport, auth=auth) as client:
        assert client.get(MANIFEST_URL).status_code == 200
    token_request = next(r for r in fake.requests if r.url.path == "/token")
    assert token_request.headers["Authorization"] == _basic("alice", "pw")


def test_username_without_password_rejected() -> None:
    with pytest.raises(ValueError, match="both username and password"):
        RegistryAuth(REGISTRY, "alice")


# --- a real docker-registry with htpasswd Basic auth --------------------------


def test_real_basic_registry_accepts_credentials(basic_auth_registry) -> None:
    registry = basic_auth_registry
    auth = RegistryAuth(registry.url, registry.username, registry.password)
    with httpx.Client(auth=auth) as client:
        response = client.get(f"{registry.url}/v2/")
    assert response.status_code == 200


def test_real_basic_registry_wrong_password(basic_auth_registry) -> None:
    registry = basic_auth_registry
    auth = RegistryAuth(registry.url, registry.username, "wrong-password")
    with (
        httpx.Client(auth=auth) as client,
        pytest.raises(RegistryError, match="authentication failed") as caught,
    ):
        client.get(f"{registry.url}/v2/")
    assert caught.value.status == 401
    assert "UNAUTHORIZED" in caught.value.codes


def test_real_basic_registry_without_credentials(basic_auth_registry) -> None:
    registry = basic_auth_registry
    with (
        httpx.Client(auth=RegistryAuth(registry.url)) as client,
        pytest.raises(RegistryError, match="credentials required for") as caught,
    ):
        client.get(f"{registry.url}/v2/")
    assert registry.host in str(caught.value)


def test_real_basic_registry_docker_config(
    basic_auth_registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = basic_auth_registry
    pair = f"{registry.username}:{registry.password}".encode()
    document = {"auths": {f"http://{registry.host}/v2/": {"auth": _b64(pair)}}}
    (tmp_path / "config.json").write_text(json.dumps(document))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    auth = RegistryAuth(registry.url, docker_config=load_docker_config())
    with httpx.Client(auth=auth) as client:
        assert client.get(f"{registry.url}/v2/").status_code == 200


# --- Docker config.json ------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write_config(folder: Path, document: dict) -> Path:
    path = folder / "config.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    "key", ["registry.example.test", REGISTRY, "http://registry.example.test/v2/"]
)
def test_config_auth_field_any_key_form(tmp_path: Path, key: str) -> None:
    path = _write_config(tmp_path, {"auths": {key: {"auth": _b64(b"alice:p:w")}}})
    credentials = load_docker_config(path).credentials_for("registry.example.test")
    assert credentials == Credentials("alice", "p:w")


def test_config_username_password_and_port(tmp_path: Path) -> None:
    entry = {"username": "bob", "password": "pw"}
    path = _write_config(tmp_path, {"auths": {"localhost:5000": entry}})
    config = load_docker_config(path)
    assert config.credentials_for("localhost:5000") == Credentials("bob", "pw")
    assert config.credentials_for("localhost") is None


def test_config_identity_token(tmp_path: Path) -> None:
    entry = {"auth": _b64(b"<token>:"), "identitytoken": "refresh-me"}
    path = _write_config(tmp_path, {"auths": {"r.example.test": entry}})
    credentials = load_docker_config(path).credentials_for("r.example.test")
    assert credentials is not None
    assert credentials.identity_token == "refresh-me"


def test_config_docker_hub_alias(tmp_path: Path) -> None:
    auths = {"https://index.docker.io/v1/": {"auth": _b64(b"hub:pw")}}
    config = load_docker_config(_write_config(tmp_path, {"auths": auths}))
    assert config.credentials_for("registry-1.docker.io") == Credentials("hub", "pw")


def test_config_from_docker_config_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_config(tmp_path, {"auths": {"r.test": {"auth": _b64(b"env:pw")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    config = load_docker_config()
    assert config.path == tmp_path / "config.json"
    assert config.credentials_for("r.test") == Credentials("env", "pw")


def test_config_from_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".docker").mkdir()
    _write_config(tmp_path / ".docker", {"auths": {"r.test": {"auth": _b64(b"h:p")}}})
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_docker_config().credentials_for("r.test") == Credentials("h", "p")


def test_config_missing_file_is_empty(tmp_path: Path) -> None:
    config = load_docker_config(tmp_path / "absent.json")
    assert config.auths == {}
    assert config.credentials_for("r.test") is None


@pytest.mark.parametrize(
    "document",
    [
        {"auths": {"r.test": {}}, "credsStore": "desktop"},
        {"auths": {}, "credHelpers": {"r.test": "desktop"}},
    ],
    ids=["credsStore", "credHelpers"],
)
def test_config_credential_helper_rejected(tmp_path: Path, document: dict) -> None:
    config = load_docker_config(_write_config(tmp_path, document))
    with pytest.raises(RegistryError, match="docker-credential-desktop") as caught:
        config.credentials_for("r.test")
    assert "does not support" in str(caught.value)
    assert "pass username/password" in str(caught.value)


def test_config_inline_credentials_beat_creds_store(tmp_path: Path) -> None:
    document = {"auths": {"r.test": {"auth": _b64(b"a:b")}}, "credsStore": "pass"}
    config = load_docker_config(_write_config(tmp_path, document))
    assert config.credentials_for("r.test") == Credentials("a", "b")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"auths": []}', "'auths' is not an object"),
        ('{"auths": {"r.test": {"auth": "%%%"}}}', "not base64"),
        ('{"auths": {"r.test": {"auth": "bm9jb2xvbg=="}}}', "user:pass"),
        ('{"auths": {"r.test": "token"}}', "entry of 'r.test' is not an object"),
        ('{"credHelpers": ["desktop"]}', "'credHelpers' is not an object"),
        ('{"credHelpers": {"r.test": 1}}', "'credHelpers' is not an object"),
        ('{"credsStore": ["pass"]}', "'credsStore' is not a helper name"),
    ],
)
def test_config_invalid_rejected(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(RegistryError, match="invalid Docker config") as caught:
        load_docker_config(path).credentials_for("r.test")
    assert problem in str(caught.value)
    assert str(path) in str(caught.value)


def test_credentials_repr_hides_secrets() -> None:
    text = repr(Credentials("alice", "s3cret", identity_token="t0ken"))
    assert "alice" in text
    assert "s3cret" not in text
    assert "t0ken" not in text


def test_token_request_keeps_client_timeout() -> None:
    fake = FakeServers(BEARER.format(APP_SCOPE))
    transport = httpx.MockTransport(fake.handler)
    auth = RegistryAuth(REGISTRY)
    with httpx.Client(transport=transport, auth=auth, timeout=7.5) as client:
        client.get(MANIFEST_URL)
    (token_request,) = fake.token_requests()
    assert token_request.extensions["timeout"]["read"] == 7.5


def test_bearer_flow_with_async_client() -> None:
    fake = FakeServers(BEARER.format(APP_SCOPE))

    async def fetch() -> int:
        transport = httpx.MockTransport(fake.handler)
        auth = RegistryAuth(REGISTRY, "alice", "pw")
        async with httpx.AsyncClient(transport=transport, auth=auth) as client:
            response = await client.get(MANIFEST_URL)
        return response.status_code

    assert asyncio.run(fetch()) == 200
    assert len(fake.token_requests()) == 1
