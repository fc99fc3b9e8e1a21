"""RegistryBrowser and its functions against the lab's docker-registry 2.8.

Each test module run pushes its images under a repository name of its own,
so tests never see another run's tags.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ocilab.distribution.client import RegistryClient
from ocilab.errors import RegistryError
from ocilab.image import LayerBuilder, build_image, mediatypes
from ocilab.image.build import BuiltImage, canonical_json
from ocilab.image.models import Descriptor
from ocilab.lab import LabInfo
from ocilab.widgets import RegistryBrowser
from ocilab.widgets.registry import (
    exchange_table,
    fetch_config,
    manifest_view,
    remote_layer_entries,
    repository_frame,
    tag_frame,
)

pytestmark = pytest.mark.lab


def _image(architecture: str, text: bytes) -> BuiltImage:
    base = LayerBuilder()
    base.add_file("etc/motd", b"welcome\n")
    base.add_file("var/cache/old.bin", b"x" * 2000)
    top = LayerBuilder()
    top.add_file("app/arch.txt", text)
    top.add_whiteout("etc/motd")
    top.add_opaque_whiteout("var/cache")
    return build_image(
        [base.build(), top.build()],
        platform_={"architecture": architecture, "os": "linux"},
    )


def _push(client: RegistryClient, repository: str, image: BuiltImage, tag: str) -> None:
    for blob in image.blobs:
        client.push_blob(repository, blob.data)
    client.put_manifest(repository, tag, image.manifest.data, mediatypes.OCI_MANIFEST)


@dataclass(frozen=True)
class Pushed:
    url: str
    repository: str
    single: BuiltImage
    amd64: BuiltImage
    arm64: BuiltImage
    index_digest: str


@pytest.fixture(scope="module")
def pushed(lab: LabInfo) -> Pushed:
    """Push v1 (an image with a whiteout layer) and multi (an index of two platforms)."""
    repository = f"tests/widgets-{uuid.uuid4().hex[:10]}"
    single = _image("amd64", b"single\n")
    amd64 = _image("amd64", b"amd64\n")
    arm64 = _image("arm64", b"arm64\n")
    with RegistryClient(lab.registry_url) as client:
        _push(client, repository, single, "v1")
        entries = []
        for image, architecture in ((amd64, "amd64"), (arm64, "arm64")):
            _push(client, repository, image, image.manifest.digest)
            platform = {"architecture": architecture, "os": "linux"}
            entries.append(image.manifest.descriptor(platform=platform))
        index = canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": mediatypes.OCI_INDEX,
                "manifests": entries,
            }
        )
        result = client.put_manifest(repository, "multi", index, mediatypes.OCI_INDEX)
    return Pushed(lab.registry_url, repository, single, amd64, arm64, result.digest)


@pytest.fixture
def client(pushed: Pushed) -> Iterator[RegistryClient]:
    with RegistryClient(pushed.url) as registry_client:
        yield registry_client


@pytest.fixture
def browser(client: RegistryClient) -> RegistryBrowser:
    return RegistryBrowser(client)


def _descriptor(image: BuiltImage, position: int) -> Descriptor:
    blob = image.layers[position]
    return Descriptor(blob.media_type, blob.digest, blob.size)


# Functions


def test_repository_frame_lists_repository(
    client: RegistryClient, pushed: Pushed
) -> None:
    frame = repository_frame(client)
    assert pushed.repository in set(frame["repository"])
    assert "ocilab/busybox" in set(frame["repository"])


def test_tag_frame_sorted(client: RegistryClient, pushed: Pushed) -> None:
    frame = tag_frame(client, pushed.repository)
    assert frame["tag"].tolist() == ["multi", "v1"]


def test_manifest_view_image(client: RegistryClient, pushed: Pushed) -> None:
    view = manifest_view(client, pushed.repository, "v1")
    assert view.manifest.digest == pushed.single.manifest.digest
    assert view.entries is None
    assert view.blobs is not None
    assert view.blobs["role"].tolist() == ["config", "layer", "layer"]
    expected = [pushed.single.config.digest, *(b.digest for b in pushed.single.layers)]
    assert view.blobs["digest"].tolist() == expected
    sizes = [pushed.single.config.size, *(b.size for b in pushed.single.layers)]
    assert view.blobs["size"].tolist() == sizes


def test_manifest_view_index(client: RegistryClient, pushed: Pushed) -> None:
    view = manifest_view(client, pushed.repository, "multi")
    assert view.manifest.digest == pushed.index_digest
    assert view.blobs is None
    assert view.entries is not None
    assert view.entries["platform"].tolist() == ["linux/amd64", "linux/arm64"]
    assert view.entries["kind"].tolist() == ["manifest", "manifest"]
    digests = [pushed.amd64.manifest.digest, pushed.arm64.manifest.digest]
    assert view.entries["digest"].tolist() == digests


def test_manifest_view_unknown_tag(client: RegistryClient, pushed: Pushed) -> None:
    with pytest.raises(RegistryError) as caught:
        manifest_view(client, pushed.repository, "no-such-tag")
    assert caught.value.codes == ["MANIFEST_UNKNOWN"]


def test_fetch_config_platform(client: RegistryClient, pushed: Pushed) -> None:
    config_blob = pushed.arm64.config
    descriptor = Descriptor(
        config_blob.media_type, config_blob.digest, config_blob.size
    )
    config = fetch_config(client, pushed.repository, descriptor)
    assert config["architecture"] == "arm64"
    assert len(config["rootfs"]["diff_ids"]) == 2


def test_remote_layer_whiteouts(client: RegistryClient, pushed: Pushed) -> None:
    entries = remote_layer_entries(
        client, pushed.repository, _descriptor(pushed.single, 1)
    )
    targets = entries[entries["whiteout"].notna()]["whiteout_target"]
    assert sorted(targets) == ["etc/motd", "var/cache"]
    assert "app/arch.txt" in set(entries["path"])
    assert client.exchanges[-1].bytes_received == pushed.single.layers[1].size


def test_exchange_table_from_start(client: RegistryClient, pushed: Pushed) -> None:
    tag_frame(client, pushed.repository)
    start = len(client.exchanges)
    manifest_view(client, pushed.repository, "v1")
    table = exchange_table(client, start)
    assert table["method"].tolist() == ["GET"]
    assert table["status"].tolist() == [200]
    assert table["url"].iloc[0].endswith(f"/v2/{pushed.repository}/manifests/v1")
    assert table["docker_content_digest"].iloc[0] == pushed.single.manifest.digest
    assert mediatypes.OCI_INDEX in table["accept"].iloc[0]


# RegistryBrowser


def test_browser_catalog(browser: RegistryBrowser, pushed: Pushed) -> None:
    assert pushed.repository in browser.repository.options
    assert "/v2/_catalog" in browser.exchanges_pane.value
    assert "repositories in" in browser.status_pane.value


def test_browser_tags(browser: RegistryBrowser, pushed: Pushed) -> None:
    browser.repository.value = pushed.repository
    assert browser.tag.options == ("multi", "v1")
    assert f"/v2/{pushed.repository}/tags/list" in browser.exchanges_pane.value
    assert "/v2/_catalog" not in browser.exchanges_pane.value


def test_browser_image_manifest(browser: RegistryBrowser, pushed: Pushed) -> None:
    browser.repository.value = pushed.repository
    browser.tag.value = "v1"
    assert browser.reference.value == "v1"
    assert pushed.single.manifest.digest in browser.manifest_pane.value
    for blob in pushed.single.layers:
        assert blob.digest in browser.manifest_pane.value
    assert len(browser.layer.options) == 2
    assert pushed.single.config.digest in browser.image_pane.value
    assert "diff_ids" in browser.image_pane.value


def test_browser_image_exchanges(browser: RegistryBrowser, pushed: Pushed) -> None:
    browser.repository.value = pushed.repository
    browser.tag.value = "v1"
    pane = browser.exchanges_pane.value
    assert f"/v2/{pushed.repository}/manifests/v1" in pane
    assert f"/v2/{pushed.repository}/blobs/{pushed.single.config.digest}" in pane
    assert "HTTP exchanges of the last action (manifest" in pane
    assert ": 2</h5>" in pane


def test_browser_index_platforms(browser: RegistryBrowser, pushed: Pushed) -> None:
    browser.repository.value = pushed.repository
    browser.tag.value = "multi"
    assert pushed.index_digest in browser.manifest_pane.value
    assert pushed.arm64.manifest.digest in browser.manifest_pane.value
    labels = [label for label, _ in browser.platform.options]
    assert labels[0].startswith("linux/amd64")
    assert labels[1].startswith("linux/arm64")
    assert browser.layer.options == ()


def test_browser_choose_platform(browser: RegistryBrowser, pushed: Pushed) -> None:
    browser.repository.value = pushed.repository
    browser.tag.value = "multi"
    browser.platform.value = 1
    assert pushed.arm64.manifest.digest in browser.image_pane.value
    assert pushed.arm64.config.digest in browser.image_pane.value
    assert "&quot;architecture&quot;: &quot;arm64&quot;" in browser.image_pane.value
    assert len(browser.layer.options) == 2
    assert pushed.arm64.manifest.digest in browser.exchanges_pane.value


def test_browser_layer_entries(browser: RegistryBrowser, pushed: Pushed) -> None:
    browser.repository.value = pushed.repository
    browser.tag.value = "v1"
    browser.layer.value = 1
    pane = browser.layer_pane.value
    assert "app/arch.txt" in pane
    assert "<td>etc/motd</td>" in pane
    assert "<td>var/cache</td>" in pane
    layer_digest = pushed.single.layers[1].digest
    assert (
        f"/v2/{pushed.repository}/blobs/{layer_digest}" in browser.exchanges_pane.value
    )


def test_browser_unknown_tag(browser: RegistryBrowser, pushed: Pushed) -> None:
    browser.repository.value = pushed.repository
    browser.reference.value = "no-such-tag"
    assert "MANIFEST_UNKNOWN" in browser.manifest_pane.value
    assert "HTTP status 404" in browser.manifest_pane.value
    assert "<td>404</td>" in browser.exchanges_pane.value


def test_browser_invalid_reference(browser: RegistryBrowser, pushed: Pushed) -> None:
    browser.repository.value = pushed.repository
    browser.reference.value = "bad tag!"
    assert "invalid reference" in browser.manifest_pane.value
    assert ": 0</h5>" in browser.exchanges_pane.value


def test_browser_unknown_repository(browser: RegistryBrowser) -> None:
    browser.open_repository("tests/widgets-no-such-repository")
    assert "NAME_UNKNOWN" in browser.status_pane.value
    assert browser.tag.options == ()


def test_browser_deleted_layer(client: RegistryClient, lab: LabInfo) -> None:
    repository = f"tests/widgets-deleted-{uuid.uuid4().hex[:8]}"
    image = _image("amd64", b"deleted\n")
    _push(client, repository, image, "v1")
    client.delete_blob(repository, image.layers[1].digest)
    browser = RegistryBrowser(client)
    browser.repository.value = repository
    browser.tag.value = "v1"
    browser.layer.value = 1
    assert "BLOB_UNKNOWN" in browser.layer_pane.value
    assert "HTTP status 404" in browser.layer_pane.value


def test_browser_from_url(pushed: Pushed) -> None:
    browser = RegistryBrowser(pushed.url)
    try:
        assert pushed.repository in browser.repository.options
        assert browser.client.base_url == pushed.url.rstrip("/")
    finally:
        browser.close()
    # A closed browser leaves no widget comm open in the kernel.
    assert browser.widget.comm is None
    assert browser.repository.comm is None
    assert browser.manifest_pane.comm is None


def test_browser_rejects_url() -> None:
    with pytest.raises(RegistryError, match="invalid registry URL '127.0.0.1:5000'"):
        RegistryBrowser("127.0.0.1:5000")


def test_browser_rejects_type() -> None:
    with pytest.raises(TypeError, match="got int"):
        RegistryBrowser(5000)  # type: ignore[arg-type]


def test_browser_displays_widget(browser: RegistryBrowser) -> None:
    bundle = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
