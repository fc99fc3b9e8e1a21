"""The lab's state directory and the record (lab.json) of a running lab."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LabInfo", "default_state_dir", "lab_name", "read_info", "write_info"]

INFO_FILE = "lab.json"
NAME_PREFIX = "ocilab"


def default_state_dir() -> Path:
    """Return the lab's state directory.

    ``OCILAB_STATE_DIR`` wins; otherwise ``$XDG_STATE_HOME/ocilab/lab``, with
    XDG_STATE_HOME defaulting to ``~/.local/state``.
    """
    override = os.environ.get("OCILAB_STATE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    return _xdg_location()


def _xdg_location() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return (Path(base) / "ocilab" / "lab").resolve()


def lab_name(state_dir: Path) -> str:
    """Return the short name used for the lab's bridge and CNI network.

    The name is "ocilab-" and six hex digits of a hash of the state dir's
    path, so two labs on one machine never share a bridge. Its 13 characters
    stay within Linux's limit of 15 for interface names.
    """
    suffix = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:6]
    return f"{NAME_PREFIX}-{suffix}"


@dataclass
class LabInfo:
    """The parts of a running lab: endpoints, images, processes and network."""

    state_dir: str
    name: str
    cri_endpoint: str
    registry_url: str
    registry_port: int
    images: dict[str, str]
    sandbox_image: str
    pids: dict[str, int]
    bridge: str
    subnet: str
    gateway: str
    started_at: str

    @property
    def cgroup_parent(self) -> str:
        """The cgroup folder for this lab's pods; `down` removes everything below it.

        Give a pod ``linux.cgroup_parent = f"{info.cgroup_parent}/pod-<uid>"``,
        as the kubelet gives each pod its own, so that the runtime can report
        pod stats.
        """
        return f"/{self.name}"

    # Host folders outside the state dir that did not exist before `up`.
    created_host_dirs: list[str] = field(default_factory=list)
    runtime_versions: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_info(state_dir: Path) -> LabInfo | None:
    """Load lab.json from state_dir; return None when there is none or it is unreadable."""
    path = state_dir / INFO_FILE
    try:
        data = json.loads(path.read_text())
        info = LabInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(info.pids, dict) or not isinstance(info.images, dict):
        return None
    if not all(isinstance(pid, int) for pid in info.pids.values()):
        return None
    return info


def write_info(info: LabInfo) -> None:
    path = Path(info.state_dir) / INFO_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n")
    temporary.replace(path)
