"""Push and pull a 200 MB image to and from the lab's registry: ocilab copy_image against skopeo.

The image (four layers of seeded random and mixed content, about 200 MB
compressed; 2 MB with --smoke) is built with ocilab into an OCI layout. A lab
of its own provides the registry (docker-registry on 127.0.0.1).

Every run transfers every blob. Each push goes to a repository name used only
once, and each pull writes a new layout. skopeo keeps a blob info cache
(/var/lib/containers/cache/blob-info-cache-v1.boltdb for root) that would let
it mount blobs from an earlier run's repository instead of uploading them.
This script leaves the host's cache alone: skopeo runs in a private mount
namespace with an empty tmpfs over the cache folder. ocilab mounts only when
both ends are repositories of the same registry, never from a layout.
"""

from __future__ import annotations

import filecmp
import itertools
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import base_parser, compare, print_result, run_command  # noqa: E402

from ocilab.distribution import copy_image  # noqa: E402
from ocilab.image import OCILayout  # noqa: E402
from ocilab.image.build import LayerBuilder, build_image  # noqa: E402
from ocilab.lab import Lab  # noqa: E402

TAG = "bench"
SEED = 20240601
FULL_BYTES = 200 << 20
SMOKE_BYTES = 2 << 20
LAYERS = 4
CACHE_DIR = Path("/var/lib/containers/cache")
# skopeo runs in a private mount namespace where an empty tmpfs hides the
# host's blob info cache. Mounting needs an existing folder, so the tmpfs
# covers the nearest folder of the cache path that exists.
_SKOPEO_IN_NAMESPACE = (
    'mount -t tmpfs -o size=16m ocilab-bench "$1" && shift && exec skopeo "$@"'
)


def build_layout(path: Path, total_bytes: int) -> OCILayout:
    """Write a seeded image of about total_bytes (compressed) into a new layout.

    Three layers hold random bytes, which gzip cannot shrink. The fourth is
    mixed: half random, half repeated text that compresses well.
    """
    generator = random.Random(SEED)
    # The text half of the last layer compresses to almost nothing.
    per_layer = int(total_bytes / (LAYERS - 0.5))
    layers = []
    for index in range(LAYERS):
        layer = LayerBuilder()
        if index < LAYERS - 1:
            layer.add_file(f"data/random-{index}.bin", generator.randbytes(per_layer))
        else:
            layer.add_file("data/mixed-random.bin", generator.randbytes(per_layer // 2))
            line = b"ocilab registry benchmark: text that compresses well\n"
            layer.add_file("data/mixed-text.txt", line * (per_layer * 4 // len(line)))
        layers.append(layer.build())
    image = build_image(layers, container_config={"Cmd": ["/bin/true"]})
    layout = OCILayout.create(path)
    layout.add_image(image, ref_name=TAG)
    return layout


def blob_bytes(layout: Path) -> int:
    return sum(
        path.stat().st_size for path in (layout / "blobs").rglob("*") if path.is_file()
    )


def check_same_blobs(source: Path, copy: Path) -> None:
    """Raise unless copy has exactly the source layout's blob files, byte for byte."""
    source_blobs = sorted(
        p.relative_to(source) for p in (source / "blobs").rglob("*") if p.is_file()
    )
    copy_blobs = sorted(
        p.relative_to(copy) for p in (copy / "blobs").rglob("*") if p.is_file()
    )
    if source_blobs != copy_blobs:
        raise RuntimeError(
            f"pulled layout {copy} has blobs {copy_blobs}, the source has {source_blobs}"
        )
    for relative in source_blobs:
        if not filecmp.cmp(source / relative, copy / relative, shallow=False):
            raise RuntimeError(f"blob {relative} of {copy} differs from the source's")


def _cache_mount_point() -> Path:
    for folder in (CACHE_DIR, *CACHE_DIR.parents):
        if folder.is_dir():
            return folder
    raise RuntimeError(f"no folder of {CACHE_DIR} exists")


def skopeo(*arguments: str) -> str:
    """Run skopeo without the host's blob info cache and return its output."""
    argv = [
        "unshare", "--mount", "--propagation", "private",
        "sh", "-c", _SKOPEO_IN_NAMESPACE, "sh", str(_cache_mount_point()),
        *arguments,
    ]  # fmt: skip
    return run_command(argv).stdout.decode()


def main() -> int:
    args = base_parser(__doc__.splitlines()[0]).parse_args()
    runs = 1 if args.smoke else args.runs
    total = SMOKE_BYTES if args.smoke else FULL_BYTES
    owned = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="bench-reg-")) if owned else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    lab = Lab(work / "lab")
    try:
        source = work / "source"
        shutil.rmtree(source, ignore_errors=True)
        build_layout(source, total)
        size = blob_bytes(source)
        info = lab.up()
        host = f"127.0.0.1:{info.registry_port}"
        counter = itertools.count()
        # The manifest is a blob of the layout but goes to /manifests/, not /blobs/.
        blob_count = sum(1 for p in (source / "blobs").rglob("*") if p.is_file()) - 1

        def push_ocilab() -> None:
            destination = f"{host}/bench/ocilab-push-{next(counter)}:{TAG}"
            result = copy_image(f"oci:{source}:{TAG}", destination, progress=False)
            if result.blobs_skipped or result.blobs_copied != blob_count:
                raise RuntimeError(
                    f"push to {destination} did not upload every blob: {result}"
                )

        def push_skopeo() -> None:
            destination = f"docker://{host}/bench/skopeo-push-{next(counter)}:{TAG}"
            output = skopeo(
                "copy", "--dest-tls-verify=false", f"oci:{source}:{TAG}", destination
            )
            if "skipped" in output:
                raise RuntimeError(f"skopeo skipped a blob of {destination}:\n{output}")

        result = compare(
            f"registry push {size / 1e6:.0f} MB",
            push_ocilab,
            "skopeo copy",
            push_skopeo,
            runs=runs,
            warmup=0 if args.smoke else 1,
            target=1.1,
        )
        result.notes["blobs"] = f"{blob_count} blobs and 1 manifest, {size} bytes"
        print_result(result, args.json)

        # Pulls read one repository, each into a new layout that is checked
        # against the source and removed before the next run.
        copy_image(
            f"oci:{source}:{TAG}", f"{host}/bench/pull-source:{TAG}", progress=False
        )
        remote = f"{host}/bench/pull-source:{TAG}"
        pulled: list[Path] = []

        def check_and_remove_pulls() -> None:
            while pulled:
                layout = pulled.pop()
                check_same_blobs(source, layout)
                shutil.rmtree(layout)

        def pull_ocilab() -> None:
            layout = work / f"pull-{next(counter)}"
            pulled.append(layout)
            copy_image(remote, f"oci:{layout}:{TAG}", progress=False)

        def pull_skopeo() -> None:
            layout = work / f"pull-{next(counter)}"
            pulled.append(layout)
            skopeo(
                "copy",
                "--src-tls-verify=false",
                f"docker://{remote}",
                f"oci:{layout}:{TAG}",
            )

        result = compare(
            f"registry pull {size / 1e6:.0f} MB",
            pull_ocilab,
            "skopeo copy",
            pull_skopeo,
            runs=runs,
            warmup=0 if args.smoke else 1,
            target=1.1,
            before_each=check_and_remove_pulls,
        )
        check_and_remove_pulls()
        result.notes["check"] = (
            "every pulled layout has the source's blobs, byte for byte"
        )
        print_result(result, args.json)
    finally:
        lab.down()
        if owned:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
