"""Health checks of a lab's parts, and the lock that serialises lab changes."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx

from ..errors import CRIError, LabError
from . import _cleanup, _net
from ._config import LabPaths
from ._state import LabInfo

__all__ = [
    "broken_parts",
    "check_health",
    "cri_conditions",
    "is_lab_folder",
    "lab_lock",
    "process_is_ours",
    "registry_answers",
]

# `up` and `down` of every lab on the machine take this lock, so two of them
# never pick the same subnet or remove what the other is creating. It is a
# flock on a folder that exists anyway, so the lab leaves no lock file behind.
_LOCK_FOLDERS = ("/run/lock", "/run")
LOCK_TIMEOUT = 120.0


@contextlib.contextmanager
def lab_lock(timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the machine-wide lab lock; raise LabError after timeout seconds."""
    folder = next(path for path in _LOCK_FOLDERS if os.path.isdir(path))
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise LabError(
                        f"another `ocilab lab up` or `lab down` has held the lab lock "
                        f"(flock on {folder}) for {timeout:.0f} s; wait for it to finish"
                    ) from error
                # A short poll, because `lab up` of a lab on this machine
                # waits here for any other lab's `up` or `down`.
                time.sleep(0.02)
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


def process_is_ours(pid: int, paths: LabPaths) -> bool:
    """Return True when pid is alive and its command line names this lab's files.

    A pid from lab.json may have been reused by an unrelated process since.
    """
    if pid <= 1 or not _cleanup.pid_alive(pid):
        return False
    markers = {str(paths.containerd_config), str(paths.registry_config)}
    return bool(markers & set(_cleanup.cmdline(pid)))


def registry_answers(url: str) -> bool:
    # Certificates matter only for https. Loading the CA bundle for an http
    # URL took about 0.1 s of every poll while `lab up` waited.
    verify = not url.startswith("http://")
    try:
        return httpx.get(f"{url}/v2/", timeout=2.0, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


def cri_conditions(endpoint: str, timeout: float = 5.0) -> dict[str, bool]:
    """Return the runtime's Status conditions as {type: status}."""
    from ..cri import CRIClient

    with CRIClient(endpoint, timeout=timeout) as cri:
        status = cri.status(verbose=False)
    return {condition.type: condition.status for condition in status.conditions}


def check_health(info: LabInfo, paths: LabPaths) -> dict[str, Any]:
    """Check each part of a lab; every value is True when that part works.

    On a CRI failure the error text is under "cri_error" and "cri" is False.
    """
    health: dict[str, Any] = {
        "containerd_process": process_is_ours(info.pids.get("containerd", 0), paths),
        "registry_process": process_is_ours(info.pids.get("registry", 0), paths),
        "registry_http": registry_answers(info.registry_url),
        "bridge": _net.link_exists(info.bridge),
        # `up` records the images after pushing them, and containerd starts
        # before that, so a live containerd alone does not mean that `up` finished.
        "images": bool(info.images),
        "cri": False,
    }
    if health["containerd_process"]:
        try:
            health.update(cri_conditions(info.cri_endpoint))
            health["cri"] = True
        except CRIError as error:
            health["cri_error"] = str(error)
    return health


def broken_parts(health: dict[str, Any]) -> list[str]:
    """Return the names of the checks that failed."""
    return [key for key, value in health.items() if value is False]


def is_lab_folder(paths: LabPaths) -> bool:
    """Return True when the folder carries the lab marker (or a lab record)."""
    return paths.marker.exists() or (paths.state_dir / "lab.json").is_file()
