"""Content digests as the OCI image spec defines them: ``algorithm:encoded``.

Grammar (image-spec descriptor.md)::

    digest    ::= algorithm ":" encoded
    algorithm ::= component (separator component)*
    component ::= [a-z0-9]+
    separator ::= [+._-]
    encoded   ::= [a-zA-Z0-9=_-]+

sha256 and sha512 are the registered algorithms, and their encoded part is
lowercase hex of a fixed length. Other algorithms that fit the grammar are
reported as unsupported, never as malformed.
"""

from __future__ import annotations

import hashlib
import re
from typing import IO

from ..errors import DigestMismatchError, ImageError

__all__ = [
    "DIGEST_GRAMMAR",
    "REGISTERED_ALGORITHMS",
    "digest_bytes",
    "digest_stream",
    "parse_digest",
    "verify_bytes",
]

# The image spec's digest grammar, and each registered algorithm's hex length.
DIGEST_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
REGISTERED_ALGORITHMS = {"sha256": 64, "sha512": 128}


def parse_digest(digest: str) -> tuple[str, str]:
    """Split a digest into (algorithm, encoded) after a strict check.

    Raises ImageError for a malformed digest or an unregistered algorithm.
    The digest is never case-folded: uppercase hex is malformed.
    """
    if not isinstance(digest, str) or not DIGEST_GRAMMAR.fullmatch(digest):
        raise ImageError(
            f"invalid digest {digest!r}: expected algorithm:encoded, "
            "for example sha256: followed by 64 lowercase hex digits"
        )
    algorithm, encoded = digest.split(":", 1)
    length = REGISTERED_ALGORITHMS.get(algorithm)
    if length is None:
        raise ImageError(
            f"unsupported digest algorithm {algorithm!r} in {digest!r}: "
            "ocilab verifies sha256 and sha512"
        )
    if len(encoded) != length or not re.fullmatch(r"[0-9a-f]+", encoded):
        raise ImageError(
            f"invalid digest {digest!r}: {algorithm} needs {length} lowercase hex digits"
        )
    return algorithm, encoded


def digest_bytes(data: bytes, algorithm: str = "sha256") -> str:
    """Return the digest of data, for example ``sha256:2cf2…``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def digest_stream(stream: IO[bytes], algorithm: str = "sha256") -> tuple[str, int]:
    """Hash a binary stream in 1 MiB chunks; return (digest, size in bytes)."""
    hasher = hashlib.new(algorithm)
    size = 0
    while chunk := stream.read(1 << 20):
        hasher.update(chunk)
        size += len(chunk)
    return f"{algorithm}:{hasher.hexdigest()}", size


def verify_bytes(data: bytes, digest: str, size: int | None = None) -> None:
    """Check data against a descriptor's digest and size.

    Raises ImageError for an invalid digest and DigestMismatchError when the
    size or the hash differs. The size is compared first, because it is cheap.
    """
    algorithm, _ = parse_digest(digest)
    if size is not None and len(data) != size:
        raise DigestMismatchError(
            f"size mismatch for {digest}: the descriptor gives {size} bytes, "
            f"content has {len(data)}",
            expected=str(size),
            actual=str(len(data)),
        )
    actual = digest_bytes(data, algorithm)
    if actual != digest:
        raise DigestMismatchError(
            f"digest mismatch: the descriptor gives {digest}, content hashes to {actual}",
            expected=digest,
            actual=actual,
        )
