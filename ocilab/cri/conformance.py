"""A small CRI conformance check that runs from a notebook or the command line.

Each check calls the runtime the way the kubelet would and records pass, fail
or skip with the reason. Everything the check creates (one pod, its
containers, one pulled image if it was absent) is removed at the end, also
when a check fails. It is far smaller than Kubernetes' critest, and meant for
a first look at a node: can this runtime run a pod at all?
"""

from __future__ import annotations

import logging
import shutil
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CRIUnimplementedError, OcilabError
from .client import CRIClient

__all__ = ["CheckResult", "ConformanceRun", "run_conformance"]

log = logging.getLogger(__name__)

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: its name, pass/fail/skip, the reason and its duration."""

    check: str
    result: str
    reason: str
    seconds: float


class _Skip(Exception):
    """Raised inside a check to skip it with a reason."""


@dataclass
class ConformanceRun:
    """State shared by the checks of one run, and what they created."""

    cri: CRIClient
    image: str
    log_directory: Path
    cgroup_parent: str = ""
    results: list[CheckResult] = field(default_factory=list)
    pod_id: str = ""
    pod_config: dict[str, Any] = field(default_factory=dict)
    container_id: str = ""
    pulled_here: bool = False
    images_before: set[str] = field(default_factory=set)
    pod_name: str = field(default_factory=lambda: f"conformance-{uuid.uuid4().hex[:8]}")

    def frame(self) -> pd.DataFrame:
        """Return the results as a DataFrame: check, result, reason, seconds."""
        return pd.DataFrame(
            [vars(result) for result in self.results],
            columns=["check", "result", "reason", "seconds"],
        )

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(result.result != FAIL for result in self.results)


def _check(run: ConformanceRun, name: str, body: Callable[[], str]) -> bool:
    started = time.monotonic()
    try:
        reason = body()
        result = PASS
    except _Skip as skip:
        result, reason = SKIP, str(skip)
    except CRIUnimplementedError as error:
        result, reason = SKIP, f"not implemented by this runtime: {error}"
    except (OcilabError, AssertionError) as error:
        result, reason = FAIL, f"{type(error).__name__}: {error}"
    except Exception as error:  # noqa: BLE001 - one broken check must not stop the run
        result = FAIL
        reason = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"
    seconds = round(time.monotonic() - started, 3)
    run.results.append(CheckResult(name, result, reason, seconds))
    log.info(
        "conformance check %s: %s (%s)",
        name,
        result,
        reason.splitlines()[0] if reason else "",
    )
    return result == PASS


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _runtime_info(run: ConformanceRun) -> str:
    version = run.cri.version()
    status = run.cri.status()
    not_ready = [c.type for c in status.conditions if not c.status]
    _require(not not_ready, f"conditions not ready: {', '.join(not_ready)}")
    return f"{version.runtime_name} {version.runtime_version} on {version.api_package}, conditions ready"


def _image_pull(run: ConformanceRun) -> str:
    present = bool(run.cri.image_status(run.image).image.id)
    image_ref = run.cri.pull_image(run.image)
    run.pulled_here = not present
    status = run.cri.image_status(run.image).image
    _require(
        status.id == image_ref,
        f"ImageStatus id {status.id} differs from PullImage's {image_ref}",
    )
    return f"pulled {run.image} as {image_ref[:19]}…"


def _pod_lifecycle(run: ConformanceRun) -> str:
    name = run.pod_name
    uid = str(uuid.uuid4())
    linux: dict[str, Any] = {}
    if run.cgroup_parent:
        linux["cgroup_parent"] = f"{run.cgroup_parent}/pod-{uid}"
    run.pod_config = {
        "metadata": {"name": name, "namespace": "ocilab-conformance", "uid": uid},
        "hostname": name,
        "log_directory": str(run.log_directory / name),
        "linux": linux,
    }
    run.pod_id = run.cri.run_pod(run.pod_config)
    status = run.cri.pod_status(run.pod_id).status
    _require(status.state == 0, f"pod state is {status.state}, expected SANDBOX_READY")
    listed = [pod.id for pod in run.cri.list_pods(pod_id=run.pod_id)]
    _require(listed == [run.pod_id], "ListPodSandbox does not return the new pod")
    return f"pod ready with IP {status.network.ip or '(none)'}"


def _container_lifecycle(run: ConformanceRun) -> str:
    if not run.pod_id:
        raise _Skip("no pod: the pod lifecycle check did not pass")
    config = {
        "metadata": {"name": "probe"},
        "image": {"image": run.image},
        "command": ["sh", "-c", "echo conformance-log-line; exec sleep 3600"],
        "log_path": "probe/0.log",
    }
    run.container_id = run.cri.create_container(run.pod_id, config, run.pod_config)
    created = run.cri.container_status(run.container_id).status.state
    _require(
        created == 0, f"state after create is {created}, expected CONTAINER_CREATED"
    )
    run.cri.start_container(run.container_id)
    running = run.cri.container_status(run.container_id).status.state
    _require(
        running == 1, f"state after start is {running}, expected CONTAINER_RUNNING"
    )
    return "created, then running"


def _exec_sync(run: ConformanceRun) -> str:
    if not run.container_id:
        raise _Skip("no container: the container lifecycle check did not pass")
    result = run.cri.exec_sync(
        run.container_id, ["sh", "-c", "echo out; echo err >&2; exit 3"]
    )
    _require(result.exit_code == 3, f"exit code {result.exit_code}, expected 3")
    _require(result.stdout == b"out\n", f"stdout {result.stdout!r}, expected b'out\\n'")
    _require(result.stderr == b"err\n", f"stderr {result.stderr!r}, expected b'err\\n'")
    return "exit code, stdout and stderr as expected"


def _log_file(run: ConformanceRun) -> str:
    if not run.container_id:
        raise _Skip("no container: the container lifecycle check did not pass")
    from .logs import read_log

    path = run.cri.container_status(run.container_id).status.log_path
    for _ in range(50):
        if Path(path).exists() and any(
            e.content == "conformance-log-line" for e in read_log(path)
        ):
            return f"log line found in {path}"
        time.sleep(0.1)
    raise AssertionError(f"the container's output did not appear in {path} within 5 s")


def _stats(run: ConformanceRun) -> str:
    if not run.container_id:
        raise _Skip("no container: the container lifecycle check did not pass")
    stats = run.cri.container_stats(run.container_id)
    _require(
        stats.attributes.id == run.container_id,
        "ContainerStats returned another container",
    )
    _require(
        stats.memory.HasField("working_set_bytes"), "no memory working set reported"
    )
    return f"memory working set {stats.memory.working_set_bytes.value} bytes"


def _stop_remove(run: ConformanceRun) -> str:
    if not run.pod_id:
        raise _Skip("no pod: the pod lifecycle check did not pass")
    if run.container_id:
        run.cri.stop_container(run.container_id, grace_period=0)
        state = run.cri.container_status(run.container_id).status.state
        _require(state == 2, f"state after stop is {state}, expected CONTAINER_EXITED")
        run.cri.remove_container(run.container_id)
    run.cri.stop_pod(run.pod_id)
    run.cri.remove_pod(run.pod_id)
    _require(
        run.cri.list_pods(pod_id=run.pod_id) == [],
        "the pod is still listed after RemovePodSandbox",
    )
    return "container and pod stopped and removed"


def _idempotent(run: ConformanceRun) -> str:
    if not run.pod_id:
        raise _Skip("no pod: the pod lifecycle check did not pass")
    # After removal, a second remove must succeed; StopPodSandbox on a gone pod
    # should too, though containerd 1.6 replies NOT_FOUND (ocilab reports False).
    run.cri.runtime.RemovePodSandbox(pod_sandbox_id=run.pod_id)
    if run.container_id:
        run.cri.runtime.RemoveContainer(container_id=run.container_id)
    stopped = run.cri.stop_pod(run.pod_id)
    note = "" if stopped else "; StopPodSandbox on a removed pod replied NOT_FOUND"
    return "second RemovePodSandbox and RemoveContainer succeeded" + note


def _image_remove(run: ConformanceRun) -> str:
    if not run.pulled_here:
        present = bool(run.cri.image_status(run.image).image.id)
        reason = (
            "was present before the run, so it is kept"
            if present
            else "was never pulled"
        )
        raise _Skip(f"{run.image} {reason}")
    run.cri.remove_image(run.image)
    _require(
        run.cri.image_status(run.image).image.id == "", "the image is still present"
    )
    run.pulled_here = False
    return f"removed {run.image}"


CHECKS: list[tuple[str, Callable[[ConformanceRun], str]]] = [
    ("runtime info", _runtime_info),
    ("image pull and status", _image_pull),
    ("pod lifecycle", _pod_lifecycle),
    ("container lifecycle", _container_lifecycle),
    ("exec sync", _exec_sync),
    ("container log file", _log_file),
    ("container stats", _stats),
    ("stop and remove", _stop_remove),
    ("idempotent stop and remove", _idempotent),
    ("image remove", _image_remove),
]


def _sandbox_image(run: ConformanceRun) -> str:
    """Return the runtime's sandbox (pause) image reference, when it reports one."""
    config = run.cri.status(verbose=True).info.get("config")
    return str(config.get("sandboxImage", "")) if isinstance(config, dict) else ""


def _remove_sandbox_image(run: ConformanceRun) -> None:
    # RunPodSandbox pulls the sandbox image when it is missing. Only that
    # image is removed, and only when it is new and unused: other images that
    # appeared meanwhile were pulled by someone else (the kubelet, a user).
    sandbox = _sandbox_image(run)
    if not sandbox:
        return
    in_use = {container.image_ref for container in run.cri.list_containers()}
    for image in run.cri.list_images(sandbox):
        if image.id not in run.images_before and image.id not in in_use:
            log.info("removing %s, pulled for the conformance run's pod", sandbox)
            run.cri.remove_image(image.id)


def _remove_leftover_pods(run: ConformanceRun) -> None:
    # An interrupt between RunPodSandbox's reply and storing its id leaves a
    # pod that only its unique name identifies.
    if not run.pod_name:
        return
    for pod in run.cri.list_pods(
        name=f"^{run.pod_name}$", namespace="^ocilab-conformance$"
    ):
        run.cri.stop_pod(pod.id)
        run.cri.remove_pod(pod.id)


def _cleanup(run: ConformanceRun) -> None:
    """Remove whatever the run created; ocilab errors on the way are logged, not raised."""
    for action in (
        lambda: run.container_id and run.cri.remove_container(run.container_id),
        lambda: run.pod_id and run.cri.stop_pod(run.pod_id),
        lambda: run.pod_id and run.cri.remove_pod(run.pod_id),
        lambda: run.pulled_here and run.cri.remove_image(run.image),
        lambda: _remove_leftover_pods(run),
        lambda: _remove_sandbox_image(run),
        lambda: (
            run.pod_name
            and shutil.rmtree(run.log_directory / run.pod_name, ignore_errors=True)
        ),
    ):
        try:
            action()
        except OcilabError as error:
            log.warning("conformance cleanup step failed: %s", error)


def run_conformance(
    cri: CRIClient,
    image: str,
    *,
    log_directory: str | Path = "/tmp/ocilab-conformance",
    cgroup_parent: str = "",
) -> ConformanceRun:
    """Run every check against cri with a shell image; return the run (see .frame()).

    image must contain sh and sleep (the lab's busybox image does). Logs go
    below log_directory; cgroup_parent, when given, places the pod's cgroups
    under it, which runtimes such as containerd 1.6 need to report pod stats.
    """
    run = ConformanceRun(
        cri=cri,
        image=image,
        log_directory=Path(log_directory),
        cgroup_parent=cgroup_parent,
    )
    try:
        run.images_before = {image.id for image in cri.list_images()}
        for name, check in CHECKS:
            _check(run, name, lambda check=check: check(run))
    finally:
        _cleanup(run)
    return run
