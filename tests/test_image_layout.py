"""OCI image layouts: blobs, index.json, walking, platform selection and archives."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from ocilab.errors import DigestMismatchError, ImageError
from ocilab.image import mediatypes
from ocilab.image.archive import open_archive, save_archive
from ocilab.image.build import (
    Blob,
    BuiltImage,
    LayerBuilder,
    build_image,
    canonical_json,
)
from ocilab.image.digest import digest_bytes
from ocilab.image.layout import (
    ImageRef,
    OCILayout,
    VerifyingReader,
    platform_matches,
)
from ocilab.image.models import Descriptor, Platform

IN_TOTO = "application/vnd.in-toto+json"


def make_image(
    architecture: str = "amd64", variant: str | None = None, text: bytes = b"hi"
) -> BuiltImage:
    layer = LayerBuilder()
    layer.add_file("etc/motd", text)
    platform = {"architecture": architecture, "os": "linux"}
    if variant:
        platform["variant"] = variant
    return build_image(
        [layer.build()],
        container_config={"Cmd": ["/bin/sh"]},
        platform_=platform,
    )


def make_attestation() -> BuiltImage:
    statement = Blob(IN_TOTO, b'{"_type":"https://in-toto.io/Statement/v0.1"}')
    return build_image(
        [(statement, statement.digest)],
        platform_={"architecture": "unknown", "os": "unknown"},
    )


def write_index(layout: OCILayout, entries: list[dict]) -> Descriptor:
    document = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": entries,
    }
    return layout.write_blob(canonical_json(document), media_type=mediatypes.OCI_INDEX)


def with_ref(descriptor: Descriptor, ref_name: str) -> Descriptor:
    raw = {
        "mediaType": descriptor.media_type,
        "digest": descriptor.digest,
        "size": descriptor.size,
        "annotations": {mediatypes.ANNOTATION_REF_NAME: ref_name},
    }
    return Descriptor.from_json(raw)


def index_entries(layout: OCILayout) -> list[dict]:
    return json.loads((layout.path / "index.json").read_text())["manifests"]


# create and open


def test_create_writes_layout_files(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    header = json.loads((layout.path / "oci-layout").read_text())
    assert header == {"imageLayoutVersion": "1.0.0"}
    assert index_entries(layout) == []
    assert (layout.path / "blobs").is_dir()


def test_create_rejects_nonempty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ImageError, match="not empty"):
        OCILayout.create(tmp_path)


def test_create_opens_existing_layout(tmp_path: Path) -> None:
    first = OCILayout.create(tmp_path / "oci")
    first.add_image(make_image(), "demo:1")
    second = OCILayout.create(tmp_path / "oci")
    assert [image.ref_name for image in second.images()] == ["demo:1"]


def test_open_without_oci_layout(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text("{}")
    with pytest.raises(ImageError, match="oci-layout file is missing"):
        OCILayout.open(tmp_path)


def test_open_wrong_version(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    (layout.path / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')
    with pytest.raises(ImageError, match="unsupported imageLayoutVersion '2.0.0'"):
        OCILayout.open(layout.path)


def test_open_without_index(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    (layout.path / "index.json").unlink()
    with pytest.raises(ImageError, match="index.json is missing"):
        OCILayout.open(layout.path)


def test_open_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a folder"):
        OCILayout.open(tmp_path / "absent")


# add_image and images


def test_round_trip_images(tmp_path: Path) -> None:
    built = make_image("arm64", "v8")
    descriptor = OCILayout.create(tmp_path / "oci").add_image(built, "demo:1")
    images = OCILayout.open(tmp_path / "oci").images()
    assert len(images) == 1
    image = images[0]
    assert isinstance(image, ImageRef)
    assert image.ref_name == "demo:1"
    assert image.descriptor.digest == built.manifest.digest
    assert image.descriptor == descriptor
    assert str(image.platform) == "linux/arm64/v8"
    assert image.config.cmd == ("/bin/sh",)
    assert image.manifest.layers[0].digest == built.layers[0].digest


def test_add_image_writes_every_blob(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    built = make_image()
    layout.add_image(built, "demo:1")
    for blob in (built.manifest, built.config, *built.layers):
        assert layout.blob_path(blob.digest).read_bytes() == blob.data


def test_add_image_index_entry(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    built = make_image()
    layout.add_image(built, "demo:1")
    [entry] = index_entries(layout)
    assert entry["digest"] == built.manifest.digest
    assert entry["mediaType"] == mediatypes.OCI_MANIFEST
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    assert entry["annotations"] == {mediatypes.ANNOTATION_REF_NAME: "demo:1"}


def test_add_image_replaces_same_ref(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    layout.add_image(make_image(text=b"old"), "demo:1")
    layout.add_image(make_image(text=b"other"), "demo:2")
    new = layout.add_image(make_image(text=b"new"), "demo:1")
    entries = index_entries(layout)
    names = [entry["annotations"][mediatypes.ANNOTATION_REF_NAME] for entry in entries]
    assert names == ["demo:2", "demo:1"]
    assert entries[1]["digest"] == new.digest


def test_add_image_without_ref_not_duplicated(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    built = make_image()
    layout.add_image(built)
    layout.add_image(built)
    assert len(index_entries(layout)) == 1


def test_add_index_entry_rejects_bad_ref(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    descriptor = layout.write_image(make_image())
    with pytest.raises(ImageError, match="invalid ref name"):
        layout.add_index_entry(with_ref(descriptor, "demo 1"))


def test_add_index_entry_keeps_platform(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    descriptor = Descriptor(
        media_type=mediatypes.OCI_MANIFEST,
        digest=digest_bytes(b"absent"),
        size=6,
        platform=Platform(architecture="arm", os="linux", variant="v6"),
    )
    layout.add_index_entry(descriptor)
    [entry] = index_entries(layout)
    assert entry["platform"] == {"architecture": "arm", "os": "linux", "variant": "v6"}


# blob paths


def test_blob_path_layout(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    digest = digest_bytes(b"x")
    expected = layout.path / "blobs" / "sha256" / digest.split(":")[1]
    assert layout.blob_path(digest) == expected


@pytest.mark.parametrize(
    ("digest", "message"),
    [
        ("sha256:../../etc/passwd", "invalid digest"),
        ("sha256:" + "A" * 64, "lowercase hex"),
        ("SHA256:" + "a" * 64, "invalid digest"),
        ("sha384:" + "a" * 96, "unsupported digest algorithm 'sha384'"),
        ("sha256:" + "a" * 63, "64 lowercase hex"),
        ("sha256/" + "a" * 64, "invalid digest"),
    ],
)
def test_blob_path_rejects(tmp_path: Path, digest: str, message: str) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    with pytest.raises(ImageError, match=message):
        layout.blob_path(digest)


# writing blobs


def test_write_blob_bytes(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    descriptor = layout.write_blob(b"hello", media_type="text/plain")
    assert descriptor.digest == digest_bytes(b"hello")
    assert descriptor.size == 5
    assert descriptor.media_type == "text/plain"
    assert layout.blob_path(descriptor.digest).read_bytes() == b"hello"


def test_write_blob_stream(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    data = bytes(range(256)) * 10_000
    descriptor = layout.write_blob(io.BytesIO(data))
    assert descriptor.digest == digest_bytes(data)
    assert descriptor.size == len(data)


def test_write_blob_sha512(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    digest = digest_bytes(b"hello", "sha512")
    expected = Descriptor("text/plain", digest, 5)
    assert layout.write_blob(b"hello", expected) == expected
    assert (layout.path / "blobs" / "sha512" / digest.split(":")[1]).is_file()


def test_write_blob_wrong_digest_leaves_nothing(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    expected = Descriptor("text/plain", digest_bytes(b"other"), 5)
    with pytest.raises(DigestMismatchError, match="digest mismatch"):
        layout.write_blob(b"hello", expected)
    assert not layout.blob_path(expected.digest).exists()
    assert not layout.blob_path(digest_bytes(b"hello")).exists()
    assert list((layout.path / "blobs" / "sha256").iterdir()) == []


def test_write_blob_wrong_size_leaves_nothing(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    expected = Descriptor("text/plain", digest_bytes(b"hello"), 4)
    with pytest.raises(DigestMismatchError, match="size mismatch"):
        layout.write_blob(b"hello", expected)
    assert list((layout.path / "blobs" / "sha256").iterdir()) == []


def test_write_blob_requires_size(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    expected = Descriptor("text/plain", digest_bytes(b"hello"), -1)
    with pytest.raises(ImageError, match="has no size"):
        layout.write_blob(b"hello", expected)


# reading blobs


def stored_blob(tmp_path: Path, data: bytes) -> tuple[OCILayout, Descriptor]:
    layout = OCILayout.create(tmp_path / "oci")
    return layout, layout.write_blob(data)


def test_open_blob_reads_content(tmp_path: Path) -> None:
    layout, descriptor = stored_blob(tmp_path, b"content")
    with layout.open_blob(descriptor) as reader:
        assert reader.read() == b"content"
        assert reader.verified


def test_open_blob_tampered_raises_at_eof(tmp_path: Path) -> None:
    data = b"a" * 1000
    layout, descriptor = stored_blob(tmp_path, data)
    path = layout.blob_path(descriptor.digest)
    path.write_bytes(b"b" + data[1:])
    with layout.open_blob(descriptor) as reader:
        first = reader.read(len(data))
        assert len(first) == len(data)
        with pytest.raises(DigestMismatchError, match="digest mismatch") as caught:
            reader.read(1)
    assert caught.value.expected == descriptor.digest
    assert caught.value.actual == digest_bytes(b"b" + data[1:])


def test_open_blob_truncated_raises_before_reading(tmp_path: Path) -> None:
    layout, descriptor = stored_blob(tmp_path, b"0123456789")
    layout.blob_path(descriptor.digest).write_bytes(b"01234")
    with pytest.raises(DigestMismatchError, match="size mismatch") as caught:
        layout.open_blob(descriptor)
    assert caught.value.expected == "10"
    assert caught.value.actual == "5"


def test_open_blob_missing(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    descriptor = Descriptor("text/plain", digest_bytes(b"absent"), 6)
    with pytest.raises(ImageError, match="not found"):
        layout.open_blob(descriptor)


def test_verifying_reader_stops_early() -> None:
    data = b"x" * 100
    source = io.BytesIO(data * 1000)
    reader = VerifyingReader(source, digest_bytes(data), len(data))
    with pytest.raises(DigestMismatchError, match="content has more"):
        while reader.read(4096):
            pass
    assert source.tell() == len(data) + 1


def test_verifying_reader_short_stream() -> None:
    reader = VerifyingReader(io.BytesIO(b"abc"), digest_bytes(b"abcd"), 4)
    with pytest.raises(DigestMismatchError, match="content has 3"):
        reader.read()


def test_read_blob_rejects_large(tmp_path: Path) -> None:
    layout, descriptor = stored_blob(tmp_path, b"x" * 2048)
    with pytest.raises(ImageError, match="Stream it with open_blob"):
        layout.read_blob(descriptor, max_bytes=1024)


def test_open_blob_constant_memory(tmp_path: Path) -> None:
    size = 200 << 20
    chunk = bytes(1 << 20)
    hasher = hashlib.sha256()
    for _ in range(size // len(chunk)):
        hasher.update(chunk)
    digest = f"sha256:{hasher.hexdigest()}"
    layout = OCILayout.create(tmp_path / "oci")
    path = layout.blob_path(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as sparse:
        sparse.truncate(size)
    descriptor = Descriptor(mediatypes.OCI_LAYER_TAR, digest, size)
    tracemalloc.start()
    try:
        with layout.open_blob(descriptor) as reader:
            total = 0
            while data := reader.read(1 << 20):
                total += len(data)
            verified = reader.verified
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert verified
    assert peak < 16 << 20


# nested index with an attestation


@pytest.fixture
def nested(tmp_path: Path) -> dict[str, object]:
    layout = OCILayout.create(tmp_path / "oci")
    m1 = layout.write_image(make_image("amd64"))
    m2 = layout.write_image(make_image("arm64", "v8"))
    m3 = layout.write_image(make_attestation())
    m1_json = {
        **m1.raw,
        # Ref names count only on index.json entries, so this one is ignored.
        "annotations": {mediatypes.ANNOTATION_REF_NAME: "ignored:nested"},
    }
    m3_json = {
        **m3.raw,
        "platform": {"architecture": "unknown", "os": "unknown"},
        "annotations": {
            mediatypes.DOCKER_REFERENCE_TYPE: mediatypes.ATTESTATION_MANIFEST,
            mediatypes.DOCKER_REFERENCE_DIGEST: m1.digest,
        },
    }
    inner = write_index(layout, [m1_json, m2.raw, m3_json])
    layout.add_index_entry(with_ref(inner, "demo:1"))
    return {"layout": layout, "index": inner, "m1": m1, "m2": m2, "m3": m3}


def test_nested_walk_follows_index(nested: dict) -> None:
    nodes = nested["layout"].walk()
    kinds = [(node.depth, node.kind) for node in nodes]
    assert kinds[:3] == [(0, "index"), (1, "manifest"), (2, "config")]
    assert nodes[0].digest == nested["index"].digest
    manifests = [node.digest for node in nodes if node.kind == "manifest"]
    assert manifests == [nested["m1"].digest, nested["m2"].digest]
    assert len(nodes) == 10


def test_nested_walk_parents(nested: dict) -> None:
    nodes = nested["layout"].walk()
    assert nodes[0].parent is None
    assert nodes[1].parent == nested["index"].digest
    assert nodes[2].parent == nested["m1"].digest


def test_nested_walk_inherits_platform(nested: dict) -> None:
    nodes = nested["layout"].walk()
    layer = next(node for node in nodes if node.parent == nested["m2"].digest)
    assert str(layer.platform) == "linux/arm64/v8"


def test_nested_ref_name_from_top_level(nested: dict) -> None:
    nodes = nested["layout"].walk()
    assert {node.ref_name for node in nodes} == {"demo:1"}
    assert [image.ref_name for image in nested["layout"].images()] == [
        "demo:1",
        "demo:1",
    ]


def test_nested_select_arm64(nested: dict) -> None:
    image = nested["layout"].select("linux/arm64")
    assert image.descriptor.digest == nested["m2"].digest


def test_nested_select_arm64_v8(nested: dict) -> None:
    image = nested["layout"].select("linux/arm64/v8")
    assert image.descriptor.digest == nested["m2"].digest


def test_nested_select_amd64(nested: dict) -> None:
    image = nested["layout"].select(Platform(architecture="amd64", os="linux"))
    assert image.descriptor.digest == nested["m1"].digest
    assert image.ref_name == "demo:1"


def test_nested_select_no_match(nested: dict) -> None:
    with pytest.raises(ImageError, match="no image for platform linux/s390x") as caught:
        nested["layout"].select("linux/s390x")
    assert "linux/amd64, linux/arm64/v8" in str(caught.value)
    assert "unknown" not in str(caught.value)


def test_nested_images_exclude_attestation(nested: dict) -> None:
    digests = [image.descriptor.digest for image in nested["layout"].images()]
    assert digests == [nested["m1"].digest, nested["m2"].digest]
    assert nested["m3"].digest not in digests


def test_nested_images_by_platform(nested: dict) -> None:
    images = nested["layout"].images("linux/arm64")
    assert [image.descriptor.digest for image in images] == [nested["m2"].digest]


def test_nested_attestations(nested: dict) -> None:
    [node] = nested["layout"].attestations()
    assert node.digest == nested["m3"].digest
    assert node.kind == "attestation"
    assert node.descriptor.annotations[mediatypes.DOCKER_REFERENCE_DIGEST] == (
        nested["m1"].digest
    )


def test_nested_attestation_layer_walked(nested: dict) -> None:
    nodes = nested["layout"].walk()
    layers = [node for node in nodes if node.parent == nested["m3"].digest]
    assert [node.kind for node in layers] == ["config", "layer"]
    assert layers[1].descriptor.media_type == IN_TOTO


def test_attestation_by_platform_only(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    descriptor = layout.write_image(make_attestation())
    layout.add_index_entry(descriptor)
    assert layout.images() == []
    assert [node.digest for node in layout.attestations()] == [descriptor.digest]


def test_nested_tree(nested: dict) -> None:
    lines = nested["layout"].tree().splitlines()
    short = nested["index"].digest[:19]
    assert lines[0] == "index.json"
    assert lines[1].startswith(f"└── index  {short}")
    assert lines[1].endswith("ref=demo:1")
    assert lines[2].startswith("    ├── manifest  linux/amd64  ")
    assert lines[3].startswith("    │   ├── config  ")
    assert lines[4].startswith("    │   └── layer  ")
    assert lines[-1].startswith("        └── layer  ")
    assert len(lines) == 11


def test_nested_frame(nested: dict) -> None:
    frame = nested["layout"].frame()
    assert len(frame) == 10
    assert list(frame["kind"]).count("layer") == 3
    assert set(frame["ref_name"]) == {"demo:1"}
    assert frame["present"].all()


# hostile graphs


def test_walk_tampered_manifest(nested: dict) -> None:
    layout = nested["layout"]
    path = layout.blob_path(nested["m2"].digest)
    path.write_bytes(
        path.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion":3')
    )
    with pytest.raises(DigestMismatchError, match=nested["m2"].digest):
        layout.walk()


def self_listing_layout(tmp_path: Path) -> tuple[OCILayout, str]:
    """Store an index under a digest that its own content lists.

    The content cannot hash to that digest, so only a reader that skips
    verification would follow the cycle.
    """
    layout = OCILayout.create(tmp_path / "oci")
    digest = digest_bytes(b"placeholder")
    entry = {"mediaType": mediatypes.OCI_INDEX, "digest": digest, "size": 0}
    document = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [entry],
    }
    data = canonical_json(document)
    # The size field is part of the content, so settle it by repeating.
    for _ in range(3):
        entry["size"] = len(data)
        data = canonical_json(document)
    path = layout.blob_path(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    layout.add_index_entry(
        Descriptor.from_json(
            {**entry, "annotations": {mediatypes.ANNOTATION_REF_NAME: "loop"}}
        )
    )
    return layout, digest


def test_walk_self_listing_index_fails_verification(tmp_path: Path) -> None:
    layout, digest = self_listing_layout(tmp_path)
    with pytest.raises(DigestMismatchError, match="digest mismatch") as caught:
        layout.walk()
    assert caught.value.expected == digest


def test_walk_cycle_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout, digest = self_listing_layout(tmp_path)

    def read_unverified(
        self: OCILayout, descriptor: Descriptor, max_bytes: int = 0
    ) -> bytes:
        return self.blob_path(descriptor.digest).read_bytes()

    monkeypatch.setattr(OCILayout, "read_blob", read_unverified)
    short = digest[:19]
    with pytest.raises(ImageError, match="cycle") as caught:
        layout.walk()
    assert f"index.json → {short} → {short}" in str(caught.value)
    assert f"{digest} lists one of its own ancestors" in str(caught.value)


def chain_of_indexes(tmp_path: Path, levels: int) -> OCILayout:
    layout = OCILayout.create(tmp_path / "oci")
    descriptor = layout.write_image(make_image())
    for _ in range(levels):
        descriptor = write_index(layout, [descriptor.to_json()])
    layout.add_index_entry(with_ref(descriptor, "deep"))
    return layout


def test_walk_depth_limit(tmp_path: Path) -> None:
    layout = chain_of_indexes(tmp_path, 10)
    with pytest.raises(ImageError, match="nests deeper than max_depth=8") as caught:
        layout.walk()
    # The first node past the limit is at depth 9: index.json and ten digests.
    assert str(caught.value).count("→") == 10
    assert ": index.json → sha256:" in str(caught.value)


def test_walk_depth_limit_argument(tmp_path: Path) -> None:
    layout = chain_of_indexes(tmp_path, 2)
    assert len(layout.walk()) == 5
    with pytest.raises(ImageError, match="max_depth=1"):
        layout.walk(max_depth=1)


def test_walk_node_limit(tmp_path: Path) -> None:
    layout = chain_of_indexes(tmp_path, 2)
    with pytest.raises(ImageError, match="max_nodes=3"):
        layout.walk(max_nodes=3)


def test_walk_media_type_mismatch(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    manifest = layout.write_image(make_image())
    wrong = {**manifest.raw, "mediaType": mediatypes.OCI_INDEX}
    layout.add_index_entry(Descriptor.from_json(wrong))
    with pytest.raises(ImageError, match="media type mismatch"):
        layout.walk()


def test_missing_manifest_not_runnable(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    stored = layout.write_image(make_image("amd64"))
    absent = {
        "mediaType": mediatypes.OCI_MANIFEST,
        "digest": digest_bytes(b"not stored"),
        "size": 10,
        "platform": {"architecture": "ppc64le", "os": "linux"},
    }
    inner = write_index(layout, [stored.raw, absent])
    layout.add_index_entry(with_ref(inner, "partial"))
    assert [image.descriptor for image in layout.images()] == [stored]
    [node] = [node for node in layout.walk() if node.digest == absent["digest"]]
    assert not node.present
    with pytest.raises(
        ImageError, match="Listed in an index but not stored: linux/ppc64le"
    ):
        layout.select("linux/ppc64le")


def test_select_ambiguous_refs(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    layout.add_image(make_image(text=b"one"), "demo:1")
    layout.add_image(make_image(text=b"two"), "demo:2")
    with pytest.raises(ImageError, match="Pass ref_name"):
        layout.select("linux/amd64")
    chosen = layout.select("linux/amd64", ref_name="demo:2")
    assert chosen.ref_name == "demo:2"


# platform matching


@pytest.mark.parametrize(
    ("candidate", "requested", "expected"),
    [
        ("linux/arm64", "linux/arm64/v8", True),
        ("linux/arm64/v8", "linux/arm64", True),
        ("linux/arm64/v8", "linux/arm64/8", True),
        ("linux/arm64/v9", "linux/arm64", False),
        ("linux/arm/v7", "linux/arm", True),
        ("linux/arm", "linux/arm/v7", True),
        ("linux/arm/v6", "linux/arm", False),
        ("linux/amd64", "linux/amd64/v3", True),
        ("linux/amd64/v3", "linux/amd64", True),
        ("linux/amd64/v1", "linux/amd64", True),
        ("linux/amd64/v2", "linux/amd64/v3", False),
        ("linux/amd64", "linux/arm64", False),
        ("windows/amd64", "linux/amd64", False),
    ],
)
def test_platform_matches(candidate: str, requested: str, expected: bool) -> None:
    assert (
        platform_matches(Platform.parse(candidate), Platform.parse(requested))
        is expected
    )


def test_select_prefers_exact_variant(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    baseline = layout.write_image(make_image("amd64", text=b"v1"))
    modern = layout.write_image(make_image("amd64", "v3", text=b"v3"))
    inner = write_index(layout, [baseline.raw, modern.raw])
    layout.add_index_entry(with_ref(inner, "demo:1"))
    assert layout.select("linux/amd64/v3").descriptor == modern
    assert layout.select("linux/amd64").descriptor == baseline


# archives


def test_archive_round_trip(tmp_path: Path, nested: dict) -> None:
    tar_path = save_archive(nested["layout"].path, tmp_path / "demo.tar")
    restored = open_archive(tar_path, tmp_path / "restored")
    digests = [image.descriptor.digest for image in restored.images()]
    assert digests == [nested["m1"].digest, nested["m2"].digest]
    assert restored.tree() == nested["layout"].tree()


def test_archive_deterministic(tmp_path: Path, nested: dict) -> None:
    first = save_archive(nested["layout"].path, tmp_path / "a.tar").read_bytes()
    second = save_archive(nested["layout"].path, tmp_path / "b.tar").read_bytes()
    assert first == second


def test_archive_members(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "oci")
    built = make_image()
    layout.add_image(built, "demo:1")
    (layout.path / "blobs" / "sha256" / ".tmp-leftover").write_bytes(b"x")
    tar_path = save_archive(layout.path, tmp_path / "demo.tar")
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
    names = [member.name for member in members]
    blobs = sorted(
        blob.digest.split(":")[1]
        for blob in (built.manifest, built.config, *built.layers)
    )
    assert names == [
        "blobs",
        "blobs/sha256",
        *(f"blobs/sha256/{b}" for b in blobs),
        "index.json",
        "oci-layout",
    ]
    assert {member.mtime for member in members} == {0}
    assert {(member.uid, member.gid) for member in members} == {(0, 0)}
    assert {member.uname for member in members} == {""}


def hostile_tar(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    """Write a valid layout archive plus one extra member."""
    layout = OCILayout.create(tmp_path / "src")
    tar_path = save_archive(layout.path, tmp_path / "base.tar")
    out = tmp_path / "hostile.tar"
    with tarfile.open(tar_path) as source, tarfile.open(out, "w") as target:
        for item in source.getmembers():
            target.addfile(item, source.extractfile(item) if item.isreg() else None)
        member.size = len(data)
        target.addfile(member, io.BytesIO(data) if data else None)
    return out


def tar_member(
    name: str, kind: bytes = tarfile.REGTYPE, linkname: str = ""
) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = linkname
    return member


BLOB_NAME = "blobs/sha256/" + "a" * 64


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (
            tar_member("blobs/sha256/evil", tarfile.SYMTYPE, "/etc/passwd"),
            "symbolic link",
        ),
        (tar_member(BLOB_NAME, tarfile.LNKTYPE, "index.json"), "hard link"),
        (tar_member("blobs/dev", tarfile.CHRTYPE), "character device"),
        (tar_member("blobs/fifo", tarfile.FIFOTYPE), "FIFO"),
        (tar_member("/etc/cron.d/evil"), "absolute path"),
        (tar_member("../evil"), 'path contains ".."'),
        (tar_member("blobs/sha256/../../evil"), 'path contains ".."'),
        (tar_member("etc/passwd"), "unexpected file"),
        (tar_member("blobs/sha256/" + "A" * 64), "invalid blob name: invalid digest"),
        (
            tar_member("blobs/sha384/" + "a" * 96),
            "invalid blob name: unsupported digest algorithm",
        ),
        (tar_member("index.json"), "appears more than once"),
        (tar_member("extra", tarfile.DIRTYPE), "unexpected folder"),
    ],
)
def test_open_archive_rejects(
    tmp_path: Path, member: tarfile.TarInfo, problem: str
) -> None:
    tar_path = hostile_tar(tmp_path, member, b"x" if member.isreg() else b"")
    with pytest.raises(ImageError, match="Rejected members") as caught:
        open_archive(tar_path, tmp_path / "out")
    assert f"{member.name!r}: {problem}" in str(caught.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_open_archive_wrong_blob_content(tmp_path: Path) -> None:
    tar_path = hostile_tar(tmp_path, tar_member(BLOB_NAME), b"not the content")
    with pytest.raises(DigestMismatchError, match=BLOB_NAME):
        open_archive(tar_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_open_archive_nonempty_dest(tmp_path: Path, nested: dict) -> None:
    tar_path = save_archive(nested["layout"].path, tmp_path / "demo.tar")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(ImageError, match="choose a new or empty folder"):
        open_archive(tar_path, tmp_path / "out")


def test_open_archive_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar"
    path.write_bytes(b"not a tar file" * 100)
    with pytest.raises(ImageError, match="cannot read archive"):
        open_archive(path, tmp_path / "out")


def test_open_archive_dot_prefixed_names(tmp_path: Path, nested: dict) -> None:
    source = nested["layout"].path
    tar_path = tmp_path / "dot.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(source, arcname=".")
    restored = open_archive(tar_path, tmp_path / "out")
    assert len(restored.images()) == 2
