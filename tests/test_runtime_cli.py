"""`ocilab runtime`: spec, validate, explain, and the lifecycle on the real runc."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ocilab.image.convert import default_runtime_config
from ocilab.image.unpack import unpack_layers
from ocilab.lab._seed import build_lab_images


def _ocilab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocilab.cli", "runtime", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runtime-cli") / "rootfs"
    unpack_layers([build_lab_images().busybox.layers[0].data], folder, progress=False)
    return folder


def _bundle(tmp_path: Path, rootfs: Path, args: list[str]) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "rootfs").symlink_to(rootfs)
    config = default_runtime_config()
    config["process"]["args"] = args
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["linux"]["cgroupsPath"] = f"/ocilab-cli-{uuid.uuid4().hex[:8]}"
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def test_spec_matches_runc_spec(tmp_path: Path) -> None:
    printed = json.loads(_ocilab("spec").stdout)
    subprocess.run(["runc", "spec"], cwd=tmp_path, check=True)
    assert printed == json.loads((tmp_path / "config.json").read_text())


def test_spec_output_and_validate(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    assert _ocilab("spec", "--rootless", "-o", str(target)).returncode == 0
    valid = _ocilab("validate", str(target), "--for-run")
    assert valid.returncode == 0, valid.stdout
    broken = json.loads(target.read_text())
    broken["process"]["args"] = []
    broken["mounts"].append({"destination": "/x", "type": "bind", "source": None})
    target.write_text(json.dumps(broken))
    result = _ocilab("validate", str(target), "--for-run")
    assert result.returncode == 1
    assert "/process/args" in result.stdout


def test_explain_topics(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    _ocilab("spec", "-o", str(target))
    result = _ocilab("explain", str(target), "namespaces", "capabilities")
    assert "== namespaces ==" in result.stdout
    assert "CAP_KILL" in result.stdout
    assert "== mounts ==" not in result.stdout
    unknown = _ocilab("explain", str(target), "colors")
    assert unknown.returncode == 2
    assert "unknown topic 'colors'" in unknown.stderr


def test_lifecycle_through_cli(tmp_path: Path, rootfs: Path) -> None:
    bundle = _bundle(
        tmp_path,
        rootfs,
        ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"],
    )
    root = tmp_path / "state"
    container = f"cli-{uuid.uuid4().hex[:8]}"
    common = ["--root", str(root)]
    try:
        assert (
            _ocilab(*common, "create", "--bundle", str(bundle), container).returncode
            == 0
        )
        assert (
            json.loads(_ocilab(*common, "state", container).stdout)["status"]
            == "created"
        )
        assert _ocilab(*common, "start", container).returncode == 0
        assert (
            json.loads(_ocilab(*common, "state", container).stdout)["status"]
            == "running"
        )
        assert container in _ocilab(*common, "list").stdout
        assert _ocilab(*common, "kill", container, "KILL").returncode == 0
        for _ in range(50):
            if (
                json.loads(_ocilab(*common, "state", container).stdout)["status"]
                == "stopped"
            ):
                break
        assert _ocilab(*common, "delete", container).returncode == 0
        gone = _ocilab(*common, "state", container)
        assert gone.returncode == 2
        assert "does not exist" in gone.stderr
    finally:
        _ocilab(*common, "delete", "--force", container)


def test_run_exit_code_and_output(tmp_path: Path, rootfs: Path) -> None:
    bundle = _bundle(tmp_path, rootfs, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    result = _ocilab(
        "--root",
        str(tmp_path / "state"),
        "run",
        "--bundle",
        str(bundle),
        f"run-{uuid.uuid4().hex[:8]}",
    )
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_lab_layout_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ocilab.cli", "lab", "layout", str(tmp_path / "base")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    from ocilab.image import OCILayout

    names = sorted(
        image.ref_name for image in OCILayout.open(tmp_path / "base").images()
    )
    assert names == ["busybox", "pause"]


def test_close_removes_running_containers(tmp_path: Path, rootfs: Path) -> None:
    from ocilab.runtime import Runc

    bundle = _bundle(tmp_path, rootfs, ["sleep", "600"])
    runc = Runc()
    container = f"close-{uuid.uuid4().hex[:8]}"
    runc.create(container, bundle)
    runc.start(container)
    pid = runc.state(container).pid
    root = runc.root
    runc.close()
    assert not root.exists()
    assert (
        not Path(f"/proc/{pid}").exists()
        or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    )
