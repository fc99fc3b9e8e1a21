"""Read, write and build the OCI runtime configuration, config.json of a bundle.

The dataclasses here read a config leniently: a field that is null or of the
wrong JSON type reads as absent, and an array entry of the wrong type is left
out. Each dataclass keeps the JSON it was read from in ``raw``, so
``to_json()`` and :func:`dumps` write back every key, unknown ones included.
:mod:`ocilab.runtime.validate` reports what the lenient reading skips over.

:func:`dumps` writes keys in the order of the Go structs of the runtime-spec
package specs-go, which is the order ``runc spec`` writes. The orders are in
:data:`KEY_ORDER`. Keys that a struct does not name follow the known keys in
their original order.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RuntimeConfigError

__all__ = [
    "KEY_ORDER",
    "Capabilities",
    "Device",
    "Hook",
    "Hooks",
    "IDMapping",
    "Linux",
    "Mount",
    "Namespace",
    "Process",
    "Resources",
    "Rlimit",
    "Root",
    "RuntimeConfig",
    "RuntimeConfigError",
    "User",
    "default_config",
    "dumps",
    "parse",
    "rootless_config",
    "to_rootless",
]


# The key order of each JSON object, by the name of its specs-go struct.
KEY_ORDER: dict[str, tuple[str, ...]] = {
    "Spec": (
        "ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks",
        "annotations", "linux", "solaris", "windows", "vm", "zos", "freebsd",
    ),
    "Process": (
        "terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd",
        "capabilities", "rlimits", "noNewPrivileges", "apparmorProfile",
        "oomScoreAdj", "scheduler", "selinuxLabel", "ioPriority", "execCPUAffinity",
    ),
    "User": ("uid", "gid", "umask", "additionalGids", "username"),
    "Capabilities": ("bounding", "effective", "inheritable", "permitted", "ambient"),
    "Rlimit": ("type", "hard", "soft"),
    "Root": ("path", "readonly"),
    "Mount": (
        "destination", "type", "source", "options", "uidMappings", "gidMappings",
    ),
    "Hooks": (
        "prestart", "createRuntime", "createContainer", "startContainer",
        "poststart", "poststop",
    ),
    "Hook": ("path", "args", "env", "timeout"),
    "Linux": (
        "uidMappings", "gidMappings", "sysctl", "resources", "cgroupsPath",
        "namespaces", "devices", "netDevices", "seccomp", "rootfsPropagation",
        "maskedPaths", "readonlyPaths", "mountLabel", "intelRdt", "personality",
        "timeOffsets", "memoryPolicy",
    ),
    "IDMapping": ("containerID", "hostID", "size"),
    "Namespace": ("type", "path"),
    "Device": ("path", "type", "major", "minor", "fileMode", "uid", "gid"),
    "Resources": (
        "devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "network",
        "rdma", "unified",
    ),
    "DeviceCgroup": ("allow", "type", "major", "minor", "access"),
    "Memory": (
        "limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness",
        "disableOOMKiller", "useHierarchy", "checkBeforeUpdate",
    ),
    "CPU": (
        "shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod",
        "cpus", "mems", "idle",
    ),
    "Seccomp": (
        "defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath",
        "listenerMetadata", "syscalls",
    ),
}  # fmt: skip

# Which struct each key's value (or each entry of its array value) is.
_CHILDREN: dict[str, dict[str, str]] = {
    "Spec": {
        "process": "Process",
        "root": "Root",
        "mounts": "Mount",
        "hooks": "Hooks",
        "linux": "Linux",
    },
    "Process": {"user": "User", "capabilities": "Capabilities", "rlimits": "Rlimit"},
    "Mount": {"uidMappings": "IDMapping", "gidMappings": "IDMapping"},
    "Hooks": {key: "Hook" for key in KEY_ORDER["Hooks"]},
    "Linux": {
        "uidMappings": "IDMapping",
        "gidMappings": "IDMapping",
        "resources": "Resources",
        "namespaces": "Namespace",
        "devices": "Device",
        "seccomp": "Seccomp",
    },
    "Resources": {"devices": "DeviceCgroup", "memory": "Memory", "cpu": "CPU"},
}


# ------------------------------------------------------------ lenient reading


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else False


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _ints(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if _int(item) is not None)


def _objects(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _string_map(value: Any) -> dict[str, str]:
    return {key: item for key, item in _dict(value).items() if isinstance(item, str)}


# ------------------------------------------------------------------ classes


@dataclass(frozen=True)
class User:
    """process.user: the IDs the container process runs as."""

    uid: int | None = None
    gid: int | None = None
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()
    username: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> User:
        data = _dict(obj)
        return cls(
            uid=_int(data.get("uid")),
            gid=_int(data.get("gid")),
            umask=_int(data.get("umask")),
            additional_gids=_ints(data.get("additionalGids")),
            username=_str(data.get("username")),
            raw=data,
        )


@dataclass(frozen=True)
class Capabilities:
    """process.capabilities: the five Linux capability sets, by name."""

    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Capabilities:
        data = _dict(obj)
        sets = {name: _strings(data.get(name)) for name in KEY_ORDER["Capabilities"]}
        return cls(**sets, raw=data)


@dataclass(frozen=True)
class Rlimit:
    """One entry of process.rlimits, such as RLIMIT_NOFILE with its soft and hard limit."""

    type: str | None = None
    soft: int | None = None
    hard: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Rlimit:
        data = _dict(obj)
        return cls(
            type=_str(data.get("type")),
            soft=_int(data.get("soft")),
            hard=_int(data.get("hard")),
            raw=data,
        )


@dataclass(frozen=True)
class Process:
    """process: the command the container runs, its user, environment and limits."""

    terminal: bool = False
    user: User | None = None
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    cwd: str | None = None
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    apparmor_profile: str | None = None
    oom_score_adj: int | None = None
    selinux_label: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Process:
        data = _dict(obj)
        user = data.get("user")
        capabilities = data.get("capabilities")
        return cls(
            terminal=_bool(data.get("terminal")),
            user=User.from_json(user) if isinstance(user, dict) else None,
            args=_strings(data.get("args")),
            env=_strings(data.get("env")),
            cwd=_str(data.get("cwd")),
            capabilities=(
                Capabilities.from_json(capabilities)
                if isinstance(capabilities, dict)
                else None
            ),
            rlimits=tuple(Rlimit.from_json(o) for o in _objects(data.get("rlimits"))),
            no_new_privileges=_bool(data.get("noNewPrivileges")),
            apparmor_profile=_str(data.get("apparmorProfile")),
            oom_score_adj=_int(data.get("oomScoreAdj")),
            selinux_label=_str(data.get("selinuxLabel")),
            raw=data,
        )


@dataclass(frozen=True)
class Root:
    """root: the container's root filesystem, relative to the bundle or absolute."""

    path: str | None = None
    readonly: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Root:
        data = _dict(obj)
        return cls(_str(data.get("path")), _bool(data.get("readonly")), raw=data)


@dataclass(frozen=True)
class Mount:
    """One entry of mounts: where in the container, which filesystem, which options."""

    destination: str | None = None
    type: str | None = None
    source: str | None = None
    options: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Mount:
        data = _dict(obj)
        return cls(
            destination=_str(data.get("destination")),
            type=_str(data.get("type")),
            source=_str(data.get("source")),
            options=_strings(data.get("options")),
            raw=data,
        )


@dataclass(frozen=True)
class Hook:
    """One lifecycle hook: a host program with its arguments, environment and timeout."""

    path: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Hook:
        data = _dict(obj)
        return cls(
            path=_str(data.get("path")),
            args=_strings(data.get("args")),
            env=_strings(data.get("env")),
            timeout=_int(data.get("timeout")),
            raw=data,
        )


def _hooks(value: Any) -> tuple[Hook, ...]:
    return tuple(Hook.from_json(item) for item in _objects(value))


@dataclass(frozen=True)
class Hooks:
    """hooks: the programs the runtime runs at each point of the container lifecycle."""

    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Hooks:
        data = _dict(obj)
        return cls(
            prestart=_hooks(data.get("prestart")),
            create_runtime=_hooks(data.get("createRuntime")),
            create_container=_hooks(data.get("createContainer")),
            start_container=_hooks(data.get("startContainer")),
            poststart=_hooks(data.get("poststart")),
            poststop=_hooks(data.get("poststop")),
            raw=data,
        )


@dataclass(frozen=True)
class Namespace:
    """One entry of linux.namespaces: a type, and a path when joining an existing one."""

    type: str | None = None
    path: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Namespace:
        data = _dict(obj)
        return cls(_str(data.get("type")), _str(data.get("path")), raw=data)


@dataclass(frozen=True)
class IDMapping:
    """One uid or gid mapping: size IDs from container_id map to host_id onwards."""

    container_id: int | None = None
    host_id: int | None = None
    size: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> IDMapping:
        data = _dict(obj)
        return cls(
            container_id=_int(data.get("containerID")),
            host_id=_int(data.get("hostID")),
            size=_int(data.get("size")),
            raw=data,
        )


@dataclass(frozen=True)
class Device:
    """One entry of linux.devices: a device node the runtime creates in the container."""

    path: str | None = None
    type: str | None = None
    major: int | None = None
    minor: int | None = None
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Device:
        data = _dict(obj)
        return cls(
            path=_str(data.get("path")),
            type=_str(data.get("type")),
            major=_int(data.get("major")),
            minor=_int(data.get("minor")),
            file_mode=_int(data.get("fileMode")),
            uid=_int(data.get("uid")),
            gid=_int(data.get("gid")),
            raw=data,
        )


@dataclass(frozen=True)
class Resources:
    """linux.resources: cgroup limits, each controller kept as its JSON object."""

    devices: tuple[dict[str, Any], ...] = ()
    memory: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, Any] = field(default_factory=dict)
    pids: dict[str, Any] = field(default_factory=dict)
    block_io: dict[str, Any] = field(default_factory=dict)
    hugepage_limits: tuple[dict[str, Any], ...] = ()
    network: dict[str, Any] = field(default_factory=dict)
    rdma: dict[str, Any] = field(default_factory=dict)
    unified: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Resources:
        data = _dict(obj)
        return cls(
            devices=tuple(_objects(data.get("devices"))),
            memory=_dict(data.get("memory")),
            cpu=_dict(data.get("cpu")),
            pids=_dict(data.get("pids")),
            block_io=_dict(data.get("blockIO")),
            hugepage_limits=tuple(_objects(data.get("hugepageLimits"))),
            network=_dict(data.get("network")),
            rdma=_dict(data.get("rdma")),
            unified=_string_map(data.get("unified")),
            raw=data,
        )


@dataclass(frozen=True)
class Linux:
    """linux: namespaces, ID mappings, cgroups, devices and security settings."""

    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    resources: Resources | None = None
    cgroups_path: str | None = None
    seccomp: dict[str, Any] | None = None
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    devices: tuple[Device, ...] = ()
    sysctl: dict[str, str] = field(default_factory=dict)
    rootfs_propagation: str | None = None
    mount_label: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Linux:
        data = _dict(obj)
        resources = data.get("resources")
        seccomp = data.get("seccomp")
        return cls(
            namespaces=tuple(
                Namespace.from_json(o) for o in _objects(data.get("namespaces"))
            ),
            uid_mappings=_mappings(data.get("uidMappings")),
            gid_mappings=_mappings(data.get("gidMappings")),
            resources=(
                Resources.from_json(resources) if isinstance(resources, dict) else None
            ),
            cgroups_path=_str(data.get("cgroupsPath")),
            seccomp=seccomp if isinstance(seccomp, dict) else None,
            masked_paths=_strings(data.get("maskedPaths")),
            readonly_paths=_strings(data.get("readonlyPaths")),
            devices=tuple(Device.from_json(o) for o in _objects(data.get("devices"))),
            sysctl=_string_map(data.get("sysctl")),
            rootfs_propagation=_str(data.get("rootfsPropagation")),
            mount_label=_str(data.get("mountLabel")),
            raw=data,
        )


def _mappings(value: Any) -> tuple[IDMapping, ...]:
    return tuple(IDMapping.from_json(item) for item in _objects(value))


@dataclass(frozen=True)
class RuntimeConfig:
    """The runtime configuration of a bundle, config.json, read leniently."""

    oci_version: str | None = None
    process: Process | None = None
    root: Root | None = None
    mounts: tuple[Mount, ...] = ()
    hooks: Hooks | None = None
    hostname: str | None = None
    domainname: str | None = None
    linux: Linux | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RuntimeConfig:
        """Read a parsed config.json, raising RuntimeConfigError unless it is an object."""
        if not isinstance(obj, Mapping):
            raise RuntimeConfigError(
                f"invalid runtime config: expected a JSON object, got "
                f"{type(obj).__name__}"
            )
        data = dict(obj)
        process, root = data.get("process"), data.get("root")
        hooks, linux = data.get("hooks"), data.get("linux")
        return cls(
            oci_version=_str(data.get("ociVersion")),
            process=Process.from_json(process) if isinstance(process, dict) else None,
            root=Root.from_json(root) if isinstance(root, dict) else None,
            mounts=tuple(Mount.from_json(o) for o in _objects(data.get("mounts"))),
            hooks=Hooks.from_json(hooks) if isinstance(hooks, dict) else None,
            hostname=_str(data.get("hostname")),
            domainname=_str(data.get("domainname")),
            linux=Linux.from_json(linux) if isinstance(linux, dict) else None,
            annotations=_string_map(data.get("annotations")),
            raw=data,
        )

    def to_json(self) -> dict[str, Any]:
        """Return a deep copy of the JSON object this config was read from."""
        return copy.deepcopy(self.raw)

    def _repr_html_(self) -> str:
        from ._html_views import runtime_config_html

        return runtime_config_html(self)


def parse(text: str | bytes) -> RuntimeConfig:
    """Parse config.json text, raising RuntimeConfigError unless it is a JSON object."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RuntimeConfigError(f"invalid runtime config JSON: {error}") from error
    except RecursionError as error:
        raise RuntimeConfigError(
            "invalid runtime config JSON: nested too deeply for Python's parser; "
            "config.json needs only a few levels"
        ) from error
    except ValueError as error:
        # Python refuses integers of more than 4300 digits by default.
        raise RuntimeConfigError(f"invalid runtime config JSON: {error}") from error
    _check_encodable(data)
    return RuntimeConfig.from_json(data)


def _check_encodable(data: Any) -> None:
    """Reject strings with lone UTF-16 surrogates (JSON "\\ud800"), which UTF-8 cannot hold.

    json.loads accepts them, but config.json must be UTF-8, so such a config
    could be validated and then fail when written or displayed.
    """
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except RecursionError as error:
        raise RuntimeConfigError(
            "invalid runtime config JSON: nested too deeply to write back"
        ) from error
    except UnicodeEncodeError as error:
        raise RuntimeConfigError(
            f"invalid runtime config JSON: a string contains the lone surrogate "
            f"{error.object[error.start : error.end]!r}, which UTF-8 cannot encode; "
            "remove the \\uD800-\\uDFFF escape or pair it"
        ) from error


# ------------------------------------------------------------------ writing


def _ordered(value: Any, struct: str | None) -> Any:
    """Return value with the keys of each object in the order of KEY_ORDER."""
    if isinstance(value, list):
        return [_ordered(item, struct) for item in value]
    if not isinstance(value, dict):
        return value
    order = KEY_ORDER.get(struct or "", ())
    children = _CHILDREN.get(struct or "", {})
    keys = [key for key in order if key in value]
    keys += [key for key in value if key not in order]
    return {key: _ordered(value[key], children.get(key)) for key in keys}


def dumps(config: RuntimeConfig | Mapping[str, Any]) -> str:
    """Serialise a config as JSON with 2-space indent and the key order of KEY_ORDER.

    Objects that no specs-go struct describes, such as annotations, sysctl or
    seccomp syscalls, keep the key order they have.
    """
    data = config.raw if isinstance(config, RuntimeConfig) else dict(config)
    return json.dumps(_ordered(data, "Spec"), indent=2, ensure_ascii=False)


# ----------------------------------------------------------------- defaults

_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
_NO_EXEC = ["nosuid", "noexec", "nodev"]
_MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
    "/proc/scsi",
]  # fmt: skip
_READONLY_PATHS = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
]


def _default_mounts() -> list[dict[str, Any]]:
    def mount(destination: str, kind: str, source: str, *options: str) -> dict:
        entry: dict[str, Any] = {"destination": destination, "type": kind}
        entry["source"] = source
        if options:
            entry["options"] = list(options)
        return entry

    return [
        mount("/proc", "proc", "proc"),
        mount(
            "/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            *("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
        ),
        mount("/dev/shm", "tmpfs", "shm", *_NO_EXEC, "mode=1777", "size=65536k"),
        mount("/dev/mqueue", "mqueue", "mqueue", *_NO_EXEC),
        mount("/sys", "sysfs", "sysfs", *_NO_EXEC, "ro"),
        mount("/sys/fs/cgroup", "cgroup", "cgroup", *_NO_EXEC, "relatime", "ro"),
    ]


def _default_json() -> dict[str, Any]:
    # NOTE: this is the output of runc 1.1.5 (spec 1.0.2-dev). Newer runc
    # versions write another ociVersion and add the cgroup namespace.
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            "cwd": "/",
            "capabilities": {
                name: list(_CAPABILITIES)
                for name in ("bounding", "effective", "permitted", "ambient")
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": _default_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [
                {"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount")
            ],
            "maskedPaths": list(_MASKED_PATHS),
            "readonlyPaths": list(_READONLY_PATHS),
        },
    }


def default_config() -> RuntimeConfig:
    """Build the config that `runc spec` writes, a shell in a confined container."""
    return RuntimeConfig.from_json(_default_json())


def _rootless_mount(mount: dict[str, Any]) -> dict[str, Any]:
    # A user namespace may not mount a new sysfs, so /sys is bind-mounted from
    # the host. uid= and gid= options name IDs that the namespace may not map.
    if os.path.normpath(str(mount.get("destination", ""))) == "/sys":
        return {
            "destination": "/sys",
            "type": "none",
            "source": "/sys",
            "options": ["rbind", *_NO_EXEC, "ro"],
        }
    options = [
        option
        for option in mount.get("options") or []
        if not str(option).startswith(("uid=", "gid="))
    ]
    result = {key: value for key, value in mount.items() if key != "options"}
    if options:
        result["options"] = options
    return result


def to_rootless(
    config: RuntimeConfig | Mapping[str, Any],
    *,
    uid: int | None = None,
    gid: int | None = None,
) -> RuntimeConfig:
    """Return a copy of config changed the way `runc spec --rootless` changes its default.

    The copy gets a user namespace that maps container ID 0 to uid and gid
    (the effective IDs of this process by default) and loses the network
    namespace, uid=/gid= mount options, the sysfs mount and linux.resources.
    """
    data = config.to_json() if isinstance(config, RuntimeConfig) else dict(config)
    data = copy.deepcopy(data)
    linux = data.setdefault("linux", {})
    host_uid = os.geteuid() if uid is None else uid
    host_gid = os.getegid() if gid is None else gid
    linux["uidMappings"] = [{"containerID": 0, "hostID": host_uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": host_gid, "size": 1}]
    namespaces = [
        entry
        for entry in linux.get("namespaces") or []
        if entry.get("type") not in ("network", "user")
    ]
    linux["namespaces"] = [*namespaces, {"type": "user"}]
    linux.pop("resources", None)
    if "mounts" in data:
        data["mounts"] = [_rootless_mount(mount) for mount in data["mounts"] or []]
    return RuntimeConfig.from_json(_ordered(data, "Spec"))


def rootless_config(*, uid: int | None = None, gid: int | None = None) -> RuntimeConfig:
    """Build the config that `runc spec --rootless` writes for uid and gid.

    uid and gid default to the effective user and group of this process.
    """
    return to_rootless(default_config(), uid=uid, gid=gid)
