"""Check an OCI runtime config.json against runtime-spec and report every finding.

:func:`validate_config` returns :class:`ConfigFindings`, a list of the same
:class:`~ocilab.image.validate.Finding` records that the image validators
return: a stable rule id, the spec level (MUST or SHOULD), an RFC 6901 JSON
pointer and a message that shows the offending value. Malformed JSON, nulls
and values of the wrong JSON type become findings, never exceptions.

Two groups of rules run:

- The tables of :mod:`ocilab.runtime._schema` give each field's JSON type and
  integer range, the required keys and the allowed string values, as the
  upstream JSON schemas (runtime-spec v1.2) do. Their rule ids are the field
  path with ``.type``, ``.range``, ``.required`` or ``.value`` appended, such as
  ``process.user.uid.range``.
- One function per rule of config.md and config-linux.md that a schema cannot
  express, such as absolute paths, duplicate namespaces or soft above hard
  rlimits. Each carries a comment with the spec's wording in short.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..image.validate import FRAME_COLUMNS, MUST, SHOULD, Finding, Findings
from . import _schema
from ._schema import Kind
from .spec import RuntimeConfig, RuntimeConfigError

__all__ = [
    "CAPABILITY_NAMES",
    "FRAME_COLUMNS",
    "RLIMIT_NAMES",
    "RULES",
    "ConfigFindings",
    "validate_config",
]

# The capabilities of Linux 6.x, capabilities(7).
CAPABILITY_NAMES = frozenset(
    "CAP_" + name
    for name in [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
        "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
        "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
        "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
        "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
        "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
        "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ]
)  # fmt: skip

# The resource names of getrlimit(2).
RLIMIT_NAMES = frozenset(
    "RLIMIT_" + name
    for name in [
        "AS", "CORE", "CPU", "DATA", "FSIZE", "LOCKS", "MEMLOCK", "MSGQUEUE",
        "NICE", "NOFILE", "NPROC", "RSS", "RTPRIO", "RTTIME", "SIGPENDING", "STACK",
    ]
)  # fmt: skip

# The rules that are not schema tables, with their spec level.
_SPEC_RULES: dict[str, str] = {
    "json.syntax": MUST,
    "document.type": MUST,
    "ociVersion.format": MUST,
    "root.required": MUST,
    "process.missing": SHOULD,
    "process.required": MUST,
    "process.args.required": MUST,
    "process.args.empty": MUST,
    "process.cwd.absolute": MUST,
    "process.env.format": SHOULD,
    "process.capabilities.format": MUST,
    "process.capabilities.unknown": SHOULD,
    "process.rlimits.type.format": MUST,
    "process.rlimits.type.unknown": SHOULD,
    "process.rlimits.duplicate": MUST,
    "process.rlimits.order": MUST,
    "process.oomScoreAdj.range": SHOULD,
    "process.user.unmapped": SHOULD,
    "mounts.destination.absolute": SHOULD,
    "hooks.path.absolute": MUST,
    "annotations.key.empty": MUST,
    "linux.namespaces.duplicate": MUST,
    "linux.namespaces.path.absolute": MUST,
    "linux.uidMappings.namespace": SHOULD,
    "linux.maskedPaths.absolute": MUST,
    "linux.readonlyPaths.absolute": MUST,
    "linux.devices.path.absolute": MUST,
    "linux.devices.major.required": MUST,
    "linux.resources.devices.access.format": MUST,
    "linux.resources.hugepageLimits.pageSize.format": MUST,
    "linux.resources.memory.range": SHOULD,
    "linux.resources.cpu.format": SHOULD,
    "linux.cgroupsPath.format": SHOULD,
    "linux.sysctl.key.format": SHOULD,
    "linux.seccomp.syscalls.names.empty": MUST,
}


def _rule_base(pattern: str, key: str) -> str:
    parts = [part for part in pattern.split("/") if part and part != "*"]
    return ".".join([*parts, key])


def _has_range(kind: Kind) -> bool:
    item = kind.item or kind
    return item.low is not None or item.high is not None


def _schema_rules() -> dict[str, str]:
    rules: dict[str, str] = {}
    for pattern, fields in _schema.FIELDS.items():
        for key, kind in fields.items():
            rules[f"{_rule_base(pattern, key)}.type"] = MUST
            if _has_range(kind):
                rules[f"{_rule_base(pattern, key)}.range"] = MUST
    for pattern, keys in _schema.REQUIRED.items():
        for key in keys:
            rules[f"{_rule_base(pattern, key)}.required"] = MUST
    for pattern, key in _schema.ENUMS:
        rules[f"{_rule_base(pattern, key)}.value"] = MUST
    return rules


# Every rule id and the spec level that it reports.
RULES: dict[str, str] = {**_schema_rules(), **_SPEC_RULES}


class ConfigFindings(Findings):
    """The findings of one runtime config validation, MUST and SHOULD alike."""

    @property
    def errors(self) -> ConfigFindings:
        """The MUST findings, each of which makes the config invalid."""
        return ConfigFindings(finding for finding in self if finding.level == MUST)

    @property
    def warnings(self) -> ConfigFindings:
        """The SHOULD findings, which leave the config valid."""
        return ConfigFindings(finding for finding in self if finding.level == SHOULD)

    def raise_for_findings(self) -> None:
        """Raise RuntimeConfigError when there is any MUST finding."""
        if self.ok:
            return
        lines = "\n".join(str(finding) for finding in self.errors)
        raise RuntimeConfigError(
            f"invalid runtime config: {len(self.errors)} MUST finding(s)\n{lines}",
            findings=self,
        )


# ------------------------------------------------------------------ helpers

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxdict = 8
_REPR.maxstring = _REPR.maxother = 120


def _finding(rule: str, pointer: str, message: str) -> Finding:
    return Finding(rule, RULES[rule], pointer, message)


def _child(pointer: str, key: str | int) -> str:
    """Append one reference token to a JSON pointer, escaping ~ as ~0 and / as ~1."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def _show(value: Any) -> str:
    return _REPR.repr(value)


def _objects_at(data: Any, pattern: str) -> list[tuple[str, dict[str, Any]]]:
    """Return (pointer, object) for each object that matches the pattern.

    A ``*`` segment matches every entry of an array and every value of an object.
    """
    nodes: list[tuple[str, Any]] = [("", data)]
    for part in pattern.split("/")[1:]:
        following: list[tuple[str, Any]] = []
        for pointer, node in nodes:
            if part != "*":
                if isinstance(node, dict) and part in node:
                    following.append((_child(pointer, part), node[part]))
            elif isinstance(node, list):
                following += [(_child(pointer, i), v) for i, v in enumerate(node)]
            elif isinstance(node, dict):
                following += [(_child(pointer, k), v) for k, v in node.items()]
        nodes = following
    return [(pointer, node) for pointer, node in nodes if isinstance(node, dict)]


def _strings_at(data: Any, pattern: str, key: str) -> Iterator[tuple[str, str]]:
    """Yield (pointer, string) for obj[key], or for each string in it if it is a list."""
    for pointer, obj in _objects_at(data, pattern):
        value = obj.get(key)
        if isinstance(value, str):
            yield _child(pointer, key), value
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    yield _child(_child(pointer, key), index), item


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _has_platform(data: dict[str, Any], name: str) -> bool:
    return isinstance(data.get(name), dict)


# ------------------------------------------------------------ schema tables


def _kind_findings(
    value: Any, kind: Kind, rule: str, pointer: str, label: str
) -> Iterator[Finding]:
    """Yield a .type or .range finding when value does not fit kind."""
    if not kind.test(value):
        message = f"invalid {label} {_show(value)}: expected {kind.name}"
        yield _finding(f"{rule}.type", pointer, message)
        return
    too_low = kind.low is not None and value < kind.low
    too_high = kind.high is not None and value > kind.high
    if too_low or too_high:
        message = f"invalid {label} {value}: expected {kind.name}"
        yield _finding(f"{rule}.range", pointer, message)


def _field_findings(
    value: Any, kind: Kind, rule: str, pointer: str, key: str
) -> Iterator[Finding]:
    if kind.item is None:
        yield from _kind_findings(value, kind, rule, pointer, key)
        return
    if not kind.test(value):
        expected = f"{kind.name} whose entries are each {kind.item.name}"
        message = f"invalid {key} {_show(value)}: expected {expected}"
        yield _finding(f"{rule}.type", pointer, message)
        return
    entries = enumerate(value) if isinstance(value, list) else value.items()
    for entry, item in entries:
        label = f"{key} entry" if isinstance(value, list) else f"{key}[{entry!r}]"
        yield from _kind_findings(item, kind.item, rule, _child(pointer, entry), label)


# Every field has the JSON type (and integer range) of the upstream schema.
def _types(data: dict[str, Any]) -> Iterator[Finding]:
    for pattern, fields in _schema.FIELDS.items():
        for pointer, obj in _objects_at(data, pattern):
            for key, kind in fields.items():
                if key not in obj:
                    continue
                rule = _rule_base(pattern, key)
                where = _child(pointer, key)
                yield from _field_findings(obj[key], kind, rule, where, key)


# Each object contains the keys that the upstream schema lists as required.
def _required(data: dict[str, Any]) -> Iterator[Finding]:
    for pattern, keys in _schema.REQUIRED.items():
        for pointer, obj in _objects_at(data, pattern):
            for key in keys:
                if key not in obj:
                    yield _finding(
                        f"{_rule_base(pattern, key)}.required",
                        _child(pointer, key),
                        f"missing required field {key!r}",
                    )


# Enumerated strings take one of the values the upstream schema lists.
def _enums(data: dict[str, Any]) -> Iterator[Finding]:
    for (pattern, key), allowed in _schema.ENUMS.items():
        for pointer, value in _strings_at(data, pattern, key):
            if value not in allowed:
                yield _finding(
                    f"{_rule_base(pattern, key)}.value",
                    pointer,
                    f"invalid {key} {value!r}: expected one of "
                    f"{', '.join(sorted(allowed))}",
                )


# ------------------------------------------------------------- spec rules

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_CAPABILITY = re.compile(r"CAP_[A-Z0-9_]+")
_RLIMIT = re.compile(r"RLIMIT_[A-Z]+")
_PAGE_SIZE = re.compile(r"[1-9][0-9]*[KMG]B")
_CPU_LIST = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")
_SYSCTL_KEY = re.compile(r"[A-Za-z0-9_-]+([./][A-Za-z0-9_@:-]+)+")


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _absolute(
    data: dict[str, Any], pattern: str, key: str, rule: str, what: str
) -> Iterator[Finding]:
    for pointer, value in _strings_at(data, pattern, key):
        if not value.startswith("/"):
            yield _finding(
                rule, pointer, f"invalid {what} {value!r}: expected an absolute path"
            )


# ociVersion MUST be in SemVer v2.0.0 format.
def _oci_version(data: dict[str, Any]) -> Iterator[Finding]:
    version = data.get("ociVersion")
    if isinstance(version, str) and _SEMVER.fullmatch(version) is None:
        yield _finding(
            "ociVersion.format",
            "/ociVersion",
            f"invalid ociVersion {version!r}: expected a SemVer 2.0.0 version "
            "such as '1.0.2'",
        )


# root is REQUIRED on every platform but Windows, where Hyper-V leaves it out.
def _root(data: dict[str, Any]) -> Iterator[Finding]:
    if "root" not in data and not _has_platform(data, "windows"):
        yield _finding(
            "root.required",
            "/root",
            "missing required field 'root': expected an object with the rootfs path",
        )


# process is OPTIONAL for create but REQUIRED when start is called.
def _process_presence(data: dict[str, Any], for_run: bool) -> Iterator[Finding]:
    if "process" in data:
        return
    if for_run:
        yield _finding(
            "process.required",
            "/process",
            "missing process: `start` and `run` need the process to execute",
        )
    else:
        yield _finding(
            "process.missing",
            "/process",
            "no process: the container can be created but not started",
        )


# args: at least one entry is REQUIRED (on Windows, commandLine may replace it).
def _process_args(data: dict[str, Any]) -> Iterator[Finding]:
    process = data.get("process")
    if not isinstance(process, dict):
        return
    if _has_platform(data, "windows") and "commandLine" in process:
        return
    if "args" not in process:
        yield _finding(
            "process.args.required",
            "/process/args",
            "missing process.args: expected the command and its arguments",
        )
    elif process["args"] == []:
        yield _finding(
            "process.args.empty",
            "/process/args",
            "invalid process.args []: expected at least the command to run",
        )


# cwd MUST be an absolute path.
def _process_cwd(data: dict[str, Any]) -> Iterator[Finding]:
    yield from _absolute(data, "/process", "cwd", "process.cwd.absolute", "cwd")


# env entries have the semantics of environ: NAME=VALUE.
def _process_env(data: dict[str, Any]) -> Iterator[Finding]:
    for pointer, entry in _strings_at(data, "/process", "env"):
        name, separator, _ = entry.partition("=")
        if not separator or not name:
            yield _finding(
                "process.env.format",
                pointer,
                f"invalid env entry {entry!r}: expected NAME=VALUE",
            )


# Capability names are CAP_ names of capabilities(7). A runtime MUST reject
# names it cannot map, so an unknown name may fail on some kernels.
def _capability_names(data: dict[str, Any]) -> Iterator[Finding]:
    for set_name in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        for pointer, name in _strings_at(data, "/process/capabilities", set_name):
            if _CAPABILITY.fullmatch(name) is None:
                yield _finding(
                    "process.capabilities.format",
                    pointer,
                    f"invalid capability {name!r}: expected a name such as "
                    "'CAP_KILL' (upper case, with the CAP_ prefix)",
                )
            elif name not in CAPABILITY_NAMES:
                yield _finding(
                    "process.capabilities.unknown",
                    pointer,
                    f"unknown capability {name!r}: Linux 6.x has no such capability",
                )


# rlimit types match ^RLIMIT_[A-Z]+$ and name a resource of getrlimit(2).
def _rlimit_types(data: dict[str, Any]) -> Iterator[Finding]:
    for pointer, name in _strings_at(data, "/process/rlimits/*", "type"):
        if _RLIMIT.fullmatch(name) is None:
            yield _finding(
                "process.rlimits.type.format",
                pointer,
                f"invalid rlimit type {name!r}: expected a name such as 'RLIMIT_NOFILE'",
            )
        elif name not in RLIMIT_NAMES:
            yield _finding(
                "process.rlimits.type.unknown",
                pointer,
                f"unknown rlimit type {name!r}: getrlimit(2) has no such resource",
            )


# The runtime MUST generate an error for duplicated rlimit types.
def _rlimit_duplicates(data: dict[str, Any]) -> Iterator[Finding]:
    seen: set[str] = set()
    for pointer, name in _strings_at(data, "/process/rlimits/*", "type"):
        if name in seen:
            yield _finding(
                "process.rlimits.duplicate",
                pointer,
                f"duplicate rlimit type {name!r}: expected each type at most once",
            )
        seen.add(name)


# setrlimit(2) rejects a soft limit above the hard limit, so the runtime must.
def _rlimit_order(data: dict[str, Any]) -> Iterator[Finding]:
    for pointer, rlimit in _objects_at(data, "/process/rlimits/*"):
        soft, hard = rlimit.get("soft"), rlimit.get("hard")
        if _is_int(soft) and _is_int(hard) and soft > hard:
            yield _finding(
                "process.rlimits.order",
                _child(pointer, "soft"),
                f"invalid rlimit: soft limit {soft} is above hard limit {hard}",
            )


# oom_score_adj accepts -1000 to 1000 (proc(5)).
def _oom_score_adj(data: dict[str, Any]) -> Iterator[Finding]:
    value = _section(data, "process").get("oomScoreAdj")
    if _is_int(value) and not -1000 <= value <= 1000:
        yield _finding(
            "process.oomScoreAdj.range",
            "/process/oomScoreAdj",
            f"invalid oomScoreAdj {value}: expected -1000 to 1000",
        )


def _mapped(mappings: list[Any], value: int) -> bool:
    for mapping in mappings:
        if not isinstance(mapping, dict):
            continue
        start, size = mapping.get("containerID"), mapping.get("size")
        if _is_int(start) and _is_int(size) and start <= value < start + size:
            return True
    return False


# With ID mappings, the process user SHOULD be a mapped ID, else it runs as
# the overflow ID (nobody) or fails to start.
def _user_mapped(data: dict[str, Any]) -> Iterator[Finding]:
    user = _section(_section(data, "process"), "user")
    linux = _section(data, "linux")
    for key, mappings in (("uid", "uidMappings"), ("gid", "gidMappings")):
        value = user.get(key)
        if not isinstance(linux.get(mappings), list) or not _is_int(value):
            continue
        if not linux[mappings]:
            continue
        if not _mapped(linux[mappings], value):
            yield _finding(
                "process.user.unmapped",
                f"/process/user/{key}",
                f"{key} {value} is not in linux.{mappings}: expected an ID that "
                "a mapping covers",
            )


# Linux mount destinations SHOULD be absolute. Relative ones are deprecated
# since runtime-spec v1.1 and read as relative to "/".
def _mount_destinations(data: dict[str, Any]) -> Iterator[Finding]:
    if _has_platform(data, "windows"):
        return
    for pointer, value in _strings_at(data, "/mounts/*", "destination"):
        if not value.startswith("/"):
            yield _finding(
                "mounts.destination.absolute",
                pointer,
                f"relative mount destination {value!r}: expected an absolute path "
                f"such as {'/' + value!r}",
            )


# A hook's path MUST be absolute.
def _hook_paths(data: dict[str, Any]) -> Iterator[Finding]:
    yield from _absolute(data, "/hooks/*/*", "path", "hooks.path.absolute", "hook path")


# Annotation keys MUST NOT be an empty string.
def _annotation_keys(data: dict[str, Any]) -> Iterator[Finding]:
    if "" in _section(data, "annotations"):
        yield _finding(
            "annotations.key.empty",
            "/annotations/",
            "invalid annotation key '': expected a non-empty key such as "
            "'com.example.key'",
        )


# Each namespace type MUST appear at most once.
def _namespace_duplicates(data: dict[str, Any]) -> Iterator[Finding]:
    seen: set[str] = set()
    for pointer, kind in _strings_at(data, "/linux/namespaces/*", "type"):
        if kind in seen:
            yield _finding(
                "linux.namespaces.duplicate",
                pointer,
                f"duplicate namespace type {kind!r}: expected each type at most once",
            )
        seen.add(kind)


# A namespace path MUST be absolute in the runtime's mount namespace.
def _namespace_paths(data: dict[str, Any]) -> Iterator[Finding]:
    yield from _absolute(
        data,
        "/linux/namespaces/*",
        "path",
        "linux.namespaces.path.absolute",
        "namespace path",
    )


# uidMappings and gidMappings take effect only in a user namespace.
def _mappings_need_user_namespace(data: dict[str, Any]) -> Iterator[Finding]:
    linux = _section(data, "linux")
    if not (linux.get("uidMappings") or linux.get("gidMappings")):
        return
    kinds = {value for _, value in _strings_at(data, "/linux/namespaces/*", "type")}
    if "user" not in kinds:
        yield _finding(
            "linux.uidMappings.namespace",
            "/linux/namespaces",
            "ID mappings without a user namespace: add {'type': 'user'} to "
            "linux.namespaces",
        )


# maskedPaths and readonlyPaths MUST be absolute paths in the container.
def _masked_and_readonly_paths(data: dict[str, Any]) -> Iterator[Finding]:
    for key in ("maskedPaths", "readonlyPaths"):
        yield from _absolute(data, "/linux", key, f"linux.{key}.absolute", key)


# A device's path is its full path in the container. major and minor are
# REQUIRED unless its type is p (a FIFO).
def _linux_devices(data: dict[str, Any]) -> Iterator[Finding]:
    yield from _absolute(
        data, "/linux/devices/*", "path", "linux.devices.path.absolute", "device path"
    )
    for pointer, device in _objects_at(data, "/linux/devices/*"):
        if device.get("type") in ("c", "b", "u"):
            for key in ("major", "minor"):
                if key not in device:
                    yield _finding(
                        "linux.devices.major.required",
                        _child(pointer, key),
                        f"missing {key}: a device of type "
                        f"{device['type']!r} needs major and minor",
                    )


# A device cgroup rule's access is a combination of r, w and m.
def _device_access(data: dict[str, Any]) -> Iterator[Finding]:
    for pointer, access in _strings_at(data, "/linux/resources/devices/*", "access"):
        if not access or set(access) - set("rwm"):
            yield _finding(
                "linux.resources.devices.access.format",
                pointer,
                f"invalid access {access!r}: expected letters of 'rwm'",
            )


# hugepageLimits pageSize matches ^[1-9][0-9]*[KMG]B$, such as 2MB.
def _hugepage_sizes(data: dict[str, Any]) -> Iterator[Finding]:
    pattern = "/linux/resources/hugepageLimits/*"
    for pointer, size in _strings_at(data, pattern, "pageSize"):
        if _PAGE_SIZE.fullmatch(size) is None:
            yield _finding(
                "linux.resources.hugepageLimits.pageSize.format",
                pointer,
                f"invalid pageSize {size!r}: expected a size such as '2MB' or '64KB'",
            )


# Memory limits in bytes are positive, or -1 for unlimited.
def _memory_sizes(data: dict[str, Any]) -> Iterator[Finding]:
    for pointer, memory in _objects_at(data, "/linux/resources/memory"):
        for key in ("limit", "reservation", "swap", "kernel", "kernelTCP"):
            value = memory.get(key)
            if _is_int(value) and value < -1:
                yield _finding(
                    "linux.resources.memory.range",
                    _child(pointer, key),
                    f"invalid memory {key} {value}: expected bytes, or -1 for "
                    "unlimited",
                )


# cpus and mems are lists such as "0-3,5" (cpuset(7)).
def _cpu_lists(data: dict[str, Any]) -> Iterator[Finding]:
    for key in ("cpus", "mems"):
        for pointer, value in _strings_at(data, "/linux/resources/cpu", key):
            if value and _CPU_LIST.fullmatch(value) is None:
                yield _finding(
                    "linux.resources.cpu.format",
                    pointer,
                    f"invalid {key} {value!r}: expected a list such as '0-3,5'",
                )


# cgroupsPath is absolute or relative to the runtime's cgroup. A ".."
# component would leave the cgroup tree of the runtime.
def _cgroups_path(data: dict[str, Any]) -> Iterator[Finding]:
    for pointer, path in _strings_at(data, "/linux", "cgroupsPath"):
        if ".." in path.split("/"):
            yield _finding(
                "linux.cgroupsPath.format",
                pointer,
                f"invalid cgroupsPath {path!r}: expected a path without '..'",
            )


# sysctl keys are kernel parameter names such as net.ipv4.ip_forward.
def _sysctl_keys(data: dict[str, Any]) -> Iterator[Finding]:
    for key in _section(_section(data, "linux"), "sysctl"):
        if _SYSCTL_KEY.fullmatch(key) is None:
            yield _finding(
                "linux.sysctl.key.format",
                _child("/linux/sysctl", key),
                f"invalid sysctl key {key!r}: expected a dotted name such as "
                "'net.ipv4.ip_forward'",
            )


# A seccomp syscall rule names at least one syscall (minItems 1).
def _seccomp_names(data: dict[str, Any]) -> Iterator[Finding]:
    for pointer, rule in _objects_at(data, "/linux/seccomp/syscalls/*"):
        if rule.get("names") == []:
            yield _finding(
                "linux.seccomp.syscalls.names.empty",
                _child(pointer, "names"),
                "invalid names []: expected at least one syscall name",
            )


_SPEC_CHECKS: tuple[Callable[[dict[str, Any]], Iterator[Finding]], ...] = (
    _oci_version,
    _root,
    _process_args,
    _process_cwd,
    _process_env,
    _capability_names,
    _rlimit_types,
    _rlimit_duplicates,
    _rlimit_order,
    _oom_score_adj,
    _user_mapped,
    _mount_destinations,
    _hook_paths,
    _annotation_keys,
    _namespace_duplicates,
    _namespace_paths,
    _mappings_need_user_namespace,
    _masked_and_readonly_paths,
    _linux_devices,
    _device_access,
    _hugepage_sizes,
    _memory_sizes,
    _cpu_lists,
    _cgroups_path,
    _sysctl_keys,
    _seccomp_names,
)


# ----------------------------------------------------------------- entry


def _parse_text(text: str | bytes) -> tuple[Any, Finding | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        message = (
            f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        )
    except (ValueError, RecursionError) as error:
        message = f"invalid JSON: {error}"
    return None, _finding("json.syntax", "", message)


def _document(data: Any) -> tuple[Any, Finding | None]:
    if isinstance(data, RuntimeConfig):
        return data.raw, None
    if isinstance(data, str | bytes | bytearray):
        return _parse_text(data)
    if isinstance(data, Mapping) and not isinstance(data, dict):
        return dict(data), None
    return data, None


def validate_config(
    data: Mapping[str, Any] | str | bytes | RuntimeConfig, *, for_run: bool = False
) -> ConfigFindings:
    """Check a runtime config: parsed JSON, JSON text or a RuntimeConfig.

    With for_run true the config must also be fit for `runc run` or `start`,
    so a missing process is a MUST finding rather than a SHOULD one.
    """
    document, syntax_error = _document(data)
    if syntax_error is not None:
        return ConfigFindings([syntax_error])
    if not isinstance(document, dict):
        return ConfigFindings(
            [
                _finding(
                    "document.type",
                    "",
                    f"invalid runtime config {_show(document)}: expected a JSON object",
                )
            ]
        )
    findings = ConfigFindings()
    for check in (_types, _required, _enums):
        findings.extend(check(document))
    findings.extend(_process_presence(document, for_run))
    for check in _SPEC_CHECKS:
        findings.extend(check(document))
    return findings
