"""Image config to runtime config, by image-spec conversion.md's rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocilab.errors import ImageError
from ocilab.image.convert import image_to_runtime_config, resolve_user

CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2024-01-02T03:04:05Z",
    "author": "ocilab tests",
    "config": {
        "Entrypoint": ["/bin/server"],
        "Cmd": ["--port", "8080"],
        "Env": ["MODE=test", "EMPTY="],
        "WorkingDir": "/srv",
        "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
        "Volumes": {"/data": {}},
        "StopSignal": "SIGINT",
        "Labels": {"org.opencontainers.image.os": "label-wins", "team": "core"},
    },
    "rootfs": {"type": "layers", "diff_ids": []},
}


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
    )
    (root / "etc" / "group").write_text(
        "root:x:0:\napp:x:1000:\nwheel:x:10:app,root\naudio:x:29:app\n"
    )
    return root


def test_args_entrypoint_then_cmd() -> None:
    runtime = image_to_runtime_config(CONFIG)
    assert runtime["process"]["args"] == ["/bin/server", "--port", "8080"]


def test_env_cwd_and_default_path() -> None:
    process = image_to_runtime_config(CONFIG)["process"]
    assert process["env"][1:] == ["MODE=test", "EMPTY="]
    assert process["env"][0].startswith("PATH=")
    assert process["cwd"] == "/srv"


def test_annotations_implicit_and_labels_win() -> None:
    annotations = image_to_runtime_config(CONFIG)["annotations"]
    assert annotations["org.opencontainers.image.architecture"] == "amd64"
    assert annotations["org.opencontainers.image.os"] == "label-wins"
    assert annotations["org.opencontainers.image.stopSignal"] == "SIGINT"
    assert annotations["org.opencontainers.image.exposedPorts"] == "53/udp,8080/tcp"
    assert annotations["org.opencontainers.image.created"] == "2024-01-02T03:04:05Z"
    assert annotations["org.opencontainers.image.author"] == "ocilab tests"
    assert annotations["team"] == "core"


def test_volumes_become_tmpfs_mounts() -> None:
    mounts = image_to_runtime_config(CONFIG)["mounts"]
    assert {
        "destination": "/data",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=755"],
    } in mounts
    unmounted = image_to_runtime_config(CONFIG, volumes_as_mounts=False)["mounts"]
    assert all(mount["destination"] != "/data" for mount in unmounted)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("0", {"uid": 0, "gid": 0}),
        ("1000:1000", {"uid": 1000, "gid": 1000}),
        ("app", {"uid": 1000, "gid": 1000, "additionalGids": [10, 29]}),
        ("app:wheel", {"uid": 1000, "gid": 10}),
        ("1000:audio", {"uid": 1000, "gid": 29}),
    ],
)
def test_user_resolution(rootfs: Path, user: str, expected: dict[str, object]) -> None:
    assert resolve_user(user, rootfs) == expected


def test_unknown_user_is_error(rootfs: Path) -> None:
    with pytest.raises(ImageError, match="user 'nobody' not found"):
        resolve_user("nobody", rootfs)


def test_user_name_without_rootfs_is_error() -> None:
    with pytest.raises(ImageError, match="no rootfs given"):
        image_to_runtime_config(
            {**CONFIG, "config": {**CONFIG["config"], "User": "app"}}
        )


def test_symlinked_passwd_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    outside = tmp_path / "host-passwd"
    outside.write_text("app:x:4242:4242::/:/bin/sh\n")
    os.symlink(outside, root / "etc" / "passwd")
    with pytest.raises(ImageError, match="symlink"):
        resolve_user("app", root)


def test_nothing_to_run_is_error() -> None:
    with pytest.raises(ImageError, match="neither Entrypoint nor Cmd"):
        image_to_runtime_config({"architecture": "amd64", "os": "linux", "config": {}})


def test_null_config_reads_as_absent() -> None:
    runtime = image_to_runtime_config(
        {"architecture": "amd64", "os": "linux", "config": None}, args=["true"]
    )
    assert runtime["process"]["args"] == ["true"]
    assert runtime["process"]["cwd"] == "/"
