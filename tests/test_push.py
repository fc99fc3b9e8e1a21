"""Pushing built images: to the lab's registry, and errors when it is unreachable."""

from __future__ import annotations

import httpx
import pytest

from ocilab.distribution import push_image, push_manifest
from ocilab.errors import RegistryError
from ocilab.image import LayerBuilder, build_image, mediatypes
from ocilab.lab import LabInfo
from ocilab.lab._prereq import free_port


def _tiny_image(text: str):
    layer = LayerBuilder()
    layer.add_file("hello.txt", text.encode())
    return build_image([layer.build()], container_config={"Cmd": ["cat", "/hello.txt"]})


@pytest.mark.lab
def test_push_then_pull_manifest(lab: LabInfo) -> None:
    image = _tiny_image("push test")
    digest = push_image(lab.registry_url, "tests/tiny", image, ["v1", "v2"])
    assert digest == image.manifest.digest
    for tag in ("v1", "v2"):
        response = httpx.get(
            f"{lab.registry_url}/v2/tests/tiny/manifests/{tag}",
            headers={"Accept": mediatypes.OCI_MANIFEST},
        )
        assert response.status_code == 200
        assert response.content == image.manifest.data
    layer = image.layers[0]
    blob = httpx.get(f"{lab.registry_url}/v2/tests/tiny/blobs/{layer.digest}")
    assert blob.content == layer.data


@pytest.mark.lab
def test_push_twice_skips_existing_blobs(lab: LabInfo) -> None:
    image = _tiny_image("pushed twice")
    push_image(lab.registry_url, "tests/twice", image, ["a"])
    assert (
        push_image(lab.registry_url, "tests/twice", image, ["b"])
        == image.manifest.digest
    )


@pytest.mark.lab
def test_push_manifest_without_blobs_shows_codes(lab: LabInfo) -> None:
    image = _tiny_image("blobs never pushed")
    with httpx.Client() as client, pytest.raises(RegistryError) as caught:
        push_manifest(client, lab.registry_url, "tests/missing", "x", image.manifest)
    assert caught.value.status == 400
    assert "MANIFEST_BLOB_UNKNOWN" in caught.value.codes
    assert "MANIFEST_BLOB_UNKNOWN" in str(caught.value)


@pytest.mark.lab
def test_push_uppercase_repository_not_found(lab: LabInfo) -> None:
    with pytest.raises(RegistryError, match="returned 404") as caught:
        push_image(lab.registry_url, "Invalid/UPPER", _tiny_image("bad name"), ["x"])
    assert caught.value.status == 404
    assert "/v2/Invalid/UPPER/blobs/uploads/" in caught.value.url


def test_push_unreachable_registry() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(
        RegistryError, match="check that the registry is running"
    ) as caught:
        push_image(url, "tests/none", _tiny_image("nowhere"), ["x"], timeout=5)
    assert caught.value.status == 0
    assert caught.value.url.startswith(url)
