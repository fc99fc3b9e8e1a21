"""Start, inspect and stop the lab: containerd with CRI, runc, CNI and a registry."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CRIError, LabError, LabNotRunningError
from . import _cleanup, _health, _net
from ._config import LabPaths, cni_conflist, containerd_toml, registry_yaml
from ._prereq import check_prerequisites, free_port, require_port_free
from ._reset import (
    ResetReport,
    clear_folder,
    registry_repositories,
    remove_cri_objects,
    remove_workloads,
)
from ._seed import build_lab_images, push_lab_images, seed_registry
from ._state import LabInfo, default_state_dir, lab_name, read_info, write_info

__all__ = ["DownReport", "Lab", "ResetReport", "running_lab"]

log = logging.getLogger(__name__)

_ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
START_TIMEOUT = 30.0
# containerd 1.6 rejects unix socket paths longer than 104 bytes.
MAX_SOCKET_PATH = 104
# Folders outside the state dir that containerd 1.6, its shims or libcni
# create; `down` removes those that did not exist before `up`, once empty.
HOST_DIRS = ("/run/containerd", "/var/lib/cni")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _resolve_state_dir(state_dir: Path | str | None) -> Path:
    if state_dir is None:
        return default_state_dir()
    if not str(state_dir).strip():
        raise LabError(
            "empty lab state dir; pass a folder path, or leave it unset for "
            f"the default ({default_state_dir()})"
        )
    return Path(state_dir).expanduser().resolve()


def running_lab(state_dir: Path | str | None = None) -> LabInfo | None:
    """Return the record of the lab running in state_dir (default: the usual one), or None.

    A lab counts as running while the containerd process it started is alive.
    """
    directory = _resolve_state_dir(state_dir)
    info = read_info(directory)
    if info is None:
        return None
    if not _health.process_is_ours(info.pids.get("containerd", 0), LabPaths(directory)):
        return None
    return info


@dataclass
class DownReport:
    """Counts of what `down` removed, and the leftovers it could not remove."""

    containers: int = 0
    pods: int = 0
    processes: int = 0
    mounts: int = 0
    files: list[str] = field(default_factory=list)
    bridge_removed: bool = False
    leftovers: list[str] = field(default_factory=list)


class Lab:
    """One lab node, identified by its state directory.

    ``with Lab() as info:`` starts a lab (or uses the one already running)
    and stops it on exit only if it started it.
    """

    def __init__(
        self, state_dir: Path | str | None = None, *, registry_port: int = 0
    ) -> None:
        if not 0 <= registry_port <= 65535:
            raise LabError(
                f"invalid registry port {registry_port}: use 1 to 65535, or 0 for any free port"
            )
        self.state_dir = _resolve_state_dir(state_dir)
        self.paths = LabPaths(self.state_dir)
        self.name = lab_name(self.state_dir)
        self.registry_port = registry_port
        self._started_here = False

    # -- status -----------------------------------------------------------

    def info(self) -> LabInfo | None:
        """Return the running lab's record, or None when it is not running."""
        return running_lab(self.state_dir)

    def require_info(self) -> LabInfo:
        info = self.info()
        if info is None:
            raise LabNotRunningError(
                f"no lab is running in {self.state_dir}; start one with `ocilab lab up`"
            )
        return info

    def status(self) -> dict[str, Any]:
        """Return the lab record plus a health check of each part.

        "running" is true while containerd runs; "healthy" only when every
        part works. "problems" lists the parts that do not.
        """
        info = read_info(self.state_dir)
        if info is None:
            return {
                "running": False,
                "healthy": False,
                "state_dir": str(self.state_dir),
            }
        health = _health.check_health(info, self.paths)
        data = info.to_json()
        data["running"] = bool(health["containerd_process"])
        data["health"] = health
        data["problems"] = _health.broken_parts(health)
        data["healthy"] = not data["problems"]
        return data

    # -- up ---------------------------------------------------------------

    def up(self, progress: Callable[[str], None] | None = None) -> LabInfo:
        """Start the lab and return its record; a healthy lab is returned unchanged.

        A lab whose parts died (containerd, the registry, the bridge) is
        removed and started again, and leftovers of a killed lab (processes,
        mounts, bridge, files) are removed first. Raises PrerequisiteError
        when something the lab needs is missing, and LabError with the log's
        last lines when a process fails to start.
        """
        say = _safe_progress(progress)
        with _health.lab_lock():
            existing = self.info()
            if existing is not None:
                problems = _health.broken_parts(
                    _health.check_health(existing, self.paths)
                )
                if not problems:
                    say(
                        f"a lab is already running in {self.state_dir}; nothing changed"
                    )
                    return existing
                say(
                    f"the lab in {self.state_dir} is broken ({', '.join(problems)}); starting it again"
                )
                self._teardown(use_cri=True)
            check_prerequisites()
            self._check_state_dir()
            if self.registry_port:
                require_port_free(self.registry_port)
            if self._has_leftovers():
                say("cleaning up what an earlier lab left behind")
                self._teardown(use_cri=False)
            try:
                return self._start(say)
            except BaseException:
                # Includes KeyboardInterrupt: never leave half a lab running.
                log.warning("lab start failed; removing what was started")
                self._teardown(use_cri=False)
                raise

    def _check_state_dir(self) -> None:
        """Raise LabError when the state dir cannot become a lab's folder.

        `down` deletes the state dir, so a folder with someone's data in it
        must never become one. Socket paths must also fit the kernel's limit.
        """
        directory = self.state_dir
        if directory.exists() and not directory.is_dir():
            raise LabError(
                f"lab state dir {directory} exists and is not a folder; choose another path"
            )
        if (
            directory.is_dir()
            and any(directory.iterdir())
            and not _health.is_lab_folder(self.paths)
        ):
            raise LabError(
                f"lab state dir {directory} is not empty and was not made by ocilab "
                f"(it has no {self.paths.marker.name}); choose a new or empty folder "
                "with --state-dir or $OCILAB_STATE_DIR"
            )
        if directory.is_mount():
            raise LabError(
                f"lab state dir {directory} is a mount point; `lab down` would delete "
                "the folder, so choose a folder below it instead"
            )
        longest = len(os.fsencode(self.paths.ttrpc_socket))
        if longest > MAX_SOCKET_PATH:
            limit = MAX_SOCKET_PATH - (longest - len(os.fsencode(directory)))
            raise LabError(
                f"lab state dir {directory} is too long for unix socket paths: "
                f"containerd accepts at most {MAX_SOCKET_PATH} bytes, which leaves "
                f"{limit} bytes for the folder; choose a shorter --state-dir"
            )

    def _has_leftovers(self) -> bool:
        return (
            _health.is_lab_folder(self.paths)
            or bool(_cleanup.find_processes(self.paths))
            or _net.link_exists(self.name)
        )

    def _start(self, say: Callable[[str], None]) -> LabInfo:
        started = time.monotonic()
        paths = self.paths
        paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkdir leaves an existing empty folder's mode as it was; pod logs and
        # pushed images land here, so other users must not read it.
        paths.state_dir.chmod(0o700)
        paths.marker.write_text(
            "This folder belongs to an ocilab lab; `ocilab lab down` deletes it.\n"
        )
        for folder in (
            paths.logs,
            paths.cni_conf_dir,
            paths.ipam_dir,
            paths.registry_root,
        ):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        port = self.registry_port or free_port()
        host = f"127.0.0.1:{port}"
        subnet = _net.choose_subnet()
        gateway = str(next(subnet.hosts()))
        info = LabInfo(
            state_dir=str(paths.state_dir),
            name=self.name,
            cri_endpoint=f"unix://{paths.socket}",
            registry_url=f"http://{host}",
            registry_port=port,
            images={},
            sandbox_image=f"{host}/ocilab/pause:lab",
            pids={},
            bridge=self.name,
            subnet=str(subnet),
            gateway=gateway,
            started_at=datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            created_host_dirs=[
                path for path in _host_dirs() if not Path(path).exists()
            ],
        )
        write_info(info)

        say(f"creating bridge {self.name} on {subnet}")
        _net.create_bridge(self.name, gateway, subnet.prefixlen)
        self._write_configs(info, host)

        # containerd needs the seeded images only when the first pod starts,
        # so both processes start together and the images are built while
        # they start. Started one after the other, the two waits and the build
        # added up to about half of `lab up`.
        say(f"starting the registry on {host} and containerd")
        info.pids["registry"] = self._spawn(
            "registry", ["docker-registry", "serve", str(paths.registry_config)]
        )
        info.pids["containerd"] = self._spawn(
            "containerd", ["containerd", "--config", str(paths.containerd_config)]
        )
        write_info(info)

        say("building the busybox and pause images")
        images = build_lab_images()
        self._wait(
            lambda: _health.registry_answers(info.registry_url),
            "registry",
            info.pids["registry"],
        )
        say("pushing the images to the registry")
        info.images = push_lab_images(images, info.registry_url, host)
        write_info(info)
        self._wait(lambda: self._cri_ready(info), "containerd", info.pids["containerd"])
        info.runtime_versions = _runtime_versions(info.cri_endpoint)
        write_info(info)
        say(
            f"lab ready in {time.monotonic() - started:.1f} s: CRI {info.cri_endpoint}, registry {info.registry_url}"
        )
        return info

    def _write_configs(self, info: LabInfo, host: str) -> None:
        paths = self.paths
        paths.containerd_config.write_text(
            containerd_toml(paths, sandbox_image=info.sandbox_image, registry_host=host)
        )
        network = ipaddress.IPv4Network(info.subnet)
        (paths.cni_conf_dir / f"10-{self.name}.conflist").write_text(
            cni_conflist(
                paths,
                name=self.name,
                bridge=self.name,
                subnet=str(network),
                gateway=info.gateway,
            )
        )
        paths.registry_config.write_text(registry_yaml(paths, port=info.registry_port))

    def _spawn(self, name: str, argv: list[str]) -> int:
        log_path = str(self.paths.log(name))
        env = {"PATH": _ENV_PATH, "HOME": "/root", "LANG": "C.UTF-8"}
        # posix_spawn rather than Popen: the process outlives this Python
        # object on purpose, and a new session (setsid) keeps it running after
        # `ocilab lab up` exits and out of reach of the terminal's Ctrl-C.
        pid = os.posix_spawnp(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (
                    os.POSIX_SPAWN_OPEN,
                    1,
                    log_path,
                    os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                    0o600,
                ),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
        log.info("started %s (pid %d): %s", name, pid, " ".join(argv))
        return pid

    def _wait(self, ready: Callable[[], bool], name: str, pid: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if ready():
                return
            if not _cleanup.pid_alive(pid):
                raise LabError(
                    f"{name} exited during start",
                    stderr_tail=_tail(self.paths.log(name)),
                )
            time.sleep(0.05)
        raise LabError(
            f"{name} did not become ready within {START_TIMEOUT:.0f} s",
            stderr_tail=_tail(self.paths.log(name)),
        )

    def _cri_ready(self, info: LabInfo) -> bool:
        if not self.paths.socket.is_socket():
            return False
        try:
            conditions = _health.cri_conditions(info.cri_endpoint)
        except CRIError:
            return False
        return bool(conditions) and all(conditions.values())

    # -- reset ------------------------------------------------------------

    def reset(self, progress: Callable[[str], None] | None = None) -> ResetReport:
        """Bring a running lab back to its seeded state, keeping its endpoints.

        Removes every container, pod and image except the seeded busybox and
        pause images, empties the pod log folder, and restarts the registry
        on the same port with only the seeded repositories. containerd keeps
        running, so a notebook's CRIClient stays connected. Raises
        LabNotRunningError without a lab, and LabError for a broken one.
        """
        say = _safe_progress(progress)
        started = time.monotonic()
        report = ResetReport()
        with _health.lab_lock():
            info = self.require_info()
            problems = _health.broken_parts(_health.check_health(info, self.paths))
            if problems:
                raise LabError(
                    f"the lab in {self.state_dir} is broken ({', '.join(problems)}); "
                    "run `ocilab lab up` to start it again instead of resetting it"
                )
            say("removing containers, pods and images that are not seeded")
            remove_cri_objects(info, report)
            clear_folder(self.paths.pod_logs)

            # "127.0.0.1:PORT/ocilab/busybox:lab" is stored as "ocilab/busybox".
            seeded = {
                reference.split("/", 1)[1].rsplit(":", 1)[0]
                for reference in info.images.values()
            }
            report.repositories = [
                name
                for name in registry_repositories(self.paths.registry_root)
                if name not in seeded
            ]
            say(
                f"restarting the registry on {info.registry_url} with the seeded images only"
            )
            old = info.pids.get("registry")
            if old is not None:
                _cleanup.stop_processes([old])
            clear_folder(self.paths.registry_root)
            info.pids["registry"] = self._spawn(
                "registry",
                ["docker-registry", "serve", str(self.paths.registry_config)],
            )
            write_info(info)
            self._wait(
                lambda: _health.registry_answers(info.registry_url),
                "registry",
                info.pids["registry"],
            )
            seed_registry(info.registry_url, info.registry_url.removeprefix("http://"))
        report.seconds = time.monotonic() - started
        say(
            f"lab reset in {report.seconds:.1f} s: removed {report.containers} containers, "
            f"{report.pods} pods, {len(report.images)} images, "
            f"{len(report.repositories)} registry repositories"
        )
        return report

    # -- down -------------------------------------------------------------

    def down(self) -> DownReport:
        """Remove every pod, container, process, mount, bridge and file of the lab.

        A folder without the lab marker is left untouched, and the report
        lists it as a leftover.
        """
        with _health.lab_lock():
            return self._teardown(use_cri=True)

    def _teardown(self, *, use_cri: bool) -> DownReport:
        report = DownReport()
        paths = self.paths
        if self.state_dir.exists() and not _health.is_lab_folder(paths):
            report.leftovers = [
                f"{self.state_dir} is not an ocilab lab folder (no "
                f"{paths.marker.name}); nothing was removed"
            ]
            return report
        info = read_info(self.state_dir)
        if use_cri and paths.socket.is_socket():
            self._remove_workloads(report)
        processes = _cleanup.find_processes(paths)
        containerd = [
            pid for pid, argv in processes.items() if Path(argv[0]).name == "containerd"
        ]
        _cleanup.stop_processes(containerd)

        # Read what only the state dir records before anything deletes it.
        ids = _cleanup.container_ids(paths)
        cgroups = _cleanup.runc_cgroup_paths(paths)
        sockets = _cleanup.shim_sockets(paths, ids)
        _cleanup.force_delete_containers(paths)
        _cleanup.remove_cgroups(cgroups)
        _cleanup.remove_cgroup_tree(self.name)

        rest = list(_cleanup.find_processes(paths))
        _cleanup.stop_processes(rest)
        report.processes = len(set(containerd) | set(rest))

        report.mounts = len(_cleanup.unmount_all(paths))
        _cleanup.remove_shim_sockets(sockets)
        report.files += [str(path) for path in _cleanup.remove_cni_cache(ids)]
        _net.delete_veths(self.name)
        report.bridge_removed = _net.delete_bridge(self.name)

        _cleanup.remove_tree(self.state_dir)
        for folder in info.created_host_dirs if info is not None else []:
            if folder.startswith("/sys/fs/cgroup/"):
                # Pods given a cgroup parent below k8s.io leave their folders.
                _cleanup.remove_empty_cgroups(Path(folder))
            else:
                _cleanup.remove_empty_dirs(Path(folder))
        report.leftovers = self._leftovers()
        for leftover in report.leftovers:
            log.warning("lab down left %s", leftover)
        return report

    def _remove_workloads(self, report: DownReport) -> None:
        from ..cri import CRIClient

        try:
            with CRIClient(f"unix://{self.paths.socket}", timeout=30) as cri:
                report.containers, report.pods = remove_workloads(cri)
        except CRIError as error:
            # Not fatal: the steps after this one remove the same things by force.
            log.warning(
                "could not remove pods through CRI (%s); removing them by force", error
            )

    def _leftovers(self) -> list[str]:
        found = [
            f"process {pid}: {' '.join(argv)}"
            for pid, argv in _cleanup.find_processes(self.paths).items()
        ]
        found += [f"mount {point}" for point in _cleanup.lab_mounts(self.paths)]
        if _net.link_exists(self.name):
            found.append(f"bridge {self.name}")
        if self.state_dir.exists():
            found.append(f"state dir {self.state_dir}")
        return found

    # -- context manager ----------------------------------------------------

    def __enter__(self) -> LabInfo:
        already = self.info()
        info = self.up()
        self._started_here = already is None
        return info

    def __exit__(self, *exc_info: object) -> None:
        if self._started_here:
            self.down()


def _host_dirs() -> list[str]:
    """Folders outside the state dir that the lab's containerd may create.

    Besides HOST_DIRS, containerd puts pod cgroups below "k8s.io" (its CRI
    namespace) in every cgroup hierarchy, when the pod names no cgroup parent.
    """
    return [*HOST_DIRS, *(f"{mount}/k8s.io" for mount in _cleanup.cgroup_mounts())]


def _safe_progress(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    """Wrap a progress callback so a closed stdout or stderr cannot abort `up`."""
    if progress is None:
        return lambda message: log.info("%s", message)

    def say(message: str) -> None:
        try:
            progress(message)
        except OSError:
            log.info("%s", message)

    return say


def _runtime_versions(endpoint: str) -> dict[str, Any]:
    """Call Version on both API versions and record each reply or error."""
    from ..cri import CRIClient

    versions: dict[str, Any] = {}
    for api in ("v1", "v1alpha2"):
        try:
            with CRIClient(endpoint, api_version=api, timeout=5) as cri:
                reply = cri.version()
            versions[api] = {
                "runtime_name": reply.runtime_name,
                "runtime_version": reply.runtime_version,
                "runtime_api_version": reply.runtime_api_version,
            }
        except CRIError as error:
            versions[api] = {"error": str(error)}
    return versions
