"""Inspect a container's process from the host through /proc, and find leftovers.

The frames compare what the kernel reports for a container's init process
(``/proc/PID/...``) with the host, so a lesson can show which namespaces,
cgroups, capabilities and mounts a runtime set up. :func:`find_leftovers`
checks that a deleted container left no state directory, process, cgroup
folder or mount behind.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "CAPABILITIES",
    "Resources",
    "capabilities_frame",
    "capability_names",
    "cgroup_frame",
    "find_leftovers",
    "hostname",
    "mounts_frame",
    "namespaces_frame",
    "process_start_time",
]

# Capability names by bit number, from linux/capability.h up to 40
# (CAP_CHECKPOINT_RESTORE, added in Linux 5.9).
CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
_CAPABILITY_SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


def _proc(pid: int) -> Path:
    return Path("/proc") / str(pid)


def namespaces_frame(pid: int) -> pd.DataFrame:
    """Compare the namespaces of ``pid`` with this process's, one row per type.

    Columns: type (the /proc/PID/ns entry name), container_inode, host_inode
    and shared (True when both are the same namespace).
    """
    rows = []
    for entry in sorted(os.listdir(_proc(pid) / "ns")):
        container = _namespace_inode(_proc(pid) / "ns" / entry)
        host = _namespace_inode(Path("/proc/self/ns") / entry)
        rows.append(
            {
                "type": entry,
                "container_inode": container,
                "host_inode": host,
                "shared": container == host,
            }
        )
    return pd.DataFrame(
        rows, columns=["type", "container_inode", "host_inode", "shared"]
    )


def _namespace_inode(link: Path) -> int | None:
    try:
        target = os.readlink(link)
    except FileNotFoundError:
        return None
    # The link target reads like "net:[4026531840]".
    return int(target.split("[", 1)[1].rstrip("]"))


def cgroup_frame(pid: int) -> pd.DataFrame:
    """Parse /proc/PID/cgroup: hierarchy_id, controllers (list) and path.

    On cgroup v2 and on the v2 part of a hybrid layout the hierarchy id is 0
    and the controller list is empty.
    """
    rows = []
    for line in (_proc(pid) / "cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        rows.append(
            {
                "hierarchy_id": int(hierarchy),
                "controllers": [name for name in controllers.split(",") if name],
                "path": path,
            }
        )
    return pd.DataFrame(rows, columns=["hierarchy_id", "controllers", "path"])


def capability_names(mask: int) -> list[str]:
    """Return the names of the capabilities set in ``mask``, lowest bit first."""
    names = []
    for bit in range(mask.bit_length()):
        if mask & (1 << bit):
            known = bit < len(CAPABILITIES)
            names.append(CAPABILITIES[bit] if known else f"CAP_{bit}")
    return names


def capabilities_frame(pid: int) -> pd.DataFrame:
    """Decode the capability sets of /proc/PID/status, one row per set.

    Columns: set (CapInh, CapPrm, CapEff, CapBnd, CapAmb), mask (int) and
    capabilities (list of names).
    """
    fields = _status_fields(pid)
    rows = []
    for name in _CAPABILITY_SETS:
        mask = int(fields[name], 16)
        rows.append({"set": name, "mask": mask, "capabilities": capability_names(mask)})
    return pd.DataFrame(rows, columns=["set", "mask", "capabilities"])


def _status_fields(pid: int) -> dict[str, str]:
    fields = {}
    for line in (_proc(pid) / "status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def mounts_frame(pid: int) -> pd.DataFrame:
    """Parse /proc/PID/mountinfo, the mount table in the mount namespace of ``pid``.

    Columns: mount_point, fstype, source, options (per-mount options) and
    super_options (options of the filesystem), all as the kernel prints them.
    """
    rows = []
    for line in (_proc(pid) / "mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields = before.split()
        fstype, source, super_options = (after.split() + ["", "", ""])[:3]
        rows.append(
            {
                "mount_point": fields[4],
                "fstype": fstype,
                "source": source,
                "options": fields[5],
                "super_options": super_options,
            }
        )
    columns = ["mount_point", "fstype", "source", "options", "super_options"]
    return pd.DataFrame(rows, columns=columns)


def hostname(pid: int) -> str:
    """Return the host name in the UTS namespace of ``pid`` (needs root for nsenter)."""
    completed = subprocess.run(
        ["nsenter", "--target", str(pid), "--uts", "uname", "-n"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return completed.stdout.strip()


# --- leftovers ---------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """The host resources of a container, recorded before it is deleted."""

    state_dir: Path
    pid: int | None = None
    # Field 22 of /proc/PID/stat in clock ticks since boot, to detect a reused pid.
    pid_start_time: int | None = None
    rootfs: Path | None = None
    cgroups: tuple[Path, ...] = ()


def process_start_time(pid: int) -> int | None:
    """Return field 22 (starttime) of /proc/PID/stat, or None when no such process."""
    try:
        stat = (_proc(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in brackets may contain spaces, so split after its ")".
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def _is_alive(pid: int, start_time: int | None) -> bool:
    current = process_start_time(pid)
    if current is None:
        return False
    return start_time is None or current == start_time


def _mounts_below(folder: Path) -> list[str]:
    prefix = str(folder).rstrip("/")
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split()[4]
        if mount_point == prefix or mount_point.startswith(prefix + "/"):
            found.append(mount_point)
    return found


def _leftovers_now(resources: Resources) -> list[str]:
    leftovers = []
    if resources.state_dir.exists():
        leftovers.append(f"state directory {resources.state_dir}")
    if resources.pid and _is_alive(resources.pid, resources.pid_start_time):
        leftovers.append(f"process {resources.pid}")
    leftovers += [f"cgroup {path}" for path in resources.cgroups if path.exists()]
    if resources.rootfs is not None:
        leftovers += [f"mount {point}" for point in _mounts_below(resources.rootfs)]
    return leftovers


def find_leftovers(resources: Resources, *, timeout: float = 5.0) -> list[str]:
    """Return what of ``resources`` still exists after up to ``timeout`` seconds.

    The check repeats every 50 ms, because a killed process and its cgroup
    folders may take a moment to go away. An empty list means nothing is left.
    """
    deadline = time.monotonic() + timeout
    leftovers = _leftovers_now(resources)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.05)
        leftovers = _leftovers_now(resources)
    return leftovers
