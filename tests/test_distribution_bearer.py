"""The Bearer token flow against a real docker-registry with token auth."""

from __future__ import annotations

import pytest

from ocilab.cri import CRIClient
from ocilab.distribution.auth import RegistryAuth
from ocilab.distribution.client import RegistryClient
from ocilab.errors import CRICallError, RegistryError
from ocilab.image import LayerBuilder, build_image
from ocilab.lab import LabInfo

from .conftest import BearerRegistry


def _image(text: str):
    layer = LayerBuilder()
    layer.add_file("bearer.txt", text.encode())
    return build_image(
        [layer.build()], container_config={"Cmd": ["cat", "/bearer.txt"]}
    )


def _push(registry: BearerRegistry, repository: str, text: str):
    image = _image(text)
    auth = RegistryAuth(registry.url, registry.username, registry.password)
    with RegistryClient(registry.url, auth=auth) as client:
        for blob in image.blobs:
            client.push_blob(repository, blob.data)
        client.put_manifest(
            repository, "v1", image.manifest.data, image.manifest.media_type
        )
        statuses = list(client.exchanges_frame()["status"])
    return image, statuses


def test_bearer_push_pull_round_trip(bearer_registry: BearerRegistry) -> None:
    image, statuses = _push(bearer_registry, "bearer/roundtrip", "round trip")
    assert 401 in statuses
    auth = RegistryAuth(
        bearer_registry.url, bearer_registry.username, bearer_registry.password
    )
    with RegistryClient(bearer_registry.url, auth=auth) as client:
        manifest = client.get_manifest("bearer/roundtrip", "v1")
    assert manifest.data == image.manifest.data
    scopes = [query.get("scope") for query in bearer_registry.token_server.requests]
    assert ["repository:bearer/roundtrip:pull,push"] in scopes or [
        "repository:bearer/roundtrip:push,pull"
    ] in scopes


def test_bearer_wrong_password_rejected(bearer_registry: BearerRegistry) -> None:
    auth = RegistryAuth(bearer_registry.url, bearer_registry.username, "wrong")
    with RegistryClient(bearer_registry.url, auth=auth, retries=0) as client:
        with pytest.raises(RegistryError):
            client.tags("bearer/roundtrip")


def test_bearer_without_credentials_rejected(bearer_registry: BearerRegistry) -> None:
    with RegistryClient(bearer_registry.url, retries=0) as client:
        with pytest.raises(RegistryError) as caught:
            client.tags("bearer/roundtrip")
    assert caught.value.status == 401


@pytest.mark.lab
def test_cri_pull_through_token_auth(
    lab: LabInfo, bearer_registry: BearerRegistry
) -> None:
    image, _ = _push(bearer_registry, "bearer/cri", "cri password")
    reference = f"{bearer_registry.host}/bearer/cri:v1"
    with CRIClient(lab.cri_endpoint, timeout=60) as cri:
        image_ref = cri.pull_image(
            reference,
            username=bearer_registry.username,
            password=bearer_registry.password,
        )
        cri.remove_image(reference)
    assert image_ref == image.config.digest


@pytest.mark.lab
def test_cri_registry_token_ignored_by_containerd_1_6(
    lab: LabInfo, bearer_registry: BearerRegistry
) -> None:
    # containerd 1.6's CRI plugin reads username, password, auth and
    # identity_token from AuthConfig but not registry_token, so it requests an
    # anonymous token from the token server. ocilab sends the field; this records what
    # the lab's runtime does with it.
    _push(bearer_registry, "bearer/cri-token", "cri token")
    reference = f"{bearer_registry.host}/bearer/cri-token:v1"
    token = bearer_registry.token_server.issuer.token(
        bearer_registry.username, ["repository:bearer/cri-token:pull"]
    )
    with CRIClient(lab.cri_endpoint, timeout=60) as cri:
        with pytest.raises(CRICallError, match="anonymous token"):
            cri.pull_image(reference, registry_token=token)
