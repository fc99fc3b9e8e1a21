"""An explorer of a CRI runtime: pods, their containers, logs, exec and stats.

The functions take a :class:`~ocilab.cri.CRIClient` (or what it returned) and
return DataFrames, dicts or HTML, so tests and scripts use them without a
display:

- :func:`pod_frame` and :func:`container_frame` list pods, and the
  containers of one pod.
- :func:`container_details` collects a container's status and a summary of
  the OCI runtime spec from the runtime's verbose ContainerStatus, and
  :func:`details_html` shows them.
- :func:`log_tail` reads the last lines of a container's CRI log file, and
  :func:`log_html` shows them.
- :func:`run_command` splits a command line with shlex and runs it with
  ExecSync, and :func:`exec_result_html` shows its exit code and output.
- :func:`stats_row` turns ContainerStats into CPU and memory numbers,
  :func:`stats_html` shows them and :func:`stats_plot_html` plots a series.

:class:`CRIExplorer` wires them to ipywidgets controls. Every failure (a
runtime that does not respond, a container removed meanwhile, an exec that
timed out) is shown in the pane of the action that failed.
"""

from __future__ import annotations

import collections
import io
import logging
import os
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self

import pandas as pd

from .. import _html
from ..cri import CRIClient, ExecResult
from ..cri._api import CONTAINER_STATES
from ..cri.frames import container_stats_frame, ns_to_datetime, short_id
from ..cri.logs import LogEntry, follow_log, format_timestamp, read_log
from ..errors import CRICallError, InvalidRequestError, LogPathError
from ..runtime.spec import RuntimeConfig

__all__ = [
    "CONTAINER_COLUMNS",
    "POD_COLUMNS",
    "CRIExplorer",
    "container_details",
    "container_frame",
    "container_log_path",
    "details_html",
    "error_html",
    "exec_result_html",
    "log_html",
    "log_tail",
    "parse_command",
    "pod_frame",
    "run_command",
    "runtime_spec_summary",
    "stats_html",
    "stats_plot_html",
    "stats_row",
]

log = logging.getLogger(__name__)

ERROR_COLOUR = "#b00020"
OK_COLOUR = "#1b5e20"
# The columns shown in the tables; the frames also carry the full "id".
POD_COLUMNS = ["pod_id", "name", "namespace", "state", "created"]
CONTAINER_COLUMNS = ["container_id", "name", "state", "attempt", "image", "created"]
_MIB = 1 << 20
# Seconds between a follower's checks that its container still exists.
REMOVAL_CHECK_SECONDS = 2.0


# ------------------------------------------------------------------ listing


def pod_frame(client: CRIClient) -> pd.DataFrame:
    """Return the runtime's pods, newest first: the POD_COLUMNS and the full "id"."""
    return client.pods_frame()[[*POD_COLUMNS, "id"]]


def container_frame(client: CRIClient, pod_id: str) -> pd.DataFrame:
    """Return the containers of one pod, newest first: CONTAINER_COLUMNS and "id"."""
    return client.containers_frame(pod_id=pod_id)[[*CONTAINER_COLUMNS, "id"]]


def _pod_label(row: pd.Series) -> str:
    return f"{row['name']} ({row['namespace']}, {row['pod_id']}) {row['state']}"


def _container_label(row: pd.Series) -> str:
    return (
        f"{row['name']} attempt {row['attempt']} ({row['container_id']}) {row['state']}"
    )


# ------------------------------------------------------------------ details


def runtime_spec_summary(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Summarise an OCI runtime spec: command, user, namespaces, capabilities, limits.

    Namespaces that the container joins (containerd puts a pod's containers
    into the sandbox's network, IPC and UTS namespaces) are shown with their
    path.
    """
    config = RuntimeConfig.from_json(spec)
    process = config.process
    linux = config.linux
    resources = linux.resources if linux and linux.resources else None
    summary: dict[str, Any] = {"ociVersion": config.oci_version}
    if process is not None:
        user = process.user
        summary["process.args"] = shlex.join(process.args)
        summary["process.cwd"] = process.cwd
        summary["process.user"] = (
            f"uid {user.uid}, gid {user.gid}" if user is not None else None
        )
        summary["process.env"] = f"{len(process.env)} variables"
        effective = process.capabilities.effective if process.capabilities else ()
        summary["process.capabilities.effective"] = ", ".join(effective) or "(none)"
        summary["process.noNewPrivileges"] = process.no_new_privileges
    if config.root is not None:
        readonly = " (read-only)" if config.root.readonly else ""
        summary["root"] = f"{config.root.path}{readonly}"
    summary["hostname"] = config.hostname
    summary["mounts"] = len(config.mounts)
    if linux is not None:
        summary["linux.namespaces"] = ", ".join(
            f"{entry.type} (joins {entry.path})" if entry.path else str(entry.type)
            for entry in linux.namespaces
        )
        summary["linux.cgroupsPath"] = linux.cgroups_path
        summary["linux.seccomp"] = (
            linux.seccomp.get("defaultAction") if linux.seccomp else "(none)"
        )
    if resources is not None:
        limit = resources.memory.get("limit")
        summary["linux.resources.memory.limit"] = (
            _html.human_size(limit) if isinstance(limit, int) and limit > 0 else limit
        )
        summary["linux.resources.cpu"] = ", ".join(
            f"{key} {resources.cpu[key]}"
            for key in ("shares", "quota", "period", "cpus")
            if key in resources.cpu
        )
        summary["linux.resources.pids.limit"] = resources.pids.get("limit")
    return {key: value for key, value in summary.items() if value is not None}


def container_details(client: CRIClient, container_id: str) -> dict[str, Any]:
    """Collect a container's status and its OCI runtime spec from ContainerStatus.

    Times are UTC pandas Timestamps (NaT when unset). ``exit_code`` is None
    unless the container has exited. ``runtime_spec`` is the spec the runtime
    gave runc, or None with the reason in ``runtime_spec_error`` when the
    runtime's verbose info has none (containerd has it). Raises CRICallError
    with code NOT_FOUND when the container does not exist.
    """
    status = client.container_status(container_id).status
    created, started, finished = ns_to_datetime(
        [status.created_at, status.started_at, status.finished_at]
    )
    state = CONTAINER_STATES.get(status.state, str(status.state))
    details: dict[str, Any] = {
        "id": status.id,
        "name": status.metadata.name,
        "attempt": status.metadata.attempt,
        "state": state,
        "image": status.image.image,
        "image_ref": status.image_ref,
        "created": created,
        "started": started,
        "finished": finished,
        "exit_code": int(status.exit_code) if state == "Exited" else None,
        "reason": status.reason,
        "message": status.message,
        "log_path": status.log_path,
        "labels": dict(status.labels),
        "annotations": dict(status.annotations),
        "runtime_spec": None,
        "runtime_spec_error": None,
    }
    try:
        details["runtime_spec"] = client.container_runtime_spec(container_id)
    except CRICallError as error:
        # Only the "no runtimeSpec in the verbose info" error has no gRPC
        # code; a failed call (NOT_FOUND, ...) is raised.
        if error.code is not None:
            raise
        details["runtime_spec_error"] = str(error)
    return details


def details_html(details: Mapping[str, Any]) -> str:
    """Show container_details: status table, runtime spec summary and full JSON."""
    shown = {
        key: ("" if value is None or value is pd.NaT else value)
        for key, value in details.items()
        if key not in ("runtime_spec", "runtime_spec_error", "labels", "annotations")
    }
    shown["labels"] = _pairs(details.get("labels") or {})
    shown["annotations"] = _pairs(details.get("annotations") or {})
    parts = [
        _html.heading(f"Container {details.get('name')}"),
        _html.key_value_table(shown),
        _html.heading("OCI runtime spec (verbose ContainerStatus)", level=5),
    ]
    spec = details.get("runtime_spec")
    if spec is None:
        reason = details.get("runtime_spec_error") or "the runtime sent none"
        parts.append(_html.paragraph(f"No runtime spec: {reason}"))
    else:
        parts.append(_html.key_value_table(runtime_spec_summary(spec)))
        parts.append(
            _html.details("Full runtime spec (config.json)", _html.json_block(spec))
        )
    return "".join(parts)


def _pairs(mapping: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(mapping.items()))


# --------------------------------------------------------------------- logs


def _check_count(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"invalid {what} {value!r}: give a whole number of {minimum} or more"
        )
    return value


def container_log_path(client: CRIClient, container_id: str) -> str:
    """Return the host path of a container's CRI log file.

    Raises LogPathError when the runtime keeps no log for the container,
    which happens when its pod was created without log_directory.
    """
    path = str(client.container_status(container_id).status.log_path)
    if not path:
        raise LogPathError(
            f"container {container_id} has no log file: its pod was created "
            "without log_directory, so the runtime keeps no log (create the pod "
            "with pod_config(..., log_directory=...))"
        )
    return path


def log_tail(client: CRIClient, container_id: str, lines: int = 50) -> list[LogEntry]:
    """Read the last ``lines`` entries of a container's log file.

    The file is read on this machine, so the runtime must run here (the lab
    does). Malformed lines are skipped. Raises LogPathError when the file
    does not exist or the container has none.
    """
    _check_count(lines, "number of log lines")
    return _read_tail(container_log_path(client, container_id), container_id, lines)


def _read_tail(path: str, container_id: str, lines: int) -> list[LogEntry]:
    try:
        return read_log(path, tail=lines, errors="skip")
    except FileNotFoundError as error:
        raise LogPathError(
            f"log file {path} of container {container_id} was not found: the "
            "runtime writes it on its own machine, so read it there, or the "
            "container has not written anything yet"
        ) from error


def _log_line(entry: LogEntry) -> str:
    return f"{format_timestamp(entry.timestamp_ns)} {entry.stream} {entry.content}"


def log_html(entries: Iterable[LogEntry], *, path: str = "", note: str = "") -> str:
    """Show log entries, one line each: RFC 3339 time, stream and content."""
    entries = list(entries)
    source = f" of {path}" if path else ""
    header = f"Last {len(entries)} lines{source}"
    if note:
        header += f" ({note})"
    text = "\n".join(_log_line(entry) for entry in entries)
    # The newest lines are at the end, so a cut keeps the end.
    return _html.paragraph(header) + _html.code_block(
        text or "(no lines yet)", keep="tail"
    )


# --------------------------------------------------------------------- exec


def parse_command(command: str) -> list[str]:
    """Split a command line into arguments as a POSIX shell would (shlex).

    Raises InvalidRequestError for an empty command or unbalanced quotes.
    """
    try:
        arguments = shlex.split(command)
    except ValueError as error:
        raise InvalidRequestError(
            f"invalid command {command!r}: {error}; close the quote, or escape "
            "it with a backslash"
        ) from error
    if not arguments:
        raise InvalidRequestError(
            "empty command: type a command such as 'ls -l /' or "
            "'sh -c \"echo $HOSTNAME\"'"
        )
    return arguments


def run_command(
    client: CRIClient, container_id: str, command: str, *, timeout: int = 10
) -> ExecResult:
    """Run a shell-quoted command line in a container with ExecSync and wait for it.

    ``timeout`` (whole seconds) bounds the command inside the container, and
    CRITimeout is raised when it runs out.
    """
    _check_count(timeout, "exec timeout")
    return client.exec_sync(container_id, parse_command(command), timeout=timeout)


def exec_result_html(command: str | list[str], result: ExecResult) -> str:
    """Show the command, its exit code, and its stdout and stderr."""
    shown = command if isinstance(command, str) else shlex.join(command)
    colour = OK_COLOUR if result.exit_code == 0 else ERROR_COLOUR
    return "".join(
        [
            _html.code_block(f"$ {shown}"),
            _html.paragraph(f"exit code {result.exit_code}", colour=colour),
            _html.heading("stdout", level=5),
            _html.code_block(result.stdout.decode(errors="replace") or "(empty)"),
            _html.heading("stderr", level=5),
            _html.code_block(result.stderr.decode(errors="replace") or "(empty)"),
        ]
    )


# -------------------------------------------------------------------- stats


def stats_row(current: Any, previous: Any = None) -> dict[str, Any]:
    """Turn one ContainerStats into CPU and memory numbers.

    ``cpu_cores`` is the CPU use between ``previous`` (an earlier sample of
    the same container) and ``current``; it is None without an earlier
    sample. Byte counts are None where the runtime did not report them.
    """
    frame = container_stats_frame([current], [previous] if previous is not None else [])
    return frame.iloc[0].to_dict()


def stats_html(row: Mapping[str, Any]) -> str:
    """Show a stats_row: CPU rate and total, memory working set, usage and RSS."""

    def size(key: str) -> str:
        value = row.get(key)
        if value is None or pd.isna(value):
            return "not reported"
        return f"{_html.human_size(value)} ({int(value):,} bytes)"

    cpu_cores = row.get("cpu_cores")
    cpu_total = row.get("cpu_total_ns")
    rows = {
        "sampled at": row.get("time"),
        "CPU (cores)": (
            "needs a second sample: press the button again"
            if cpu_cores is None or pd.isna(cpu_cores)
            else f"{cpu_cores:.4f}"
        ),
        "CPU time in total": (
            "not reported"
            if cpu_total is None or pd.isna(cpu_total)
            else f"{cpu_total / 1e9:.3f} s"
        ),
        "memory working set": size("memory_working_set_bytes"),
        "memory usage": size("memory_usage_bytes"),
        "memory RSS": size("memory_rss_bytes"),
        "writable layer": size("writable_layer_bytes"),
    }
    return _html.key_value_table(rows)


def stats_plot_html(samples: pd.DataFrame, *, title: str = "") -> str:
    """Plot samples (rows of stats_row) with ocilab.cri.plots.plot_stats, as PNG."""
    from ..cri.plots import plot_stats

    frame = samples.copy()
    frame["cpu_cores"] = pd.to_numeric(frame["cpu_cores"])
    frame["memory_working_set_bytes"] = pd.to_numeric(frame["memory_working_set_bytes"])
    figure = plot_stats(frame, title=title or "Container resource use")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return _html.png_image(buffer.getvalue(), alt=title or "CPU and memory over time")


# -------------------------------------------------------------------- errors


def error_html(error: BaseException, action: str) -> str:
    """Describe a failed action in words: what failed, the error type and message."""
    code = getattr(error, "code", None)
    kind = type(error).__name__ + (f", {code}" if isinstance(code, str) else "")
    return _html.paragraph(f"{action} failed ({kind}): {error}", colour=ERROR_COLOUR)


# ----------------------------------------------------------------- explorer


def _open_client(
    client: CRIClient | str | os.PathLike[str] | None,
) -> tuple[CRIClient, bool]:
    """Return the client to use and whether the explorer opened it (and closes it)."""
    if isinstance(client, CRIClient):
        return client, False
    if client is None or isinstance(client, (str, os.PathLike)):
        return CRIClient(client), True
    raise TypeError(
        f"invalid client {client!r}: pass a CRIClient, an endpoint such as "
        "'unix:///run/containerd/containerd.sock', or None for the running lab"
    )


class CRIExplorer:
    """Browse a CRI runtime's pods and containers, read logs, exec and sample stats.

    ``client`` is a CRIClient, an endpoint, or None for the running lab (or a
    node's default socket, as CRIClient chooses). Controls and panes are
    public attributes: choose with ``pod_select`` and ``container_select``,
    and read ``details_html``, ``log_html``, ``exec_html`` and ``stats_html``.
    Call :meth:`close` to stop following a log (and to close the client when
    the explorer opened it).
    """

    def __init__(
        self,
        client: CRIClient | str | os.PathLike[str] | None = None,
        *,
        tail_lines: int = 50,
        exec_timeout: int = 10,
        poll_interval: float = 0.5,
        plot: bool = True,
    ) -> None:
        import ipywidgets as widgets

        _check_count(tail_lines, "tail_lines")
        _check_count(exec_timeout, "exec_timeout")
        self.client, self._owns_client = _open_client(client)
        self.poll_interval = poll_interval
        self.plot = plot
        self._quiet = False
        self._log_lock = threading.Lock()
        self._log_entries: collections.deque[LogEntry] = collections.deque(
            maxlen=tail_lines
        )
        self._follow_stop: threading.Event | None = None
        self._follow_thread: threading.Thread | None = None
        self._render_thread: threading.Thread | None = None
        self._log_dirty = False
        self._stats_previous: Any = None
        self._stats_rows: list[dict[str, Any]] = []

        self.refresh_button = widgets.Button(
            description="Refresh",
            icon="refresh",
            tooltip="List pods and containers again",
        )
        self.status_html = widgets.HTML()
        self.pod_select = widgets.Dropdown(description="Pod", options=[])
        self.pods_html = widgets.HTML()
        self.container_select = widgets.Dropdown(description="Container", options=[])
        self.containers_html = widgets.HTML()
        self.details_html = widgets.HTML()

        self.tail_lines = widgets.BoundedIntText(
            value=tail_lines, min=1, max=100_000, description="Lines"
        )
        self.log_button = widgets.Button(description="Reload log", icon="refresh")
        self.follow_toggle = widgets.ToggleButton(
            description="Follow", icon="play", tooltip="Append new lines as they come"
        )
        self.log_html = widgets.HTML()

        self.exec_command = widgets.Text(
            description="Command", placeholder="ls -l /  or  sh -c 'echo $HOSTNAME'"
        )
        self.exec_timeout = widgets.BoundedIntText(
            value=exec_timeout, min=1, max=3600, description="Timeout (s)"
        )
        self.exec_button = widgets.Button(description="Run", icon="terminal")
        self.exec_html = widgets.HTML()

        self.stats_button = widgets.Button(description="Sample stats", icon="refresh")
        self.stats_html = widgets.HTML()
        self.plot_html = widgets.HTML()

        self.tabs = widgets.Tab(
            children=[
                self.details_html,
                widgets.VBox(
                    [
                        widgets.HBox(
                            [self.tail_lines, self.log_button, self.follow_toggle]
                        ),
                        self.log_html,
                    ]
                ),
                widgets.VBox(
                    [
                        widgets.HBox(
                            [self.exec_command, self.exec_timeout, self.exec_button]
                        ),
                        self.exec_html,
                    ]
                ),
                widgets.VBox([self.stats_button, self.stats_html, self.plot_html]),
            ],
            titles=("Details", "Log", "Exec", "Stats"),
        )
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.refresh_button, self.status_html]),
                self.pod_select,
                self.pods_html,
                self.container_select,
                self.containers_html,
                self.tabs,
            ]
        )

        self._widgets: list[Any] = [self.widget, self.tabs]
        self._widgets += [
            value
            for value in vars(self).values()
            if isinstance(value, widgets.DOMWidget) and value not in self._widgets
        ]
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.pod_select.observe(self._on_pod, names="value")
        self.container_select.observe(self._on_container, names="value")
        self.log_button.on_click(lambda _button: self.show_log())
        self.follow_toggle.observe(self._on_follow, names="value")
        self.exec_button.on_click(lambda _button: self.run_exec())
        self.stats_button.on_click(lambda _button: self.sample_stats())
        self.status_html.value = _html.paragraph(
            f"{self.client.endpoint.uri} (from {self.client.endpoint_source})"
        )
        self.refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pod_id(self) -> str | None:
        """The full id of the chosen pod, or None."""
        return self.pod_select.value

    @property
    def container_id(self) -> str | None:
        """The full id of the chosen container, or None."""
        return self.container_select.value

    @property
    def following(self) -> bool:
        """True while a background thread appends new log lines to log_html."""
        with self._log_lock:
            thread = self._follow_thread
        return thread is not None and thread.is_alive()

    def _guard(self, pane: Any, action: str, work: Callable[[], str]) -> bool:
        """Run work and put its HTML into pane; show any error there instead.

        Every exception is caught, because a callback that raises leaves the
        learner with a stale pane and the traceback in the browser console.
        """
        try:
            pane.value = work()
        except Exception as error:  # noqa: BLE001 - shown in the pane, see above
            log.warning("%s failed: %s", action, error)
            pane.value = error_html(error, action)
            return False
        return True

    # -- listing ------------------------------------------------------------

    def refresh(self) -> None:
        """List the pods again; the chosen pod and container stay chosen if present."""
        frame: list[pd.DataFrame] = []

        def list_pods() -> str:
            frame.append(pod_frame(self.client))
            if frame[0].empty:
                return _html.paragraph("The runtime has no pods.")
            return _html.frame_table(frame[0][POD_COLUMNS])

        listed = self._guard(self.pods_html, "Listing pods", list_pods)
        options = (
            [(_pod_label(row), row["id"]) for _, row in frame[0].iterrows()]
            if listed
            else []
        )
        self._set_options(self.pod_select, options)
        self._show_pod()

    def _set_options(self, select: Any, options: list[tuple[str, str]]) -> None:
        previous = select.value
        self._quiet = True
        try:
            select.options = options
            values = [value for _, value in options]
            if previous in values:
                select.value = previous
            elif values:
                # The first pod or container is chosen, so the panes show
                # something instead of asking for a choice among one.
                select.value = values[0]
        finally:
            self._quiet = False

    def _on_pod(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._show_pod()

    def _on_container(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._show_container()

    def _show_pod(self) -> None:
        pod_id = self.pod_id
        frame: list[pd.DataFrame] = []

        def list_containers() -> str:
            if pod_id is None:
                return ""
            frame.append(container_frame(self.client, pod_id))
            if frame[0].empty:
                return _html.paragraph(f"Pod {short_id(pod_id)} has no containers.")
            return _html.frame_table(frame[0][CONTAINER_COLUMNS])

        listed = self._guard(
            self.containers_html, "Listing containers", list_containers
        )
        options = (
            [(_container_label(row), row["id"]) for _, row in frame[0].iterrows()]
            if listed and frame
            else []
        )
        self._set_options(self.container_select, options)
        self._show_container()

    def _show_container(self) -> None:
        self.stop_follow()
        self._stats_previous = None
        self._stats_rows = []
        self.exec_html.value = ""
        self.plot_html.value = ""
        if self.container_id is None:
            message = _html.paragraph("Choose a pod that has containers.")
            for pane in (self.details_html, self.log_html, self.stats_html):
                pane.value = message
            return
        self.show_details()
        self.show_log()
        self.sample_stats()

    # -- actions ------------------------------------------------------------

    def show_details(self) -> None:
        """Show the chosen container's status and runtime spec in details_html."""
        container_id = self.container_id
        if container_id is None:
            self.details_html.value = _html.paragraph("Choose a container first.")
            return
        self._guard(
            self.details_html,
            f"Reading the status of container {short_id(container_id)}",
            lambda: details_html(container_details(self.client, container_id)),
        )

    def show_log(self) -> None:
        """Show the last tail_lines lines of the chosen container's log in log_html."""
        container_id = self.container_id
        if container_id is None:
            self.log_html.value = _html.paragraph("Choose a container first.")
            return
        with self._log_lock:
            following = self._follow_thread is not None
        if following:
            # start_follow reads the tail again before it follows.
            self.stop_follow()
            self.start_follow()
            return

        def read() -> str:
            lines = self.tail_lines.value
            path = container_log_path(self.client, container_id)
            entries = _read_tail(path, container_id, lines)
            with self._log_lock:
                self._log_entries = collections.deque(entries, maxlen=lines)
                return log_html(self._log_entries, path=path)

        self._guard(self.log_html, "Reading the log", read)

    def run_exec(self) -> None:
        """Run exec_command in the chosen container and show the result in exec_html."""
        container_id = self.container_id
        command = self.exec_command.value
        if container_id is None:
            self.exec_html.value = _html.paragraph("Choose a container first.")
            return
        self.exec_html.value = _html.paragraph(f"Running {command} ...")
        self._guard(
            self.exec_html,
            f"Running {command!r} in container {short_id(container_id)}",
            lambda: exec_result_html(
                command,
                run_command(
                    self.client,
                    container_id,
                    command,
                    timeout=self.exec_timeout.value,
                ),
            ),
        )

    def sample_stats(self) -> None:
        """Take one ContainerStats sample and show it (and the plot) in stats_html."""
        container_id = self.container_id
        if container_id is None:
            self.stats_html.value = _html.paragraph("Choose a container first.")
            return

        def sample() -> str:
            current = self.client.container_stats(container_id)
            row = stats_row(current, self._stats_previous)
            self._stats_previous = current
            self._stats_rows.append(row)
            return stats_html(row)

        sampled = self._guard(
            self.stats_html,
            f"Reading the stats of container {short_id(container_id)}",
            sample,
        )
        if sampled and self.plot and len(self._stats_rows) >= 2:
            samples = pd.DataFrame(self._stats_rows)
            self._guard(
                self.plot_html,
                "Plotting the stats",
                lambda: stats_plot_html(
                    samples, title=f"container {short_id(container_id)}"
                ),
            )

    # -- following ----------------------------------------------------------

    def _on_follow(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.start_follow()
        else:
            self.stop_follow()

    def start_follow(self) -> None:
        """Show the log's last tail_lines lines, then append new lines as they come.

        A background thread follows the log file (ocilab.cri.logs.follow_log)
        until stop_follow, another container or close.
        """
        container_id = self.container_id
        with self._log_lock:
            if self._follow_thread is not None:
                return
        if container_id is None:
            self.log_html.value = _html.paragraph("Choose a container first.")
            self.follow_toggle.value = False
            return
        lines = self.tail_lines.value
        stop = threading.Event()
        try:
            path = container_log_path(self.client, container_id)
            # follow_log starts at the file's end as of this call, and the
            # tail is read after it, so no line falls between the two. Lines
            # written in between are in both, and the follower skips them.
            entries = follow_log(
                path,
                stop=stop,
                from_start=False,
                errors="skip",
                poll_interval=self.poll_interval,
            )
            tail = _read_tail(path, container_id, lines)
        except Exception as error:  # noqa: BLE001 - a callback must not raise
            log.warning("following the log of %s failed: %s", container_id, error)
            self.log_html.value = error_html(error, "Following the log")
            self.follow_toggle.value = False
            return
        seen = {(entry.timestamp_ns, entry.stream, entry.content) for entry in tail}
        reader = threading.Thread(
            target=self._follow,
            args=(entries, path, seen),
            name=f"ocilab-follow-{short_id(container_id)}",
            daemon=True,
        )
        renderer = threading.Thread(
            target=self._render_follow,
            args=(path, container_id, stop),
            name=f"ocilab-follow-render-{short_id(container_id)}",
            daemon=True,
        )
        with self._log_lock:
            self._log_entries = collections.deque(tail, maxlen=lines)
            self._log_dirty = False
            self.log_html.value = log_html(tail, path=path, note="following")
            self._follow_stop = stop
            self._follow_thread = reader
            self._render_thread = renderer
        reader.start()
        renderer.start()
        # Keeps the toggle in step when start_follow is called directly. Its
        # observer then finds the thread running and returns.
        self.follow_toggle.value = True

    def _follow(self, entries: Iterable[LogEntry], path: str, seen: set[Any]) -> None:
        """Append new entries; the renderer thread redraws the pane."""
        try:
            for entry in entries:
                with self._log_lock:
                    if (entry.timestamp_ns, entry.stream, entry.content) in seen:
                        continue
                    self._log_entries.append(entry)
                    self._log_dirty = True
        except Exception as error:  # noqa: BLE001 - see the comment below
            # An exception here would reach no caller, so the pane shows it.
            log.warning("following %s failed: %s", path, error)
            with self._log_lock:
                self._log_dirty = False
                self.log_html.value = log_html(self._log_entries, path=path) + (
                    error_html(error, f"Following {path}")
                )

    def _render_follow(
        self, path: str, container_id: str, stop: threading.Event
    ) -> None:
        """Redraw the log pane at most once per poll interval while lines arrive.

        A redraw formats the whole tail, so redrawing once per line would let a
        fast writer outpace the follower. Every few seconds the
        container's status is checked too, because containerd 1.6 keeps the
        log file after RemoveContainer, so the file alone never shows that
        the container is gone.
        """
        checked = time.monotonic()
        while not stop.wait(self.poll_interval):
            self._redraw_if_dirty(path, "following")
            if time.monotonic() - checked < REMOVAL_CHECK_SECONDS:
                continue
            checked = time.monotonic()
            try:
                self.client.container_status(container_id)
            except CRICallError as error:
                if error.code != "NOT_FOUND":
                    continue
                stop.set()
                with self._log_lock:
                    self.log_html.value = log_html(
                        self._log_entries,
                        path=path,
                        note="stopped: the container was removed",
                    )
                    self._log_dirty = False
                    self._follow_stop = self._follow_thread = None
                    self._render_thread = None
                self.follow_toggle.value = False
                return
            except Exception as error:  # noqa: BLE001 - a lost runtime is not fatal here
                log.warning(
                    "status of %s during follow failed: %s", container_id, error
                )
        self._redraw_if_dirty(path, None)

    def _redraw_if_dirty(self, path: str, note: str | None) -> None:
        with self._log_lock:
            if not self._log_dirty:
                return
            self._log_dirty = False
            self.log_html.value = log_html(
                self._log_entries, path=path, note=note or ""
            )

    def stop_follow(self) -> None:
        """Stop following the log; lines already shown stay."""
        with self._log_lock:
            stop, threads = (
                self._follow_stop,
                (self._follow_thread, self._render_thread),
            )
            self._follow_stop = self._follow_thread = None
            self._render_thread = None
        if stop is not None:
            stop.set()
        for thread in threads:
            if thread is None or thread is threading.current_thread():
                continue
            thread.join(timeout=self.poll_interval * 4 + 5)
            if thread.is_alive():
                log.warning("the log follower %s did not stop in time", thread.name)
        if self.follow_toggle.value:
            self.follow_toggle.value = False

    def close(self) -> None:
        """Stop following and close the widgets (and the client, if opened here)."""
        self.stop_follow()
        for control in self._widgets:
            control.close()
        if self._owns_client:
            self.client.close()
