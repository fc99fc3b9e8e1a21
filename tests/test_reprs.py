"""Rich HTML representations of image models, runtime configs and findings.

The documents are real: images built by ocilab and stored in an OCI layout,
and runtime configs from ocilab.runtime. Hostile strings check the escaping.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from ocilab._html import human_size
from ocilab.image import (
    BuiltImage,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    LayerBuilder,
    OCILayout,
    build_image,
    mediatypes,
)
from ocilab.image.models import load_json
from ocilab.image.validate import validate_document
from ocilab.runtime import RuntimeConfig, default_config, dumps, validate_config

SCRIPT = "<script>alert(1)</script>"
FILE_NAME = "a&<b>.txt"
TITLE = "org.opencontainers.image.title"


def _image(platform: dict[str, str] | None = None) -> BuiltImage:
    layer = LayerBuilder()
    layer.add_file(FILE_NAME, b"hello\n")
    second = LayerBuilder()
    second.add_file("etc/motd", b"x" * 5000)
    return build_image(
        [layer.build(), second.build()],
        container_config={
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo hi"],
            "Env": ["PATH=/bin", "GREETING=a=b"],
            "WorkingDir": "/srv",
            "User": "1000:1000",
            "Labels": {"note": SCRIPT},
        },
        created_by="ocilab test build",
        platform_=platform,
        annotations={"purpose": SCRIPT},
    )


def _manifest_with_titles(image: BuiltImage) -> ImageManifest:
    """Return the image's manifest with a title annotation on each layer."""
    raw = load_json(image.manifest.data)
    for layer in raw["layers"]:
        layer["annotations"] = {TITLE: FILE_NAME}
    return ImageManifest.from_json(raw)


def _escaped_only(page: str, text: str) -> bool:
    return html.escape(text) in page and text not in page


# -- manifest ----------------------------------------------------------------------


def test_manifest_html_blobs() -> None:
    image = _image()
    manifest = ImageManifest.from_json(load_json(image.manifest.data))
    page = manifest._repr_html_()
    assert mediatypes.OCI_MANIFEST in page
    for blob in (image.config, *image.layers):
        assert f"<td>{blob.digest}</td>" in page
        assert f"<td>{human_size(blob.size)}</td>" in page
        assert f"<td>{blob.size}</td>" in page
        assert f"<td>{blob.media_type}</td>" in page


def test_manifest_html_total_size() -> None:
    image = _image()
    manifest = ImageManifest.from_json(load_json(image.manifest.data))
    total = sum(layer.size for layer in image.layers)
    assert f"2, {human_size(total)} ({total:,} bytes) compressed in all" in (
        manifest._repr_html_()
    )


def test_manifest_html_escapes_annotations() -> None:
    manifest = _manifest_with_titles(_image())
    page = manifest._repr_html_()
    assert _escaped_only(page, SCRIPT)
    assert _escaped_only(page, FILE_NAME)
    assert "purpose" in page


def test_manifest_html_json_collapsed() -> None:
    manifest = ImageManifest.from_json(load_json(_image().manifest.data))
    page = manifest._repr_html_()
    details = page[page.index("<details>") :]
    assert details.startswith("<details><summary>JSON</summary><pre")
    assert "&quot;schemaVersion&quot;: 2" in details


def test_manifest_repr_unchanged() -> None:
    manifest = ImageManifest.from_json(load_json(_image().manifest.data))
    assert repr(manifest).startswith("ImageManifest(schema_version=2, media_type=")
    assert "<h4>" not in repr(manifest)


# -- index and descriptor ---------------------------------------------------------------


@pytest.fixture
def layout(tmp_path: Path) -> tuple[OCILayout, list[Descriptor]]:
    """A layout with an amd64 and an arm64/v8 image, both listed in index.json."""
    layout = OCILayout.create(tmp_path / "layout")
    descriptors = [
        layout.add_image(_image({"architecture": "amd64", "os": "linux"}), "amd"),
        layout.add_image(
            _image({"architecture": "arm64", "os": "linux", "variant": "v8"}), "arm"
        ),
    ]
    return layout, descriptors


def test_index_html_platforms(layout: tuple[OCILayout, list[Descriptor]]) -> None:
    stored, descriptors = layout
    page = stored.index()._repr_html_()
    assert mediatypes.OCI_INDEX in page
    for descriptor in descriptors:
        assert f"<td>{descriptor.digest}</td>" in page
        assert f"<td>{descriptor.size}</td>" in page
    assert "<td>linux/amd64</td>" in page
    assert "<td>linux/arm64/v8</td>" in page
    assert f"{mediatypes.ANNOTATION_REF_NAME}=arm" in page


def test_index_html_escapes_annotations() -> None:
    image = _image()
    entry = image.manifest.descriptor(annotations={TITLE: FILE_NAME})
    index = ImageIndex.from_json(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [entry],
            "annotations": {"owner": SCRIPT},
        }
    )
    page = index._repr_html_()
    assert _escaped_only(page, SCRIPT)
    assert _escaped_only(page, FILE_NAME)


def test_index_html_empty() -> None:
    index = ImageIndex.from_json({"schemaVersion": 2, "manifests": []})
    assert "no manifests" in index._repr_html_()


def test_descriptor_html(layout: tuple[OCILayout, list[Descriptor]]) -> None:
    _, descriptors = layout
    arm = descriptors[1]
    page = arm._repr_html_()
    assert arm.digest in page
    assert f"{human_size(arm.size)} ({arm.size:,} bytes)" in page
    assert "linux/arm64/v8" in page
    assert "<details><summary>JSON</summary>" in page


def test_descriptor_html_escapes() -> None:
    descriptor = Descriptor.from_json(
        _image().layers[0].descriptor(annotations={TITLE: FILE_NAME, "x": SCRIPT})
    )
    page = descriptor._repr_html_()
    assert _escaped_only(page, FILE_NAME)
    assert _escaped_only(page, SCRIPT)


def test_descriptor_html_missing_size() -> None:
    descriptor = Descriptor.from_json({"mediaType": mediatypes.OCI_CONFIG})
    assert ">?</td>" in descriptor._repr_html_()


# -- image config -------------------------------------------------------------------


def test_config_html_fields() -> None:
    image = _image({"architecture": "arm64", "os": "linux", "variant": "v8"})
    config = ImageConfig.from_json(load_json(image.config.data))
    page = config._repr_html_()
    assert "linux/arm64/v8" in page
    assert html.escape(json.dumps(["/bin/sh", "-c"])) in page
    assert html.escape(json.dumps(["echo hi"])) in page
    assert "/srv" in page
    assert "1000:1000" in page
    assert "<td>GREETING</td>" in page
    assert "<td>a=b</td>" in page


def test_config_html_layers_and_history() -> None:
    config = ImageConfig.from_json(load_json(_image().config.data))
    page = config._repr_html_()
    assert "diff_ids (2)" in page
    for diff_id in config.diff_ids:
        assert f"<td>{diff_id}</td>" in page
    assert "History (2)" in page
    assert page.count("<td>ocilab test build</td>") == 2


def test_config_html_escapes_labels() -> None:
    config = ImageConfig.from_json(load_json(_image().config.data))
    assert _escaped_only(config._repr_html_(), SCRIPT)


# -- runtime config -------------------------------------------------------------------


def _hostile_runtime_config() -> RuntimeConfig:
    document = json.loads(dumps(default_config()))
    document["process"]["args"] = ["sh", "-c", f"cat /{FILE_NAME}"]
    document["mounts"].append(
        {"destination": "/data", "type": "bind", "source": f"/tmp/{FILE_NAME}",
         "options": ["rbind", "ro"]}
    )  # fmt: skip
    document["annotations"] = {"note": SCRIPT}
    document["linux"]["resources"]["memory"] = {"limit": 268435456}
    return RuntimeConfig.from_json(document)


def test_runtime_config_html_fields() -> None:
    config = default_config()
    page = config._repr_html_()
    assert config.process is not None
    assert html.escape(json.dumps(list(config.process.args))) in page
    assert f">{config.hostname}</td>" in page
    assert "pid, network, ipc, uts, mount" in page
    assert f">{len(config.mounts)}</td>" in page
    assert "uid 0, gid 0" in page
    assert "<details><summary>config.json</summary>" in page


def test_runtime_config_html_resources() -> None:
    page = _hostile_runtime_config()._repr_html_()
    assert "memory.limit=268435456" in page
    assert "<details><summary>linux.resources</summary>" in page


def test_runtime_config_html_capabilities() -> None:
    config = default_config()
    assert config.process is not None
    assert config.process.capabilities is not None
    bounding = len(config.process.capabilities.bounding)
    page = config._repr_html_()
    assert f"bounding {bounding}" in page
    assert "CAP_KILL" in page


def test_runtime_config_html_escapes() -> None:
    page = _hostile_runtime_config()._repr_html_()
    assert _escaped_only(page, SCRIPT)
    assert _escaped_only(page, FILE_NAME)
    assert "mounts (8)" in page


# -- findings -------------------------------------------------------------------------


def test_findings_html_empty() -> None:
    page = validate_config(default_config())._repr_html_()
    assert "valid: no findings" in page
    assert "<table" not in page


def test_findings_html_table() -> None:
    document = json.loads(dumps(default_config()))
    document["process"]["cwd"] = "relative"
    document["ociVersion"] = SCRIPT
    findings = validate_config(document)
    page = findings._repr_html_()
    for finding in findings:
        assert f"<td>{finding.rule}</td>" in page
        assert f"<td>{finding.pointer}</td>" in page
        assert f"<td>{finding.level}</td>" in page
    assert "color:#d32f2f" in page
    assert _escaped_only(page, SCRIPT)


def test_findings_html_should_only() -> None:
    document = json.loads(dumps(default_config()))
    del document["process"]
    page = validate_config(document)._repr_html_()
    assert "valid, with 1 SHOULD finding" in page
    assert "color:#b26a00" in page
    assert "color:#d32f2f" not in page


def test_findings_html_both_severities() -> None:
    document = json.loads(dumps(default_config()))
    del document["process"]
    document["root"]["path"] = 5
    page = validate_config(document)._repr_html_()
    assert "invalid: 1 MUST finding and 1 SHOULD finding" in page
    assert page.index("1 MUST finding (") < page.index("1 SHOULD finding (")


def test_image_findings_html() -> None:
    raw = load_json(_image().manifest.data)
    raw["layers"][0]["digest"] = "sha256:" + "A" * 64
    findings = validate_document(json.dumps(raw), mediatypes.OCI_MANIFEST)
    page = findings._repr_html_()
    assert "<td>descriptor.digest.format</td>" in page
    assert "<td>/layers/0/digest</td>" in page
