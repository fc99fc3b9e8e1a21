#!/usr/bin/env python3
"""Build a one-layer image from a folder of 20,000 files (about 300 MB): ocilab against umoci.

The folder is the one bench_unpack.py generates (seeded; random, text-like
and repetitive files in nested directories, a few symlinks).

- ocilab: ``ocilab image build FOLDER LAYOUT:bench --prefix data`` run in this
  process through ``ocilab.cli.main``: a gzip layer of the folder under /data,
  the config and the manifest, written into a new OCI layout.
- umoci 0.4.7: ``umoci insert --image LAYOUT:base FOLDER /data`` on a copy of a
  layout made once, untimed, by ``umoci init`` and ``umoci new`` (an image with
  no layers). It also writes one gzip layer with the folder under /data, a new
  config and manifest, and moves the tag.

``umoci insert`` is the fair peer: like ocilab it turns a host folder into a
layer without unpacking anything first. ``umoci repack`` would need an
unpacked bundle and compares it against its mtree manifest, work that ocilab's
build does not do. Both outputs are removed before every run, untimed.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import base_parser, compare, print_result, run_command  # noqa: E402
from bench_unpack import make_tree  # noqa: E402

from ocilab.cli import main as ocilab_main  # noqa: E402
from ocilab.image import OCILayout  # noqa: E402

REF = "bench"


def ocilab_build(folder: Path, layout: Path) -> None:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = ocilab_main(
            ["image", "build", str(folder), f"{layout}:{REF}", "--prefix", "data"]
        )
    if code != 0:
        raise RuntimeError(f"ocilab image build exited with {code}: {output.getvalue()}")


def layer_digests(layout: Path, ref: str) -> list[str]:
    image = OCILayout.open(layout).images(ref_name=ref)[0]
    return [layer.digest for layer in image.manifest.layers]


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    args = parser.parse_args()
    runs = 1 if args.smoke else args.runs
    files, mean_size = (200, 10_000) if args.smoke else (20_000, 15_000)
    workdir = Path(tempfile.mkdtemp(prefix="bench-build-", dir=args.workdir))
    try:
        folder = workdir / "tree"
        total = make_tree(folder, files, mean_size)
        template = workdir / "umoci-template"
        run_command(["umoci", "init", "--layout", str(template)])
        run_command(["umoci", "new", "--image", f"{template}:base"])
        ours = workdir / "ocilab-layout"
        theirs = workdir / "umoci-layout"

        def clean() -> None:
            shutil.rmtree(ours, ignore_errors=True)
            shutil.rmtree(theirs, ignore_errors=True)
            shutil.copytree(template, theirs, symlinks=True)

        def umoci() -> None:
            run_command(["umoci", "insert", "--image", f"{theirs}:base", str(folder), "/data"])

        result = compare(
            f"build an image from a folder of {files:,} files ({total / 1e6:.0f} MB)",
            lambda: ocilab_build(folder, ours),
            "umoci insert",
            umoci,
            runs=runs,
            target=1.0,
            before_each=clean,
        )
        # clean() ran before umoci's last run, so only umoci's layout is left.
        # Two more ocilab builds check that the same folder gives the same layer.
        ocilab_build(folder, workdir / "first")
        ocilab_build(folder, workdir / "again")
        first = layer_digests(workdir / "first", REF)
        result.notes["same folder, same layer digest"] = first == layer_digests(
            workdir / "again", REF
        )
        ocilab_layer = OCILayout.open(workdir / "first").blob_path(first[0])
        umoci_layer = OCILayout.open(theirs).blob_path(layer_digests(theirs, "base")[-1])
        result.notes["layer bytes (ocilab, umoci)"] = (
            f"{ocilab_layer.stat().st_size:,}, {umoci_layer.stat().st_size:,}"
        )
        print_result(result, args.json)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
