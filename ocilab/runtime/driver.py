"""Drive an OCI runtime (runc, crun) through its command line.

runc and crun share the verbs of the OCI runtime command line: ``create
--bundle B ID``, ``start ID``, ``state ID``, ``kill ID SIGNAL``, ``delete
[--force] ID``, ``run --bundle B ID`` and ``list``. :class:`OCIRuntime` runs
them with a private ``--root`` state directory, so it lists and changes only
its own containers, never those in the system's /run/runc or /run/crun.

Standard streams matter. With ``process.terminal`` false the runtime hands
its own stdin, stdout and stderr to the container process. After ``create``
returns, the waiting container process keeps them open, so a pipe to
``create`` would not reach end of file until the container exits. ``create``
therefore passes /dev/null as stdin and files as stdout and stderr. ``run``
stays in the foreground until the container exits, so it uses pipes and
returns what the container wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import signal as signals
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from ..errors import OCIRuntimeError
from .bundle import make_probe_bundle
from .inspect import Resources, find_leftovers, process_start_time

__all__ = [
    "ContainerState",
    "Crun",
    "OCIRuntime",
    "OCIRuntimeError",
    "RunResult",
    "Runc",
    "readable_message",
]

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class ContainerState:
    """A container's state as the runtime's ``state`` command reports it."""

    id: str
    status: str
    pid: int | None
    bundle: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ContainerState:
        """Build a state from the runtime-spec state JSON (id, status, pid, bundle)."""
        pid = document.get("pid")
        return cls(
            id=str(document.get("id", "")),
            status=str(document.get("status", "")),
            pid=int(pid) if pid else None,
            bundle=str(document.get("bundle", document.get("bundle_path", ""))),
            raw=document,
        )


@dataclass(frozen=True)
class RunResult:
    """The exit code and the captured output of a container run in the foreground."""

    exit_code: int
    stdout: str
    stderr: str


def readable_message(stderr: str) -> str:
    """Turn runtime error output into a readable message.

    runc logs with logrus: JSON lines (``--log-format json``) or text lines
    like ``time=... level=error msg="..."``. The ``msg`` of every error line
    is kept. Plain text, as crun writes it, is returned stripped.
    """
    messages = []
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        messages.append(_line_message(line))
    errors = [text for level, text in messages if level in ("error", "fatal")]
    chosen = errors or [text for _, text in messages]
    return "\n".join(dict.fromkeys(chosen)) or "no error output"


def _line_message(line: str) -> tuple[str, str]:
    if line.startswith("{"):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            return "", line
        return str(entry.get("level", "")), str(entry.get("msg", line))
    if "msg=" in line and "level=" in line:
        level = line.split("level=", 1)[1].split(" ", 1)[0]
        text = line.split("msg=", 1)[1]
        if text.startswith('"'):
            try:
                text = json.loads(text)
            except json.JSONDecodeError:
                text = text.strip('"')
        return level, text
    return "error", line


class OCIRuntime:
    """An OCI runtime driven through its command line, with a private state root.

    ``binary`` defaults to the runtime found on PATH or in /usr/sbin and
    /usr/bin. ``root`` is the state directory passed as ``--root``; without
    it the object creates a temporary one and removes it in :meth:`close`.
    ``timeout`` is the limit in seconds for each command.
    """

    name: ClassVar[str] = "oci-runtime"

    def __init__(
        self,
        binary: str | Path | None = None,
        *,
        root: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.binary = str(binary) if binary is not None else self._find_binary()
        self._owns_root = root is None
        if root is None:
            root = tempfile.mkdtemp(prefix=f"ocilab-{self.name}-root-")
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the state root if this object created it. A root passed in is kept.

        Containers still under an owned root are force-deleted first: without
        their state no runtime could find them again, and they would run on
        with their cgroups.
        """
        if not self._owns_root:
            return
        if self.root.is_dir():
            for container in self.root.iterdir():
                if (container / "state.json").is_file():
                    self.cleanup(container.name)
        shutil.rmtree(self.root, ignore_errors=True)

    @classmethod
    def _find_binary(cls) -> str:
        found = shutil.which(cls.name)
        for folder in ("/usr/sbin", "/usr/bin", "/usr/local/sbin"):
            if found:
                break
            candidate = Path(folder) / cls.name
            found = str(candidate) if os.access(candidate, os.X_OK) else None
        if not found:
            raise OCIRuntimeError(
                f"{cls.name} not found on PATH or in /usr/sbin, /usr/bin. "
                "Install it or pass binary=PATH.",
                runtime=cls.name,
                command=[cls.name],
                returncode=None,
                stderr="",
            )
        return found

    # --- running commands ---------------------------------------------------

    def _log_options(self, log_path: Path) -> list[str]:
        """Return the global options that send the runtime's own log to a file."""
        return []

    def _execute(
        self,
        arguments: list[str],
        *,
        stdout: Any = subprocess.PIPE,
        stderr: Any = subprocess.PIPE,
        timeout: float | None = None,
    ) -> tuple[subprocess.CompletedProcess[str], str]:
        """Run one command and return the finished process and the runtime's log text."""
        with tempfile.TemporaryDirectory(prefix="ocilab-runtime-log-") as folder:
            log_path = Path(folder) / "log.json"
            command = [
                self.binary,
                "--root",
                str(self.root),
                *self._log_options(log_path),
                *arguments,
            ]
            limit = self.timeout if timeout is None else timeout
            try:
                completed = subprocess.run(
                    command,
                    check=False,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    text=True,
                    timeout=limit,
                )
            except subprocess.TimeoutExpired as error:
                raise self._error(
                    f"{self.name} {arguments[0]} timed out after {limit:g} s",
                    command,
                    None,
                    "",
                ) from error
            except OSError as error:
                raise self._error(
                    f"cannot execute {self.binary}: {error}", command, None, ""
                ) from error
            log_text = log_path.read_text() if log_path.exists() else ""
        return completed, log_text

    def _call(self, *arguments: str) -> str:
        """Run a command with captured output and return stdout, or raise OCIRuntimeError."""
        completed, log_text = self._execute(list(arguments))
        self._raise_on_failure(completed, log_text or completed.stderr)
        return completed.stdout

    def _raise_on_failure(
        self, completed: subprocess.CompletedProcess[str], error_output: str
    ) -> None:
        if completed.returncode != 0:
            raise self._error(
                readable_message(error_output),
                completed.args,
                completed.returncode,
                error_output,
            )

    def _error(
        self, message: str, command: list[str], returncode: int | None, stderr: str
    ) -> OCIRuntimeError:
        return OCIRuntimeError(
            f"{self.name}: {message}",
            runtime=self.name,
            command=list(command),
            returncode=returncode,
            stderr=stderr,
        )

    # --- lifecycle ----------------------------------------------------------

    def create(
        self,
        container_id: str,
        bundle: str | Path,
        *,
        pid_file: str | Path | None = None,
    ) -> None:
        """Create a container that waits for :meth:`start` (status "created").

        The container's stdout and stderr go to ``BUNDLE/ID.stdout`` and
        ``BUNDLE/ID.stderr`` (see :meth:`output_paths`). Raises
        OCIRuntimeError with the runtime's message when creation fails.
        """
        bundle_path = Path(bundle).resolve()
        out_path, err_path = self.output_paths(container_id, bundle_path)
        arguments = ["create", "--bundle", str(bundle_path)]
        if pid_file is not None:
            arguments += ["--pid-file", str(Path(pid_file).resolve())]
        arguments.append(container_id)
        with open(out_path, "w") as out_file, open(err_path, "w+") as err_file:
            completed, log_text = self._execute(
                arguments, stdout=out_file, stderr=err_file
            )
            err_file.seek(0)
            error_output = log_text or err_file.read()
        self._raise_on_failure(completed, error_output)

    @staticmethod
    def output_paths(container_id: str, bundle: str | Path) -> tuple[Path, Path]:
        """Return the files that receive a created container's stdout and stderr."""
        folder = Path(bundle).resolve()
        return folder / f"{container_id}.stdout", folder / f"{container_id}.stderr"

    def start(self, container_id: str) -> None:
        """Start the user process of a created container."""
        self._call("start", container_id)

    def state(self, container_id: str) -> ContainerState:
        """Return the container's state, or raise OCIRuntimeError if it does not exist."""
        return ContainerState.from_json(json.loads(self._call("state", container_id)))

    def kill(self, container_id: str, signal: str | int = "TERM") -> None:
        """Send a signal (name without or with SIG, or number) to the container's init."""
        name = signal if isinstance(signal, str) else signals.Signals(signal).name
        self._call("kill", container_id, name.removeprefix("SIG"))

    def delete(self, container_id: str, *, force: bool = False) -> None:
        """Delete a stopped container; ``force`` kills a running one first."""
        self._call("delete", *(["--force"] if force else []), container_id)

    def wait_for_status(
        self, container_id: str, status: str, *, timeout: float = 5.0
    ) -> ContainerState:
        """Poll ``state`` until the container has ``status``, or raise after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        current = self.state(container_id)
        while current.status != status and time.monotonic() < deadline:
            time.sleep(0.05)
            current = self.state(container_id)
        if current.status != status:
            raise self._error(
                f"container {container_id} is {current.status!r}, "
                f"not {status!r}, after {timeout:g} s",
                [self.binary, "state", container_id],
                None,
                "",
            )
        return current

    def run(
        self, container_id: str, bundle: str | Path, *, timeout: float | None = None
    ) -> RunResult:
        """Run a container in the foreground and return its exit code and output.

        The container is deleted when it exits (the runtime's ``run`` does
        that). After ``timeout`` seconds the container is killed and removed,
        and OCIRuntimeError is raised. An error of the runtime itself, as
        opposed to a non-zero exit of the container, raises OCIRuntimeError.
        """
        bundle_path = Path(bundle).resolve()
        arguments = ["run", "--bundle", str(bundle_path), container_id]
        try:
            completed, log_text = self._execute(arguments, timeout=timeout)
        except OCIRuntimeError:
            self.cleanup(container_id)
            raise
        # NOTE: only runtimes with a separate log (runc) tell their own errors
        # apart from the container's exit code. For crun, a failed start looks
        # like a container that exited non-zero, with the message in stderr.
        if _has_error(log_text):
            raise self._error(
                readable_message(log_text),
                completed.args,
                completed.returncode,
                log_text,
            )
        return RunResult(completed.returncode, completed.stdout, completed.stderr)

    def list(self) -> list[ContainerState]:
        """Return the state of every container under this object's root."""
        output = self._call("list", "--format", "json").strip()
        documents = json.loads(output) if output else None
        return [ContainerState.from_json(document) for document in documents or []]

    def version(self) -> dict[str, str]:
        """Return ``--version`` as a dict, e.g. {"version": "1.1.5", "spec": ...}."""
        output = self._call("--version")
        result: dict[str, str] = {}
        for line in output.splitlines():
            if line.startswith(f"{self.name} version "):
                result["version"] = line.split(" version ", 1)[1].strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                result[key.strip()] = value.strip()
        return result

    # --- cleanup ------------------------------------------------------------

    def recorded_resources(self, container_id: str) -> Resources:
        """Return the pid, cgroups and rootfs that a container holds, as far as known."""
        try:
            current = self.state(container_id)
        except OCIRuntimeError:
            return Resources(state_dir=self.root / container_id)
        pid = current.pid if current.status != "stopped" else None
        rootfs = current.raw.get("rootfs")
        return Resources(
            state_dir=self.root / container_id,
            pid=pid,
            pid_start_time=process_start_time(pid) if pid else None,
            rootfs=Path(rootfs) if rootfs else None,
        )

    def cleanup(self, container_id: str, *, timeout: float = 5.0) -> list[str]:
        """Force-delete a container and check that nothing of it is left.

        Safe to call in ``finally`` blocks: a container that does not exist
        is not an error. Returns a description of each leftover (state
        directory, live process, cgroup folder, mount below the rootfs) that
        remains after ``timeout`` seconds, so an empty list means clean.
        """
        resources = self.recorded_resources(container_id)
        try:
            self.delete(container_id, force=True)
        except OCIRuntimeError as error:
            if "not exist" not in str(error) and "not found" not in str(error):
                return [f"delete --force {container_id} failed: {error}"]
        return find_leftovers(resources, timeout=timeout)

    def available(self) -> tuple[bool, str]:
        """Run a trivial container to find out whether this runtime works here.

        Returns (True, "") on success, else False and the runtime's own error
        message. The probe's root filesystem contains only a copy of the
        static /bin/busybox, which runs ``true``.
        """
        with tempfile.TemporaryDirectory(prefix="ocilab-probe-") as folder:
            try:
                bundle = make_probe_bundle(Path(folder) / "bundle")
            except FileNotFoundError as error:
                return False, f"cannot probe {self.name}: {error}"
            container_id = f"ocilab-probe-{os.getpid()}-{time.monotonic_ns()}"
            try:
                result = self.run(container_id, bundle.path, timeout=self.timeout)
            except OCIRuntimeError as error:
                return False, str(error).removeprefix(f"{self.name}: ")
            finally:
                self.cleanup(container_id)
        if result.exit_code != 0:
            if result.stderr.strip():
                return False, readable_message(result.stderr)
            return False, f"the probe container exited with code {result.exit_code}"
        return True, ""


def _has_error(log_text: str) -> bool:
    return any(
        _line_message(line.strip())[0] in ("error", "fatal")
        for line in log_text.splitlines()
        if line.strip()
    )


class Runc(OCIRuntime):
    """runc, with its own log written as JSON lines to a file for each command."""

    name: ClassVar[str] = "runc"

    def _log_options(self, log_path: Path) -> list[str]:
        return ["--log", str(log_path), "--log-format", "json"]

    def recorded_resources(self, container_id: str) -> Resources:
        """Read runc's state.json, which lists the container's cgroup folders."""
        resources = super().recorded_resources(container_id)
        state_file = self.root / container_id / "state.json"
        try:
            saved = json.loads(state_file.read_text())
        except (OSError, json.JSONDecodeError):
            return resources
        cgroups = tuple(
            Path(path) for path in (saved.get("cgroup_paths") or {}).values()
        )
        return Resources(
            state_dir=resources.state_dir,
            pid=resources.pid or saved.get("init_process_pid"),
            pid_start_time=resources.pid_start_time or saved.get("init_process_start"),
            rootfs=resources.rootfs or Path(saved["config"]["rootfs"]),
            cgroups=cgroups,
        )


class Crun(OCIRuntime):
    """crun. It writes its errors as plain text to stderr."""

    name: ClassVar[str] = "crun"
