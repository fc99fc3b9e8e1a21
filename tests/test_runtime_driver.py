"""The OCI runtime driver, bundles and /proc inspection, on the real runc and crun.

Every container gets a unique id, a private ``--root`` under tmp_path and a
cgroup path of its own, and every test deletes its containers in ``finally``
and asserts that no state directory, process, cgroup folder or mount is left.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocilab.image.convert import default_runtime_config
from ocilab.image.unpack import unpack_layers
from ocilab.lab._seed import build_lab_images
from ocilab.runtime import inspect
from ocilab.runtime.bundle import Bundle, bundle_from_image, make_bundle
from ocilab.runtime.driver import (
    ContainerState,
    Crun,
    OCIRuntimeError,
    Runc,
    readable_message,
)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="runc needs root here"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]

CGROUP_ROOT = Path("/sys/fs/cgroup")
CAP_NET_RAW = 13
LOOP_UNTIL_TERM = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


@pytest.fixture(scope="module")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root filesystem unpacked once from the lab's busybox image."""
    rootfs = tmp_path_factory.mktemp("busybox") / "rootfs"
    layer = build_lab_images().busybox.layers[0].data
    unpack_layers([layer], rootfs, progress=False)
    return rootfs


@pytest.fixture
def runc(tmp_path: Path) -> Iterator[Runc]:
    runtime = Runc(root=tmp_path / "state", timeout=20)
    yield runtime
    assert runtime.list() == []


def new_id() -> str:
    return f"ocilab-test-{uuid.uuid4().hex[:12]}"


def container_config(container_id: str, args: list[str]) -> dict[str, Any]:
    """Return the default config running ``args``, in a cgroup named after the id."""
    config = default_runtime_config()
    config["process"]["args"] = args
    config["process"]["terminal"] = False
    config["root"] = {"path": "rootfs", "readonly": True}
    config["linux"]["cgroupsPath"] = f"/{container_id}"
    return config


def make_test_bundle(
    tmp_path: Path, rootfs: Path, container_id: str, args: list[str]
) -> Bundle:
    return make_bundle(
        tmp_path / container_id,
        rootfs_from=rootfs,
        config=container_config(container_id, args),
    )


def cgroup_folders(container_id: str) -> list[Path]:
    """Return every cgroup folder named after the container, in any hierarchy."""
    return sorted(CGROUP_ROOT.glob(f"*/{container_id}"))


def assert_nothing_left(runtime: Runc, container_id: str) -> None:
    assert runtime.cleanup(container_id) == []
    assert not (runtime.root / container_id).exists()
    assert cgroup_folders(container_id) == []


# --- lifecycle ---------------------------------------------------------------


def test_lifecycle_create_start_kill_delete(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    bundle = make_test_bundle(
        tmp_path, busybox_rootfs, container_id, ["sh", "-c", LOOP_UNTIL_TERM]
    )
    try:
        started_at = time.monotonic()
        runc.create(container_id, bundle.path)
        assert time.monotonic() - started_at < 10

        created = runc.state(container_id)
        assert created.status == "created"
        assert created.pid is not None
        assert Path(f"/proc/{created.pid}").exists()
        assert created.bundle == str(bundle.path)

        runc.start(container_id)
        running = runc.wait_for_status(container_id, "running")
        assert running.pid == created.pid
        resources = runc.recorded_resources(container_id)
        assert resources.cgroups
        assert all(path.exists() for path in resources.cgroups)

        runc.kill(container_id, "TERM")
        stopped = runc.wait_for_status(container_id, "stopped")
        assert stopped.status == "stopped"

        runc.delete(container_id)
        with pytest.raises(OCIRuntimeError, match="does not exist"):
            runc.state(container_id)
        assert inspect.find_leftovers(resources) == []
    finally:
        assert_nothing_left(runc, container_id)


def test_create_returns_while_process_waits(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    bundle = make_test_bundle(
        tmp_path, busybox_rootfs, container_id, ["sh", "-c", "echo hello"]
    )
    pid_file = tmp_path / "pid"
    try:
        runc.create(container_id, bundle.path, pid_file=pid_file)
        time.sleep(0.3)
        state = runc.state(container_id)
        assert state.status == "created"
        assert int(pid_file.read_text()) == state.pid

        runc.start(container_id)
        runc.wait_for_status(container_id, "stopped")
        stdout_path, _ = runc.output_paths(container_id, bundle.path)
        assert stdout_path.read_text() == "hello\n"
    finally:
        assert_nothing_left(runc, container_id)


def test_pid1_ignores_term_without_handler(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    bundle = make_test_bundle(tmp_path, busybox_rootfs, container_id, ["sleep", "100"])
    try:
        runc.create(container_id, bundle.path)
        runc.start(container_id)
        runc.kill(container_id, "TERM")
        time.sleep(0.5)
        assert runc.state(container_id).status == "running"

        runc.kill(container_id, "KILL")
        assert runc.wait_for_status(container_id, "stopped").status == "stopped"
    finally:
        assert_nothing_left(runc, container_id)


def test_run_captures_output_and_exit_code(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    script = "echo out; echo err >&2; exit 3"
    bundle = make_test_bundle(
        tmp_path, busybox_rootfs, container_id, ["sh", "-c", script]
    )
    try:
        result = runc.run(container_id, bundle.path, timeout=20)
        assert result.exit_code == 3
        assert result.stdout == "out\n"
        assert result.stderr == "err\n"
    finally:
        assert_nothing_left(runc, container_id)


def test_run_timeout_kills_container(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    bundle = make_test_bundle(tmp_path, busybox_rootfs, container_id, ["sleep", "100"])
    try:
        with pytest.raises(OCIRuntimeError, match="timed out") as caught:
            runc.run(container_id, bundle.path, timeout=1)
        assert caught.value.returncode is None
    finally:
        assert_nothing_left(runc, container_id)


def test_list_and_version(runc: Runc, busybox_rootfs: Path, tmp_path: Path) -> None:
    container_id = new_id()
    bundle = make_test_bundle(tmp_path, busybox_rootfs, container_id, ["sleep", "100"])
    try:
        runc.create(container_id, bundle.path)
        listed = runc.list()
        assert [state.id for state in listed] == [container_id]
        assert listed[0].status == "created"
    finally:
        assert_nothing_left(runc, container_id)
    version = runc.version()
    assert version["version"]
    assert version["spec"].startswith("1.")


def test_owned_root_is_removed_on_close() -> None:
    with Runc() as runtime:
        root = runtime.root
        assert root.is_dir()
        assert root != Path("/run/runc")
        assert runtime.list() == []
    assert not root.exists()


# --- errors and cleanup after failures ---------------------------------------


def test_start_unknown_id_raises(runc: Runc) -> None:
    with pytest.raises(OCIRuntimeError) as caught:
        runc.start("ocilab-test-no-such-container")
    assert str(caught.value) == "runc: container does not exist"
    assert caught.value.runtime == "runc"
    assert caught.value.returncode == 1
    assert caught.value.command[-2:] == ["start", "ocilab-test-no-such-container"]
    assert '"level":"error"' in caught.value.stderr


def test_create_missing_rootfs_raises(runc: Runc, tmp_path: Path) -> None:
    container_id = new_id()
    bundle_path = tmp_path / "no-rootfs"
    bundle_path.mkdir()
    config = container_config(container_id, ["sh"])
    (bundle_path / "config.json").write_text(json.dumps(config))
    try:
        with pytest.raises(OCIRuntimeError, match="invalid rootfs") as caught:
            runc.create(container_id, bundle_path)
        assert "no such file or directory" in str(caught.value)
    finally:
        assert_nothing_left(runc, container_id)


def test_failed_create_leaves_nothing(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    bundle = make_test_bundle(tmp_path, busybox_rootfs, container_id, ["/nonexistent"])
    try:
        with pytest.raises(OCIRuntimeError, match="stat /nonexistent"):
            runc.create(container_id, bundle.path)
        assert not (runc.root / container_id).exists()
    finally:
        assert_nothing_left(runc, container_id)


def test_failed_exec_at_start_leaves_nothing(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    """An executable that is no program passes create's check and fails at exec."""
    container_id = new_id()
    bundle = make_test_bundle(
        tmp_path, busybox_rootfs, container_id, ["/not-a-program"]
    )
    program = bundle.rootfs / "not-a-program"
    program.write_bytes(b"\x00\x01 not an ELF file")
    program.chmod(0o755)
    try:
        runc.create(container_id, bundle.path)
        resources = runc.recorded_resources(container_id)
        assert resources.cgroups

        runc.start(container_id)
        assert runc.wait_for_status(container_id, "stopped").status == "stopped"
        _, stderr_path = runc.output_paths(container_id, bundle.path)
        assert "exec format error" in stderr_path.read_text()

        assert runc.cleanup(container_id) == []
        assert inspect.find_leftovers(resources) == []
    finally:
        assert_nothing_left(runc, container_id)


def test_cleanup_of_running_container(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    bundle = make_test_bundle(tmp_path, busybox_rootfs, container_id, ["sleep", "100"])
    try:
        runc.create(container_id, bundle.path)
        runc.start(container_id)
        resources = runc.recorded_resources(container_id)
        assert inspect.process_start_time(resources.pid) is not None
        assert runc.cleanup(container_id) == []
        assert inspect.find_leftovers(resources, timeout=0) == []
    finally:
        assert_nothing_left(runc, container_id)


def test_readable_message_formats() -> None:
    json_line = '{"level":"error","msg":"container does not exist","time":"x"}'
    text_line = 'time="x" level=error msg="cannot delete \\"c1\\": running"'
    assert readable_message(json_line) == "container does not exist"
    assert readable_message(text_line) == 'cannot delete "c1": running'
    assert readable_message("crun: plain text\n") == "crun: plain text"
    assert readable_message("") == "no error output"


# --- config edits with effects on the running process -----------------------


def start_sleeping(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path, container_id: str, **patch: Any
) -> ContainerState:
    """Create and start ``sleep 100`` with a merge patch applied to the config."""
    bundle = make_test_bundle(tmp_path, busybox_rootfs, container_id, ["sleep", "100"])
    bundle.update(patch)
    runc.create(container_id, bundle.path)
    runc.start(container_id)
    return runc.wait_for_status(container_id, "running")


def test_readonly_root_rejects_writes(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    script = "touch /x; echo status=$?"
    bundle = make_test_bundle(
        tmp_path, busybox_rootfs, container_id, ["sh", "-c", script]
    )
    try:
        result = runc.run(container_id, bundle.path, timeout=20)
        assert result.stdout == "status=1\n"
        assert "Read-only file system" in result.stderr
        assert not (bundle.rootfs / "x").exists()
    finally:
        assert_nothing_left(runc, container_id)


def test_writable_root_accepts_writes(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    script = "touch /x; echo status=$?"
    bundle = make_test_bundle(
        tmp_path, busybox_rootfs, container_id, ["sh", "-c", script]
    )
    bundle.update({"root": {"readonly": False}})
    try:
        result = runc.run(container_id, bundle.path, timeout=20)
        assert result.stdout == "status=0\n"
        assert (bundle.rootfs / "x").exists()
    finally:
        assert_nothing_left(runc, container_id)


@pytest.mark.parametrize("with_net_raw", [True, False])
def test_capability_net_raw(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path, with_net_raw: bool
) -> None:
    container_id = new_id()
    names = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    if with_net_raw:
        names.append("CAP_NET_RAW")
    capabilities = {kind: names for kind in ("bounding", "effective", "permitted")}
    try:
        state = start_sleeping(
            runc,
            busybox_rootfs,
            tmp_path,
            container_id,
            process={"capabilities": capabilities},
        )
        frame = inspect.capabilities_frame(state.pid).set_index("set")
        effective = frame.loc["CapEff"]
        assert bool(effective["mask"] & (1 << CAP_NET_RAW)) is with_net_raw
        assert ("CAP_NET_RAW" in effective["capabilities"]) is with_net_raw
        assert sorted(effective["capabilities"]) == sorted(names)
        assert frame.loc["CapAmb", "mask"] == 0
    finally:
        assert_nothing_left(runc, container_id)


def test_extra_env_var_in_environ(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    env = [*default_runtime_config()["process"]["env"], "OCILAB_LESSON=runtime"]
    try:
        state = start_sleeping(
            runc, busybox_rootfs, tmp_path, container_id, process={"env": env}
        )
        environ = Path(f"/proc/{state.pid}/environ").read_bytes().split(b"\0")
        assert b"OCILAB_LESSON=runtime" in environ
    finally:
        assert_nothing_left(runc, container_id)


def test_memory_limit_in_cgroup(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    limit = 64 * 1024 * 1024
    try:
        start_sleeping(
            runc,
            busybox_rootfs,
            tmp_path,
            container_id,
            linux={"resources": {"memory": {"limit": limit}}},
        )
        saved = json.loads((runc.root / container_id / "state.json").read_text())
        memory = Path(saved["cgroup_paths"]["memory"])
        assert memory == CGROUP_ROOT / "memory" / container_id
        limit_file = memory / "memory.limit_in_bytes"
        assert int(limit_file.read_text()) == limit
    finally:
        assert_nothing_left(runc, container_id)


def test_hostname_in_uts_namespace(
    runc: Runc, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    try:
        state = start_sleeping(
            runc, busybox_rootfs, tmp_path, container_id, hostname="ocilab-box"
        )
        assert inspect.hostname(state.pid) == "ocilab-box"
        assert socket.gethostname() != "ocilab-box"
    finally:
        assert_nothing_left(runc, container_id)


# --- inspection frames --------------------------------------------------------


def test_inspection_frames(runc: Runc, busybox_rootfs: Path, tmp_path: Path) -> None:
    container_id = new_id()
    try:
        state = start_sleeping(runc, busybox_rootfs, tmp_path, container_id)

        namespaces = inspect.namespaces_frame(state.pid).set_index("type")
        for kind in ("pid", "mnt", "uts", "ipc", "net", "cgroup"):
            assert not namespaces.loc[kind, "shared"], kind
        for kind in ("user", "time"):
            if kind in namespaces.index:
                assert namespaces.loc[kind, "shared"], kind

        cgroups = inspect.cgroup_frame(state.pid)
        # The kernel prints paths relative to the reader's cgroup namespace, so
        # the host sees the full cgroupsPath, while the container would see "/".
        assert set(cgroups["path"]) == {f"/{container_id}"}
        memory = cgroups[cgroups["controllers"].apply(lambda names: "memory" in names)]
        assert len(memory) == 1

        mounts = inspect.mounts_frame(state.pid).set_index("mount_point")
        assert mounts.loc["/proc", "fstype"] == "proc"
        assert mounts.loc["/dev", "fstype"] == "tmpfs"
        assert "ro" in mounts.loc["/", "options"].split(",")
    finally:
        assert_nothing_left(runc, container_id)


def test_capability_names_decoding() -> None:
    assert inspect.capability_names(0) == []
    assert inspect.capability_names(1 << CAP_NET_RAW) == ["CAP_NET_RAW"]
    assert inspect.capability_names((1 << 0) | (1 << 63)) == ["CAP_CHOWN", "CAP_63"]


# --- bundles ------------------------------------------------------------------


def test_bundle_from_image(tmp_path: Path) -> None:
    images = build_lab_images()
    image_config = json.loads(images.busybox.config.data)
    layers = [layer.data for layer in images.busybox.layers]
    bundle = bundle_from_image(image_config, layers, tmp_path / "b", args=["id"])
    config = bundle.config()
    assert config["process"]["args"] == ["id"]
    assert config["process"]["terminal"] is False
    assert config["root"]["path"] == "rootfs"
    assert (bundle.rootfs / "bin" / "busybox").is_file()
    assert bundle.config_path == bundle.path / "config.json"


def test_bundle_update_patch_and_function(busybox_rootfs: Path, tmp_path: Path) -> None:
    bundle = make_bundle(
        tmp_path / "b", rootfs_from=busybox_rootfs, config=default_runtime_config()
    )
    bundle.update({"hostname": None, "process": {"cwd": "/tmp"}})
    config = bundle.config()
    assert "hostname" not in config
    assert config["process"]["cwd"] == "/tmp"
    assert config["process"]["args"] == ["sh"]

    def add_env(current: dict[str, Any]) -> None:
        current["process"]["env"].append("A=1")

    bundle.update(add_env)
    assert bundle.config()["process"]["env"][-1] == "A=1"
    with pytest.raises(FileExistsError):
        make_bundle(bundle.path, rootfs_from=busybox_rootfs, config={})


def test_bundle_from_image_runs(runc: Runc, tmp_path: Path) -> None:
    images = build_lab_images()
    image_config = json.loads(images.busybox.config.data)
    layers = [layer.data for layer in images.busybox.layers]
    container_id = new_id()
    bundle = bundle_from_image(
        image_config, layers, tmp_path / "b", args=["sh", "-c", "echo $PATH"]
    )
    bundle.update({"linux": {"cgroupsPath": f"/{container_id}"}})
    try:
        result = runc.run(container_id, bundle.path, timeout=20)
        assert result.exit_code == 0
        assert result.stdout.startswith("/usr/local/sbin:")
    finally:
        assert_nothing_left(runc, container_id)


# --- crun ---------------------------------------------------------------------


@pytest.fixture
def crun(tmp_path: Path) -> Iterator[Crun]:
    if shutil.which("crun") is None:
        pytest.skip("crun is not installed")
    runtime = Crun(root=tmp_path / "crun-state", timeout=20)
    usable, reason = runtime.available()
    if not usable:
        pytest.skip(f"crun cannot run containers here: {reason}")
    yield runtime


def test_crun_available_reports_reason(tmp_path: Path) -> None:
    if shutil.which("crun") is None:
        pytest.skip("crun is not installed")
    runtime = Crun(root=tmp_path / "crun-state")
    usable, reason = runtime.available()
    assert (reason == "") is usable
    assert list(runtime.root.iterdir()) == []


def test_crun_run_captures_output(
    crun: Crun, busybox_rootfs: Path, tmp_path: Path
) -> None:
    container_id = new_id()
    script = "echo out; echo err >&2; exit 3"
    bundle = make_test_bundle(
        tmp_path, busybox_rootfs, container_id, ["sh", "-c", script]
    )
    try:
        result = crun.run(container_id, bundle.path, timeout=20)
        assert result.exit_code == 3
        assert result.stdout == "out\n"
    finally:
        assert crun.cleanup(container_id) == []
        assert cgroup_folders(container_id) == []


def test_crun_lifecycle(crun: Crun, busybox_rootfs: Path, tmp_path: Path) -> None:
    container_id = new_id()
    bundle = make_test_bundle(
        tmp_path, busybox_rootfs, container_id, ["sh", "-c", LOOP_UNTIL_TERM]
    )
    try:
        crun.create(container_id, bundle.path)
        assert crun.state(container_id).status == "created"
        crun.start(container_id)
        crun.wait_for_status(container_id, "running")
        crun.kill(container_id, "TERM")
        crun.wait_for_status(container_id, "stopped")
        crun.delete(container_id)
        with pytest.raises(OCIRuntimeError):
            crun.state(container_id)
    finally:
        assert crun.cleanup(container_id) == []
        assert cgroup_folders(container_id) == []


def test_find_leftovers_reports_each_kind(tmp_path: Path) -> None:
    resources = inspect.Resources(
        state_dir=tmp_path,
        pid=os.getpid(),
        pid_start_time=inspect.process_start_time(os.getpid()),
        cgroups=(tmp_path,),
    )
    leftovers = inspect.find_leftovers(resources, timeout=0)
    assert f"state directory {tmp_path}" in leftovers
    assert f"process {os.getpid()}" in leftovers
    assert f"cgroup {tmp_path}" in leftovers
