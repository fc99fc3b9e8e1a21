"""Remove every trace of a lab: processes, containers, mounts, sockets, files.

Each step works from what is on the machine, not from what lab.json records, so
it also cleans after a lab whose processes were killed with SIGKILL.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ._config import RUNC_BINARY, LabPaths

__all__ = [
    "find_processes",
    "force_delete_containers",
    "lab_mounts",
    "container_ids",
    "remove_cgroups",
    "remove_cni_cache",
    "runc_cgroup_paths",
    "remove_shim_sockets",
    "stop_processes",
    "unmount_all",
]

log = logging.getLogger(__name__)

SHIM_SOCKET_DIR = Path("/run/containerd/s")
CNI_CACHE_DIR = Path("/var/lib/cni")
_MNT_DETACH = 2


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def find_processes(paths: LabPaths) -> dict[int, list[str]]:
    """Return {pid: argv} of containerd, its shims and the registry of this lab.

    A process belongs to the lab when its command line names a file of the
    lab's state directory: containerd's config, the shims' -address socket,
    the registry's config.
    """
    markers = (
        str(paths.containerd_config),
        str(paths.socket),
        str(paths.registry_config),
    )
    found: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        argv = cmdline(int(entry.name))
        if any(marker in argv for marker in markers):
            found[int(entry.name)] = argv
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # kill(0) succeeds on a zombie too, so check its state and treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _reap(pid: int) -> None:
    # Reap our own children so they do not linger as zombies.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop_processes(pids: list[int], timeout: float = 10.0) -> None:
    """Send SIGTERM, wait up to timeout seconds, then SIGKILL what is left."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in pids:
            _reap(pid)
        if not any(pid_alive(pid) for pid in pids):
            return
        time.sleep(0.05)
    for pid in pids:
        if pid_alive(pid):
            log.warning("process %d did not stop after SIGTERM; sending SIGKILL", pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for pid in pids:
        for _ in range(100):
            _reap(pid)
            if not pid_alive(pid):
                break
            time.sleep(0.02)


def _runc_roots(paths: LabPaths) -> list[Path]:
    # The shim runs runc with --root <Root>/<containerd namespace>.
    if not paths.runc_root.is_dir():
        return []
    return sorted(folder for folder in paths.runc_root.iterdir() if folder.is_dir())


def runc_cgroup_paths(paths: LabPaths) -> list[Path]:
    """Return the cgroup folders that runc recorded for the lab's containers."""
    found: set[Path] = set()
    for root in _runc_roots(paths):
        for state_file in root.glob("*/state.json"):
            try:
                state = json.loads(state_file.read_text())
            except (OSError, ValueError):
                continue
            for folder in (state.get("cgroup_paths") or {}).values():
                found.add(Path(folder))
    return sorted(found)


def force_delete_containers(paths: LabPaths) -> list[str]:
    """Kill and delete every container in the lab's runc roots; return their ids.

    ``runc delete --force`` kills the container's processes and removes its
    cgroups, which is what is left when containerd and its shims died first.
    """
    deleted = []
    for root in _runc_roots(paths):
        for state_file in sorted(root.glob("*/state.json")):
            container_id = state_file.parent.name
            result = subprocess.run(
                [RUNC_BINARY, "--root", str(root), "delete", "--force", container_id],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                log.warning(
                    "runc delete --force %s failed: %s",
                    container_id,
                    result.stderr.strip(),
                )
            deleted.append(container_id)
    return deleted


def remove_cgroups(folders: list[Path]) -> list[Path]:
    """Kill what still runs in each cgroup folder and remove the folders.

    Also removes a parent folder named "k8s.io" (containerd's default cgroup
    parent for its CRI namespace) once it is empty.
    """
    removed = []
    for folder in folders:
        procs = folder / "cgroup.procs"
        for _ in range(50):
            try:
                pids = [int(line) for line in procs.read_text().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        try:
            folder.rmdir()
            removed.append(folder)
        except FileNotFoundError:
            pass
        except OSError as error:
            log.warning("could not remove cgroup %s: %s", folder, error.strerror)
    for parent in {
        folder.parent for folder in folders if folder.parent.name == "k8s.io"
    }:
        try:
            parent.rmdir()
        except OSError:
            pass  # still used by containers of another containerd, or gone
    return removed


def cgroup_mounts() -> list[Path]:
    """Return the mount points of every cgroup hierarchy (v1 controllers and v2)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        separator = fields.index("-")
        if fields[separator + 1] in ("cgroup", "cgroup2"):
            points.append(Path(_unescape_mountinfo(fields[4])))
    return points


def remove_cgroup_tree(name: str) -> list[Path]:
    """Remove the cgroup folder named after the lab in every hierarchy, deepest first.

    Pods created with linux.cgroup_parent "/<lab name>/..." live there; runc
    removes a container's own cgroup but not the parents it created.
    """
    folders: list[Path] = []
    for mount in cgroup_mounts():
        top = mount / name
        if top.is_dir():
            folders += [path for path in top.rglob("*") if path.is_dir()] + [top]
    folders.sort(key=lambda path: len(path.parts), reverse=True)
    return remove_cgroups(folders)


def container_ids(paths: LabPaths) -> set[str]:
    """Return the ids of every sandbox and container in the lab's containerd state."""
    ids: set[str] = set()
    for base in (paths.containerd_root, paths.containerd_state):
        cri = base / "io.containerd.grpc.v1.cri"
        for kind in ("sandboxes", "containers"):
            if (cri / kind).is_dir():
                ids.update(folder.name for folder in (cri / kind).iterdir())
    task_root = paths.containerd_state / "io.containerd.runtime.v2.task"
    ids.update(folder.name for folder in task_root.glob("*/*") if folder.is_dir())
    for root in _runc_roots(paths):
        ids.update(folder.name for folder in root.iterdir() if folder.is_dir())
    return ids


def _unescape_mountinfo(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for escape, char in (
        ("\\040", " "),
        ("\\011", "\t"),
        ("\\012", "\n"),
        ("\\134", "\\"),
    ):
        field = field.replace(escape, char)
    return field


def lab_mounts(paths: LabPaths) -> list[str]:
    """Return every mount point below the state directory, deepest first.

    A mount on the state directory itself is never the lab's, because the lab
    only mounts inside it.
    """
    prefix = str(paths.state_dir).rstrip("/")
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape_mountinfo(line.split()[4])
        if point.startswith(prefix + "/"):
            points.append(point)
    return sorted(set(points), key=lambda point: point.count("/"), reverse=True)


def unmount_all(paths: LabPaths) -> list[str]:
    """Unmount everything below the state directory; return what was unmounted.

    A mount that is still busy is detached (MNT_DETACH), so it leaves the
    mount table at once and the kernel frees it when its last user goes.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    done = []
    for _ in range(3):  # stacked mounts on one point need one pass each
        points = lab_mounts(paths)
        if not points:
            break
        for point in points:
            if libc.umount2(point.encode(), 0) != 0:
                if libc.umount2(point.encode(), _MNT_DETACH) != 0:
                    error = ctypes.get_errno()
                    log.warning("could not unmount %s: %s", point, os.strerror(error))
                    continue
            done.append(point)
    return done


def shim_sockets(paths: LabPaths, ids: set[str]) -> list[Path]:
    """Return the shim sockets of the lab's tasks.

    containerd 1.6 puts shim sockets in /run/containerd/s whatever its state
    directory is. Each live task's folder records its socket in a file
    "address". A task whose shim was killed may have lost that folder, so the
    socket name is also computed the way containerd 1.6 names it: the hex
    SHA-256 of "<containerd socket>/<namespace>/<sandbox or container id>".
    """
    sockets = {
        SHIM_SOCKET_DIR
        / hashlib.sha256(f"{paths.socket}/k8s.io/{task_id}".encode()).hexdigest()
        for task_id in ids
    }
    task_root = paths.containerd_state / "io.containerd.runtime.v2.task"
    for address_file in task_root.glob("*/*/address"):
        try:
            address = address_file.read_text().strip()
        except OSError:
            continue
        path = Path(address.removeprefix("unix://"))
        if path.parent == SHIM_SOCKET_DIR:
            sockets.add(path)
    return sorted(sockets)


def remove_shim_sockets(sockets: list[Path]) -> None:
    for path in sockets:
        path.unlink(missing_ok=True)


def remove_cni_cache(ids: set[str]) -> list[Path]:
    """Remove libcni's cached results for the lab's sandboxes.

    libcni in containerd 1.6 caches each attachment in
    /var/lib/cni/results/<network>-<sandbox id>-<interface>, outside any
    configurable folder; the loopback attachment uses the network "cni-loopback".
    """
    removed = []
    results = CNI_CACHE_DIR / "results"
    if not results.is_dir() or not ids:
        return removed
    for path in results.iterdir():
        parts = set(path.name.split("-"))
        if parts & ids:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def remove_tree(path: Path) -> None:
    """Remove a folder that contains no mounts any more."""
    if path.exists():
        shutil.rmtree(path)


# The folders that containerd 1.6, its shims and libcni create inside the
# host folders of HOST_DIRS; other software's folders there are left alone.
_KNOWN_CHILDREN = {"/run/containerd": ("s",), "/var/lib/cni": ("results",)}


def remove_empty_cgroups(top: Path) -> None:
    """Remove the cgroup folder top and its descendants that hold no process.

    Nothing is killed: a cgroup that still has processes or children (another
    lab's pods, say) stays.
    """
    if not top.is_dir():
        return
    folders = [path for path in top.rglob("*") if path.is_dir()] + [top]
    for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            pass


def remove_empty_dirs(top: Path) -> None:
    """Remove top, after the lab's known subfolders of it, if each is empty."""
    for child in _KNOWN_CHILDREN.get(str(top), ()):
        try:
            (top / child).rmdir()
        except OSError:
            pass  # not empty, or not there
    try:
        top.rmdir()
    except OSError:
        pass
