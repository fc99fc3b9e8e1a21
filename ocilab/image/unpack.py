"""Apply layer tars, lowest first, to a root filesystem without writing outside it.

Safety rule: no tar entry may create, modify, chmod or chown anything outside
``rootfs``. Every path is resolved one component at a time from a file
descriptor of ``rootfs``, with chroot semantics: an absolute symlink target
restarts at ``rootfs`` and ``..`` stops there. Each directory is opened with
``O_NOFOLLOW | O_DIRECTORY`` relative to its parent's descriptor, so the
kernel never follows a symlink on the unpacker's behalf. Every change is a
``*at`` call (mkdirat, symlinkat, linkat, mknodat, renameat, unlinkat, and
fchownat and utimensat without following symlinks) or an f-call on an open
file (fchmod, fchown). The one exception is fchmodat on a fifo or device that
the unpacker has just created under a random temporary name.

Member names:

- A leading ``/`` is removed and the entry is applied inside ``rootfs``. The
  report lists such entries under ``cleaned``.
- A name or hardlink target with a ``..`` component is rejected. GNU tar
  also strips a leading ``/`` and rejects ``..`` members by default (GNU tar
  manual, "Absolute File Names").
- A parent directory whose name starts with ``.wh.`` is rejected, because
  such names are reserved for whiteouts.

Every entry that cannot be applied safely is rejected and listed in the
report with a reason, so none is dropped silently.

Whiteouts (OCI image spec, layer.md) apply only to what lower layers left:
``dir/.wh.NAME`` removes ``dir/NAME`` and ``dir/.wh..wh..opq`` removes every
child of ``dir``, but neither removes a path that the same layer writes,
before or after the marker. Neither is ever written to disk.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import secrets
import shutil
import stat
import sys
import tarfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from ..errors import ImageError
from .layers import (
    LAYER_READ_ERRORS,
    WHITEOUT_PREFIX,
    LayerSource,
    entry_type,
    iter_members,
    open_layer,
    parse_whiteout,
)

__all__ = ["Cleaned", "Rejected", "UnpackReport", "unpack_layers"]

logger = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Linux fails a lookup with ELOOP after 40 symlinks (MAXSYMLINKS), and so does
# the walk.
_MAX_SYMLINKS = 40
_TEMP_PREFIX = ".ocilab-unpack-"
# Ranges of the kernel's time_t (64-bit) and uid_t/gid_t (32-bit) on Linux.
_TIME_T_MIN = -(2**63)
_TIME_T_MAX = 2**63 - 1
_ID_MAX = 2**32 - 1
# Errors after which the next entries would fail as well, so unpacking stops.
_FATAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


# --- report ----------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    """A tar entry that was not applied, and why."""

    layer_index: int
    member_name: str
    reason: str


@dataclass(frozen=True)
class Cleaned:
    """A tar entry whose absolute name was applied below the root instead."""

    layer_index: int
    member_name: str
    path: str


@dataclass(frozen=True)
class UnpackReport:
    """Outcome of unpack_layers().

    ``applied`` counts entries written (whiteouts excluded), ``whiteouts`` the
    whiteout and opaque entries processed, and ``removed`` the paths of lower
    layers those entries deleted (a removed directory counts once).
    """

    rootfs: Path
    layers: int
    applied: int
    whiteouts: int
    removed: int
    rejected: tuple[Rejected, ...] = ()
    cleaned: tuple[Cleaned, ...] = ()

    def frame(self) -> pd.DataFrame:
        """Return one row per rejected or cleaned entry.

        Columns: layer_index, member_name, outcome ("rejected" or "cleaned")
        and detail (the reason, or the path used inside the root).
        """
        rows = [
            (item.layer_index, item.member_name, "rejected", item.reason)
            for item in self.rejected
        ]
        rows += [
            (item.layer_index, item.member_name, "cleaned", item.path)
            for item in self.cleaned
        ]
        columns = ["layer_index", "member_name", "outcome", "detail"]
        return pd.DataFrame(rows, columns=columns)


@dataclass
class _Tally:
    layers: int = 0
    applied: int = 0
    whiteouts: int = 0
    removed: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    cleaned: list[Cleaned] = field(default_factory=list)

    def report(self, rootfs: Path) -> UnpackReport:
        return UnpackReport(
            rootfs=rootfs,
            layers=self.layers,
            applied=self.applied,
            whiteouts=self.whiteouts,
            removed=self.removed,
            rejected=tuple(self.rejected),
            cleaned=tuple(self.cleaned),
        )

    def summary(self) -> str:
        return (
            f"layers completed: {self.layers}, entries applied: {self.applied}, "
            f"whiteouts: {self.whiteouts}, entries rejected: {len(self.rejected)}"
        )


@dataclass(frozen=True)
class _Options:
    same_owner: bool
    allow_devices: bool


class _Reject(Exception):
    """An entry that cannot be applied safely. The message is the reason."""


class _Missing(_Reject):
    """A path component does not exist and may not be created."""


class _NotDirectory(_Reject):
    """A path component exists but is not a directory."""


# --- entry point -----------------------------------------------------------


def unpack_layers(
    layers: Sequence[LayerSource],
    rootfs: str | os.PathLike[str],
    *,
    progress: bool = True,
    same_owner: bool | None = None,
    allow_devices: bool | None = None,
) -> UnpackReport:
    """Apply layer blobs, lowest first, to the directory ``rootfs``.

    ``rootfs`` is created when missing. ``same_owner`` sets file owners from
    the tar's numeric uid and gid and keeps setuid and setgid bits. Without
    it, files belong to the caller and those bits are cleared. ``allow_devices``
    creates character and block devices, which are rejected otherwise. Both
    default to True when running as root. ``progress`` shows a tqdm bar over
    entries on stderr.

    NOTE: the tests run as root. Without root, a directory that a lower layer
    made read-only makes later writes into it fail, and those entries are
    rejected with the OSError as reason.

    Raises ImageError naming the layer index when a layer is truncated or
    corrupt. Entries applied before the error stay in ``rootfs``, and the
    message gives their number. A regular file is written under a temporary name
    and renamed into place, so no half-written file is left under its name.
    OSError propagates for a full or read-only disk and for I/O errors
    (ENOSPC, EDQUOT, EROFS, EIO), because every later entry would fail too.
    """
    is_root = os.geteuid() == 0
    options = _Options(
        same_owner=is_root if same_owner is None else same_owner,
        allow_devices=is_root if allow_devices is None else allow_devices,
    )
    root = Path(rootfs)
    root.mkdir(parents=True, exist_ok=True)
    tally = _Tally()
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with tqdm(unit=" entries", file=sys.stderr, disable=not progress) as bar:
            for index, source in enumerate(layers):
                bar.set_description(f"layer {index}")
                _apply_layer(_LayerApplier(root_fd, index, options, tally), source, bar)
                tally.layers += 1
    finally:
        os.close(root_fd)
    return tally.report(root)


def _apply_layer(applier: _LayerApplier, source: LayerSource, bar: tqdm) -> None:
    label = f"layer {applier.index}"
    rejected_before = len(applier.tally.rejected)
    try:
        with open_layer(source, name=label) as tar:
            for member in iter_members(tar, name=label):
                applier.apply(member, tar)
                bar.update(1)
            applier.finish()
    except ImageError as error:
        raise ImageError(
            f"{error}. Before the error: {applier.tally.summary()}; the root "
            "filesystem is partly unpacked"
        ) from error
    finally:
        applier.close()
    rejected = len(applier.tally.rejected) - rejected_before
    if rejected:
        logger.warning(
            "%s: %d entries rejected; UnpackReport.rejected lists them",
            label,
            rejected,
        )


# --- path resolution -------------------------------------------------------


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


class _Walk:
    """Open a directory below the root, one component at a time.

    ``fd`` is the open directory and ``path`` its path relative to the root
    with every symlink resolved ("" for the root itself). The walk owns every
    descriptor it opened, and close() releases them.
    """

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.stack: list[tuple[int, str]] = []

    @property
    def fd(self) -> int:
        return self.stack[-1][0] if self.stack else self.root_fd

    @property
    def path(self) -> str:
        return "/".join(name for _, name in self.stack)

    def close(self) -> None:
        while self.stack:
            os.close(self.stack.pop()[0])

    def run(self, parts: Sequence[str], *, create: bool, follow: bool) -> None:
        pending = deque(parts)
        links = 0
        while pending:
            name = pending.popleft()
            if name in ("", "."):
                continue
            if name == "..":
                if self.stack:
                    os.close(self.stack.pop()[0])
                continue
            target = self._descend(name, create)
            if target is None:
                continue
            links += 1
            if not follow:
                raise _NotDirectory(f"{_join(self.path, name)} is a symbolic link")
            if links > _MAX_SYMLINKS:
                raise _Reject(f"too many levels of symbolic links at {name!r}")
            if target.startswith("/"):
                self.close()
            pending.extendleft(reversed(target.split("/")))

    def _descend(self, name: str, create: bool) -> str | None:
        """Enter directory ``name``, or return its target when it is a symlink."""
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        except FileNotFoundError:
            if not create:
                raise _Missing(f"{_join(self.path, name)} not found") from None
            fd = self._make(name)
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            info = _lstat(name, self.fd)
            if info is not None and stat.S_ISLNK(info.st_mode):
                return os.readlink(name, dir_fd=self.fd)
            raise _NotDirectory(
                f"{_join(self.path, name)} exists and is not a directory"
            ) from None
        self.stack.append((fd, name))
        return None

    def _make(self, name: str) -> int:
        """Create a missing parent directory with mode 0755, as tar does."""
        os.mkdir(name, 0o700, dir_fd=self.fd)
        fd = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        os.fchmod(fd, 0o755)
        return fd


@contextmanager
def _walk(
    root_fd: int, parts: Sequence[str], *, create: bool, follow: bool = True
) -> Iterator[_Walk]:
    walk = _Walk(root_fd)
    try:
        walk.run(parts, create=create, follow=follow)
        yield walk
    finally:
        walk.close()


def _remove(name: str, dir_fd: int, info: os.stat_result) -> None:
    """Delete a file, symlink or whole directory tree without following symlinks."""
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def _temp_name() -> str:
    return f"{_TEMP_PREFIX}{secrets.token_hex(8)}"


def _replace(temp: str, name: str, dir_fd: int) -> os.stat_result | None:
    """Rename ``temp`` to ``name``, after removing a directory tree at ``name``.

    Returns the lstat of what was at ``name`` before, or None.
    """
    existing = _lstat(name, dir_fd)
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    return existing


def _discard(temp: str, dir_fd: int) -> None:
    try:
        os.unlink(temp, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


# --- one layer -------------------------------------------------------------


class _LayerApplier:
    """Apply the entries of one layer and remember which paths it wrote.

    ``written`` contains the resolved path of each entry of this layer and
    ``ancestors`` every directory above one of them, so that whiteouts and
    opaque markers spare this layer's own entries.
    """

    def __init__(
        self, root_fd: int, index: int, options: _Options, tally: _Tally
    ) -> None:
        self.root_fd = root_fd
        self.index = index
        self.options = options
        self.tally = tally
        self.written: set[str] = set()
        self.ancestors: set[str] = set()
        self.directories: dict[str, tarfile.TarInfo] = {}
        # The parent walk of the last regular file, kept for the next entry
        # if it is a regular file in the same directory (see _parent_walk).
        self._parent: tuple[tuple[str, ...], _Walk] | None = None

    def apply(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        """Apply one entry, or record why it was rejected."""
        try:
            if member.issparse():
                # A few bytes of sparse map can declare terabytes of holes,
                # which would be written out in full.
                raise _Reject(
                    "sparse file not supported: the image spec says layers SHOULD "
                    "NOT use sparse files; rebuild the layer without -S/--sparse"
                )
            parts = self._clean_name(member)
            whiteout = parse_whiteout("/".join(parts)) if parts else None
            if whiteout is not None:
                self.close()
                self._apply_whiteout(parts, whiteout[0])
            else:
                self._apply_entry(parts, member, tar)
        except _Reject as rejection:
            self._reject(member, str(rejection))
        except LAYER_READ_ERRORS:
            raise
        except OSError as error:
            if error.errno in _FATAL_ERRNOS:
                raise
            self._reject(member, f"writing failed: {error.strerror or error}")
        except (OverflowError, ValueError) as error:
            # For example an mtime out of range or a NUL byte in a PAX name.
            self._reject(member, f"invalid entry: {error}")

    def close(self) -> None:
        """Close the kept parent walk, if any."""
        if self._parent is not None:
            self._parent[1].close()
            self._parent = None

    def finish(self) -> None:
        """Set the metadata of this layer's directories, deepest first."""
        self.close()
        for path in sorted(self.directories, key=_depth, reverse=True):
            member = self.directories[path]
            parts = path.split("/") if path else []
            try:
                with _walk(self.root_fd, parts, create=False, follow=False) as walk:
                    self._set_metadata_fd(walk.fd, member)
            except _Reject:
                # A later entry of this layer replaced the directory with
                # something else or removed it, and the later entry wins.
                continue

    def _reject(self, member: tarfile.TarInfo, reason: str) -> None:
        logger.debug("layer %d: rejected %r: %s", self.index, member.name, reason)
        self.tally.rejected.append(Rejected(self.index, member.name, reason))

    def _clean_name(self, member: tarfile.TarInfo) -> list[str]:
        parts = [part for part in member.name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise _Reject("name contains '..'; entries must stay below the root")
        if any(part.startswith(WHITEOUT_PREFIX) for part in parts[:-1]):
            raise _Reject(
                f"a parent directory name starts with {WHITEOUT_PREFIX!r}, "
                "which is reserved for whiteouts"
            )
        if member.name.startswith("/"):
            cleaned = Cleaned(self.index, member.name, "/".join(parts) or ".")
            self.tally.cleaned.append(cleaned)
        return parts

    def _note_written(self, path: str) -> None:
        self.written.add(path)
        parts = path.split("/")
        for end in range(len(parts)):
            self.ancestors.add("/".join(parts[:end]))

    # --- whiteouts ---------------------------------------------------------

    def _apply_whiteout(self, parts: list[str], kind: str) -> None:
        if kind == "invalid":
            raise _Reject("invalid whiteout: the name after .wh. is empty, '.' or '..'")
        self.tally.whiteouts += 1
        if kind == "opaque":
            self._apply_opaque(parts[:-1])
            return
        hidden = parts[-1][len(WHITEOUT_PREFIX) :]
        try:
            with _walk(self.root_fd, parts[:-1], create=False) as walk:
                self._prune(walk.fd, hidden, _join(walk.path, hidden))
        except (_Missing, _NotDirectory):
            return  # The parent does not exist, so neither does the path.

    def _apply_opaque(self, directory: list[str]) -> None:
        # The marker implies that the directory exists in this layer.
        with _walk(self.root_fd, directory, create=True) as walk:
            self.ancestors.update(_self_and_ancestors(walk.path))
            for child in os.listdir(walk.fd):
                self._prune(walk.fd, child, _join(walk.path, child))

    def _prune(self, dir_fd: int, name: str, path: str) -> None:
        """Remove what lower layers put at ``path``, keeping this layer's entries."""
        info = _lstat(name, dir_fd)
        if info is None:
            return
        if path not in self.written and path not in self.ancestors:
            _remove(name, dir_fd, info)
            self.tally.removed += 1
            return
        if not stat.S_ISDIR(info.st_mode):
            return
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            for child in os.listdir(fd):
                self._prune(fd, child, _join(path, child))
        finally:
            os.close(fd)

    # --- entries -----------------------------------------------------------

    def _apply_entry(
        self, parts: list[str], member: tarfile.TarInfo, tar: tarfile.TarFile
    ) -> None:
        self._check_metadata(member)
        if not parts:
            self._apply_root(member)
            return
        write = self._writer(member)
        parent = self._parent_walk(parts[:-1], member)
        try:
            path = _join(parent.path, parts[-1])
            replaced = write(parent.fd, parts[-1], path, member, tar)
            self._note_written(path)
        except BaseException:
            self.close()
            raise
        # Only a regular file that replaced nothing or another regular file
        # leaves every directory and symlink as it was.
        if not member.isreg() or not (
            replaced is None or stat.S_ISREG(replaced.st_mode)
        ):
            self.close()
        self.tally.applied += 1

    def _parent_walk(self, parts: list[str], member: tarfile.TarInfo) -> _Walk:
        """Walk to the parent directory of an entry, reusing the last walk when safe.

        A walk's result depends only on the directories and symlinks it
        passes. _apply_entry keeps a walk only after a regular file that
        replaced nothing or another regular file, which changes neither, so a
        kept walk of the same parts still resolves to the same directory.
        Tar layers list the files of one directory together, so most regular
        files skip one open and one close per parent directory.
        """
        key = tuple(parts)
        if member.isreg() and self._parent is not None and self._parent[0] == key:
            return self._parent[1]
        self.close()
        walk = _Walk(self.root_fd)
        try:
            walk.run(parts, create=True, follow=True)
        except BaseException:
            walk.close()
            raise
        self._parent = (key, walk)
        return walk

    def _check_metadata(self, member: tarfile.TarInfo) -> None:
        """Reject an mtime, uid or gid that the system calls cannot take.

        A directory's metadata is set at the end of its layer, where an error
        could no longer be tied to the entry, so every entry is checked here.
        """
        mtime = member.mtime
        if not math.isfinite(mtime) or not _TIME_T_MIN <= mtime <= _TIME_T_MAX:
            raise _Reject(
                f"invalid mtime {mtime!r}: expected whole or fractional seconds "
                "that fit a 64-bit time_t"
            )
        if not self.options.same_owner:
            return
        for name, value in (("uid", member.uid), ("gid", member.gid)):
            if not 0 <= value <= _ID_MAX:
                raise _Reject(
                    f"invalid {name} {value}: expected 0 to {_ID_MAX}, or unpack "
                    "with same_owner=False"
                )

    def _apply_root(self, member: tarfile.TarInfo) -> None:
        if not member.isdir():
            raise _Reject("a non-directory entry names the root directory")
        self.directories[""] = member
        self.tally.applied += 1

    def _writer(self, member: tarfile.TarInfo) -> Callable[..., None]:
        kind = entry_type(member)
        if kind in ("char", "block") and not self.options.allow_devices:
            raise _Reject(
                f"{kind} device nodes are not allowed; pass allow_devices=True "
                "(creating them needs root)"
            )
        writers: dict[str, Callable[..., None]] = {
            "file": self._write_file,
            "dir": self._write_dir,
            "symlink": self._write_symlink,
            "hardlink": self._write_hardlink,
            "char": self._write_node,
            "block": self._write_node,
            "fifo": self._write_node,
        }
        if kind not in writers:
            raise _Reject(f"unsupported tar entry type {member.type!r}")
        return writers[kind]

    def _write_dir(
        self, dir_fd: int, name: str, path: str, member: tarfile.TarInfo, _: Any
    ) -> None:
        # A directory over a directory keeps it and takes the entry's metadata
        # at the end of the layer. Anything else in its place is removed.
        existing = _lstat(name, dir_fd)
        if existing is None or not stat.S_ISDIR(existing.st_mode):
            if existing is not None:
                _remove(name, dir_fd, existing)
            os.mkdir(name, 0o700, dir_fd=dir_fd)
        self.directories[path] = member

    def _write_file(
        self,
        dir_fd: int,
        name: str,
        path: str,
        member: tarfile.TarInfo,
        tar: tarfile.TarFile,
    ) -> os.stat_result | None:
        temp = _temp_name()
        fd = os.open(temp, _NEW_FILE_FLAGS, 0o600, dir_fd=dir_fd)
        try:
            with open(fd, "wb") as output:
                data = tar.extractfile(member)
                if data is not None:
                    shutil.copyfileobj(data, output, 1 << 20)
                output.flush()
                self._set_metadata_fd(output.fileno(), member)
            return _replace(temp, name, dir_fd)
        except BaseException:
            _discard(temp, dir_fd)
            raise

    def _write_symlink(
        self, dir_fd: int, name: str, path: str, member: tarfile.TarInfo, _: Any
    ) -> None:
        # The target text is stored unchanged: absolute targets are normal in
        # images, and the walk resolves them inside the root when it meets them.
        def create(temp: str) -> None:
            os.symlink(member.linkname, temp, dir_fd=dir_fd)

        self._install(dir_fd, name, member, create)

    def _write_node(
        self, dir_fd: int, name: str, path: str, member: tarfile.TarInfo, _: Any
    ) -> None:
        if member.isfifo():
            kind, device = stat.S_IFIFO, 0
        elif member.ischr():
            kind, device = stat.S_IFCHR, os.makedev(member.devmajor, member.devminor)
        else:
            kind, device = stat.S_IFBLK, os.makedev(member.devmajor, member.devminor)

        def create(temp: str) -> None:
            os.mknod(temp, kind | 0o600, device, dir_fd=dir_fd)

        self._install(dir_fd, name, member, create)

    def _install(
        self,
        dir_fd: int,
        name: str,
        member: tarfile.TarInfo,
        create: Callable[[str], None],
    ) -> None:
        """Create a symlink, fifo or device under a temporary name, then rename it."""
        temp = _temp_name()
        create(temp)
        try:
            self._set_metadata_at(temp, dir_fd, member)
            _replace(temp, name, dir_fd)
        except BaseException:
            _discard(temp, dir_fd)
            raise

    def _write_hardlink(
        self, dir_fd: int, name: str, path: str, member: tarfile.TarInfo, _: Any
    ) -> None:
        source = self._clean_link_target(member.linkname)
        try:
            with _walk(self.root_fd, source[:-1], create=False) as walk:
                source_path = _join(walk.path, source[-1])
                info = self._link_source_info(walk.fd, source[-1], member.linkname)
                if source_path == path:
                    raise _Reject(f"hardlink {member.linkname!r} points to itself")
                existing = _lstat(name, dir_fd)
                if existing is not None and _same_file(existing, info):
                    return
                temp = _temp_name()
                os.link(
                    source[-1],
                    temp,
                    src_dir_fd=walk.fd,
                    dst_dir_fd=dir_fd,
                    follow_symlinks=False,
                )
        except _Missing:
            raise _Reject(_missing_link_target(member.linkname)) from None
        try:
            _replace(temp, name, dir_fd)
        except BaseException:
            _discard(temp, dir_fd)
            raise

    def _clean_link_target(self, linkname: str) -> list[str]:
        # Hardlink targets are archive paths, relative to the root even when
        # they start with "/".
        parts = [part for part in linkname.split("/") if part not in ("", ".")]
        if not parts:
            raise _Reject("hardlink has an empty target")
        if ".." in parts:
            raise _Reject(
                f"hardlink target {linkname!r} contains '..'; "
                "it must name an earlier entry of the archive"
            )
        return parts

    def _link_source_info(
        self, dir_fd: int, name: str, linkname: str
    ) -> os.stat_result:
        info = _lstat(name, dir_fd)
        if info is None:
            raise _Reject(_missing_link_target(linkname))
        if not stat.S_ISREG(info.st_mode):
            kind = (
                "a symbolic link"
                if stat.S_ISLNK(info.st_mode)
                else "not a regular file"
            )
            raise _Reject(
                f"hardlink target {linkname!r} is {kind}; only regular files "
                "inside the root may be hardlinked"
            )
        return info

    # --- metadata ----------------------------------------------------------

    def _mode(self, member: tarfile.TarInfo) -> int:
        mode = member.mode & 0o7777
        if not self.options.same_owner:
            mode &= ~(stat.S_ISUID | stat.S_ISGID)
        return mode

    def _set_metadata_fd(self, fd: int, member: tarfile.TarInfo) -> None:
        """Set owner, mode and mtime on an open file or directory."""
        if self.options.same_owner:
            os.fchown(fd, member.uid, member.gid)
        # After fchown, because changing the owner clears setuid and setgid.
        os.fchmod(fd, self._mode(member))
        os.utime(fd, (member.mtime, member.mtime))

    def _set_metadata_at(self, name: str, dir_fd: int, member: tarfile.TarInfo) -> None:
        """Set owner, mode and mtime on a node that this process just created."""
        if self.options.same_owner:
            os.chown(name, member.uid, member.gid, dir_fd=dir_fd, follow_symlinks=False)
        if not member.issym():
            # Linux cannot chmod a path without following a final symlink, but
            # ``name`` is a fifo or device this process created a moment ago
            # under a random temporary name.
            os.chmod(name, self._mode(member), dir_fd=dir_fd)
        times = (member.mtime, member.mtime)
        os.utime(name, times, dir_fd=dir_fd, follow_symlinks=False)


def _depth(path: str) -> int:
    return path.count("/") + 1 if path else 0


def _self_and_ancestors(path: str) -> set[str]:
    parts = path.split("/") if path else []
    return {"/".join(parts[:end]) for end in range(len(parts) + 1)}


def _same_file(left: os.stat_result, right: os.stat_result) -> bool:
    return (left.st_dev, left.st_ino) == (right.st_dev, right.st_ino)


def _missing_link_target(linkname: str) -> str:
    return (
        f"hardlink target {linkname!r} not found; a hardlink must point to a "
        "regular file written earlier"
    )
