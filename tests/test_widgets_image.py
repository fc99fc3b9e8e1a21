"""ImageExplorer, its functions and the layer-size plot, on real layouts built with ocilab."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ocilab.errors import ImageError
from ocilab.image import LayerBuilder, OCILayout, build_image, mediatypes
from ocilab.image.build import Blob, BuiltImage, canonical_json
from ocilab.image.models import Descriptor
from ocilab.image.plots import layer_size_frame, plot_layer_sizes
from ocilab.widgets import ImageExplorer
from ocilab.widgets.image import (
    image_tree,
    layer_entries,
    layer_summary,
    node_html,
    walk_layout,
)

IN_TOTO = "application/vnd.in-toto+json"
STATEMENT = b'{"_type":"https://in-toto.io/Statement/v0.1","subject":[]}'


def _base_layer() -> tuple[Blob, str]:
    layer = LayerBuilder()
    layer.add_file("etc/motd", b"welcome\n")
    layer.add_file("var/cache/old.bin", b"x" * 3000)
    layer.add_symlink("bin/sh", "busybox")
    return layer.build()


def _top_layer() -> tuple[Blob, str]:
    layer = LayerBuilder()
    layer.add_file("app/run.sh", b"#!/bin/sh\necho hi\n", mode=0o755)
    layer.add_whiteout("etc/motd")
    layer.add_opaque_whiteout("var/cache")
    return layer.build()


def _image(architecture: str, text: bytes) -> BuiltImage:
    layer = LayerBuilder()
    layer.add_file("arch.txt", text)
    return build_image(
        [_base_layer(), layer.build()],
        platform_={"architecture": architecture, "os": "linux"},
    )


def _attestation() -> BuiltImage:
    statement = Blob(IN_TOTO, STATEMENT)
    return build_image(
        [(statement, statement.digest)],
        platform_={"architecture": "unknown", "os": "unknown"},
    )


def _write_index(layout: OCILayout, entries: list[dict]) -> Descriptor:
    document = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": entries,
    }
    return layout.write_blob(canonical_json(document), media_type=mediatypes.OCI_INDEX)


@dataclass
class Sample:
    layout: OCILayout
    demo: BuiltImage
    amd64: BuiltImage
    arm64: BuiltImage
    attestation: BuiltImage
    inner_index: Descriptor
    outer_index: Descriptor


def _sample(tmp_path: Path) -> Sample:
    """demo:1 (base + whiteout layer) and multi:1, an index in an index with two platforms."""
    layout = OCILayout.create(tmp_path / "oci")
    demo = build_image(
        [_base_layer(), _top_layer()],
        platform_={"architecture": "amd64", "os": "linux"},
    )
    layout.add_image(demo, ref_name="demo:1")
    amd64 = _image("amd64", b"amd64\n")
    arm64 = _image("arm64", b"arm64\n")
    attestation = _attestation()
    entries = [layout.write_image(image).to_json() for image in (amd64, arm64)]
    attestation_descriptor = layout.write_image(attestation).to_json()
    attestation_descriptor["annotations"] = {
        mediatypes.DOCKER_REFERENCE_TYPE: mediatypes.ATTESTATION_MANIFEST,
        mediatypes.DOCKER_REFERENCE_DIGEST: amd64.manifest.digest,
    }
    inner = _write_index(layout, [*entries, attestation_descriptor])
    outer = _write_index(layout, [inner.to_json()])
    outer_entry = Descriptor.from_json(
        {**outer.to_json(), "annotations": {mediatypes.ANNOTATION_REF_NAME: "multi:1"}}
    )
    layout.add_index_entry(outer_entry)
    return Sample(layout, demo, amd64, arm64, attestation, inner, outer)


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    return _sample(tmp_path)


def _row(tree, **conditions) -> int:
    rows = tree
    for column, value in conditions.items():
        rows = rows[rows[column] == value]
    assert len(rows) >= 1, f"no tree row with {conditions}"
    return int(rows.index[0])


def _top_layer_descriptor(sample: Sample) -> Descriptor:
    blob = sample.demo.layers[1]
    return Descriptor(blob.media_type, blob.digest, blob.size)


# image_tree


def test_tree_kinds_and_depths(sample: Sample) -> None:
    tree = image_tree(sample.layout)
    outer = tree.loc[_row(tree, digest=sample.outer_index.digest)]
    inner = tree.loc[_row(tree, digest=sample.inner_index.digest)]
    assert outer["kind"] == "index"
    assert outer["depth"] == 0
    assert outer["ref_name"] == "multi:1"
    assert inner["kind"] == "index"
    assert inner["depth"] == 1
    assert inner["parent"] == sample.outer_index.digest
    assert inner["parent_row"] == _row(tree, digest=sample.outer_index.digest)


def test_tree_platform_manifests(sample: Sample) -> None:
    tree = image_tree(sample.layout)
    arm = tree.loc[_row(tree, digest=sample.arm64.manifest.digest)]
    assert arm["kind"] == "manifest"
    assert arm["platform"] == "linux/arm64"
    assert arm["depth"] == 2
    assert arm["ref_name"] == "multi:1"
    assert arm["size"] == sample.arm64.manifest.size


def test_tree_attestation_row(sample: Sample) -> None:
    tree = image_tree(sample.layout)
    row = tree.loc[_row(tree, digest=sample.attestation.manifest.digest)]
    assert row["kind"] == "attestation"
    assert "attestation" in row["label"]


def test_tree_layers_inherit_platform(sample: Sample) -> None:
    tree = image_tree(sample.layout)
    arm_row = _row(tree, digest=sample.arm64.manifest.digest)
    children = tree[tree["parent_row"] == arm_row]
    assert children["kind"].tolist() == ["config", "layer", "layer"]
    assert set(children["platform"]) == {"linux/arm64"}
    assert children["size_human"].tolist()[0].endswith(" B")


def test_tree_missing_blob(sample: Sample) -> None:
    top = sample.demo.layers[1]
    sample.layout.blob_path(top.digest).unlink()
    tree = image_tree(sample.layout)
    row = tree.loc[_row(tree, digest=top.digest)]
    assert not row["present"]
    assert "(blob not stored)" in row["label"]


def test_tree_unreadable_manifest(sample: Sample) -> None:
    path = sample.layout.blob_path(sample.arm64.manifest.digest)
    path.write_bytes(path.read_bytes() + b" ")
    tree = image_tree(sample.layout)
    row = tree.loc[_row(tree, digest=sample.arm64.manifest.digest)]
    assert "size mismatch" in row["error"]
    assert "(unreadable)" in row["label"]
    assert sample.amd64.manifest.digest in set(tree["digest"])
    assert (tree["parent"] == sample.arm64.manifest.digest).sum() == 0


def test_tree_many_images(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "many")
    for number in range(40):
        layout.add_image(
            _image("amd64", f"{number}\n".encode()), ref_name=f"img:{number}"
        )
    tree = image_tree(layout)
    assert len(tree) == 40 * 4
    assert tree["ref_name"].nunique() == 40
    assert (tree["depth"] == 0).sum() == 40


def test_walk_layout_records_errors(sample: Sample) -> None:
    path = sample.layout.blob_path(sample.inner_index.digest)
    path.write_bytes(path.read_bytes()[:-1])
    walk = walk_layout(sample.layout)
    assert list(walk.errors) == [sample.inner_index.digest]
    assert "size mismatch" in walk.errors[sample.inner_index.digest]


# node_html, layer_entries, layer_summary


def test_node_html_manifest(sample: Sample) -> None:
    walk = walk_layout(sample.layout)
    node = next(n for n in walk.nodes if n.digest == sample.arm64.manifest.digest)
    text = node_html(sample.layout, node)
    assert sample.arm64.manifest.digest in text
    assert f"{sample.arm64.manifest.size:,} bytes" in text
    assert sample.arm64.config.digest in text
    assert "linux/arm64" in text


def test_node_html_missing_blob(sample: Sample) -> None:
    sample.layout.blob_path(sample.demo.config.digest).unlink()
    walk = walk_layout(sample.layout)
    node = next(n for n in walk.nodes if n.digest == sample.demo.config.digest)
    text = node_html(sample.layout, node)
    assert "Missing blob" in text
    assert "no (missing)" in text


def test_layer_entries_whiteouts(sample: Sample) -> None:
    entries = layer_entries(sample.layout, _top_layer_descriptor(sample))
    whiteouts = entries[entries["whiteout"].notna()]
    assert sorted(whiteouts["whiteout_target"]) == ["etc/motd", "var/cache"]
    assert "app/run.sh" in set(entries["path"])


def test_layer_summary_counts(sample: Sample) -> None:
    summary = layer_summary(layer_entries(sample.layout, _top_layer_descriptor(sample)))
    assert summary["files"] == 1
    assert summary["whiteouts"] == 1
    assert summary["opaque_whiteouts"] == 1
    assert summary["directories"] == len(["app", "etc", "var", "var/cache"])
    assert summary["file_bytes"] == len(b"#!/bin/sh\necho hi\n")


def test_layer_entries_missing_blob(sample: Sample) -> None:
    descriptor = _top_layer_descriptor(sample)
    sample.layout.blob_path(descriptor.digest).unlink()
    with pytest.raises(ImageError, match="not found"):
        layer_entries(sample.layout, descriptor)


# ImageExplorer


def test_explorer_lists_every_node(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    values = [value for _, value in explorer.node.options]
    assert values == list(range(len(explorer.tree)))
    assert "multi:1" in explorer.summary_pane.value


def test_explorer_shows_manifest(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    explorer.node.value = _row(explorer.tree, digest=sample.amd64.manifest.digest)
    assert sample.amd64.manifest.digest in explorer.node_pane.value
    assert "linux/amd64" in explorer.node_pane.value
    assert sample.amd64.config.digest in explorer.node_pane.value
    assert explorer.layer_pane.value == ""


def test_explorer_shows_index(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    explorer.node.value = _row(explorer.tree, digest=sample.inner_index.digest)
    assert sample.arm64.manifest.digest in explorer.node_pane.value
    assert mediatypes.OCI_INDEX in explorer.node_pane.value


def test_explorer_shows_config(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    explorer.node.value = _row(
        explorer.tree, digest=sample.arm64.config.digest, kind="config"
    )
    assert "diff_ids" in explorer.node_pane.value
    assert "arm64" in explorer.node_pane.value


def test_explorer_layer_entries(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    explorer.node.value = _row(explorer.tree, digest=sample.demo.layers[1].digest)
    pane = explorer.layer_pane.value
    assert "app/run.sh" in pane
    assert "etc/.wh.motd" in pane
    assert "var/cache/.wh..wh..opq" in pane
    assert (
        '<th style="text-align:left">whiteouts</th><td style="text-align:left;' in pane
    )


def test_explorer_layer_whiteout_targets(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    explorer.node.value = _row(explorer.tree, digest=sample.demo.layers[1].digest)
    pane = explorer.layer_pane.value
    assert "<td>etc/motd</td>" in pane
    assert "<td>var/cache</td>" in pane


def test_explorer_layer_sizes(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    base = sample.demo.layers[0]
    explorer.node.value = _row(explorer.tree, digest=base.digest)
    assert f"{base.size:,} bytes" in explorer.node_pane.value
    file_bytes = len(b"welcome\n") + 3000
    assert f"{file_bytes:,} bytes" in explorer.layer_pane.value


def test_explorer_attestation_layer(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    statement = sample.attestation.layers[0]
    explorer.node.value = _row(explorer.tree, digest=statement.digest)
    assert "is not a layer tar media type" in explorer.layer_pane.value
    assert "in-toto.io/Statement" in explorer.layer_pane.value


def test_explorer_missing_at_walk(sample: Sample) -> None:
    top = sample.demo.layers[1]
    sample.layout.blob_path(top.digest).unlink()
    explorer = ImageExplorer(sample.layout)
    explorer.node.value = _row(explorer.tree, digest=top.digest)
    assert "Missing blob" in explorer.node_pane.value
    assert explorer.layer_pane.value == ""


def test_explorer_deleted_blob(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    top = sample.demo.layers[1]
    sample.layout.blob_path(top.digest).unlink()
    explorer.node.value = _row(explorer.tree, digest=top.digest)
    assert "ImageError" in explorer.layer_pane.value
    assert f"blob {top.digest} not found" in explorer.layer_pane.value


def test_explorer_digest_mismatch(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    top = sample.demo.layers[1]
    path = sample.layout.blob_path(top.digest)
    path.write_bytes(path.read_bytes() + b"\0")
    explorer.node.value = _row(explorer.tree, digest=top.digest)
    assert "DigestMismatchError" in explorer.layer_pane.value
    assert "size mismatch" in explorer.layer_pane.value


def test_explorer_unreadable_manifest(sample: Sample) -> None:
    path = sample.layout.blob_path(sample.arm64.manifest.digest)
    path.write_bytes(path.read_bytes() + b" ")
    explorer = ImageExplorer(sample.layout)
    explorer.node.value = _row(explorer.tree, digest=sample.arm64.manifest.digest)
    assert "Unreadable" in explorer.node_pane.value
    assert "DigestMismatchError" in explorer.node_pane.value
    assert (
        'unreadable documents</th><td style="text-align:left;'
        in explorer.summary_pane.value
    )


def test_explorer_filter(tmp_path: Path) -> None:
    layout = OCILayout.create(tmp_path / "many")
    for number in range(30):
        layout.add_image(
            _image("amd64", f"{number}\n".encode()), ref_name=f"img:{number}"
        )
    explorer = ImageExplorer(layout)
    assert len(explorer.node.options) == 30 * 4
    explorer.filter.value = "img:17"
    labels = [label for label, _ in explorer.node.options]
    assert len(labels) == 4
    assert "ref=img:17" in labels[0]
    explorer.filter.value = ""
    assert len(explorer.node.options) == 30 * 4


def test_explorer_reload(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    before = len(explorer.tree)
    sample.layout.add_image(_image("riscv64", b"riscv\n"), ref_name="riscv:1")
    explorer.reload.click()
    assert len(explorer.tree) == before + 4
    assert "riscv:1" in set(explorer.tree["ref_name"])


def test_explorer_broken_index_json(sample: Sample) -> None:
    explorer = ImageExplorer(sample.layout)
    (sample.layout.path / "index.json").write_text("{not json")
    explorer.refresh()
    assert "invalid JSON" in explorer.summary_pane.value
    assert explorer.node.options == ()


def test_explorer_accepts_path(sample: Sample) -> None:
    explorer = ImageExplorer(str(sample.layout.path))
    assert explorer.layout.path == sample.layout.path
    assert len(explorer.tree) == len(image_tree(sample.layout))


def test_explorer_rejects_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="oci-layout file is missing"):
        ImageExplorer(tmp_path)


def test_explorer_rejects_type() -> None:
    with pytest.raises(TypeError, match="got int"):
        ImageExplorer(42)  # type: ignore[arg-type]


def test_explorer_displays_widget(sample: Sample) -> None:
    bundle = ImageExplorer(sample.layout)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


# plot_layer_sizes


def test_size_frame_shared(sample: Sample) -> None:
    frame = layer_size_frame(sample.layout)
    base = sample.demo.layers[0].digest
    assert set(frame["image"]) == {
        "demo:1 linux/amd64",
        "multi:1 linux/amd64",
        "multi:1 linux/arm64",
    }
    assert frame[frame["digest"] == base]["shared_by"].tolist() == [3, 3, 3]
    assert frame["uncompressed_size"].isna().all()


def test_size_frame_uncompressed(sample: Sample) -> None:
    frame = layer_size_frame(sample.layout, uncompressed=True)
    base_row = frame[frame["digest"] == sample.demo.layers[0].digest].iloc[0]
    assert base_row["uncompressed_size"] == len(_base_layer_tar())
    assert base_row["size"] == sample.demo.layers[0].size


def _base_layer_tar() -> bytes:
    layer = LayerBuilder()
    layer.add_file("etc/motd", b"welcome\n")
    layer.add_file("var/cache/old.bin", b"x" * 3000)
    layer.add_symlink("bin/sh", "busybox")
    return layer.tar_bytes()


def test_size_frame_needs_blobs(sample: Sample) -> None:
    images = {"arm": sample.layout.images("linux/arm64")[0]}
    with pytest.raises(ImageError, match="Pass layout="):
        layer_size_frame(images, uncompressed=True)


def test_plot_bars_per_layer(sample: Sample) -> None:
    figure = plot_layer_sizes(sample.layout)
    axes = figure.axes[0]
    bars = [patch for patch in axes.patches if patch.get_gid()]
    assert len(bars) == 6
    assert [label.get_text() for label in axes.get_yticklabels()] == [
        "demo:1 linux/amd64",
        "multi:1 linux/amd64",
        "multi:1 linux/arm64",
    ]
    widths = sorted(int(bar.get_width()) for bar in bars)
    expected = sorted(
        blob.size
        for image in (sample.demo, sample.amd64, sample.arm64)
        for blob in image.layers
    )
    assert widths == expected


def test_plot_shared_colour(sample: Sample) -> None:
    figure = plot_layer_sizes(sample.layout)
    axes = figure.axes[0]
    base = sample.demo.layers[0].digest
    shared = [patch for patch in axes.patches if patch.get_gid() == base]
    others = [patch for patch in axes.patches if patch.get_gid() not in (None, base)]
    assert len(shared) == 3
    assert len({patch.get_facecolor() for patch in shared}) == 1
    assert all(patch.get_hatch() == "//" for patch in shared)
    assert shared[0].get_facecolor() not in {patch.get_facecolor() for patch in others}


def test_plot_digest_labels(sample: Sample) -> None:
    figure = plot_layer_sizes(sample.layout)
    axes = figure.axes[0]
    texts = {text.get_text() for text in axes.texts}
    base_short = sample.demo.layers[0].digest.split(":")[1][:12]
    assert base_short in texts
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == [f"{base_short} (shared by 3 images)"]


def test_plot_uncompressed(sample: Sample) -> None:
    figure = plot_layer_sizes(sample.layout, uncompressed=True)
    axes = figure.axes[0]
    base = sample.demo.layers[0].digest
    widths = sorted(
        patch.get_width() for patch in axes.patches if patch.get_gid() == base
    )
    assert widths[:3] == [sample.demo.layers[0].size] * 3
    assert widths[3:] == [len(_base_layer_tar())] * 3


def test_plot_grouped(sample: Sample) -> None:
    figure = plot_layer_sizes(sample.layout, stacked=False)
    axes = figure.axes[0]
    bars = [patch for patch in axes.patches if patch.get_gid()]
    assert len(bars) == 6
    assert all(bar.get_x() == 0 for bar in bars)


def test_plot_built_images() -> None:
    amd64 = _image("amd64", b"a\n")
    arm64 = _image("arm64", b"b\n")
    figure = plot_layer_sizes({"a": amd64, "b": arm64}, uncompressed=True)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert labels == ["a", "b"]


def test_plot_rejects_input() -> None:
    with pytest.raises(TypeError, match="got int"):
        plot_layer_sizes(42)  # type: ignore[arg-type]
