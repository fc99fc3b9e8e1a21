"""copy_image and `ocilab registry` against the lab's real registry."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ocilab.distribution.client import RegistryClient
from ocilab.distribution.copy import (
    LayoutReference,
    RegistryReference,
    copy_image,
    parse_reference,
)
from ocilab.errors import ImageError
from ocilab.image import LayerBuilder, build_image, mediatypes
from ocilab.image.build import canonical_json
from ocilab.image.layout import OCILayout
from ocilab.image.models import Descriptor
from ocilab.lab import LabInfo

REPO = Path(__file__).resolve().parent.parent
PLATFORMS = (
    {"os": "linux", "architecture": "amd64"},
    {"os": "linux", "architecture": "arm64"},
)


def _multi_platform_layout(path: Path) -> tuple[OCILayout, Descriptor]:
    """Write two single-layer images and an index of both, under ref "multi"."""
    layout = OCILayout.create(path)
    children = []
    for platform in PLATFORMS:
        builder = LayerBuilder()
        builder.add_file("etc/arch", platform["architecture"].encode())
        image = build_image([builder.build()], platform_=platform)
        children.append(layout.write_image(image).to_json())
    index = canonical_json(
        {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": children}
    )
    descriptor = layout.write_blob(index, media_type=mediatypes.OCI_INDEX)
    named = Descriptor.from_json(
        {
            **descriptor.to_json(),
            "annotations": {mediatypes.ANNOTATION_REF_NAME: "multi"},
        }
    )
    layout.add_index_entry(named)
    return layout, descriptor


def _host(lab: LabInfo) -> str:
    return lab.registry_url.removeprefix("http://")


def _repository() -> str:
    return f"copytest/{uuid.uuid4().hex[:10]}"


def _blob_files(layout: OCILayout) -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in (layout.path / "blobs" / "sha256").iterdir()
    }


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocilab.distribution.cli", "registry", *args],
        capture_output=True,
        check=False,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_parse_reference_forms() -> None:
    layout = parse_reference("oci:/tmp/a:b/layout:v1")
    assert layout == LayoutReference(Path("/tmp/a:b/layout"), "v1")
    assert parse_reference("oci:out") == LayoutReference(Path("out"))
    local = parse_reference("127.0.0.1:5000/lib/app:1.0")
    assert local == RegistryReference("127.0.0.1:5000", "lib/app", "1.0", None, "http")
    remote = parse_reference("ghcr.io/o/app@sha256:" + "a" * 64)
    assert isinstance(remote, RegistryReference)
    assert remote.scheme == "https"
    assert remote.reference == "sha256:" + "a" * 64
    assert parse_reference("localhost/app").reference == "latest"  # type: ignore[union-attr]


def test_parse_reference_rejects_bare_name() -> None:
    with pytest.raises(ImageError, match="HOST"):
        parse_reference("alpine")


@pytest.mark.lab
def test_copy_round_trip_all_platforms_lab(lab: LabInfo, tmp_path: Path) -> None:
    source, index = _multi_platform_layout(tmp_path / "source")
    repository = _repository()
    target = f"{_host(lab)}/{repository}:v1"

    pushed = copy_image("oci:" + str(source.path) + ":multi", target, progress=False)
    assert pushed.digest == index.digest
    assert pushed.blobs_copied == 4
    assert pushed.blobs_skipped == 0
    assert len(pushed.manifests) == 3

    with RegistryClient(lab.registry_url) as client:
        served = client.get_manifest(repository, "v1")
    assert served.data == source.read_blob(index)

    again = copy_image("oci:" + str(source.path) + ":multi", target, progress=False)
    assert again.blobs_copied == 0
    assert again.blobs_skipped == 4
    assert again.bytes_copied == 0

    pulled = copy_image(target, f"oci:{tmp_path / 'pulled'}:copy", progress=False)
    assert pulled.digest == index.digest
    destination = OCILayout.open(tmp_path / "pulled")
    assert _blob_files(destination) == _blob_files(source)
    entries = destination.index().manifests
    assert [e.ref_name for e in entries] == ["copy"]
    assert entries[0].digest == index.digest


@pytest.mark.lab
def test_copy_registry_to_registry_mounts_lab(lab: LabInfo, tmp_path: Path) -> None:
    source, index = _multi_platform_layout(tmp_path / "source")
    first, second = _repository(), _repository()
    host = _host(lab)
    copy_image(f"oci:{source.path}:multi", f"{host}/{first}:v1", progress=False)

    with RegistryClient(lab.registry_url) as client:
        result = copy_image(
            f"{host}/{first}:v1",
            f"{host}/{second}:v2",
            progress=False,
            clients={host: client},
        )
        frame = client.exchanges_frame()
        copied = client.get_manifest(second, "v2")
    assert result.digest == index.digest
    assert result.blobs_copied == 4
    assert copied.data == source.read_blob(index)
    posts = frame[frame["method"] == "POST"]
    assert len(posts) == 4
    assert posts["url"].str.contains("mount=").all()
    assert not (frame["method"] == "PATCH").any()


@pytest.mark.lab
def test_copy_selects_platform_lab(lab: LabInfo, tmp_path: Path) -> None:
    source, index = _multi_platform_layout(tmp_path / "source")
    repository = _repository()
    target = f"{_host(lab)}/{repository}:arm"
    children = OCILayout.open(source.path).index().manifests
    assert children  # the index.json of the source lists the index

    result = copy_image(
        f"oci:{source.path}:multi", target, platform="linux/arm64", progress=False
    )
    assert result.digest != index.digest
    assert result.blobs_copied == 2
    assert len(result.manifests) == 1
    with RegistryClient(lab.registry_url) as client:
        served = client.get_manifest(repository, "arm")
    assert served.digest == result.digest
    assert served.media_type == mediatypes.OCI_MANIFEST

    with pytest.raises(ImageError, match="linux/s390x"):
        copy_image(
            f"oci:{source.path}:multi", target, platform="linux/s390x", progress=False
        )


@pytest.mark.lab
def test_cli_push_pull_tags_delete_lab(lab: LabInfo, tmp_path: Path) -> None:
    source, index = _multi_platform_layout(tmp_path / "source")
    repository = f"{_host(lab)}/{_repository()}"

    push = _cli(
        "push", "-q", "-o", "json", f"oci:{source.path}:multi", f"{repository}:v1"
    )
    assert push.returncode == 0, push.stderr
    assert json.loads(push.stdout)["digest"] == index.digest

    tags = _cli("tags", "-o", "json", repository)
    assert tags.returncode == 0, tags.stderr
    assert json.loads(tags.stdout) == ["v1"]

    manifest = _cli("manifest", f"{repository}:v1")
    assert manifest.returncode == 0, manifest.stderr
    assert manifest.stdout.encode() == source.read_blob(index) + b"\n"

    pull = _cli("pull", "-q", f"{repository}:v1", f"oci:{tmp_path / 'pulled'}:v1")
    assert pull.returncode == 0, pull.stderr
    assert _blob_files(OCILayout.open(tmp_path / "pulled")) == _blob_files(source)

    delete = _cli("delete", "--show-exchanges", f"{repository}@{index.digest}")
    assert delete.returncode == 0, delete.stderr
    assert "DELETE" in delete.stderr
    head = _cli("manifest", "--head", f"{repository}@{index.digest}")
    assert head.returncode == 1


@pytest.mark.lab
def test_cli_reports_missing_manifest_lab(lab: LabInfo) -> None:
    missing = _cli("manifest", f"{_host(lab)}/{_repository()}:absent")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ")


def test_cli_basic_auth_registry(basic_auth_registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source, _ = _multi_platform_layout(tmp_path / "source")
    registry = basic_auth_registry
    target = f"{registry.host}/private/app:v1"
    credentials = ("--username", registry.username, "--password", registry.password)

    refused = _cli("push", "-q", f"oci:{source.path}:multi", target)
    assert refused.returncode == 2
    assert "error: " in refused.stderr

    push = _cli("push", "-q", *credentials, f"oci:{source.path}:multi", target)
    assert push.returncode == 0, push.stderr
    tags = _cli("tags", "-o", "json", *credentials, f"{registry.host}/private/app")
    assert tags.returncode == 0, tags.stderr
    assert json.loads(tags.stdout) == ["v1"]
