"""Read layer tars: open them whatever their compression, list and compare them.

A layer is a tar archive, plain, gzip-compressed or zstd-compressed. The
compression is detected from the first bytes of the blob, never from its media
type, because registries and tools mislabel blobs. zstd needs the optional
``zstandard`` package.

Whiteouts follow the OCI image spec (layer.md, "Whiteouts"): an entry
``dir/.wh.NAME`` deletes ``dir/NAME`` of lower layers, and an entry named
exactly ``dir/.wh..wh..opq`` makes ``dir`` opaque, which hides everything that
lower layers put in ``dir``. Any other name that starts with ``.wh.`` is a
whiteout of the rest of the name, so ``.wh..wh..opqx`` deletes ``.wh..opqx``.
Because no image may contain a name that starts with ``.wh.``, such a whiteout
deletes nothing.

Paths are normalised as the archive stores them: no leading ``/`` or ``./``,
no empty or ``.`` components and no trailing ``/``. The root directory is
``"."``. ``..`` components are kept, so that a listing shows what the archive
really contains.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import queue
import tarfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import IO, Any

import pandas as pd

from ..errors import ImageError
from . import mediatypes

logger = logging.getLogger(__name__)

__all__ = [
    "LAYER_READ_ERRORS",
    "OPAQUE_WHITEOUT",
    "WHITEOUT_PREFIX",
    "LayerSource",
    "diff_layers",
    "entry_type",
    "iter_members",
    "list_layer",
    "normalise_path",
    "open_layer",
    "parse_whiteout",
]

LayerSource = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes]
"""A layer blob: a file path, the blob's bytes, or a binary file open for reading."""

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"

# Errors that reading a damaged layer raises (Python 3.11): tarfile for a bad
# header or a short member, gzip for a bad header (BadGzipFile) or a short
# stream (EOFError), and zlib for corrupt deflate data.
LAYER_READ_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
)

_GZIP_MAGIC = b"\x1f\x8b"
# Chunks of 1 MiB that the gzip read-ahead thread may hold before the reader
# takes them: the memory bound of that thread.
_READ_AHEAD_CHUNKS = 4
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_OTHER_MAGIC = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}

_TYPE_NAMES = (
    ("file", tarfile.TarInfo.isreg),
    ("dir", tarfile.TarInfo.isdir),
    ("symlink", tarfile.TarInfo.issym),
    ("hardlink", tarfile.TarInfo.islnk),
    ("char", tarfile.TarInfo.ischr),
    ("block", tarfile.TarInfo.isblk),
    ("fifo", tarfile.TarInfo.isfifo),
)

_LIST_COLUMNS = [
    "path",
    "type",
    "size",
    "mode",
    "mode_octal",
    "uid",
    "gid",
    "uname",
    "gname",
    "mtime",
    "link_target",
    "devmajor",
    "devminor",
    "digest",
    "whiteout",
    "whiteout_target",
    "name",
]

_DIFF_COLUMNS = ["path", "change", "lower_type", "upper_type", "changed", "whiteout"]

# Fields that make an entry "modified" in diff_layers. mtime is compared only
# with compare_mtime=True, because rebuilding a layer changes every mtime.
_COMPARED_FIELDS = (
    "type",
    "size",
    "mode",
    "uid",
    "gid",
    "digest",
    "link_target",
    "devmajor",
    "devminor",
)


# --- opening ---------------------------------------------------------------


@contextmanager
def open_layer(
    source: LayerSource, *, name: str = "layer"
) -> Iterator[tarfile.TarFile]:
    """Open a layer blob as a streaming tarfile.TarFile (mode ``r|``).

    The compression is detected from the magic bytes: gzip (1f 8b), zstd
    (28 b5 2f fd, only with the ``zstandard`` package installed) or none.
    Members must be read in archive order; use iter_members() to also catch
    a tar that ends without its end-of-archive blocks.

    ``name`` labels the layer in error messages, for example ``"layer 2"``.
    Read errors raised inside the ``with`` block (LAYER_READ_ERRORS) are
    re-raised as ImageError with that label. On a normal exit the rest of the
    blob is read, so that a gzip checksum error at the end is not missed.
    """
    with ExitStack() as stack:
        stream = _open_source(source, stack)
        try:
            stream = _decompress(stream, name)
            if isinstance(stream, _ReadAheadReader):
                stack.callback(stream.close)
            tar = stack.enter_context(tarfile.open(fileobj=stream, mode="r|"))
            yield tar
            _drain(stream)
        except _read_errors() as error:
            raise ImageError(f"{name}: invalid or truncated layer: {error}") from error


def iter_members(
    tar: tarfile.TarFile, *, name: str = "layer"
) -> Iterator[tarfile.TarInfo]:
    """Yield the members of a tar opened by open_layer(), in archive order.

    Raises ImageError when the archive stops at a header boundary without the
    zero block that ends a tar, which tarfile (Python 3.11) takes for a normal
    end, so that a layer truncated between two members is not read as complete.
    """
    count = 0
    for member in tar:
        count += 1
        yield member
    # tarfile reads one whole block when it meets the end-of-archive marker,
    # and less than a block when the data simply stops.
    if tar.fileobj is not None and tar.fileobj.tell() < tar.offset + tarfile.BLOCKSIZE:
        raise ImageError(
            f"{name}: truncated layer: the tar ends without its end-of-archive "
            f"blocks (entries read: {count})"
        )


def _open_source(source: LayerSource, stack: ExitStack) -> IO[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        return stack.enter_context(open(source, "rb"))
    if hasattr(source, "read"):
        return source
    raise TypeError(
        f"expected a path, bytes or a binary file for a layer, got {type(source).__name__}"
    )


def _decompress(stream: IO[bytes], name: str) -> IO[bytes]:
    magic, stream = _peek(stream, 6)
    if magic.startswith(_GZIP_MAGIC):
        return _ReadAheadReader(gzip.GzipFile(fileobj=stream, mode="rb"))
    if magic.startswith(_ZSTD_MAGIC):
        return _zstd_reader(stream, name)
    for prefix, compression in _OTHER_MAGIC.items():
        if magic.startswith(prefix):
            raise ImageError(
                f"{name}: the blob is {compression}-compressed, which no OCI layer "
                "media type allows; expected a tar, tar+gzip or tar+zstd blob"
            )
    return stream


def _zstd_reader(stream: IO[bytes], name: str) -> IO[bytes]:
    zstandard = _import_zstandard()
    if zstandard is None:
        raise ImageError(
            f"{name}: the blob is zstd-compressed ({mediatypes.OCI_LAYER_TAR_ZSTD}) "
            "and the zstandard package is not installed; install it with "
            "`pip install zstandard` to read this layer"
        )
    # NOTE: this branch is not run by the tests, because zstandard is not a
    # dependency of ocilab. read_across_frames needs zstandard 0.15 or later.
    decompressor = zstandard.ZstdDecompressor()
    return decompressor.stream_reader(stream, read_across_frames=True)


def _import_zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


def _read_errors() -> tuple[type[BaseException], ...]:
    zstandard = _import_zstandard()
    if zstandard is None:
        return LAYER_READ_ERRORS
    return (*LAYER_READ_ERRORS, zstandard.ZstdError)


def _peek(stream: IO[bytes], count: int) -> tuple[bytes, IO[bytes]]:
    """Read the first bytes of a stream and return them with a stream that starts over."""
    if getattr(stream, "seekable", lambda: False)():
        start = stream.tell()
        magic = stream.read(count)
        stream.seek(start)
        return magic, stream
    magic = stream.read(count)
    return magic, io.BufferedReader(_PrefixedReader(magic, stream))


class _PrefixedReader(io.RawIOBase):
    """A raw stream that returns ``prefix`` and then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            count = min(len(view), len(self._prefix))
            view[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


# How long close() waits for the read-ahead thread's current read.
_CLOSE_WAIT = 5.0


class _ReadAheadReader(io.RawIOBase):
    """Read a stream in a background thread, up to _READ_AHEAD_CHUNKS chunks ahead.

    It wraps the gzip reader, so that inflating, the CRC check and the
    VerifyingReader's hash below it run while the caller parses tar headers and
    writes files. zlib, zlib.crc32, hashlib and file reads release the GIL on
    large buffers, so on two or more cores the two threads run in parallel.
    An exception in the thread (a corrupt or truncated stream, a digest
    mismatch) is raised by the read that reaches it, in stream order.
    ``close`` stops the thread and waits for it (see close), but does not
    close ``source``.
    """

    def __init__(self, source: IO[bytes], chunk_size: int = 1 << 20) -> None:
        super().__init__()
        self._source = source
        self._chunk_size = chunk_size
        self._chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(
            _READ_AHEAD_CHUNKS
        )
        self._stopping = threading.Event()
        self._pending = memoryview(b"")
        self._done = False
        # Raised again by every later read, so a caller that catches it and
        # reads on gets the error, not an empty read that looks like the end.
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._produce, name="ocilab-layer-read-ahead", daemon=True
        )
        self._thread.start()

    def readable(self) -> bool:
        return True

    def _produce(self) -> None:
        item: bytes | BaseException | None
        try:
            while not self._stopping.is_set():
                chunk = self._source.read(self._chunk_size)
                if not chunk:
                    break
                self._put(chunk)
            item = None
        except BaseException as error:  # handed to the reading thread
            item = error
        self._put(item)

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._stopping.is_set():
            try:
                self._chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self._pending:
            if self._error is not None:
                raise self._error
            if self._done or not view:
                return 0
            item = self._chunks.get()
            if item is None:
                self._done = True
                return 0
            if isinstance(item, BaseException):
                self._done = True
                self._error = item
                raise item
            self._pending = memoryview(item)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        # Whole chunks are handed on without a copy when the caller asks for
        # at least a chunk, which is the common case of tarfile's reads.
        if self._error is not None and not self._pending:
            raise self._error
        if not self._pending and size >= self._chunk_size and not self._done:
            item = self._chunks.get()
            if item is None:
                self._done = True
                return b""
            if isinstance(item, BaseException):
                self._done = True
                self._error = item
                raise item
            if len(item) <= size:
                return item
            self._pending = memoryview(item)
        return super().read(size)

    def close(self) -> None:
        """Stop the thread, waiting at most _CLOSE_WAIT seconds for its current read.

        The thread checks for the stop between reads, so a source stalled in
        one read would otherwise hold close() for as long as it stalls. A
        thread still reading then is a daemon and ends with that read.
        """
        if not self.closed:
            self._stopping.set()
            self._thread.join(_CLOSE_WAIT)
            if self._thread.is_alive():
                logger.warning(
                    "layer read-ahead thread still in a read after %.0f s; "
                    "leaving it to end with that read",
                    _CLOSE_WAIT,
                )
        super().close()


def _drain(stream: IO[bytes]) -> None:
    while stream.read(1 << 20):
        pass


# --- entries ---------------------------------------------------------------


def normalise_path(name: str) -> str:
    """Return an archive member name without leading ``/``, ``./`` or empty parts.

    The root directory is ``"."``. ``..`` components are kept as they are.
    """
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return "/".join(parts) or "."


def entry_type(member: tarfile.TarInfo) -> str:
    """Return file, dir, symlink, hardlink, char, block, fifo or other."""
    for type_name, test in _TYPE_NAMES:
        if test(member):
            return type_name
    return "other"


def parse_whiteout(path: str) -> tuple[str, str | None] | None:
    """Classify a normalised path as a whiteout.

    Returns None for an ordinary entry, ``("opaque", dir)`` for an opaque
    marker, ``("file", hidden path)`` for ``dir/.wh.NAME``, and
    ``("invalid", None)`` when NAME is empty, ``.`` or ``..``.
    """
    directory, _, base = path.rpartition("/")
    if not base.startswith(WHITEOUT_PREFIX):
        return None
    if base == OPAQUE_WHITEOUT:
        return "opaque", directory or "."
    hidden = base[len(WHITEOUT_PREFIX) :]
    if hidden in ("", ".", ".."):
        return "invalid", None
    return "file", f"{directory}/{hidden}" if directory else hidden


def _describe(member: tarfile.TarInfo, tar: tarfile.TarFile) -> dict[str, Any]:
    path = normalise_path(member.name)
    kind = entry_type(member)
    whiteout = parse_whiteout(path)
    is_device = kind in ("char", "block")
    return {
        "path": path,
        "type": kind,
        "size": member.size,
        "mode": member.mode,
        "mode_octal": f"0o{member.mode:o}",
        "uid": member.uid,
        "gid": member.gid,
        "uname": member.uname,
        "gname": member.gname,
        "mtime": member.mtime,
        "link_target": member.linkname if kind in ("symlink", "hardlink") else None,
        "devmajor": member.devmajor if is_device else None,
        "devminor": member.devminor if is_device else None,
        "digest": _content_digest(member, tar) if kind == "file" else None,
        "whiteout": whiteout[0] if whiteout else None,
        "whiteout_target": whiteout[1] if whiteout else None,
        "name": member.name,
    }


def _content_digest(member: tarfile.TarInfo, tar: tarfile.TarFile) -> str:
    hasher = hashlib.sha256()
    data = tar.extractfile(member)
    if data is not None:
        while chunk := data.read(1 << 20):
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


# --- listing and diff ------------------------------------------------------


def list_layer(source: LayerSource, *, name: str = "layer") -> pd.DataFrame:
    """List every entry of a layer, in archive order, one row per tar member.

    Columns:

    - path: the normalised member name; type: file, dir, symlink, hardlink,
      char, block, fifo or other.
    - size, mode (int), mode_octal ("0o755"), uid, gid, uname, gname, and
      mtime as a UTC pandas Timestamp.
    - link_target for symlinks and hardlinks, devmajor and devminor for
      devices, and digest, the sha256 of a regular file's content.
    - whiteout: missing, "file", "opaque" or "invalid"; whiteout_target: the
      hidden path, or the directory an opaque marker empties.
    - name: the member name as stored in the archive.

    Missing values are None or NaN, as pandas stores them, and an mtime that
    pandas cannot represent is NaT. Raises ImageError for a damaged layer.
    """
    rows = _layer_rows(source, name)
    frame = pd.DataFrame(rows, columns=_LIST_COLUMNS)
    # An mtime that pandas cannot represent (a PAX header can carry 1e300 or
    # nan) becomes NaT instead of failing the whole listing.
    frame["mtime"] = pd.to_datetime(frame["mtime"], unit="s", utc=True, errors="coerce")
    for column in ("devmajor", "devminor"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _layer_rows(source: LayerSource, name: str) -> list[dict[str, Any]]:
    with open_layer(source, name=name) as tar:
        return [_describe(member, tar) for member in iter_members(tar, name=name)]


def diff_layers(
    lower: LayerSource, upper: LayerSource, *, compare_mtime: bool = False
) -> pd.DataFrame:
    """Compare two layer tars as changesets: what applying ``upper`` does to ``lower``.

    Only the two archives are compared, path by path as stored: parent
    symlinks are not resolved and no other layer is taken into account. When
    a tar has duplicate entries, the last one counts. One row per change:

    - ``added``: upper has a path that lower does not have.
    - ``modified``: both have the path and a field differs. ``changed`` names
      the fields, from type, size, mode, uid, gid, digest, link_target,
      devmajor and devminor, plus mtime when ``compare_mtime`` is true.
    - ``removed``: a whiteout or an opaque marker of upper hides a path of
      lower; ``whiteout`` names the upper entry that hides it. A whiteout of a
      path that lower does not have gives a row with no lower_type.
    - ``opaque``: upper makes a directory opaque.

    Paths whose compared fields are equal in both are left out. Uname and
    gname are not compared, because runtimes use the numeric ids.
    """
    lower_rows = {
        row["path"]: row
        for row in _layer_rows(lower, "lower layer")
        if row["whiteout"] is None
    }
    upper_rows = {row["path"]: row for row in _layer_rows(upper, "upper layer")}
    fields = _COMPARED_FIELDS + (("mtime",) if compare_mtime else ())
    changes: list[dict[str, Any]] = []
    for path, row in upper_rows.items():
        if row["whiteout"] == "file":
            changes += _removed(lower_rows, upper_rows, row["whiteout_target"], path)
        elif row["whiteout"] == "opaque":
            directory = row["whiteout_target"]
            changes.append(_change(directory, "opaque", None, "dir", whiteout=path))
            changes += _opaque_removed(lower_rows, upper_rows, directory, path)
        elif row["whiteout"] is None:
            changes += _compared(lower_rows.get(path), row, fields)
    frame = pd.DataFrame(changes, columns=_DIFF_COLUMNS)
    return frame.sort_values(["path", "change"], ignore_index=True)


def _change(
    path: str,
    change: str,
    lower_type: str | None,
    upper_type: str | None,
    *,
    changed: str = "",
    whiteout: str | None = None,
) -> dict[str, Any]:
    return {
        "path": path,
        "change": change,
        "lower_type": lower_type,
        "upper_type": upper_type,
        "changed": changed,
        "whiteout": whiteout,
    }


def _compared(
    lower: dict[str, Any] | None, upper: dict[str, Any], fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    if lower is None:
        return [_change(upper["path"], "added", None, upper["type"])]
    differing = [field for field in fields if lower[field] != upper[field]]
    if not differing:
        return []
    return [
        _change(
            upper["path"],
            "modified",
            lower["type"],
            upper["type"],
            changed=",".join(differing),
        )
    ]


def _is_below(path: str, directory: str) -> bool:
    return directory == "." or path.startswith(directory + "/")


def _removed(
    lower: dict[str, dict[str, Any]],
    upper: dict[str, dict[str, Any]],
    target: str,
    whiteout: str,
) -> list[dict[str, Any]]:
    hidden = [
        path
        for path in lower
        if (path == target or _is_below(path, target)) and path not in upper
    ]
    if not hidden:
        return [_change(target, "removed", None, None, whiteout=whiteout)]
    return [
        _change(path, "removed", lower[path]["type"], None, whiteout=whiteout)
        for path in hidden
    ]


def _opaque_removed(
    lower: dict[str, dict[str, Any]],
    upper: dict[str, dict[str, Any]],
    directory: str,
    marker: str,
) -> list[dict[str, Any]]:
    return [
        _change(path, "removed", lower[path]["type"], None, whiteout=marker)
        for path in lower
        if _is_below(path, directory) and path != directory and path not in upper
    ]
