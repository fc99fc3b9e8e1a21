"""The lab's images, built by ocilab from Debian's busybox-static and pushed to the lab's registry.

Two images share one layer (the blob is stored once in the registry):

- ``ocilab/busybox:lab``: a shell image, ``Cmd ["sh"]``, for lessons.
- ``ocilab/pause:lab``: the CRI sandbox ("pause") image. A pod's sandbox
  container must keep running for the pod's lifetime, so its config runs
  ``sleep inf`` instead of a shell that would exit at once without a terminal.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from ..distribution.push import push_image
from ..image.build import BuiltImage, LayerBuilder, build_image
from ._prereq import BUSYBOX

__all__ = [
    "LabImages",
    "build_busybox_layer",
    "build_lab_images",
    "push_lab_images",
    "seed_registry",
]

TAG = "lab"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = b"root:x:0:\nnogroup:x:65534:\n"


@dataclass(frozen=True)
class LabImages:
    """The lab's images, built and ready to push."""

    busybox: BuiltImage
    pause: BuiltImage
    busybox_version: str


def _busybox_version() -> str:
    output = subprocess.run([str(BUSYBOX)], capture_output=True, text=True).stdout
    # First line: "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary."
    words = output.split()
    return words[1].lstrip("v") if len(words) > 1 else "unknown"


def build_busybox_layer() -> LayerBuilder:
    """Return a layer with busybox, a symlink per applet, and a minimal /etc."""
    layer = LayerBuilder()
    layer.add_file("bin/busybox", BUSYBOX.read_bytes(), mode=0o755)
    applets = subprocess.run(
        [str(BUSYBOX), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet != "bin/busybox":
            layer.add_symlink(applet, "/bin/busybox")
    layer.add_file("etc/passwd", _PASSWD)
    layer.add_file("etc/group", _GROUP)
    for folder in ("root", "proc", "sys", "dev", "etc", "var"):
        layer.add_dir(folder, mode=0o700 if folder == "root" else 0o755)
    layer.add_dir("tmp", mode=0o1777)
    return layer


def build_lab_images() -> LabImages:
    """Build both lab images; the same busybox binary gives the same digests."""
    version = _busybox_version()
    layer = build_busybox_layer().build()
    created_by = f"ocilab lab: busybox {version} from Debian's busybox-static"
    busybox = build_image(
        [layer],
        container_config={"Env": [PATH_ENV], "Cmd": ["sh"], "WorkingDir": "/"},
        created_by=created_by,
    )
    pause = build_image(
        [layer],
        container_config={"Env": [PATH_ENV], "Entrypoint": ["/bin/sleep", "inf"]},
        created_by=created_by,
    )
    return LabImages(busybox=busybox, pause=pause, busybox_version=version)


def seed_registry(registry_url: str, host: str) -> dict[str, str]:
    """Build and push the lab images; return {short name: full reference} of what was pushed."""
    return push_lab_images(build_lab_images(), registry_url, host)


def push_lab_images(images: LabImages, registry_url: str, host: str) -> dict[str, str]:
    """Push built lab images; return {short name: full reference} of what was pushed."""
    references = {}
    for name, image in (("busybox", images.busybox), ("pause", images.pause)):
        repository = f"ocilab/{name}"
        push_image(registry_url, repository, image, [TAG])
        references[name] = f"{host}/{repository}:{TAG}"
    return references
