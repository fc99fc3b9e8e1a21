"""HTML view of a runtime config (config.json), for notebooks.

RuntimeConfig's ``_repr_html_`` calls :func:`runtime_config_html`. Every
value goes through the escaping builders of ``ocilab._html``, because a
config may come from anywhere, and paths, arguments and annotations are free
text.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._html import code_block, details, frame_table, heading, key_value_table

if TYPE_CHECKING:
    from .spec import Capabilities, Linux, Process, RuntimeConfig

__all__ = ["runtime_config_html"]

_NOT_SET = "(not set)"
# The resources row shows this many settings, and the collapsed table shows all.
_RESOURCES_SHOWN = 6
_CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def _user(process: Process | None) -> str:
    user = process.user if process else None
    if user is None:
        return _NOT_SET
    parts = [f"uid {_value(user.uid)}", f"gid {_value(user.gid)}"]
    if user.additional_gids:
        parts.append("additional gids " + ", ".join(map(str, user.additional_gids)))
    if user.umask is not None:
        parts.append(f"umask {user.umask:04o}")
    if user.username:
        parts.append(f"username {user.username}")
    return ", ".join(parts)


def _value(value: Any) -> Any:
    return _NOT_SET if value in (None, "") else value


def _namespaces(linux: Linux | None) -> str:
    if linux is None or not linux.namespaces:
        return "none (the container shares every namespace of the runtime)"
    return ", ".join(
        f"{namespace.type} (joins {namespace.path})" if namespace.path
        else str(namespace.type)
        for namespace in linux.namespaces
    )  # fmt: skip


def _capability_counts(capabilities: Capabilities | None) -> str:
    if capabilities is None:
        return _NOT_SET
    return ", ".join(
        f"{name} {len(getattr(capabilities, name))}" for name in _CAPABILITY_SETS
    )


def _capabilities_frame(capabilities: Capabilities) -> pd.DataFrame:
    rows = [
        (name, ", ".join(getattr(capabilities, name)) or "(empty)")
        for name in _CAPABILITY_SETS
    ]
    return pd.DataFrame(rows, columns=["set", "capabilities"])


def _resources(config: RuntimeConfig) -> tuple[str, pd.DataFrame]:
    """Return a one-line summary of linux.resources and its settings as a table."""
    from .explain import resources_frame

    frame = resources_frame(config)
    if frame.empty:
        return "none (no cgroup limits)", frame
    settings = [f"{row.path}={row.value}" for row in frame.itertuples()]
    summary = ", ".join(settings[:_RESOURCES_SHOWN])
    if len(settings) > _RESOURCES_SHOWN:
        summary += f", … ({len(settings)} settings in all)"
    return summary, frame


def _mounts_frame(config: RuntimeConfig) -> pd.DataFrame:
    rows = [
        (mount.destination, mount.type, mount.source, ",".join(mount.options))
        for mount in config.mounts
    ]
    return pd.DataFrame(rows, columns=["destination", "type", "source", "options"])


def runtime_config_html(config: RuntimeConfig) -> str:
    """Render a runtime config: process, root, namespaces, capabilities, mounts, JSON."""
    from .spec import dumps

    process, linux = config.process, config.linux
    root = config.root
    root_text = _NOT_SET
    if root is not None:
        root_text = f"{_value(root.path)}" + (" (read-only)" if root.readonly else "")
    resources_summary, resources = _resources(config)
    rows: list[tuple[str, Any]] = [
        ("ociVersion", _value(config.oci_version)),
        (
            "process.args",
            json.dumps(list(process.args), ensure_ascii=False) if process else _NOT_SET,
        ),
        ("process.user", _user(process)),
        ("process.cwd", _value(process.cwd if process else None)),
        ("process.terminal", process.terminal if process else _NOT_SET),
        ("process.env", f"{len(process.env)} variables" if process else _NOT_SET),
        (
            "process.capabilities",
            _capability_counts(process.capabilities if process else None),
        ),
        ("root", root_text),
        ("hostname", _value(config.hostname)),
        ("linux.namespaces", _namespaces(linux)),
        ("mounts", len(config.mounts)),
        ("linux.resources", resources_summary),
    ]
    if linux is not None and linux.cgroups_path:
        rows.append(("linux.cgroupsPath", linux.cgroups_path))
    if linux is not None and linux.seccomp is not None:
        syscalls = linux.seccomp.get("syscalls")
        count = len(syscalls) if isinstance(syscalls, list) else 0
        action = linux.seccomp.get("defaultAction", _NOT_SET)
        rows.append(("linux.seccomp", f"default {action}, {count} syscall rules"))
    parts = [heading("OCI runtime config"), key_value_table(rows)]
    if process is not None and process.env:
        parts.append(details("process.env", code_block("\n".join(process.env))))
    if process is not None and process.capabilities is not None:
        table = frame_table(_capabilities_frame(process.capabilities))
        parts.append(details("process.capabilities", table))
    if config.mounts:
        mounts = frame_table(_mounts_frame(config))
        parts.append(details(f"mounts ({len(config.mounts)})", mounts))
    if not resources.empty:
        parts.append(details("linux.resources", frame_table(resources)))
    if config.annotations:
        parts += [heading("Annotations", 5), key_value_table(config.annotations)]
    parts.append(details("config.json", code_block(dumps(config))))
    return "".join(parts)
