"""Turn an image configuration into an OCI runtime configuration (config.json).

The rules are image-spec conversion.md's:

- ``process.args`` is Entrypoint followed by Cmd; ``process.env`` is Env;
  ``process.cwd`` is WorkingDir ("/" when unset).
- ``process.user``: numeric user and group are copied verbatim. Names are
  resolved from the rootfs's /etc/passwd and /etc/group, and a user that the
  rootfs does not list is an error. For a user name without a group, the
  user's supplementary groups become ``additionalGids``.
- annotations: os, architecture, variant, os.version, os.features, author,
  created, StopSignal and ExposedPorts become ``org.opencontainers.image.*``
  annotations, and Config.Labels are added on top, winning any conflict.
- Volumes become tmpfs mounts when ``volumes_as_mounts`` is true, so data is
  not written into the root filesystem.

Everything else comes from a default configuration like the one ``runc spec``
writes (namespaces, default mounts, masked paths), which a caller may replace.
"""

from __future__ import annotations

import copy
import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ImageError
from .models import ImageConfig

__all__ = ["default_runtime_config", "image_to_runtime_config", "resolve_user"]

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PREFIX = "org.opencontainers.image."


def default_runtime_config() -> dict[str, Any]:
    """Return a default Linux runtime configuration close to what `runc spec` writes."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [DEFAULT_PATH, "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                kind: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                for kind in ("bounding", "effective", "permitted")
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": [
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            },
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [
                {"type": kind}
                for kind in ("pid", "network", "ipc", "uts", "mount", "cgroup")
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }


def _read_inside(rootfs: Path, relative: str) -> str | None:
    """Read a file of the rootfs without following any symlink; None when absent.

    A symlinked /etc/passwd could point at the host's, so a symlink on the
    way is an error rather than something to follow.
    """
    parts = [part for part in relative.split("/") if part]
    descriptor = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            following = os.open(
                part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=descriptor
            )
            os.close(descriptor)
            descriptor = following
        leaf = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=descriptor)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ImageError(
                f"/{relative} in {rootfs} is or passes through a symlink; "
                "ocilab reads it only as a plain file inside the rootfs"
            ) from error
        raise
    finally:
        os.close(descriptor)
    with os.fdopen(leaf, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _entries(text: str | None) -> list[list[str]]:
    if not text:
        return []
    return [
        line.split(":")
        for line in text.splitlines()
        if line and not line.startswith("#")
    ]


def resolve_user(user: str, rootfs: Path | None) -> dict[str, Any]:
    """Turn Config.User ("uid", "uid:gid", "name", "name:group") into process.user.

    Raises ImageError when a name is not found in the rootfs (or no rootfs is given).
    """
    name, _, group = user.partition(":")
    passwd = _entries(_read_inside(rootfs, "etc/passwd")) if rootfs else []
    groups = _entries(_read_inside(rootfs, "etc/group")) if rootfs else []
    if name.isdigit():
        uid, gid = int(name), None
    else:
        match = next(
            (entry for entry in passwd if entry[0] == name and len(entry) >= 4), None
        )
        if match is None:
            where = (
                f"{rootfs}/etc/passwd"
                if rootfs
                else "the image (no rootfs given to read /etc/passwd)"
            )
            raise ImageError(
                f"Config.User {user!r}: user {name!r} not found in {where}"
            )
        uid, gid = int(match[2]), int(match[3])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            found = next(
                (entry for entry in groups if entry[0] == group and len(entry) >= 3),
                None,
            )
            if found is None:
                raise ImageError(
                    f"Config.User {user!r}: group {group!r} not found in {rootfs}/etc/group"
                )
            gid = int(found[2])
    result: dict[str, Any] = {"uid": uid, "gid": gid if gid is not None else 0}
    if not name.isdigit() and not group:
        extra = sorted(
            {
                int(entry[2])
                for entry in groups
                if len(entry) >= 4 and name in entry[3].split(",")
            }
        )
        if extra:
            result["additionalGids"] = extra
    return result


def _annotations(config: ImageConfig) -> dict[str, str]:
    raw = config.raw
    implicit = {
        "os": config.os,
        "architecture": config.architecture,
        "variant": config.variant,
        "os.version": raw.get("os.version")
        if isinstance(raw.get("os.version"), str)
        else None,
        "os.features": ",".join(raw["os.features"])
        if isinstance(raw.get("os.features"), list)
        else None,
        "author": config.author,
        "created": config.created,
        "stopSignal": config.stop_signal,
        "exposedPorts": ",".join(sorted(config.exposed_ports))
        if config.exposed_ports
        else None,
    }
    annotations = {_PREFIX + key: value for key, value in implicit.items() if value}
    # Labels are explicit, so they win over the implicit annotations above.
    annotations.update(config.labels)
    return annotations


def _env(image_env: tuple[str, ...]) -> list[str]:
    env = list(image_env)
    if not any(entry.startswith("PATH=") for entry in env):
        env.insert(0, DEFAULT_PATH)
    return env


def image_to_runtime_config(
    config: ImageConfig | Mapping[str, Any],
    *,
    rootfs: Path | str | None = None,
    base: Mapping[str, Any] | None = None,
    args: list[str] | None = None,
    volumes_as_mounts: bool = True,
) -> dict[str, Any]:
    """Return the runtime config.json for an image config, following conversion.md.

    rootfs is the unpacked root filesystem, needed to resolve user names.
    base replaces the `runc spec`-like defaults; args overrides Entrypoint+Cmd.
    Raises ImageError when there is nothing to run or the user is unknown.
    """
    image = config if isinstance(config, ImageConfig) else ImageConfig.from_json(config)
    runtime = (
        copy.deepcopy(dict(base)) if base is not None else default_runtime_config()
    )
    process = runtime.setdefault("process", {})
    command = (
        list(args)
        if args is not None
        else [*(image.entrypoint or ()), *(image.cmd or ())]
    )
    if not command:
        raise ImageError(
            "the image config has neither Entrypoint nor Cmd; pass args= with the command to run"
        )
    process["args"] = command
    process["env"] = _env(image.env)
    process["cwd"] = image.working_dir or "/"
    root = Path(rootfs) if rootfs is not None else None
    process["user"] = (
        resolve_user(image.user, root) if image.user else {"uid": 0, "gid": 0}
    )
    annotations = dict(runtime.get("annotations") or {})
    annotations.update(_annotations(image))
    runtime["annotations"] = annotations
    if volumes_as_mounts and image.volumes:
        mounts = list(runtime.get("mounts") or [])
        for volume in sorted(image.volumes):
            mounts.append(
                {
                    "destination": volume,
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=755"],
                }
            )
        runtime["mounts"] = mounts
    return runtime
