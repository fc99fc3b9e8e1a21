"""Tests of ocilab.runtime.spec (models, dumps, defaults) and ocilab.runtime.explain."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ocilab.runtime import explain
from ocilab.runtime.spec import (
    KEY_ORDER,
    RuntimeConfig,
    RuntimeConfigError,
    default_config,
    dumps,
    parse,
    rootless_config,
    to_rootless,
)
from ocilab.runtime.validate import CAPABILITY_NAMES

from .conftest import shared_path

RUNC = "/usr/sbin/runc"


def _runc_spec(folder: Path, *flags: str) -> dict[str, Any]:
    """Run `runc spec` in folder and return config.json, or skip with runc's stderr."""
    runc = RUNC if os.path.exists(RUNC) else shutil.which("runc")
    if runc is None:
        pytest.skip("runc is not installed (looked for /usr/sbin/runc and PATH)")
    result = subprocess.run(
        [runc, "spec", *flags],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"`runc spec {' '.join(flags)}` failed: {result.stderr.strip()}")
    return json.loads((folder / "config.json").read_text())


# --------------------------------------------------------------- defaults


def test_default_config_equals_runc_spec(tmp_path: Path) -> None:
    expected = _runc_spec(tmp_path)
    assert default_config().to_json() == expected


def test_rootless_config_equals_runc_spec_rootless(tmp_path: Path) -> None:
    expected = _runc_spec(tmp_path, "--rootless")
    assert rootless_config().to_json() == expected


def test_default_config_key_order_matches_runc(tmp_path: Path) -> None:
    expected = _runc_spec(tmp_path)
    written = json.loads(dumps(default_config()))
    assert list(written) == list(expected)
    assert list(written["process"]) == list(expected["process"])
    assert list(written["linux"]) == list(expected["linux"])


def test_rootless_maps_given_ids() -> None:
    linux = rootless_config(uid=1000, gid=100).linux
    assert linux is not None
    assert linux.uid_mappings[0].host_id == 1000
    assert linux.gid_mappings[0].host_id == 100
    assert linux.uid_mappings[0].container_id == 0
    assert linux.uid_mappings[0].size == 1


def test_rootless_drops_network_and_resources() -> None:
    config = rootless_config(uid=1000, gid=1000)
    assert config.linux is not None
    types = [namespace.type for namespace in config.linux.namespaces]
    assert "network" not in types
    assert types[-1] == "user"
    assert config.linux.resources is None


def test_rootless_binds_sys_and_drops_gid_option() -> None:
    mounts = {mount.destination: mount for mount in rootless_config().mounts}
    assert mounts["/sys"].type == "none"
    assert mounts["/sys"].source == "/sys"
    assert mounts["/sys"].options == ("rbind", "nosuid", "noexec", "nodev", "ro")
    assert "gid=5" not in mounts["/dev/pts"].options


def test_to_rootless_keeps_existing_user_namespace_once() -> None:
    config = to_rootless(rootless_config(uid=5, gid=5), uid=7, gid=7)
    assert config.linux is not None
    types = [namespace.type for namespace in config.linux.namespaces]
    assert types.count("user") == 1
    assert config.linux.uid_mappings[0].host_id == 7


def test_default_config_returns_fresh_copy() -> None:
    first = default_config()
    first.raw["hostname"] = "changed"
    assert default_config().hostname == "runc"


# ---------------------------------------------------------------- reading


def test_from_json_reads_fields() -> None:
    config = default_config()
    assert config.oci_version == "1.0.2-dev"
    assert config.process is not None
    assert config.process.args == ("sh",)
    assert config.process.user is not None
    assert config.process.user.uid == 0
    assert config.process.capabilities is not None
    assert "CAP_KILL" in config.process.capabilities.bounding
    assert config.process.rlimits[0].type == "RLIMIT_NOFILE"
    assert config.process.no_new_privileges is True
    assert config.root is not None
    assert config.root.path == "rootfs"
    assert config.root.readonly is True
    assert config.mounts[0].destination == "/proc"
    assert config.linux is not None
    assert config.linux.masked_paths[0] == "/proc/acpi"
    assert config.linux.resources is not None
    assert config.linux.resources.devices == ({"allow": False, "access": "rwm"},)


def test_spec_example_reads_linux_and_hooks() -> None:
    text = shared_path(
        "oci", "runtime-spec", "cases", "config", "good", "spec-example.json"
    ).read_text()
    config = parse(text)
    assert config.hooks is not None
    assert config.hooks.prestart[0].path == "/usr/bin/fix-mounts"
    assert config.hooks.poststart[0].timeout == 5
    assert config.linux is not None
    assert config.linux.devices[0].file_mode == 438
    assert config.linux.sysctl["net.core.somaxconn"] == "256"
    assert config.linux.cgroups_path == "/myRuntime/myContainer"
    assert config.linux.rootfs_propagation == "slave"
    assert config.linux.seccomp is not None
    assert config.linux.resources is not None
    assert config.linux.resources.memory["limit"] == 536870912
    assert config.linux.resources.block_io["weight"] == 10
    assert config.process is not None
    assert config.process.capabilities is not None
    assert config.process.capabilities.ambient == ("CAP_NET_BIND_SERVICE",)
    assert config.domainname == "foobarbaz.test"


NULL_FIELDS = {
    "ociVersion": None,
    "process": None,
    "root": None,
    "mounts": None,
    "hooks": None,
    "hostname": None,
    "linux": None,
    "annotations": None,
}


def test_nulls_read_as_absent() -> None:
    config = RuntimeConfig.from_json(NULL_FIELDS)
    assert config.oci_version is None
    assert config.process is None
    assert config.root is None
    assert config.mounts == ()
    assert config.hooks is None
    assert config.hostname is None
    assert config.linux is None
    assert config.annotations == {}


WRONG_TYPES = {
    "ociVersion": 1,
    "process": {
        "terminal": "yes",
        "user": {"uid": "0", "gid": True, "additionalGids": [1, "2", None]},
        "args": ["sh", None, 3],
        "env": "PATH=/bin",
        "cwd": 5,
        "capabilities": {"bounding": "CAP_KILL"},
        "rlimits": [None, {"type": 1, "soft": "x"}],
        "oomScoreAdj": 1.5,
    },
    "root": [],
    "mounts": [None, "x", {"destination": 3, "options": [None]}],
    "hooks": {"prestart": {"path": "/x"}},
    "linux": {
        "namespaces": "pid",
        "uidMappings": [{"containerID": "0"}],
        "resources": {"memory": [], "devices": "all"},
        "sysctl": {"a.b": 1},
        "seccomp": "none",
    },
    "annotations": {"k": 1, "ok": "v"},
}


def test_wrong_types_read_as_absent() -> None:
    config = RuntimeConfig.from_json(WRONG_TYPES)
    assert config.oci_version is None
    assert config.root is None
    assert config.process is not None
    assert config.process.terminal is False
    assert config.process.args == ("sh",)
    assert config.process.env == ()
    assert config.process.cwd is None
    assert config.process.oom_score_adj is None
    assert config.process.user is not None
    assert config.process.user.uid is None
    assert config.process.user.gid is None
    assert config.process.user.additional_gids == (1,)
    assert config.process.capabilities is not None
    assert config.process.capabilities.bounding == ()
    assert config.process.rlimits[0].type is None
    assert len(config.mounts) == 1
    assert config.mounts[0].destination is None
    assert config.hooks is not None
    assert config.hooks.prestart == ()
    assert config.linux is not None
    assert config.linux.namespaces == ()
    assert config.linux.uid_mappings[0].container_id is None
    assert config.linux.resources is not None
    assert config.linux.resources.memory == {}
    assert config.linux.resources.devices == ()
    assert config.linux.sysctl == {}
    assert config.linux.seccomp is None
    assert config.annotations == {"ok": "v"}


@pytest.mark.parametrize(
    "text",
    ["{]", "[]", "null", '"config"'],
    ids=["malformed", "array", "null", "string"],
)
def test_parse_rejects_non_object(text: str) -> None:
    with pytest.raises(RuntimeConfigError):
        parse(text)


def test_runtime_config_error_is_value_error() -> None:
    assert issubclass(RuntimeConfigError, ValueError)


# ---------------------------------------------------------------- writing

UNKNOWN_KEYS = {
    "x-top": {"b": 1, "a": 2},
    "linux": {"x-linux": True, "namespaces": [{"type": "pid", "x-ns": 1}]},
    "ociVersion": "1.0.2",
    "process": {"cwd": "/", "x-process": [1, 2], "args": ["sh"]},
    "root": {"path": "rootfs"},
    "vm": {"hypervisor": {"path": "/usr/bin/qemu"}},
}


def test_round_trip_keeps_every_key() -> None:
    config = parse(json.dumps(UNKNOWN_KEYS))
    assert json.loads(dumps(config)) == UNKNOWN_KEYS


def test_to_json_returns_copy() -> None:
    config = parse(json.dumps(UNKNOWN_KEYS))
    config.to_json()["process"]["cwd"] = "/changed"
    assert config.to_json()["process"]["cwd"] == "/"


def test_dumps_orders_known_keys_first() -> None:
    written = json.loads(dumps(UNKNOWN_KEYS))
    assert list(written) == ["ociVersion", "process", "root", "linux", "vm", "x-top"]
    assert list(written["process"]) == ["args", "cwd", "x-process"]
    assert list(written["linux"]) == ["namespaces", "x-linux"]
    assert list(written["x-top"]) == ["b", "a"]


def test_dumps_is_stable_under_key_shuffle() -> None:
    original = default_config().to_json()
    reversed_keys = json.loads(
        json.dumps(original), object_pairs_hook=lambda pairs: dict(reversed(pairs))
    )
    assert dumps(reversed_keys) == dumps(original)


def test_dumps_uses_two_space_indent() -> None:
    lines = dumps(default_config()).splitlines()
    assert lines[1] == '  "ociVersion": "1.0.2-dev",'


def test_key_order_spec_starts_like_runc() -> None:
    assert KEY_ORDER["Spec"][:4] == ("ociVersion", "process", "root", "hostname")


def test_spec_example_round_trip() -> None:
    path = shared_path(
        "oci", "runtime-spec", "cases", "config", "good", "spec-example.json"
    )
    original = json.loads(path.read_text())
    assert json.loads(dumps(parse(path.read_text()))) == original


# ---------------------------------------------------------------- explain


def test_namespaces_frame_meanings() -> None:
    frame = explain.namespaces_frame(default_config())
    assert list(frame.columns) == ["type", "path", "meaning"]
    assert list(frame["type"]) == ["pid", "network", "ipc", "uts", "mount"]
    pid = frame.set_index("type").loc["pid", "meaning"]
    assert pid == "own process IDs: PID 1 is the container's first process"


def test_namespaces_frame_path_and_unknown() -> None:
    config = {"linux": {"namespaces": [{"type": "net2", "path": "/proc/1/ns/net"}]}}
    frame = explain.namespaces_frame(config)
    assert frame.loc[0, "path"] == "/proc/1/ns/net"
    assert frame.loc[0, "meaning"] == "unknown type"


def test_namespaces_frame_without_linux() -> None:
    frame = explain.namespaces_frame('{"ociVersion": "1.0.0"}')
    assert frame.empty
    assert list(frame.columns) == ["type", "path", "meaning"]


def test_mounts_frame_meanings() -> None:
    frame = explain.mounts_frame(default_config()).set_index("destination")
    assert frame.loc["/dev/shm", "type"] == "tmpfs"
    assert frame.loc["/dev/shm", "options"][-1] == "size=65536k"
    assert frame.loc["/proc", "meaning"] == explain.MOUNT_MEANINGS["/proc"]


def test_mounts_frame_bind_and_type_meanings() -> None:
    config = {
        "mounts": [
            {"destination": "/data", "source": "/srv", "options": ["rbind"]},
            {"destination": "/cache", "type": "tmpfs", "source": "tmpfs"},
        ]
    }
    frame = explain.mounts_frame(config).set_index("destination")
    assert frame.loc["/data", "meaning"] == explain.MOUNT_MEANINGS["bind"]
    assert frame.loc["/cache", "meaning"] == explain.MOUNT_MEANINGS["tmpfs"]


def test_capabilities_frame_sets() -> None:
    frame = explain.capabilities_frame(default_config()).set_index("capability")
    assert frame.loc["CAP_KILL", "sets"] == [
        "bounding",
        "effective",
        "permitted",
        "ambient",
    ]
    assert frame.loc["CAP_KILL", "meaning"] == explain.CAPABILITY_MEANINGS["CAP_KILL"]


def test_capability_meanings_cover_linux() -> None:
    assert set(explain.CAPABILITY_MEANINGS) == CAPABILITY_NAMES
    assert len(CAPABILITY_NAMES) == 41


def test_resources_frame_flattens() -> None:
    frame = explain.resources_frame(default_config()).set_index("path")
    assert bool(frame.loc["devices[0].allow", "value"]) is False
    assert frame.loc["devices[0].access", "value"] == "rwm"
    assert frame.loc["devices[0].access", "meaning"].startswith("r (read)")


def test_resources_frame_memory_limit() -> None:
    config = {"linux": {"resources": {"memory": {"limit": 1024}}}}
    frame = explain.resources_frame(config)
    assert list(frame["path"]) == ["memory.limit"]
    assert frame.loc[0, "value"] == 1024
    assert frame.loc[0, "meaning"] == explain.RESOURCE_MEANINGS["memory.limit"]


def test_resources_frame_empty_when_rootless() -> None:
    assert explain.resources_frame(rootless_config()).empty


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '{"ociVersion": "1.0.2", "x": ' + "9" * 5000 + "}",
            "invalid runtime config JSON",
        ),
        (
            '{"ociVersion": "1.0.2", "hostname": "\\ud800x"}',
            "lone surrogate '\\\\ud800'",
        ),
    ],
    ids=["deep-nesting", "giant-integer", "lone-surrogate"],
)
def test_parse_rejects_unusable_json(text: str, message: str) -> None:
    with pytest.raises(RuntimeConfigError, match=message):
        parse(text)


def test_parse_accepts_surrogate_pair() -> None:
    config = parse('{"ociVersion": "1.0.2", "hostname": "\\ud83d\\ude00"}')
    assert config.raw["hostname"] == "\N{GRINNING FACE}"
