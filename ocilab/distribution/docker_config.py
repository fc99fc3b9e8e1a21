"""Registry credentials from a Docker config.json (~/.docker/config.json or $DOCKER_CONFIG).

Entries of the ``auths`` map give ``auth`` (base64 of user:password),
``username`` and ``password``, or ``identitytoken``. Credential helpers
(``credsStore``, ``credHelpers``) are not supported, so a host whose
credentials only a helper stores raises an error that names the helper.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RegistryError

__all__ = ["Credentials", "DockerConfig", "load_docker_config"]


# Docker stores Docker Hub credentials under https://index.docker.io/v1/.
_DOCKER_HUB_ALIASES = {"docker.io", "registry-1.docker.io", "index.docker.io"}


@dataclass(frozen=True)
class Credentials:
    """A username with a password, or an OAuth2 refresh token (identitytoken)."""

    username: str | None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)


def _normalize_registry_key(key: str) -> str:
    # Keys may be "host", "https://host" or "http://host/v2/".
    host = key.split("://", 1)[-1].split("/", 1)[0].lower()
    return "index.docker.io" if host in _DOCKER_HUB_ALIASES else host


@dataclass(frozen=True)
class DockerConfig:
    """The registry credentials of a Docker ``config.json``.

    ``auths`` maps each normalized ``host[:port]`` to its entry as stored.
    Credential helpers (``credsStore``, ``credHelpers``) are recorded but not
    run, because ocilab does not support them.
    """

    path: Path
    auths: dict[str, dict[str, Any]] = field(default_factory=dict)
    creds_store: str | None = None
    cred_helpers: dict[str, str] = field(default_factory=dict)

    def credentials_for(self, host: str) -> Credentials | None:
        """Return the stored credentials for host[:port], or None when there are none.

        Raises RegistryError when the only credentials for host are in a
        credential helper.
        """
        key = _normalize_registry_key(host)
        entry = self.auths.get(key)
        credentials = self._read_entry(key, entry) if entry else None
        if credentials is not None:
            return credentials
        helper = self.cred_helpers.get(key)
        # NOTE: with credsStore set and no auths entry for host, this returns
        # None, although the store may still hold credentials for host.
        if helper is None and entry is not None:
            helper = self.creds_store
        if helper is not None:
            raise RegistryError(
                f"Docker config {self.path} keeps the credentials for {host} in the "
                f"credential helper docker-credential-{helper}, which ocilab does "
                "not support: pass username/password to RegistryAuth",
                url=self.path.as_uri(),
                status=0,
            )
        return None

    def _read_entry(self, key: str, entry: dict[str, Any]) -> Credentials | None:
        identity_token = entry.get("identitytoken") or None
        encoded = entry.get("auth")
        if encoded:
            try:
                pair = base64.b64decode(encoded, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as error:
                raise self._invalid(f"'auth' of {key!r} is not base64") from error
            username, colon, password = pair.partition(":")
            if not colon:
                raise self._invalid(f"'auth' of {key!r} is not base64 of user:pass")
            return Credentials(username, password, identity_token)
        if entry.get("username") and entry.get("password") is not None:
            return Credentials(entry["username"], entry["password"], identity_token)
        if identity_token:
            return Credentials(entry.get("username"), None, identity_token)
        return None

    def _invalid(self, problem: str) -> RegistryError:
        return RegistryError(
            f"invalid Docker config {self.path}: {problem}",
            url=self.path.as_uri(),
            status=0,
        )


def load_docker_config(path: str | Path | None = None) -> DockerConfig:
    """Read a Docker ``config.json``. A missing file reads as an empty config.

    Without path, reads ``$DOCKER_CONFIG/config.json`` when DOCKER_CONFIG (a
    folder) is set, else ``~/.docker/config.json``. Raises RegistryError when
    the file is not a JSON object.
    """
    if path is None:
        folder = os.environ.get("DOCKER_CONFIG")
        path = Path(folder) if folder else Path.home() / ".docker"
        path = path / "config.json"
    path = Path(path).absolute()
    empty = DockerConfig(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return empty
    except (ValueError, UnicodeDecodeError) as error:
        raise empty._invalid(f"not JSON ({error})") from error
    if not isinstance(document, dict):
        raise empty._invalid("the top level is not a JSON object")
    auths = document.get("auths", {})
    if auths is None:
        auths = {}
    if not isinstance(auths, dict):
        raise empty._invalid("'auths' is not an object")
    for key, entry in auths.items():
        if entry is not None and not isinstance(entry, dict):
            raise empty._invalid(f"the 'auths' entry of {key!r} is not an object")
    helpers = document.get("credHelpers") or {}
    if not isinstance(helpers, dict) or not all(
        isinstance(helper, str) for helper in helpers.values()
    ):
        raise empty._invalid(
            "'credHelpers' is not an object of registry names to helper names"
        )
    store = document.get("credsStore") or None
    if store is not None and not isinstance(store, str):
        raise empty._invalid("'credsStore' is not a helper name")
    return DockerConfig(
        path,
        {_normalize_registry_key(key): entry or {} for key, entry in auths.items()},
        store,
        {_normalize_registry_key(key): helper for key, helper in helpers.items()},
    )
