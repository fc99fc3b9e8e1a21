"""`ocilab image`: build, ls, inspect, validate, unpack and config on real layouts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ocilab.image import OCILayout
from ocilab.lab._seed import build_lab_images


def _ocilab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocilab.cli", "image", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("<h1>hello</h1>\n")
    return folder


@pytest.fixture
def base_layout(tmp_path: Path) -> Path:
    layout = OCILayout.create(tmp_path / "base")
    layout.add_image(build_lab_images().busybox, ref_name="busybox")
    return tmp_path / "base"


def test_build_ls_inspect(tmp_path: Path, site: Path) -> None:
    layout = tmp_path / "layout"
    built = _ocilab(
        "build",
        str(site),
        f"{layout}:v1",
        "--prefix",
        "srv",
        "--cmd",
        "sh -c 'cat /srv/index.html'",
    )
    assert built.returncode == 0, built.stderr
    listed = _ocilab("ls", str(layout), "--tree")
    assert listed.stdout.startswith("v1\tlinux/")
    assert "└── manifest" in listed.stdout
    summary = json.loads(_ocilab("inspect", f"{layout}:v1").stdout)
    assert summary["Cmd"] == ["sh", "-c", "cat /srv/index.html"]
    assert len(summary["Layers"]) == 1
    raw = json.loads(_ocilab("inspect", "--raw", f"{layout}:v1").stdout)
    assert raw["schemaVersion"] == 2
    config = json.loads(_ocilab("inspect", "--config", f"{layout}:v1").stdout)
    assert config["rootfs"]["diff_ids"][0].startswith("sha256:")


def test_build_same_folder_same_digest(tmp_path: Path, site: Path) -> None:
    first = _ocilab("build", str(site), f"{tmp_path / 'one'}:v1").stdout.split()[-1]
    second = _ocilab("build", str(site), f"{tmp_path / 'two'}:v1").stdout.split()[-1]
    assert first == second
    assert first.startswith("sha256:")


def test_build_on_base_and_unpack(
    tmp_path: Path, site: Path, base_layout: Path
) -> None:
    layout = tmp_path / "layout"
    built = _ocilab(
        "build",
        str(site),
        f"{layout}:web",
        "--base",
        f"{base_layout}:busybox",
        "--prefix",
        "srv",
    )
    assert built.returncode == 0, built.stderr
    bundle = tmp_path / "bundle"
    unpacked = _ocilab("unpack", "-q", f"{layout}:web", str(bundle))
    assert unpacked.returncode == 0, unpacked.stderr
    assert (bundle / "rootfs" / "bin" / "busybox").is_file()
    assert (bundle / "rootfs" / "srv" / "index.html").read_text() == "<h1>hello</h1>\n"
    runtime = json.loads((bundle / "config.json").read_text())
    assert runtime["process"]["args"] == ["sh"]
    assert runtime["root"]["path"] == "rootfs"


def test_config_runtime_conversion(base_layout: Path) -> None:
    runtime = json.loads(
        _ocilab("config", "--runtime", f"{base_layout}:busybox").stdout
    )
    assert runtime["process"]["args"] == ["sh"]
    assert runtime["annotations"]["org.opencontainers.image.os"] == "linux"


def test_validate_layout_and_file(tmp_path: Path, base_layout: Path) -> None:
    assert _ocilab("validate", str(base_layout)).stdout.strip() == "no findings"
    bad = tmp_path / "manifest.json"
    bad.write_text(
        json.dumps({"schemaVersion": 3, "config": {"digest": "SHA256:ABC", "size": -1}})
    )
    result = _ocilab(
        "validate",
        str(bad),
        "--media-type",
        "application/vnd.oci.image.manifest.v1+json",
    )
    assert result.returncode == 1
    assert "/config/digest" in result.stdout
    assert "MUST" in result.stdout


def test_missing_layout_is_clear_error(tmp_path: Path) -> None:
    result = _ocilab("ls", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert str(tmp_path / "nothing") in result.stderr
    assert "Traceback" not in result.stderr
