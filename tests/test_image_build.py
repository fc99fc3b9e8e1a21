"""Building images by hand: deterministic layers, chain IDs, extending, and running through CRI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from ocilab.cri import CRIClient, container_config, pod_config
from ocilab.distribution import push_image
from ocilab.errors import ImageError
from ocilab.image import LayerBuilder, build_image
from ocilab.image.build import BuiltImage, chain_ids, extend_image
from ocilab.lab import LabInfo
from ocilab.lab._seed import build_lab_images


def _make_tree(folder: Path, *, stamp: int) -> Path:
    (folder / "app" / "bin").mkdir(parents=True)
    (folder / "app" / "bin" / "hello").write_text("#!/bin/sh\necho hello from ocilab\n")
    os.chmod(folder / "app" / "bin" / "hello", 0o755)
    (folder / "app" / "README").write_text("read me\n")
    os.symlink("bin/hello", folder / "app" / "run")
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (stamp, stamp), follow_symlinks=False)
    return folder


def _members(layer_tar: bytes) -> list[tuple[str, str, int, str]]:
    with tarfile.open(fileobj=io.BytesIO(layer_tar)) as tar:
        return [(m.name, m.type.decode(), m.mode, m.linkname) for m in tar]


def test_folder_built_twice_same_digest(tmp_path: Path) -> None:
    first = LayerBuilder()
    first.add_tree(_make_tree(tmp_path / "one", stamp=1_000_000))
    second = LayerBuilder()
    second.add_tree(_make_tree(tmp_path / "two", stamp=2_000_000))
    (blob_one, diff_one), (blob_two, diff_two) = first.build(), second.build()
    assert blob_one.digest == blob_two.digest
    assert diff_one == diff_two
    image_one = build_image(
        [(blob_one, diff_one)], container_config={"Cmd": ["/app/run"]}
    )
    image_two = build_image(
        [(blob_two, diff_two)], container_config={"Cmd": ["/app/run"]}
    )
    assert image_one.manifest.digest == image_two.manifest.digest


def test_tree_members_sorted_with_modes(tmp_path: Path) -> None:
    layer = LayerBuilder()
    layer.add_tree(_make_tree(tmp_path / "tree", stamp=5), prefix="opt")
    members = _members(layer.tar_bytes())
    assert [m[0] for m in members] == [
        "opt",
        "opt/app",
        "opt/app/README",
        "opt/app/bin",
        "opt/app/bin/hello",
        "opt/app/run",
    ]
    assert ("opt/app/run", "2", 0o777, "bin/hello") in members
    assert ("opt/app/bin/hello", "0", 0o755, "") in members


def test_tree_hardlinks_and_owner_time(tmp_path: Path) -> None:
    folder = _make_tree(tmp_path / "tree", stamp=5)
    os.link(folder / "app" / "README", folder / "app" / "README.copy")
    layer = LayerBuilder()
    layer.add_tree(folder)
    with tarfile.open(fileobj=io.BytesIO(layer.tar_bytes())) as tar:
        copy = tar.getmember("app/README.copy")
        assert copy.islnk()
        assert copy.linkname == "app/README"
        assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in tar)


def test_tree_rejects_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ImageError, match="socket, FIFO or device"):
        LayerBuilder().add_tree(tmp_path)


def test_whiteout_entries(tmp_path: Path) -> None:
    layer = LayerBuilder()
    layer.add_whiteout("etc/motd")
    layer.add_opaque_whiteout("var/cache")
    names = [m[0] for m in _members(layer.tar_bytes())]
    assert "etc/.wh.motd" in names
    assert "var/cache/.wh..wh..opq" in names


def test_chain_ids_by_definition() -> None:
    diff_ids = [f"sha256:{'a' * 64}", f"sha256:{'b' * 64}", f"sha256:{'c' * 64}"]
    second = (
        "sha256:" + hashlib.sha256(f"{diff_ids[0]} {diff_ids[1]}".encode()).hexdigest()
    )
    third = "sha256:" + hashlib.sha256(f"{second} {diff_ids[2]}".encode()).hexdigest()
    assert chain_ids(diff_ids) == [diff_ids[0], second, third]
    assert chain_ids([]) == []


def _extended(tmp_path: Path) -> tuple[BuiltImage, BuiltImage]:
    base = build_lab_images().busybox
    layer = LayerBuilder()
    layer.add_tree(_make_tree(tmp_path / "tree", stamp=7))
    extended = extend_image(
        json.loads(base.manifest.data),
        json.loads(base.config.data),
        [layer.build()],
        container_config={"Cmd": ["/app/run"], "Env": ["PATH=/bin", "GREETING=hi"]},
        created_by="ocilab tests: add /app",
    )
    return base, extended


def test_extend_image_appends(tmp_path: Path) -> None:
    base, extended = _extended(tmp_path)
    manifest = json.loads(extended.manifest.data)
    config = json.loads(extended.config.data)
    base_config = json.loads(base.config.data)
    assert [layer["digest"] for layer in manifest["layers"]][:1] == [
        base.layers[0].digest
    ]
    assert len(manifest["layers"]) == 2
    assert config["rootfs"]["diff_ids"][0] == base_config["rootfs"]["diff_ids"][0]
    assert len(config["history"]) == 2
    assert config["config"]["Cmd"] == ["/app/run"]
    assert manifest["config"]["digest"] == extended.config.digest


@pytest.mark.lab
def test_built_image_pulls_and_runs(lab: LabInfo, tmp_path: Path) -> None:
    base, extended = _extended(tmp_path)
    # The new repository needs the base layer too.
    push_image(lab.registry_url, "tests/extended", base, [])
    push_image(lab.registry_url, "tests/extended", extended, ["v1"])
    reference = f"{lab.registry_url.removeprefix('http://')}/tests/extended:v1"
    with CRIClient(lab.cri_endpoint, timeout=60) as cri:
        assert cri.pull_image(reference) == extended.config.digest
        pod = pod_config(
            f"built-{uuid.uuid4().hex[:6]}",
            log_directory=str(Path(lab.state_dir) / "pod-logs" / "built"),
        )
        pod_id = cri.run_pod(pod)
        try:
            container_id = cri.create_container(
                pod_id, container_config("app", reference), pod
            )
            cri.start_container(container_id)
            for _ in range(50):
                status = cri.container_status(container_id).status
                if status.state == 2:
                    break
                time.sleep(0.1)
            log = Path(status.log_path).read_text()
        finally:
            cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)
            cri.remove_image(reference)
    assert status.exit_code == 0
    assert "hello from ocilab" in log
