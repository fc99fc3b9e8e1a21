"""Blob input and output: verified reads, hashed copies and atomic writes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..errors import DigestMismatchError, ImageError
from .digest import parse_digest
from .models import Descriptor

__all__ = [
    "CHUNK_SIZE",
    "MAX_JSON_BYTES",
    "VerifyingReader",
    "copy",
    "json_bytes",
    "read_file",
    "temporary_file",
    "write_atomic",
]

CHUNK_SIZE = 1 << 20
# CNCF distribution rejects manifest bodies over 4 MiB (maxManifestBodySize).
MAX_JSON_BYTES = 4 << 20


class VerifyingReader(io.RawIOBase):
    """A binary stream that checks its content against a digest and size as it is read.

    ``read`` raises DigestMismatchError as soon as more than ``size`` bytes
    arrive, and at the end of the stream when fewer arrived or the hash
    differs. Nothing is buffered here, because each read requests at most the
    caller's read size from the source, and at most one byte past ``size``.
    """

    def __init__(self, source: IO[bytes], digest: str, size: int) -> None:
        super().__init__()
        algorithm, _ = parse_digest(digest)
        if size < 0:
            raise ImageError(f"descriptor of {digest} has no size: a size is required")
        self._source = source
        self._digest = digest
        self._size = size
        self._hasher = hashlib.new(algorithm)
        self._count = 0
        self.verified = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left for -1) and hash them.

        Overridden because io.RawIOBase.read would read into a new bytearray
        and then copy it into bytes, two extra copies of every chunk.
        """
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        # Asking for one byte past the size detects content that is too long.
        data = self._source.read(min(size, self._size - self._count + 1))
        self._account(data)
        return data

    def readall(self) -> bytes:
        chunks = []
        while chunk := self.read(CHUNK_SIZE):
            chunks.append(chunk)
        return b"".join(chunks)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if not view:
            return 0
        limit = min(len(view), self._size - self._count + 1)
        readinto = getattr(self._source, "readinto", None)
        if readinto is None:
            data = self._source.read(limit)
            view[: len(data)] = data
            count = len(data)
        else:
            count = readinto(view[:limit]) or 0
        self._account(view[:count])
        return count

    def _account(self, data: bytes | memoryview) -> None:
        """Count and hash a chunk that the source returned, or finish at the end."""
        self._count += len(data)
        if self._count > self._size:
            raise DigestMismatchError(
                f"size mismatch for {self._digest}: the descriptor gives {self._size} "
                f"bytes, content has more (stopped reading at {self._count})",
                expected=str(self._size),
                actual=str(self._count),
            )
        if not data:
            self._finish()
            return
        self._hasher.update(data)

    def _finish(self) -> None:
        if self._count < self._size:
            raise DigestMismatchError(
                f"size mismatch for {self._digest}: the descriptor gives {self._size} "
                f"bytes, content has {self._count}",
                expected=str(self._size),
                actual=str(self._count),
            )
        actual = f"{self._hasher.name}:{self._hasher.hexdigest()}"
        if actual != self._digest:
            raise DigestMismatchError(
                f"digest mismatch: the descriptor gives {self._digest}, "
                f"content hashes to {actual}",
                expected=self._digest,
                actual=actual,
            )
        self.verified = True

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


def copy(
    source: IO[bytes], target: IO[bytes], algorithm: str, expected: Descriptor | None
) -> tuple[str, int]:
    """Copy in CHUNK_SIZE pieces and return (digest, size), checked against expected."""
    if expected is not None:
        reader = VerifyingReader(source, expected.digest, expected.size)
        while chunk := reader.read(CHUNK_SIZE):
            target.write(chunk)
        return expected.digest, expected.size
    hasher = hashlib.new(algorithm)
    size = 0
    while chunk := source.read(CHUNK_SIZE):
        hasher.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return f"{algorithm}:{hasher.hexdigest()}", size


def read_file(path: Path, max_bytes: int = MAX_JSON_BYTES) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise ImageError(f"{path} is {size} bytes, more than the {max_bytes} allowed")
    return path.read_bytes()


def json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode()


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write through a temporary file and a rename, so readers never see half a file.

    ``data`` is bytes or an iterable of chunks. An exception from the
    iterable (a digest mismatch found at its end, say) removes the temporary
    file, and nothing is renamed.
    """
    file_descriptor, temporary = temporary_file(path.parent)
    try:
        with os.fdopen(file_descriptor, "wb") as handle:
            for chunk in [data] if isinstance(data, bytes | bytearray) else data:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def temporary_file(folder: Path) -> tuple[int, str]:
    """Create a hidden temporary file with mode 0644 in place of mkstemp's 0600."""
    file_descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    os.fchmod(file_descriptor, 0o644)
    return file_descriptor, temporary
