"""Exercise checks accept the right answer and give a hint, not the answer, for a wrong one."""

from __future__ import annotations

import pytest

from ocilab.cri import CRIClient
from ocilab.exercises import lesson01
from ocilab.lab import LabInfo


def test_lesson01_new_methods_right() -> None:
    expected = lesson01.methods_new_in_v1()
    assert "ListMetricDescriptors" in expected
    assert "Version" not in expected
    assert lesson01.check_methods_new_in_v1(expected).passed is True


def test_lesson01_new_methods_wrong_gives_hint() -> None:
    result = lesson01.check_methods_new_in_v1({"Version"})
    assert result.passed is False
    assert "Hint:" in result.message
    assert "ListMetricDescriptors" not in result.message


def test_lesson01_unanswered() -> None:
    result = lesson01.check_methods_new_in_v1(None)
    assert result.passed is None
    assert "not answered" in str(result)


@pytest.mark.lab
def test_lesson01_mountpoint(lab: LabInfo) -> None:
    with CRIClient(lab.cri_endpoint) as cri:
        reply = cri.call("runtime.v1alpha2.ImageService/ImageFsInfo")
        mountpoint = reply.image_filesystems[0].fs_id.mountpoint
        assert lesson01.check_image_fs_mountpoint(mountpoint, cri).passed is True
        wrong = lesson01.check_image_fs_mountpoint("/nowhere", cri)
    assert wrong.passed is False
    assert mountpoint not in wrong.message


@pytest.mark.lab
def test_lesson02_checks(lab: LabInfo) -> None:
    import time
    from pathlib import Path

    from ocilab.cri import container_config, pod_config
    from ocilab.exercises import lesson02

    with CRIClient(lab.cri_endpoint, timeout=60) as cri:
        cri.pull_image(lab.images["busybox"])
        pod = pod_config(
            "exercise-02",
            log_directory=str(Path(lab.state_dir) / "pod-logs" / "exercise-02"),
        )
        pod_id = cri.run_pod(pod)
        try:
            exiting = cri.create_container(
                pod_id,
                container_config(
                    "three", lab.images["busybox"], command=["sh", "-c", "exit 3"]
                ),
                pod,
            )
            cri.start_container(exiting)
            for _ in range(50):
                if cri.container_status(exiting).status.state == 2:
                    break
                time.sleep(0.1)
            assert lesson02.check_exit_code(3, cri, exiting).passed is True
            assert lesson02.check_exit_code(0, cri, exiting).passed is False
            assert lesson02.check_exit_code(None, cri, exiting).passed is None
            sleeper = cri.create_container(
                pod_id,
                container_config(
                    "sleeper", lab.images["busybox"], command=["sleep", "60"]
                ),
                pod,
            )
            cri.start_container(sleeper)
            assert lesson02.check_exit_code(3, cri, sleeper).passed is False
            address = cri.pod_status(pod_id).status.network.ip
            assert lesson02.check_pod_ip(f"{address}/16", cri, pod_id).passed is True
            wrong = lesson02.check_pod_ip("10.0.0.1", cri, pod_id)
        finally:
            cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)
    assert wrong.passed is False
    assert address not in wrong.message


@pytest.mark.lab
def test_lesson03_checks(lab: LabInfo) -> None:
    from pathlib import Path

    from ocilab.cri import container_config, pod_config
    from ocilab.exercises import lesson03

    with CRIClient(lab.cri_endpoint, timeout=60) as cri:
        cri.pull_image(lab.images["busybox"])
        pod = pod_config(
            "exercise-03",
            log_directory=str(Path(lab.state_dir) / "pod-logs" / "exercise-03"),
        )
        pod_id = cri.run_pod(pod)
        try:
            for attempt in range(3):
                config = container_config(
                    "flaky", lab.images["busybox"], command=["true"], attempt=attempt
                )
                cri.create_container(pod_id, config, pod)
            cri.create_container(
                pod_id,
                container_config("steady", lab.images["busybox"], command=["true"]),
                pod,
            )
            assert lesson03.check_most_restarted("flaky", cri).passed is True
            assert lesson03.check_most_restarted("steady", cri).passed is False
            unused = len(lesson03.unused_image_ids(cri))
            assert lesson03.check_unused_images(unused, cri).passed is True
            assert lesson03.check_unused_images(unused + 1, cri).passed is False
            assert lesson03.check_unused_images(None, cri).passed is None
        finally:
            cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)


def test_lesson04_checks(tmp_path) -> None:
    import gzip
    import hashlib

    from ocilab.exercises import lesson04
    from ocilab.image import LayerBuilder, OCILayout, build_image

    base = LayerBuilder()
    base.add_file("etc/motd", b"hi\n")
    base.add_file("srv/old.html", b"old\n")
    update = LayerBuilder()
    update.add_whiteout("srv/old.html")
    layers = [base.build(), update.build()]
    layout = OCILayout.create(tmp_path / "layout")
    layout.add_image(build_image(layers), ref_name="demo:1")
    blob = layout.read_blob(layout.images()[0].manifest.layers[0])
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    assert lesson04.check_diff_id(diff_id, layout, "demo:1").passed is True
    compressed = lesson04.check_diff_id(layers[0][0].digest, layout, "demo:1")
    assert compressed.passed is False
    assert "compressed blob" in compressed.message
    assert lesson04.check_deleted_path("srv/old.html", layout, "demo:1").passed is True
    assert lesson04.check_deleted_path("/srv/old.html", layout, "demo:1").passed is True
    assert lesson04.check_deleted_path("etc/motd", layout, "demo:1").passed is False
    assert lesson04.check_diff_id(None, layout, "demo:1").passed is None


def test_lesson05_checks() -> None:
    from ocilab.exercises import lesson05

    # runc 1.1.5 writes no cgroup namespace into its default config.
    expected = {"pid", "network", "ipc", "uts", "mount"}
    assert lesson05.check_default_namespaces(expected).passed is True
    assert lesson05.check_default_namespaces(expected | {"user"}).passed is False
    assert lesson05.check_default_namespaces(None).passed is None
    assert lesson05.check_memory_limit(33554432).passed is True
    wrong = lesson05.check_memory_limit(32)
    assert wrong.passed is False
    assert "33554432" not in wrong.message


@pytest.mark.lab
def test_lesson06_checks(lab: LabInfo) -> None:
    from ocilab.distribution.client import RegistryClient
    from ocilab.exercises import lesson06
    from ocilab.image import LayerBuilder, build_image

    layer = LayerBuilder()
    layer.add_file("x.bin", bytes(range(256)) * 64)
    image = build_image([layer.build()])
    with RegistryClient(lab.registry_url) as client:
        client.push_blob("tests/exercise06", image.layers[0].data, chunk_size=1024)
        client.push_blob("tests/exercise06", image.config.data)
        client.put_manifest(
            "tests/exercise06", "v2", image.manifest.data, image.manifest.media_type
        )
        patches = int((client.exchanges_frame()["method"] == "PATCH").sum())
        assert patches >= 1
        assert lesson06.check_patch_count(patches, client).passed is True
        assert lesson06.check_patch_count(patches + 1, client).passed is False
        assert (
            lesson06.check_tag_digest(
                image.manifest.digest, client, "tests/exercise06", "v2"
            ).passed
            is True
        )
        assert (
            lesson06.check_tag_digest(
                "sha256:" + "0" * 64, client, "tests/exercise06", "v2"
            ).passed
            is False
        )
