"""What a lab leaves on the host, and helpers that run and kill a lab's workloads.

Other labs may start, run pods and stop on the same machine while a test runs
(other pytest sessions, a learner's lab). :func:`host_snapshot` therefore
lists every item of each kind on the host except those that provably belong
to another lab: below its state dir, named after it, started by its processes
or carrying one of its container ids. What is left is the host's own items,
the lab under test and anything orphaned, which is where a leak shows.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from ocilab.cri import CRIClient
from ocilab.lab import LabInfo, _cleanup
from ocilab.lab._config import LabPaths
from ocilab.lab._state import lab_name

# Process names that a lab starts: containerd, its shims, the registry, and
# the processes of its pods (the pause image and the test pods run sleep).
LAB_PROCESS_NAMES = (
    "containerd",
    "containerd-shim",
    "containerd-shim-runc-v2",
    "docker-registry",
    "pause",
    "sleep",
)
HOST_FOLDERS = (Path("/run/containerd"), Path("/var/lib/cni"))
SHARED_SUBFOLDERS = ("s", "results")
LAB_MARKER = ".ocilab-lab"


def _lab_dir_of(argv: list[str]) -> Path | None:
    """Return the state dir that a lab process's command line names, if any."""
    for argument in argv:
        for suffix in ("/containerd.toml", "/registry.yml", "/cri.sock"):
            if argument.endswith(suffix):
                return Path(argument[: -len(suffix)])
    return None


def _process_table() -> dict[int, tuple[str, int, list[str]]]:
    """Return {pid: (name, parent pid, argv)} of every live process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        table[int(entry.name)] = (
            name,
            int(fields[1]),
            _cleanup.cmdline(int(entry.name)),
        )
    return table


def _pod_cgroup_id(pid: int) -> str | None:
    """Return the last folder of a process's cgroup path when it is a pod's cgroup."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        path = line.split(":", 2)[-1]
        if "/k8s.io/" in path or path.startswith("/ocilab-"):
            return path.rstrip("/").rsplit("/", 1)[-1]
    return None


def _marked_mount_folders() -> set[Path | None]:
    """Return the lab folders (those with a lab marker) that contain a mount point."""
    found: set[Path | None] = set()
    checked: set[Path] = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = Path(_cleanup._unescape_mountinfo(line.split()[4]))
        for parent in point.parents:
            if parent in checked:
                break
            checked.add(parent)
            if (parent / LAB_MARKER).exists():
                found.add(parent)
                break
    return found


class _OtherLabs:
    """The labs on this machine other than the one under test, and what marks their items."""

    def __init__(self, own: Path, table: dict[int, tuple[str, int, list[str]]]) -> None:
        self.own = own.resolve()
        folders = {_lab_dir_of(argv) for _, _, argv in table.values()}
        # A killed lab has no processes left, but its mounts name its folder.
        folders |= _marked_mount_folders()
        self.dirs = {
            folder.resolve()
            for folder in folders
            if folder is not None and folder.resolve() != self.own
        }
        self.names = {lab_name(folder) for folder in self.dirs}
        self.ids: set[str] = set()
        self.sockets: set[Path] = set()
        for folder in self.dirs:
            paths = LabPaths(folder)
            try:
                ids = _cleanup.container_ids(paths)
                self.sockets.update(_cleanup.shim_sockets(paths, ids))
            except OSError:
                continue  # that lab is being removed right now
            self.ids |= ids
        # A shim names its socket after its containerd socket, namespace and id.
        for _, _, argv in table.values():
            if "-address" in argv and "-id" in argv:
                address = argv[argv.index("-address") + 1]
                if Path(address).parent.resolve() != self.own:
                    task = argv[argv.index("-id") + 1]
                    digest = hashlib.sha256(f"{address}/k8s.io/{task}".encode())
                    self.sockets.add(_cleanup.SHIM_SOCKET_DIR / digest.hexdigest())

    def owns_path(self, path: str) -> bool:
        """Return True when path is below another lab's state dir."""
        for parent in Path(path).parents:
            if parent == self.own:
                return False
            # A marker without processes is a lab that is starting, stopping or killed.
            if parent in self.dirs or (parent / LAB_MARKER).exists():
                return True
        return False

    def owns_name(self, name: str) -> bool:
        """Return True when a file or link name carries another lab's name or ids."""
        if any(name == lab or name.startswith(f"{lab}-") for lab in self.names):
            return True
        return any(part in self.ids for part in name.split("-"))


def _processes(
    table: dict[int, tuple[str, int, list[str]]], others: _OtherLabs
) -> list[str]:
    def belongs_elsewhere(pid: int, depth: int = 0) -> bool:
        if pid not in table or depth > 3:
            return False
        _, parent, argv = table[pid]
        folder = _lab_dir_of(argv)
        if folder is not None:
            return folder.resolve() in others.dirs
        if _pod_cgroup_id(pid) in others.ids:
            return True
        return belongs_elsewhere(parent, depth + 1)

    found = []
    for pid, (name, _, argv) in table.items():
        if name not in LAB_PROCESS_NAMES or pid == os.getpid():
            continue
        if name in ("sleep", "pause") and _pod_cgroup_id(pid) is None:
            continue  # a sleep outside any pod cgroup is not a lab's
        if name in ("containerd", "docker-registry") and _lab_dir_of(argv) is None:
            continue  # the host's own containerd, or a test's registry
        if not belongs_elsewhere(pid):
            found.append(f"{pid} {' '.join(argv)}")
    return sorted(found)


def _mounts(others: _OtherLabs) -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _cleanup._unescape_mountinfo(line.split()[4])
        if not others.owns_path(point):
            points.append(point)
    return sorted(points)


def _links(others: _OtherLabs) -> tuple[list[str], list[str]]:
    """Return (ocilab bridges, veths) that are not another lab's.

    NOTE: the bridge of a lab that has started no process yet matches no rule
    here and is listed, so callers retry before they call a bridge a leak.
    """
    output = subprocess.run(
        ["ip", "-j", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    bridges, veths = [], []
    for link in json.loads(output or "[]"):
        name = str(link.get("ifname", ""))
        master = str(link.get("master", ""))
        if name.startswith("ocilab-") and not others.owns_name(name):
            bridges.append(name)
        elif name.startswith("veth") and not others.owns_name(master):
            veths.append(f"{name} master={master or '-'}")
    return sorted(bridges), sorted(veths)


def _netns() -> list[str]:
    result = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=False
    )
    return sorted(
        line.split()[0] for line in result.stdout.splitlines() if line.strip()
    )


def _host_files(others: _OtherLabs) -> list[str]:
    # The folders themselves are shared: the first lab to start creates them
    # and the last to stop removes them, so they come and go with other labs.
    found = []
    for top in HOST_FOLDERS:
        for path in top.rglob("*") if top.is_dir() else []:
            shared = path.parent == top and path.name in SHARED_SUBFOLDERS
            if shared or path in others.sockets or others.owns_name(path.name):
                continue
            found.append(str(path))
    return sorted(found)


def _cgroups(others: _OtherLabs) -> list[str]:
    # "k8s.io" itself is shared by every lab, like the host folders above.
    found = []
    for mount in _cleanup.cgroup_mounts():
        for top in (mount / "k8s.io", *mount.glob("ocilab-*")):
            if not top.is_dir() or others.owns_name(top.name):
                continue
            if top.name != "k8s.io":
                found.append(str(top))
            found += [
                str(folder)
                for folder in top.rglob("*")
                if folder.is_dir() and not others.owns_name(folder.name)
            ]
    return sorted(found)


def host_snapshot(own_state_dir: Path | str) -> dict[str, list[str]]:
    """List what a lab could leave on the host, by kind, without other labs' items.

    ``own_state_dir`` is the lab under test: its items are always listed, so
    a snapshot taken while it runs differs from one taken before it started.
    """
    table = _process_table()
    others = _OtherLabs(Path(own_state_dir), table)
    bridges, veths = _links(others)
    own = Path(own_state_dir)
    return {
        "processes": _processes(table, others),
        "mounts": _mounts(others),
        "network namespaces": _netns(),
        "bridges": bridges,
        "veths": veths,
        "host files": _host_files(others),
        "cgroups": _cgroups(others),
        "state dir files": sorted(str(path) for path in own.rglob("*"))
        if own.exists()
        else [],
    }


def snapshot_counts(snapshot: dict[str, list[str]]) -> dict[str, int]:
    return {kind: len(items) for kind, items in snapshot.items()}


def snapshot_changes(
    before: dict[str, list[str]], after: dict[str, list[str]]
) -> dict[str, dict[str, list[str]]]:
    """Return, per kind that changed, the items added and removed since before."""
    changes = {}
    for kind, items in before.items():
        added = sorted(set(after[kind]) - set(items))
        removed = sorted(set(items) - set(after[kind]))
        if added or removed:
            changes[kind] = {"added": added, "removed": removed}
    return changes


def run_pod(info: LabInfo, name: str = "leak-check") -> str:
    """Run a pod with one `sleep 600` container through CRI; return the pod id."""
    with CRIClient(info.cri_endpoint, timeout=120) as cri:
        config = {
            "metadata": {
                "name": name,
                "namespace": "ocilab-tests",
                "uid": str(uuid.uuid4()),
            },
            "log_directory": str(Path(info.state_dir) / "pod-logs"),
            "linux": {},
        }
        pod_id = cri.runtime.RunPodSandbox(config=config).pod_sandbox_id
        cri.images.PullImage(image={"image": info.images["busybox"]})
        container_id = cri.runtime.CreateContainer(
            pod_sandbox_id=pod_id,
            config={
                "metadata": {"name": "sleeper"},
                "image": {"image": info.images["busybox"]},
                "command": ["sleep", "600"],
                "log_path": "sleeper.log",
            },
            sandbox_config=config,
        ).container_id
        cri.runtime.StartContainer(container_id=container_id)
    return pod_id


def pod_processes(paths: LabPaths) -> list[int]:
    """Return the pids in the lab's pod cgroups (memory hierarchy, parent k8s.io)."""
    return [
        int(pid)
        for folder in _cleanup.runc_cgroup_paths(paths)
        if folder.parent.name == "k8s.io" and "memory" in folder.parts
        for pid in (folder / "cgroup.procs").read_text().split()
    ]


def kill_all(pids: Iterable[int], settle: float = 0.3) -> None:
    """Send SIGKILL to each pid that still exists, then wait settle seconds."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(settle)


def kill_lab(paths: LabPaths) -> None:
    """Kill the whole lab with SIGKILL: containerd, registry, shims and pod processes."""
    kill_all([*_cleanup.find_processes(paths), *pod_processes(paths)])


def ocilab_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m ocilab.cli ARGS` and capture its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "ocilab.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
