"""The JSON types, required keys and allowed values of config.json fields.

The tables follow the JSON schemas of runtime-spec (config-schema.json,
config-linux.json, config-freebsd.json and their defs files). Each table is
keyed by a pattern of the objects it describes: a JSON pointer in which ``*``
matches every entry of an array or every value of an object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ENUMS", "FIELDS", "REQUIRED", "Kind"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Kind:
    """A JSON type a field must have, with its integer range or the kind of its entries.

    container is "array" for a JSON array and "map" for an object whose values
    all have the kind ``item``.
    """

    name: str
    test: Callable[[Any], bool]
    low: int | None = None
    high: int | None = None
    container: str | None = None
    item: Kind | None = None


def _integer(name: str, low: int, high: int) -> Kind:
    return Kind(f"an integer from {low} to {high} ({name})", _is_int, low, high)


STRING = Kind("a string", lambda value: isinstance(value, str))
BOOLEAN = Kind("a boolean", lambda value: isinstance(value, bool))
OBJECT = Kind("an object", lambda value: isinstance(value, dict))
INTEGER = Kind("an integer", _is_int)
INT32 = _integer("int32", -(2**31), 2**31 - 1)
INT64 = _integer("int64", -(2**63), 2**63 - 1)
UINT16 = _integer("uint16", 0, 2**16 - 1)
UINT32 = _integer("uint32", 0, 2**32 - 1)
UINT64 = _integer("uint64", 0, 2**64 - 1)
FILE_MODE = _integer("file mode bits, decimal", 0, 511)
POSITIVE = Kind("an integer of at least 1", _is_int, 1, None)


def _array(item: Kind) -> Kind:
    return Kind("an array", lambda v: isinstance(v, list), container="array", item=item)


def _map(item: Kind) -> Kind:
    return Kind("an object", lambda v: isinstance(v, dict), container="map", item=item)


STRINGS = _array(STRING)
OBJECTS = _array(OBJECT)
UINT32S = _array(UINT32)
STRING_MAP = _map(STRING)
OBJECT_MAP = _map(OBJECT)

_ID_MAPPING = {"containerID": UINT32, "hostID": UINT32, "size": UINT32}
_BLOCK_DEVICE = {"major": INT64, "minor": INT64}
_THROTTLES = (
    "throttleReadBpsDevice",
    "throttleWriteBpsDevice",
    "throttleReadIOPSDevice",
    "throttleWriteIOPSDevice",
)
_HOOK_KINDS = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)
_CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

# The kind of each field, by the pattern of the object that contains it.
FIELDS: dict[str, dict[str, Kind]] = {
    "": {
        "ociVersion": STRING,
        "process": OBJECT,
        "root": OBJECT,
        "hostname": STRING,
        "domainname": STRING,
        "mounts": OBJECTS,
        "hooks": OBJECT,
        "annotations": STRING_MAP,
        "linux": OBJECT,
        "solaris": OBJECT,
        "windows": OBJECT,
        "vm": OBJECT,
        "zos": OBJECT,
        "freebsd": OBJECT,
    },
    "/process": {
        "terminal": BOOLEAN,
        "consoleSize": OBJECT,
        "user": OBJECT,
        "args": STRINGS,
        "commandLine": STRING,
        "env": STRINGS,
        "cwd": STRING,
        "capabilities": OBJECT,
        "rlimits": OBJECTS,
        "noNewPrivileges": BOOLEAN,
        "apparmorProfile": STRING,
        "oomScoreAdj": INTEGER,
        "scheduler": OBJECT,
        "selinuxLabel": STRING,
        "ioPriority": OBJECT,
        "execCPUAffinity": OBJECT,
    },
    "/process/consoleSize": {"height": UINT64, "width": UINT64},
    "/process/user": {
        "uid": UINT32,
        "gid": UINT32,
        "umask": UINT32,
        "additionalGids": UINT32S,
        "username": STRING,
    },
    "/process/capabilities": {name: STRINGS for name in _CAPABILITY_SETS},
    "/process/rlimits/*": {"type": STRING, "soft": UINT64, "hard": UINT64},
    "/process/scheduler": {
        "policy": STRING,
        "nice": INT32,
        "priority": INT32,
        "flags": STRINGS,
        "runtime": UINT64,
        "deadline": UINT64,
        "period": UINT64,
    },
    "/process/ioPriority": {"class": STRING, "priority": INT32},
    "/process/execCPUAffinity": {"initial": STRING, "final": STRING},
    "/root": {"path": STRING, "readonly": BOOLEAN},
    "/mounts/*": {
        "destination": STRING,
        "type": STRING,
        "source": STRING,
        "options": STRINGS,
        "uidMappings": OBJECTS,
        "gidMappings": OBJECTS,
    },
    "/mounts/*/uidMappings/*": _ID_MAPPING,
    "/mounts/*/gidMappings/*": _ID_MAPPING,
    "/hooks": {name: OBJECTS for name in _HOOK_KINDS},
    "/hooks/*/*": {
        "path": STRING,
        "args": STRINGS,
        "env": STRINGS,
        "timeout": POSITIVE,
    },
    "/linux": {
        "uidMappings": OBJECTS,
        "gidMappings": OBJECTS,
        "sysctl": STRING_MAP,
        "resources": OBJECT,
        "cgroupsPath": STRING,
        "namespaces": OBJECTS,
        "devices": OBJECTS,
        "netDevices": OBJECT_MAP,
        "seccomp": OBJECT,
        "rootfsPropagation": STRING,
        "maskedPaths": STRINGS,
        "readonlyPaths": STRINGS,
        "mountLabel": STRING,
        "intelRdt": OBJECT,
        "personality": OBJECT,
        "timeOffsets": OBJECT_MAP,
        "memoryPolicy": OBJECT,
    },
    "/linux/uidMappings/*": _ID_MAPPING,
    "/linux/gidMappings/*": _ID_MAPPING,
    "/linux/namespaces/*": {"type": STRING, "path": STRING},
    "/linux/devices/*": {
        "type": STRING,
        "path": STRING,
        "fileMode": FILE_MODE,
        "major": INT64,
        "minor": INT64,
        "uid": UINT32,
        "gid": UINT32,
    },
    "/linux/netDevices/*": {"name": STRING},
    "/linux/resources": {
        "devices": OBJECTS,
        "memory": OBJECT,
        "cpu": OBJECT,
        "pids": OBJECT,
        "blockIO": OBJECT,
        "hugepageLimits": OBJECTS,
        "network": OBJECT,
        "rdma": OBJECT_MAP,
        "unified": STRING_MAP,
    },
    "/linux/resources/devices/*": {
        "allow": BOOLEAN,
        "type": STRING,
        "major": INT64,
        "minor": INT64,
        "access": STRING,
    },
    "/linux/resources/memory": {
        "limit": INT64,
        "reservation": INT64,
        "swap": INT64,
        "kernel": INT64,
        "kernelTCP": INT64,
        "swappiness": UINT64,
        "disableOOMKiller": BOOLEAN,
        "useHierarchy": BOOLEAN,
        "checkBeforeUpdate": BOOLEAN,
    },
    "/linux/resources/cpu": {
        "shares": UINT64,
        "quota": INT64,
        "burst": UINT64,
        "period": UINT64,
        "realtimeRuntime": INT64,
        "realtimePeriod": UINT64,
        "cpus": STRING,
        "mems": STRING,
        "idle": INT64,
    },
    "/linux/resources/pids": {"limit": INT64},
    "/linux/resources/blockIO": {
        "weight": UINT16,
        "leafWeight": UINT16,
        "weightDevice": OBJECTS,
        **{name: OBJECTS for name in _THROTTLES},
    },
    "/linux/resources/blockIO/weightDevice/*": {
        **_BLOCK_DEVICE,
        "weight": UINT16,
        "leafWeight": UINT16,
    },
    **{
        f"/linux/resources/blockIO/{name}/*": {**_BLOCK_DEVICE, "rate": UINT64}
        for name in _THROTTLES
    },
    "/linux/resources/hugepageLimits/*": {"pageSize": STRING, "limit": UINT64},
    "/linux/resources/network": {"classID": UINT32, "priorities": OBJECTS},
    "/linux/resources/network/priorities/*": {"name": STRING, "priority": UINT32},
    "/linux/resources/rdma/*": {"hcaHandles": UINT32, "hcaObjects": UINT32},
    "/linux/seccomp": {
        "defaultAction": STRING,
        "defaultErrnoRet": UINT32,
        "flags": STRINGS,
        "listenerPath": STRING,
        "listenerMetadata": STRING,
        "architectures": STRINGS,
        "syscalls": OBJECTS,
    },
    "/linux/seccomp/syscalls/*": {
        "names": STRINGS,
        "action": STRING,
        "errnoRet": UINT32,
        "args": OBJECTS,
    },
    "/linux/seccomp/syscalls/*/args/*": {
        "index": UINT32,
        "value": UINT64,
        "valueTwo": UINT64,
        "op": STRING,
    },
    "/linux/intelRdt": {
        "closID": STRING,
        "schemata": STRINGS,
        "l3CacheSchema": STRING,
        "memBwSchema": STRING,
        "enableMonitoring": BOOLEAN,
    },
    "/linux/personality": {"domain": STRING, "flags": STRINGS},
    "/linux/timeOffsets/*": {"secs": INT64, "nanosecs": UINT32},
    "/linux/memoryPolicy": {"mode": STRING, "nodes": STRING, "flags": STRINGS},
    "/freebsd": {"devices": OBJECTS, "jail": OBJECT},
    "/freebsd/devices/*": {"path": STRING, "mode": FILE_MODE},
    "/freebsd/jail": {
        "parent": STRING,
        "host": STRING,
        "ip4": STRING,
        "ip4Addr": STRINGS,
        "ip6": STRING,
        "ip6Addr": STRINGS,
        "vnet": STRING,
        "interface": STRING,
        "vnetInterfaces": STRINGS,
        "sysvmsg": STRING,
        "sysvsem": STRING,
        "sysvshm": STRING,
        "enforceStatfs": _integer("uint8", 0, 255),
        "allow": OBJECT,
    },
    "/freebsd/jail/allow": {
        "setHostname": BOOLEAN,
        "rawSockets": BOOLEAN,
        "chflags": BOOLEAN,
        "mount": STRINGS,
        "quotas": BOOLEAN,
        "socketAf": BOOLEAN,
        "mlock": BOOLEAN,
        "reservedPorts": BOOLEAN,
        "suser": BOOLEAN,
    },
}

_ID_MAPPING_KEYS = ("containerID", "hostID", "size")

# The keys each object must contain, by the same patterns as FIELDS.
REQUIRED: dict[str, tuple[str, ...]] = {
    "": ("ociVersion",),
    "/root": ("path",),
    "/process": ("cwd",),
    "/process/consoleSize": ("height", "width"),
    "/process/rlimits/*": ("type", "soft", "hard"),
    "/process/scheduler": ("policy",),
    "/process/ioPriority": ("class",),
    "/mounts/*": ("destination",),
    "/mounts/*/uidMappings/*": _ID_MAPPING_KEYS,
    "/mounts/*/gidMappings/*": _ID_MAPPING_KEYS,
    "/hooks/*/*": ("path",),
    "/linux/uidMappings/*": _ID_MAPPING_KEYS,
    "/linux/gidMappings/*": _ID_MAPPING_KEYS,
    "/linux/namespaces/*": ("type",),
    "/linux/devices/*": ("type", "path"),
    "/linux/resources/devices/*": ("allow",),
    "/linux/resources/pids": ("limit",),
    "/linux/resources/hugepageLimits/*": ("pageSize", "limit"),
    "/linux/resources/blockIO/weightDevice/*": ("major", "minor"),
    **{f"/linux/resources/blockIO/{name}/*": ("major", "minor") for name in _THROTTLES},
    "/linux/resources/network/priorities/*": ("name", "priority"),
    "/linux/seccomp": ("defaultAction",),
    "/linux/seccomp/syscalls/*": ("names", "action"),
    "/linux/seccomp/syscalls/*/args/*": ("index", "value", "op"),
}

_SECCOMP_ACTIONS = frozenset(
    {
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    }
)
_SECCOMP_ARCHITECTURES = frozenset(
    "SCMP_ARCH_" + name
    for name in [
        "X86",
        "X86_64",
        "X32",
        "ARM",
        "AARCH64",
        "LOONGARCH64",
        "M68K",
        "MIPS",
        "MIPS64",
        "MIPS64N32",
        "MIPSEL",
        "MIPSEL64",
        "MIPSEL64N32",
        "PPC",
        "PPC64",
        "PPC64LE",
        "S390",
        "S390X",
        "SH",
        "SHEB",
        "PARISC",
        "PARISC64",
        "RISCV64",
    ]
)
_SHARING = frozenset({"disable", "new", "inherit"})
_SHARING_NO_DISABLE = frozenset({"new", "inherit"})

# The allowed values of string fields (or of each string in an array field).
ENUMS: dict[tuple[str, str], frozenset[str]] = {
    ("/linux/namespaces/*", "type"): frozenset(
        {"mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time"}
    ),
    ("/linux", "rootfsPropagation"): frozenset(
        {"private", "shared", "slave", "unbindable"}
    ),
    ("/linux/devices/*", "type"): frozenset({"c", "b", "u", "p"}),
    ("/linux/resources/devices/*", "type"): frozenset({"a", "c", "b"}),
    ("/linux/seccomp", "defaultAction"): _SECCOMP_ACTIONS,
    ("/linux/seccomp/syscalls/*", "action"): _SECCOMP_ACTIONS,
    ("/linux/seccomp", "architectures"): _SECCOMP_ARCHITECTURES,
    ("/linux/seccomp", "flags"): frozenset(
        {
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        }
    ),
    ("/linux/seccomp/syscalls/*/args/*", "op"): frozenset(
        "SCMP_CMP_" + name for name in ("NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ")
    ),
    ("/linux/personality", "domain"): frozenset({"LINUX", "LINUX32"}),
    ("/linux/memoryPolicy", "mode"): frozenset(
        "MPOL_" + name
        for name in [
            "DEFAULT",
            "BIND",
            "INTERLEAVE",
            "WEIGHTED_INTERLEAVE",
            "PREFERRED",
            "PREFERRED_MANY",
            "LOCAL",
        ]
    ),
    ("/linux/memoryPolicy", "flags"): frozenset(
        {"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"}
    ),
    ("/process/ioPriority", "class"): frozenset(
        {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"}
    ),
    ("/process/scheduler", "policy"): frozenset(
        "SCHED_" + name
        for name in ("OTHER", "FIFO", "RR", "BATCH", "ISO", "IDLE", "DEADLINE")
    ),
    ("/process/scheduler", "flags"): frozenset(
        "SCHED_FLAG_" + name
        for name in [
            "RESET_ON_FORK",
            "RECLAIM",
            "DL_OVERRUN",
            "KEEP_POLICY",
            "KEEP_PARAMS",
            "UTIL_CLAMP_MIN",
            "UTIL_CLAMP_MAX",
        ]
    ),
    **{
        ("/freebsd/jail", key): _SHARING
        for key in ("ip4", "ip6", "sysvmsg", "sysvsem", "sysvshm")
    },
    ("/freebsd/jail", "host"): _SHARING_NO_DISABLE,
    ("/freebsd/jail", "vnet"): _SHARING_NO_DISABLE,
}
