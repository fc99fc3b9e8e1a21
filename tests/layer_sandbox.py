"""Layer tar builders and a sandbox that detects writes outside a root filesystem.

Shared by the unpack tests and the hostile archive corpus. The sandbox puts
the root filesystem four levels below its top folder, so that each ``..``
escape lands inside that folder, with a sentinel folder beside the root
filesystem and another at the top. A snapshot taken before unpacking is
compared with one taken after, so any change outside the root is found.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import secrets
import shutil
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ocilab.image.unpack import UnpackReport, unpack_layers

MTIME = 1_600_000_000

# --- building layers -------------------------------------------------------


Member = tuple[tarfile.TarInfo, bytes]


def _info(name: str, kind: bytes, mode: int, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = MTIME
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def file(name: str, data: bytes = b"x", mode: int = 0o644, **fields: object) -> Member:
    info = _info(name, tarfile.REGTYPE, mode, **fields)
    info.size = len(data)
    return info, data


def directory(name: str, mode: int = 0o755, **fields: object) -> Member:
    return _info(name, tarfile.DIRTYPE, mode, **fields), b""


def symlink(name: str, target: str, **fields: object) -> Member:
    return _info(name, tarfile.SYMTYPE, 0o777, linkname=target, **fields), b""


def hardlink(name: str, target: str, **fields: object) -> Member:
    return _info(name, tarfile.LNKTYPE, 0o644, linkname=target, **fields), b""


def device(
    name: str, major: int = 1, minor: int = 3, kind: bytes = tarfile.CHRTYPE
) -> Member:
    info = _info(name, kind, 0o666, devmajor=major, devminor=minor)
    return info, b""


def fifo(name: str) -> Member:
    return _info(name, tarfile.FIFOTYPE, 0o640), b""


def layer(
    *members: Member, compress: bool = False, tar_format: int = tarfile.PAX_FORMAT
) -> bytes:
    """Return a tar of the members, gzip-compressed when ``compress`` is true.

    Names are encoded as UTF-8 with surrogateescape, so a name built from
    invalid UTF-8 bytes (``b"\\xff".decode("utf-8", "surrogateescape")``)
    reaches the archive as those bytes.
    """
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w", format=tar_format, errors="surrogateescape"
    ) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buffer.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


# --- sandbox ---------------------------------------------------------------


def snapshot(top: Path, skip: Path) -> dict[str, tuple]:
    """Record type, mode, owner, size, mtime and content of everything under top."""
    entries: dict[str, tuple] = {}
    for folder, subdirs, files in os.walk(top):
        folder_path = Path(folder)
        subdirs[:] = [name for name in subdirs if folder_path / name != skip]
        children = [folder_path / name for name in subdirs + files]
        for path in [folder_path, *children]:
            info = path.lstat()
            content = ""
            if stat.S_ISREG(info.st_mode):
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                content = os.readlink(path)
            entries[str(path.relative_to(top))] = (
                info.st_mode,
                info.st_uid,
                info.st_gid,
                info.st_size,
                info.st_mtime_ns,
                info.st_nlink,
                content,
            )
    return entries


@dataclass
class Sandbox:
    """A root filesystem with sentinels around it.

    ``outside`` is a folder at the top with ``keep.txt``, and ``beside`` a
    folder next to the root filesystem with ``keep.txt``, which
    ``rootfs/../beside/keep.txt`` names. ``escape`` is a unique name for
    entries that an escape through "/" would write into the host's root
    directory, so that a regression is found and removed.
    """

    top: Path
    rootfs: Path
    outside: Path
    beside: Path
    before: dict[str, tuple]
    escape: str

    def unpack(self, *layers: bytes, **options: object) -> UnpackReport:
        options.setdefault("progress", False)
        return unpack_layers(list(layers), self.rootfs, **options)

    def changed_outside(self) -> dict[str, tuple]:
        """Return what differs outside the root filesystem since the start."""
        after = snapshot(self.top, self.rootfs)
        keys = set(self.before) | set(after)
        return {
            key: (self.before.get(key), after.get(key))
            for key in sorted(keys)
            if self.before.get(key) != after.get(key)
        }

    def escaped_to_host(self) -> list[str]:
        """Return the paths under the host's "/" that carry the escape name."""
        return [str(path) for path in Path("/").glob(f"{self.escape}*")]

    def inside(self, path: Path | str) -> Path:
        """Return where an absolute host path lands when resolved inside the root."""
        return self.rootfs / Path(path).relative_to("/")


@contextmanager
def sandbox(top: Path) -> Iterator[Sandbox]:
    """Create a sandbox under ``top``, and remove any host path an escape left."""
    rootfs = top / "w" / "x" / "y" / "rootfs"
    rootfs.mkdir(parents=True)
    outside = top / "outside"
    beside = rootfs.parent / "beside"
    for sentinel in (outside, beside):
        sentinel.mkdir()
        (sentinel / "keep.txt").write_text("original")
        os.chmod(sentinel / "keep.txt", 0o644)
    escape = f"ocilab-escape-{secrets.token_hex(6)}"
    before = snapshot(top, rootfs)
    try:
        yield Sandbox(top, rootfs, outside, beside, before, escape)
    finally:
        for leaked in Path("/").glob(f"{escape}*"):
            if leaked.is_dir() and not leaked.is_symlink():
                shutil.rmtree(leaked)
            else:
                leaked.unlink()
