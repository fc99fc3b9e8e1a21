#!/usr/bin/env python3
"""Unpack an image whose one layer contains 20,000 files (about 300 MB): ocilab against tar and umoci.

The script generates a seeded folder of 20,000 files of about 15 KB each, in
nested directories with a few symlinks. Their content is random, text-like or
repetitive, so gzip compresses some of it. ocilab builds a one-layer image of
the folder (gzip layer) into an OCI layout under the ref name ``bench``.

- ocilab: ``ocilab image unpack -q LAYOUT:bench BUNDLE`` run in this process
  through ``ocilab.cli.main``, which verifies the layer's digest while it
  unpacks and writes BUNDLE/config.json.
- ``tar -xzf BLOB -C DIR``: GNU tar on the same layer blob, no verification.
- ``umoci unpack --image LAYOUT:bench BUNDLE``: umoci 0.4.7 as root, which
  verifies the blob and also writes an mtree manifest of the rootfs.

The output folder is removed, and the page cache written back with sync,
before every run, untimed.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import base_parser, compare, print_result, run_command  # noqa: E402

from ocilab.cli import main as ocilab_main  # noqa: E402
from ocilab.image import LayerBuilder, OCILayout, build_image  # noqa: E402

SEED = 20240601
REF = "bench"
_WORDS = (
    "layer manifest config index digest blob rootfs bundle runtime container "
    "image registry tag platform annotation descriptor whiteout opaque tar gzip"
).split()


def _text_pool(rng: random.Random, size: int) -> bytes:
    """Return ``size`` bytes of word-salad lines, which gzip shrinks to about a third."""
    lines = []
    total = 0
    while total < size:
        line = " ".join(rng.choices(_WORDS, k=rng.randint(4, 14))) + f" {rng.random()}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def _content(rng: random.Random, size: int, text: bytes, kind: int) -> bytes:
    if kind == 0:
        return rng.randbytes(size)
    if kind == 1:
        start = rng.randrange(len(text) - size)
        return text[start : start + size]
    record = rng.randbytes(64)
    return (record * (size // 64 + 1))[:size]


def make_tree(folder: Path, files: int, mean_size: int, seed: int = SEED) -> int:
    """Write a seeded tree of ``files`` files averaging ``mean_size`` bytes; return the bytes written.

    A third of the files are random bytes, a third text and a third one
    repeated 64-byte record. Files go 100 to a directory, two levels deep;
    one file in 10 has mode 0755. One symlink per 2,000 files (at least two)
    points at a file in another directory, and one symlink is absolute.
    """
    rng = random.Random(seed)
    text = _text_pool(rng, max(4 * mean_size, 1 << 22))
    folder.mkdir(parents=True)
    names: list[Path] = []
    total = 0
    for number in range(files):
        directory = folder / f"d{number // 1000:02d}" / f"s{number // 100 % 10:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"f{number:05d}.{('bin', 'txt', 'dat')[number % 3]}"
        size = rng.randint(mean_size // 3, mean_size * 5 // 3)
        path.write_bytes(_content(rng, size, text, number % 3))
        if number % 10 == 0:
            path.chmod(0o755)
        names.append(path)
        total += size
    for number in range(max(2, files // 2000)):
        target = rng.choice(names)
        link = folder / f"d00/link{number:02d}"
        link.symlink_to(Path("..") / target.relative_to(folder))
    (folder / "d00" / "absolute-link").symlink_to("/etc/hostname")
    return total


def build_layout(folder: Path, layout_path: Path) -> tuple[OCILayout, Path]:
    """Build a one-layer image of ``folder`` into a new layout; return it and the layer blob."""
    layer = LayerBuilder()
    layer.add_tree(folder)
    blob, diff_id = layer.build()
    image = build_image([(blob, diff_id)], container_config={"Cmd": ["/bin/sh"]})
    layout = OCILayout.create(layout_path)
    layout.add_image(image, ref_name=REF)
    return layout, layout.blob_path(blob.digest)


def ocilab_unpack(layout: Path, bundle: Path) -> None:
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        code = ocilab_main(["image", "unpack", "-q", f"{layout}:{REF}", str(bundle)])
    if code != 0:
        raise RuntimeError(f"ocilab image unpack exited with {code}: {quiet.getvalue()}")


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    args = parser.parse_args()
    runs = 1 if args.smoke else args.runs
    files, mean_size = (200, 10_000) if args.smoke else (20_000, 15_000)
    workdir = Path(tempfile.mkdtemp(prefix="bench-unpack-", dir=args.workdir))
    try:
        folder = workdir / "tree"
        total = make_tree(folder, files, mean_size)
        layout, blob = build_layout(folder, workdir / "layout")
        output = workdir / "out"

        def clean() -> None:
            shutil.rmtree(output, ignore_errors=True)
            # Flush the previous run's writes, so that no run pays for another's.
            os.sync()

        def tar() -> None:
            output.mkdir()
            run_command(["tar", "-xzf", str(blob), "-C", str(output)])

        def umoci() -> None:
            run_command(["umoci", "unpack", "--image", f"{layout.path}:{REF}", str(output)])

        measure = f"unpack an image with a {total / 1e6:.0f} MB layer of {files:,} files"
        notes = {
            "layer blob (bytes, gzip)": blob.stat().st_size,
            "files, bytes": f"{files:,}, {total:,}",
        }
        for peer_name, peer, target in (
            ("tar -xzf", tar, 1.2),
            ("umoci unpack", umoci, 1.0),
        ):
            result = compare(
                measure,
                lambda: ocilab_unpack(layout.path, output),
                peer_name,
                peer,
                runs=runs,
                target=target,
                before_each=clean,
            )
            result.notes.update(notes)
            print_result(result, args.json)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
