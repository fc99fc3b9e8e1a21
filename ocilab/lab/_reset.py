"""Bring a running lab back to the state `lab up` left it in, between exercises."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CRIError, LabError
from ._state import LabInfo

if TYPE_CHECKING:
    from ..cri import CRIClient

log = logging.getLogger(__name__)


@dataclass
class ResetReport:
    """Counts and names of what `reset` removed, and the seconds it took."""

    containers: int = 0
    pods: int = 0
    images: list[str] = field(default_factory=list)
    repositories: list[str] = field(default_factory=list)
    seconds: float = 0.0


def remove_workloads(cri: CRIClient) -> tuple[int, int]:
    """Stop and remove every container, then every pod; return both counts."""
    containers = pods = 0
    for container in cri.runtime.ListContainers().containers:
        cri.runtime.StopContainer(container_id=container.id, timeout=0)
        cri.runtime.RemoveContainer(container_id=container.id)
        containers += 1
    for pod in cri.runtime.ListPodSandbox().items:
        cri.runtime.StopPodSandbox(pod_sandbox_id=pod.id)
        cri.runtime.RemovePodSandbox(pod_sandbox_id=pod.id)
        pods += 1
    return containers, pods


def remove_cri_objects(info: LabInfo, report: ResetReport) -> None:
    """Remove every container, pod and image except the lab's seeded images.

    An image is kept when one of its tags is a seeded reference. Its other
    tags stay too, because the CRI removes an image with all its tags.
    """
    from ..cri import CRIClient

    seeded = set(info.images.values())
    try:
        with CRIClient(info.cri_endpoint, timeout=30) as cri:
            report.containers, report.pods = remove_workloads(cri)
            for image in cri.images.ListImages().images:
                if seeded & set(image.repo_tags):
                    continue
                cri.images.RemoveImage(image={"image": image.id})
                report.images.append(
                    ", ".join(image.repo_tags)
                    or ", ".join(image.repo_digests)
                    or image.id
                )
    except CRIError as error:
        raise LabError(
            f"could not reset the lab's pods and images through CRI ({error}); "
            "`ocilab lab up` repairs a broken lab, `ocilab lab down` removes it"
        ) from error


def registry_repositories(registry_root: Path) -> list[str]:
    """Return the repository names stored by docker-registry's filesystem driver."""
    base = registry_root / "docker" / "registry" / "v2" / "repositories"
    if not base.is_dir():
        return []
    # A repository is a folder holding _manifests; names may contain slashes.
    return sorted(
        str(path.parent.relative_to(base)) for path in base.rglob("_manifests")
    )


def clear_folder(folder: Path) -> None:
    """Delete what a folder contains, keeping the folder and its mode."""
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    log.info("cleared %s", folder)
