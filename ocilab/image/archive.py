"""OCI image layouts as tar archives, the form of ``oci-archive:`` and ``docker save``.

:func:`save_archive` writes a reproducible tar: members sorted by name, owned
by 0:0, with mtime 0 and fixed modes. :func:`open_archive` checks every member
before it extracts any. It accepts only regular files and folders at the
paths a layout uses, writes them itself (it never calls ``tar.extract``),
verifies each blob against the digest in its name, and removes everything it
wrote when a check fails.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from ..errors import DigestMismatchError, ImageError
from .digest import parse_digest
from .layout import (
    BLOBS_DIR,
    CHUNK_SIZE,
    INDEX_FILE,
    OCI_LAYOUT_FILE,
    OCILayout,
    VerifyingReader,
)

__all__ = ["open_archive", "save_archive"]

# docker save (Docker Engine 25 and later) writes these legacy files next to
# the layout. They are extracted, but never written by save_archive.
DOCKER_FILES = frozenset({"manifest.json", "repositories"})
_ROOT_FILES = frozenset({OCI_LAYOUT_FILE, INDEX_FILE}) | DOCKER_FILES
_ALGORITHM = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_MAX_LISTED = 10
_TYPE_NAMES = {
    tarfile.SYMTYPE: "symbolic link",
    tarfile.LNKTYPE: "hard link",
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
}


def save_archive(
    layout_path: str | os.PathLike[str], tar_path: str | os.PathLike[str]
) -> Path:
    """Write a layout as an uncompressed tar and return the tar's path.

    Only oci-layout, index.json and regular files named blobs/<alg>/<encoded>
    with a valid digest are written. Other files, such as temporary files
    left by an interrupted write, are skipped.
    """
    layout = OCILayout.open(layout_path)
    target = Path(tar_path)
    file_descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(file_descriptor, "wb") as handle:
            _write_tar(layout.path, handle)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def open_archive(
    tar_path: str | os.PathLike[str], dest: str | os.PathLike[str]
) -> OCILayout:
    """Extract a layout archive into ``dest``, a new or empty folder, and open it.

    The tar may be plain or compressed with gzip, bzip2 or xz.

    Raises ImageError listing every member that is not a regular file or
    folder of a layout: links, devices, FIFOs, absolute names, names with
    "..", other paths and names that appear twice. A blob whose content does
    not match its name raises DigestMismatchError. Modes and owners in the
    archive are ignored.
    """
    target = Path(dest)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ImageError(
            f"cannot extract {tar_path} into {target}: choose a new or empty folder"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-extract-", dir=target.parent))
    try:
        _extract(Path(tar_path), staging)
        OCILayout.open(staging)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return OCILayout.open(target)


def _write_tar(root: Path, handle: IO[bytes]) -> None:
    with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(_layout_members(root)):
            path = root / name
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            info.mode = 0o644
            info.size = path.stat().st_size
            with path.open("rb") as source:
                tar.addfile(info, source)


def _layout_members(root: Path) -> list[str]:
    names = [OCI_LAYOUT_FILE, INDEX_FILE, BLOBS_DIR]
    blobs = root / BLOBS_DIR
    if not blobs.is_dir():
        return names
    for folder in blobs.iterdir():
        if folder.is_symlink() or not folder.is_dir():
            continue
        files = [entry.name for entry in folder.iterdir() if _is_blob(entry)]
        if files:
            names.append(f"{BLOBS_DIR}/{folder.name}")
            names += [f"{BLOBS_DIR}/{folder.name}/{file}" for file in files]
    return names


def _is_blob(path: Path) -> bool:
    """Tell whether path is a regular file (not a symlink) named by a valid digest."""
    if not stat.S_ISREG(path.lstat().st_mode):
        return False
    try:
        parse_digest(f"{path.parent.name}:{path.name}")
    except ImageError:
        return False
    return True


def _extract(tar_path: Path, staging: Path) -> None:
    try:
        with tarfile.open(tar_path, mode="r:*") as tar:
            plan = _check_members(tar.getmembers(), tar_path)
            for member, name in plan:
                _extract_member(tar, member, name, staging, tar_path)
    except tarfile.TarError as error:
        raise ImageError(f"cannot read archive {tar_path}: {error}") from error


def _check_members(
    members: list[tarfile.TarInfo], tar_path: Path
) -> list[tuple[tarfile.TarInfo, str]]:
    """Pair each member with its normalised name, or raise listing every bad one."""
    plan: list[tuple[tarfile.TarInfo, str]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for member in members:
        name = _normalise(member.name)
        problem = _member_problem(member, name)
        if problem is None and name in seen:
            problem = "appears more than once"
        if problem is not None:
            problems.append(f"{member.name!r}: {problem}")
            continue
        seen.add(name)
        plan.append((member, name))
    if problems:
        listed = "\n  ".join(problems[:_MAX_LISTED])
        more = len(problems) - _MAX_LISTED
        suffix = f"\n  and {more} more" if more > 0 else ""
        raise ImageError(
            f"archive {tar_path} is not a safe OCI image layout. An archive may "
            f"contain only {OCI_LAYOUT_FILE}, {INDEX_FILE} and "
            f"{BLOBS_DIR}/<algorithm>/<encoded> files and their folders. "
            f"Rejected members:\n  {listed}{suffix}"
        )
    return plan


def _normalise(name: str) -> str:
    """Drop leading "./" and a trailing "/", as tar -C dir -cf x.tar . writes them."""
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    return "" if name == "." else name


def _member_problem(member: tarfile.TarInfo, name: str) -> str | None:
    if member.name.startswith("/"):
        return "absolute path"
    if ".." in name.split("/"):
        return 'path contains ".."'
    if not (member.isreg() or member.isdir()):
        return _TYPE_NAMES.get(member.type, f"tar member type {member.type!r}")
    parts = name.split("/")
    if member.isdir():
        if name in ("", BLOBS_DIR):
            return None
        valid = len(parts) == 2 and parts[0] == BLOBS_DIR
        return None if valid and _ALGORITHM.fullmatch(parts[1]) else "unexpected folder"
    if name in _ROOT_FILES:
        return None
    if len(parts) != 3 or parts[0] != BLOBS_DIR:
        return "unexpected file"
    try:
        parse_digest(f"{parts[1]}:{parts[2]}")
    except ImageError as error:
        return f"invalid blob name: {error}"
    return None


def _extract_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    name: str,
    staging: Path,
    tar_path: Path,
) -> None:
    # name passed _member_problem: at most three plain components, no "..".
    target = staging / name
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member) or io.BytesIO()
    if name.startswith(f"{BLOBS_DIR}/"):
        _, algorithm, encoded = name.split("/")
        source = VerifyingReader(source, f"{algorithm}:{encoded}", member.size)
    try:
        with source, target.open("xb") as output:
            shutil.copyfileobj(source, output, CHUNK_SIZE)
    except DigestMismatchError as error:
        raise DigestMismatchError(
            f"archive {tar_path}, member {member.name!r}: {error}",
            expected=error.expected,
            actual=error.actual,
        ) from error
