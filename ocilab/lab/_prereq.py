"""Checks that the lab can start here: root, Debian packages, kernel features, ports."""

from __future__ import annotations

import os
import shutil
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import PrerequisiteError
from ._config import CNI_BIN_DIR, RUNC_BINARY

__all__ = ["BUSYBOX", "check_prerequisites", "free_port", "require_port_free"]

BUSYBOX = Path("/bin/busybox")


@dataclass(frozen=True)
class _Need:
    what: str
    path: str
    package: str


_NEEDS = [
    _Need("containerd", "containerd", "containerd"),
    _Need("containerd's runc shim", "containerd-shim-runc-v2", "containerd"),
    _Need("runc", RUNC_BINARY, "runc"),
    _Need("the registry", "docker-registry", "docker-registry"),
    _Need(
        "the CNI bridge plugin", f"{CNI_BIN_DIR}/bridge", "containernetworking-plugins"
    ),
    _Need(
        "the CNI host-local plugin",
        f"{CNI_BIN_DIR}/host-local",
        "containernetworking-plugins",
    ),
    _Need(
        "the CNI loopback plugin",
        f"{CNI_BIN_DIR}/loopback",
        "containernetworking-plugins",
    ),
    _Need("iproute2", "ip", "iproute2"),
    _Need("busybox", str(BUSYBOX), "busybox-static"),
]


def _found(path: str) -> bool:
    if path.startswith("/"):
        return os.access(path, os.X_OK)
    return (
        shutil.which(path, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        is not None
    )


def _is_static_elf(path: Path) -> bool:
    """Return True when the ELF file has no program interpreter (PT_INTERP)."""
    with path.open("rb") as handle:
        header = handle.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            return False
        (phoff,) = struct.unpack_from("<Q", header, 32)
        phentsize, phnum = struct.unpack_from("<HH", header, 54)
        handle.seek(phoff)
        table = handle.read(phentsize * phnum)
    types = (struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum))
    return 3 not in types  # 3 is PT_INTERP


def check_prerequisites() -> None:
    """Raise one PrerequisiteError listing everything the lab lacks, with the fix."""
    problems: list[str] = []
    if os.geteuid() != 0:
        problems.append(
            "not running as root: containerd, runc and CNI need root; rerun with sudo"
        )
    packages: set[str] = set()
    for need in _NEEDS:
        if not _found(need.path):
            problems.append(f"{need.what} not found ({need.path})")
            packages.add(need.package)
    if (
        BUSYBOX.exists()
        and "busybox-static" not in packages
        and not _is_static_elf(BUSYBOX)
    ):
        problems.append(
            f"{BUSYBOX} is dynamically linked, so it cannot run alone in an image"
        )
        packages.add("busybox-static")
    if "overlay" not in Path("/proc/filesystems").read_text():
        problems.append("the kernel has no overlay filesystem; run: modprobe overlay")
    if packages:
        problems.append(
            "install the missing packages with: apt-get update && apt-get install -y "
            + " ".join(sorted(packages))
        )
    if problems:
        raise PrerequisiteError("the lab cannot start:\n  - " + "\n  - ".join(problems))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_port_free(port: int) -> None:
    """Raise PrerequisiteError when 127.0.0.1:port cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise PrerequisiteError(
                f"registry port 127.0.0.1:{port} is in use ({error.strerror}); "
                "stop what listens there (see `ss -ltnp`) or choose another port "
                "with --registry-port, or 0 for any free port"
            ) from error
