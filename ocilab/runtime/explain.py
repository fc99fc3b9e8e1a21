"""Explain a runtime config as DataFrames, one row per entry with a short meaning.

The functions are pure: they read a config (a RuntimeConfig, parsed JSON or
JSON text) and return a new DataFrame. Entries of the wrong JSON type are
left out, as :mod:`ocilab.runtime.spec` reads them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from .spec import RuntimeConfig, parse

__all__ = [
    "CAPABILITY_MEANINGS",
    "MOUNT_MEANINGS",
    "NAMESPACE_MEANINGS",
    "RESOURCE_MEANINGS",
    "capabilities_frame",
    "mounts_frame",
    "namespaces_frame",
    "resources_frame",
]

NAMESPACE_MEANINGS: dict[str, str] = {
    "pid": "own process IDs: PID 1 is the container's first process",
    "network": "own network devices, addresses, routes and ports",
    "mount": "own mount table: mounts do not propagate to the host",
    "ipc": "own System V IPC objects and POSIX message queues",
    "uts": "own hostname and NIS domain name",
    "user": "own user and group IDs, mapped to host IDs",
    "cgroup": "own view of the cgroup tree, rooted at the container's cgroup",
    "time": "own offsets for the monotonic and boot-time clocks",
}

# By destination first, then by filesystem type.
MOUNT_MEANINGS: dict[str, str] = {
    "/proc": "process information of the container's PID namespace",
    "/dev": "a small tmpfs for device nodes, instead of the host's /dev",
    "/dev/pts": "a private pseudo-terminal instance",
    "/dev/shm": "shared memory for POSIX shm_open",
    "/dev/mqueue": "POSIX message queues of the IPC namespace",
    "/sys": "kernel and device information",
    "/sys/fs/cgroup": "the cgroup filesystem, read-only",
    "proc": "a procfs instance",
    "tmpfs": "a filesystem in memory, lost when the container stops",
    "bind": "a host directory or file bound into the container",
    "sysfs": "a sysfs instance",
    "cgroup": "a cgroup filesystem",
    "cgroup2": "the unified cgroup v2 filesystem",
    "devpts": "a pseudo-terminal filesystem",
    "mqueue": "a POSIX message queue filesystem",
}

# capabilities(7), one phrase per capability of Linux 6.x.
CAPABILITY_MEANINGS: dict[str, str] = {
    "CAP_CHOWN": "change the owner and group of any file",
    "CAP_DAC_OVERRIDE": "bypass file read, write and execute permission checks",
    "CAP_DAC_READ_SEARCH": "bypass file read and directory search checks",
    "CAP_FOWNER": "act as the owner of any file (chmod, utime, ...)",
    "CAP_FSETID": "keep set-user-ID and set-group-ID bits when modifying files",
    "CAP_KILL": "send signals to processes of other users",
    "CAP_SETGID": "change group IDs and supplementary groups",
    "CAP_SETUID": "change user IDs",
    "CAP_SETPCAP": "change capability bounding sets and securebits",
    "CAP_LINUX_IMMUTABLE": "set the immutable and append-only file flags",
    "CAP_NET_BIND_SERVICE": "bind ports below 1024",
    "CAP_NET_BROADCAST": "broadcast and listen to multicast (unused by the kernel)",
    "CAP_NET_ADMIN": "configure interfaces, routes, firewall and sockets",
    "CAP_NET_RAW": "open raw and packet sockets, as ping does",
    "CAP_IPC_LOCK": "lock memory (mlock, mlockall, SHM_LOCK)",
    "CAP_IPC_OWNER": "bypass permission checks on System V IPC objects",
    "CAP_SYS_MODULE": "load and unload kernel modules",
    "CAP_SYS_RAWIO": "do raw I/O on ports and /dev/mem",
    "CAP_SYS_CHROOT": "call chroot and change mount namespaces with setns",
    "CAP_SYS_PTRACE": "trace and inspect any process",
    "CAP_SYS_PACCT": "turn process accounting on and off",
    "CAP_SYS_ADMIN": "mount filesystems and many other administration tasks",
    "CAP_SYS_BOOT": "reboot the machine and load a new kernel",
    "CAP_SYS_NICE": "raise priorities and set real-time scheduling",
    "CAP_SYS_RESOURCE": "exceed resource limits and quotas",
    "CAP_SYS_TIME": "set the system clock",
    "CAP_SYS_TTY_CONFIG": "call vhangup and configure terminals",
    "CAP_MKNOD": "create device nodes with mknod",
    "CAP_LEASE": "take leases on any file",
    "CAP_AUDIT_WRITE": "write records to the kernel audit log",
    "CAP_AUDIT_CONTROL": "configure kernel auditing",
    "CAP_SETFCAP": "set file capabilities",
    "CAP_MAC_OVERRIDE": "override mandatory access control (Smack)",
    "CAP_MAC_ADMIN": "configure mandatory access control (Smack)",
    "CAP_SYSLOG": "use privileged syslog operations and read kernel addresses",
    "CAP_WAKE_ALARM": "set timers that wake the system from suspend",
    "CAP_BLOCK_SUSPEND": "prevent the system from suspending",
    "CAP_AUDIT_READ": "read the audit log through a multicast netlink socket",
    "CAP_PERFMON": "use perf_events and other performance monitoring",
    "CAP_BPF": "load BPF programs and create BPF maps",
    "CAP_CHECKPOINT_RESTORE": "checkpoint and restore processes (set PIDs, ...)",
}

# By the flattened path of linux.resources, without array indexes.
RESOURCE_MEANINGS: dict[str, str] = {
    "memory.limit": "memory limit in bytes, or -1 for unlimited",
    "memory.reservation": "soft memory limit in bytes, enforced under pressure",
    "memory.swap": "memory plus swap limit in bytes",
    "memory.kernel": "kernel memory limit in bytes (cgroup v1, deprecated)",
    "memory.kernelTCP": "kernel TCP buffer limit in bytes (cgroup v1)",
    "memory.swappiness": "how eagerly the kernel swaps, 0 to 100",
    "memory.disableOOMKiller": "pause instead of killing when out of memory",
    "memory.useHierarchy": "account memory of child cgroups (cgroup v1)",
    "memory.checkBeforeUpdate": "refuse a limit below the current usage",
    "cpu.shares": "relative CPU weight against sibling cgroups",
    "cpu.quota": "CPU time in microseconds allowed per period",
    "cpu.burst": "extra CPU time in microseconds that may carry over",
    "cpu.period": "length of the quota period in microseconds",
    "cpu.realtimeRuntime": "real-time CPU time in microseconds per period",
    "cpu.realtimePeriod": "length of the real-time period in microseconds",
    "cpu.cpus": "CPUs the container may run on",
    "cpu.mems": "memory nodes the container may allocate from",
    "cpu.idle": "1 makes the cgroup run only when CPUs are idle",
    "pids.limit": "maximum number of processes and threads",
    "devices.allow": "whether this device rule allows or denies",
    "devices.type": "device type: a (all), c (char) or b (block)",
    "devices.major": "device major number, all majors when absent",
    "devices.minor": "device minor number, all minors when absent",
    "devices.access": "r (read), w (write), m (mknod)",
    "blockIO.weight": "relative block I/O weight",
    "blockIO.leafWeight": "block I/O weight against child cgroups (cgroup v1)",
    "hugepageLimits.pageSize": "huge page size the limit applies to",
    "hugepageLimits.limit": "huge page memory limit in bytes",
    "network.classID": "class ID that tags the container's network packets",
    "network.priorities.name": "network interface the priority applies to",
    "network.priorities.priority": "priority of the container's traffic on it",
}


def _config(config: RuntimeConfig | Mapping[str, Any] | str) -> RuntimeConfig:
    if isinstance(config, RuntimeConfig):
        return config
    if isinstance(config, str | bytes):
        return parse(config)
    return RuntimeConfig.from_json(config)


def namespaces_frame(config: RuntimeConfig | Mapping[str, Any] | str) -> pd.DataFrame:
    """Return linux.namespaces: type, path ("" for a new namespace) and meaning."""
    linux = _config(config).linux
    rows = [
        (ns.type, ns.path or "", NAMESPACE_MEANINGS.get(ns.type or "", "unknown type"))
        for ns in (linux.namespaces if linux else ())
    ]
    return pd.DataFrame(rows, columns=["type", "path", "meaning"])


def _mount_meaning(destination: str | None, kind: str | None, options: tuple) -> str:
    if destination in MOUNT_MEANINGS:
        return MOUNT_MEANINGS[destination]
    if "bind" in options or "rbind" in options:
        return MOUNT_MEANINGS["bind"]
    return MOUNT_MEANINGS.get(kind or "", "")


def mounts_frame(config: RuntimeConfig | Mapping[str, Any] | str) -> pd.DataFrame:
    """Return mounts: destination, type, source, options (a list) and meaning."""
    rows = [
        (
            mount.destination,
            mount.type,
            mount.source,
            list(mount.options),
            _mount_meaning(mount.destination, mount.type, mount.options),
        )
        for mount in _config(config).mounts
    ]
    columns = ["destination", "type", "source", "options", "meaning"]
    return pd.DataFrame(rows, columns=columns)


def capabilities_frame(config: RuntimeConfig | Mapping[str, Any] | str) -> pd.DataFrame:
    """Return one row per capability named in process.capabilities.

    Columns: capability, sets (the names of the sets that contain it, in the
    order bounding, effective, inheritable, permitted, ambient) and meaning.
    """
    process = _config(config).process
    capabilities = process.capabilities if process else None
    sets: dict[str, list[str]] = {}
    if capabilities is not None:
        for set_name in (
            "bounding",
            "effective",
            "inheritable",
            "permitted",
            "ambient",
        ):
            for name in getattr(capabilities, set_name):
                sets.setdefault(name, []).append(set_name)
    rows = [
        (name, in_sets, CAPABILITY_MEANINGS.get(name, "unknown capability"))
        for name, in_sets in sets.items()
    ]
    return pd.DataFrame(rows, columns=["capability", "sets", "meaning"])


def _flatten(value: Any, path: str, index_path: str) -> Iterator[tuple[str, str, Any]]:
    """Yield (path, path without indexes, value) for each leaf of value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{path}.{key}", f"{index_path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{path}[{index}]", index_path)
    else:
        yield path, index_path, value


def resources_frame(config: RuntimeConfig | Mapping[str, Any] | str) -> pd.DataFrame:
    """Return linux.resources flattened: path (such as memory.limit), value, meaning.

    Array entries get an index, as in devices[0].allow.
    """
    linux = _config(config).linux
    resources = linux.resources.raw if linux and linux.resources else {}
    rows = [
        (path.lstrip("."), value, RESOURCE_MEANINGS.get(key.lstrip("."), ""))
        for path, key, value in _flatten(resources, "", "")
    ]
    return pd.DataFrame(rows, columns=["path", "value", "meaning"])
