#!/usr/bin/env python3
"""Verify the sha256 digest of a 1 GiB layout blob: ocilab against openssl and sha256sum.

ocilab reads the blob as a user does: ``OCILayout.open_blob`` and reading to
the end, which checks the size and the digest against the descriptor. The
peers hash the same file: ``openssl dgst -sha256 FILE`` and ``sha256sum FILE``.
The blob is read from the page cache in every run after the warm-up.

The notes also report peak RSS twice: for a child process that verifies the
full blob, and for another that verifies a blob a quarter of its size. Equal
values show that memory does not grow with the blob.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import base_parser, compare, print_result, run_command  # noqa: E402

from ocilab.image import OCILayout  # noqa: E402
from ocilab.image.blobio import CHUNK_SIZE  # noqa: E402
from ocilab.image.models import Descriptor  # noqa: E402

MEDIA_TYPE = "application/octet-stream"
SEED = 20240601

# Run in a child process: verify one layout blob and exit 0, or raise.
_VERIFY_CHILD = """
import sys
from ocilab.image import OCILayout
from ocilab.image.blobio import CHUNK_SIZE
from ocilab.image.models import Descriptor

layout = OCILayout.open(sys.argv[1])
descriptor = Descriptor(sys.argv[2], sys.argv[3], int(sys.argv[4]))
with layout.open_blob(descriptor) as reader:
    while reader.read(CHUNK_SIZE):
        pass
    assert reader.verified
"""


def write_blob(layout: OCILayout, size: int, seed: int) -> Descriptor:
    """Write ``size`` seeded random bytes straight into the layout; return their descriptor."""
    rng = random.Random(seed)
    hasher = hashlib.sha256()
    temporary = layout.path / "blobs" / "sha256" / ".generating"
    temporary.parent.mkdir(parents=True, exist_ok=True)
    with temporary.open("wb") as handle:
        remaining = size
        while remaining:
            chunk = rng.randbytes(min(remaining, 1 << 20))
            hasher.update(chunk)
            handle.write(chunk)
            remaining -= len(chunk)
    digest = f"sha256:{hasher.hexdigest()}"
    temporary.rename(layout.blob_path(digest))
    return Descriptor(MEDIA_TYPE, digest, size)


def verify(layout: OCILayout, descriptor: Descriptor) -> None:
    with layout.open_blob(descriptor) as reader:
        while reader.read(CHUNK_SIZE):
            pass
        if not reader.verified:
            raise RuntimeError(f"{descriptor.digest} was read but not verified")


def child_peak_rss(layout: OCILayout, descriptor: Descriptor) -> int:
    """Verify the blob in a new Python process and return its peak RSS in KiB.

    os.wait4 returns the rusage of that one child, the same ru_maxrss that
    RUSAGE_CHILDREN reports, without the maximum over earlier children.
    """
    argv = [
        sys.executable,
        "-c",
        _VERIFY_CHILD,
        str(layout.path),
        descriptor.media_type,
        descriptor.digest,
        str(descriptor.size),
    ]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE)
    stderr = process.stderr.read() if process.stderr is not None else b""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"verifying in a child failed: {stderr.decode()[-2000:]}")
    return usage.ru_maxrss


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    args = parser.parse_args()
    runs = 1 if args.smoke else args.runs
    size = (4 << 20) if args.smoke else (1 << 30)
    label = "4 MiB" if args.smoke else "1 GiB"
    workdir = Path(tempfile.mkdtemp(prefix="bench-digest-", dir=args.workdir))
    try:
        layout = OCILayout.create(workdir / "layout")
        full = write_blob(layout, size, SEED)
        quarter = write_blob(layout, size // 4, SEED + 1)
        path = str(layout.blob_path(full.digest))

        openssl = compare(
            f"verify the digest of a {label} blob",
            lambda: verify(layout, full),
            "openssl dgst -sha256",
            lambda: run_command(["openssl", "dgst", "-sha256", path]),
            runs=runs,
            target=1.05,
        )
        sha256sum = compare(
            f"verify the digest of a {label} blob",
            lambda: verify(layout, full),
            "sha256sum",
            lambda: run_command(["sha256sum", path]),
            runs=runs,
        )
        full_rss = child_peak_rss(layout, full)
        quarter_rss = child_peak_rss(layout, quarter)
        openssl.notes["peak RSS verifying the full blob (KiB)"] = full_rss
        openssl.notes[f"peak RSS verifying a quarter of it, {quarter.size} bytes (KiB)"] = (
            quarter_rss
        )
        print_result(openssl, args.json)
        print_result(sha256sum, args.json)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
