"""The CRI explorer against the lab's containerd: listing, details, logs, exec, stats.

A module fixture runs one pod with a busybox container that writes three log
lines and then waits. Each test builds its own explorer, drives it by setting
its controls' values and clicking its buttons, reads its HTML panes back, and
closes it. The pod is removed in the fixture's finally block.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ocilab.cri import CRIClient, ExecResult
from ocilab.cri.logs import LogEntry
from ocilab.errors import InvalidRequestError
from ocilab.lab import LabInfo
from ocilab.widgets import CRIExplorer
from ocilab.widgets.cri import (
    container_details,
    container_frame,
    exec_result_html,
    log_html,
    log_tail,
    parse_command,
    pod_frame,
    run_command,
    runtime_spec_summary,
)

# The container logs three lines, then prints whatever a test moves to /say.
# The pause keeps the order of the two streams in the log file fixed.
LOG_SCRIPT = (
    "echo err-line >&2; sleep 0.3; echo line-one; echo line-two; trap 'exit 0' TERM; "
    "while :; do if [ -f /say ]; then cat /say; rm /say; fi; sleep 0.1; done"
)


@dataclass
class Workload:
    cri: CRIClient
    lab: LabInfo
    pod_id: str
    pod_name: str
    pod_config: dict[str, object]
    container_id: str
    image: str


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll condition every 0.1 s; return whether it held within timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def say(workload: Workload, text: str) -> None:
    """Make the workload's container print text to its log (stdout)."""
    # The pod's PID namespace is shared, so PID 1 is the pause process and its
    # stdout is not the log: the container's own loop prints the file instead.
    workload.cri.exec_sync(
        workload.container_id,
        ["sh", "-c", f"echo {text} > /say.new && mv /say.new /say"],
    )


def container_config(image: str, name: str, script: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "attempt": 0},
        "image": {"image": image},
        "command": ["sh", "-c", script],
        "labels": {"role": name},
        "log_path": f"{name}/0.log",
    }


@pytest.fixture(scope="module")
def workload(lab: LabInfo) -> Iterator[Workload]:
    """A running pod whose container "main" logged err-line, line-one and line-two."""
    cri = CRIClient(lab.cri_endpoint, timeout=60)
    image = lab.images["busybox"]
    cri.pull_image(image)
    uid = str(uuid.uuid4())
    name = f"widgets-{uid[:8]}"
    pod_config = {
        "metadata": {"name": name, "namespace": "widget-tests", "uid": uid},
        "hostname": name,
        "log_directory": str(Path(lab.state_dir) / "pod-logs" / name),
        "linux": {"cgroup_parent": f"{lab.cgroup_parent}/pod-{uid}"},
    }
    pod_id = cri.run_pod(pod_config)
    try:
        container_id = cri.create_container(
            pod_id, container_config(image, "main", LOG_SCRIPT), pod_config
        )
        cri.start_container(container_id)
        assert wait_for(lambda: len(log_tail(cri, container_id, 10)) == 3)
        yield Workload(cri, lab, pod_id, name, pod_config, container_id, image)
    finally:
        cri.stop_pod(pod_id)
        cri.remove_pod(pod_id)
        cri.close()


@pytest.fixture
def explorer(workload: Workload) -> Iterator[CRIExplorer]:
    """An explorer on the workload's pod and container."""
    view = CRIExplorer(workload.cri, poll_interval=0.1)
    try:
        view.pod_select.value = workload.pod_id
        view.container_select.value = workload.container_id
        yield view
    finally:
        view.close()


# --- pure functions against the lab ------------------------------------------


@pytest.mark.lab
def test_pod_frame_has_pod(workload: Workload) -> None:
    frame = pod_frame(workload.cri)
    row = frame[frame["id"] == workload.pod_id].iloc[0]
    assert row["name"] == workload.pod_name
    assert row["namespace"] == "widget-tests"
    assert row["state"] == "Ready"


@pytest.mark.lab
def test_container_frame_of_pod(workload: Workload) -> None:
    frame = container_frame(workload.cri, workload.pod_id)
    assert list(frame["id"]) == [workload.container_id]
    assert frame.iloc[0]["name"] == "main"
    assert frame.iloc[0]["state"] == "Running"


@pytest.mark.lab
def test_container_details_running(workload: Workload) -> None:
    details = container_details(workload.cri, workload.container_id)
    assert details["id"] == workload.container_id
    assert details["state"] == "Running"
    assert details["image"] == workload.image
    # containerd 1.6 reports the repo digest here, not the image id.
    assert "@sha256:" in details["image_ref"]
    assert details["exit_code"] is None
    assert details["started"] >= details["created"]
    assert details["labels"] == {"role": "main"}
    assert details["runtime_spec"]["process"]["args"] == ["sh", "-c", LOG_SCRIPT]


@pytest.mark.lab
def test_runtime_spec_summary_namespaces(workload: Workload) -> None:
    details = container_details(workload.cri, workload.container_id)
    summary = runtime_spec_summary(details["runtime_spec"])
    assert summary["process.args"].startswith("sh -c ")
    # containerd puts the container into the sandbox's network namespace.
    assert re.search(r"network \(joins /\S+\)", summary["linux.namespaces"])
    assert "mount" in summary["linux.namespaces"]


@pytest.mark.lab
def test_log_tail_last_lines(workload: Workload) -> None:
    entries = log_tail(workload.cri, workload.container_id, 3)
    assert [entry.content for entry in entries] == ["err-line", "line-one", "line-two"]
    assert [entry.stream for entry in entries] == ["stderr", "stdout", "stdout"]
    assert len(log_tail(workload.cri, workload.container_id, 1)) == 1


@pytest.mark.lab
def test_log_tail_rejects_zero(workload: Workload) -> None:
    with pytest.raises(ValueError, match="invalid number of log lines 0"):
        log_tail(workload.cri, workload.container_id, 0)


@pytest.mark.lab
def test_run_command_quoted(workload: Workload) -> None:
    result = run_command(
        workload.cri, workload.container_id, "sh -c 'echo \"a  b\"; exit 4'"
    )
    assert result.exit_code == 4
    assert result.stdout == b"a  b\n"


# --- the explorer against the lab --------------------------------------------


@pytest.mark.lab
def test_explorer_lists_pod(explorer: CRIExplorer, workload: Workload) -> None:
    assert workload.pod_id in [value for _, value in explorer.pod_select.options]
    assert workload.pod_name in explorer.pods_html.value
    assert explorer.container_select.options[0][1] == workload.container_id
    assert workload.container_id[:13] in explorer.containers_html.value


@pytest.mark.lab
def test_explorer_details_pane(explorer: CRIExplorer, workload: Workload) -> None:
    pane = explorer.details_html.value
    assert workload.container_id in pane
    assert "Running" in pane
    assert workload.image in pane
    assert "linux.namespaces" in pane
    assert "Full runtime spec" in pane


@pytest.mark.lab
def test_explorer_log_pane(explorer: CRIExplorer) -> None:
    pane = explorer.log_html.value
    assert "stdout line-one" in pane
    assert "stdout line-two" in pane
    assert "stderr err-line" in pane


@pytest.mark.lab
def test_explorer_log_tail_lines(explorer: CRIExplorer) -> None:
    explorer.tail_lines.value = 1
    explorer.log_button.click()
    assert "stdout line-two" in explorer.log_html.value
    assert "line-one" not in explorer.log_html.value
    assert "Last 1 lines" in explorer.log_html.value


@pytest.mark.lab
def test_explorer_exec_echo(explorer: CRIExplorer) -> None:
    explorer.exec_command.value = "echo 'hello <widgets>'"
    explorer.exec_button.click()
    assert "hello &lt;widgets&gt;" in explorer.exec_html.value
    assert "exit code 0" in explorer.exec_html.value


@pytest.mark.lab
def test_explorer_exec_failure(explorer: CRIExplorer) -> None:
    explorer.exec_command.value = "sh -c 'echo oops >&2; exit 3'"
    explorer.exec_button.click()
    assert "exit code 3" in explorer.exec_html.value
    assert "oops" in explorer.exec_html.value


@pytest.mark.lab
def test_explorer_exec_timeout(explorer: CRIExplorer) -> None:
    explorer.exec_timeout.value = 1
    explorer.exec_command.value = "sleep 10"
    started = time.monotonic()
    explorer.exec_button.click()
    assert time.monotonic() - started < 9
    assert "failed (CRITimeout" in explorer.exec_html.value
    assert "timeout of 1 s" in explorer.exec_html.value


@pytest.mark.lab
def test_explorer_exec_bad_quote(explorer: CRIExplorer) -> None:
    explorer.exec_command.value = "echo 'unfinished"
    explorer.exec_button.click()
    assert "InvalidRequestError" in explorer.exec_html.value
    assert "close the quote" in explorer.exec_html.value


@pytest.mark.lab
def test_explorer_follow(explorer: CRIExplorer, workload: Workload) -> None:
    explorer.follow_toggle.value = True
    marker = f"later-{uuid.uuid4().hex[:6]}"
    say(workload, marker)
    assert wait_for(lambda: marker in explorer.log_html.value)
    assert "following" in explorer.log_html.value
    assert "line-one" in explorer.log_html.value
    explorer.follow_toggle.value = False
    assert not explorer.following
    late = f"after-stop-{uuid.uuid4().hex[:6]}"
    say(workload, late)
    assert wait_for(
        lambda: (
            late
            in "".join(
                e.content for e in log_tail(workload.cri, workload.container_id, 5)
            )
        )
    )
    time.sleep(0.5)
    assert late not in explorer.log_html.value


@pytest.mark.lab
def test_explorer_close_stops_follow(workload: Workload) -> None:
    view = CRIExplorer(workload.cri, poll_interval=0.1)
    view.pod_select.value = workload.pod_id
    view.container_select.value = workload.container_id
    try:
        view.follow_toggle.value = True
        assert view.following
    finally:
        view.close()
    assert not view.following
    assert view.follow_toggle.value is False


@pytest.mark.lab
def test_explorer_reload_keeps_following(
    explorer: CRIExplorer, workload: Workload
) -> None:
    explorer.follow_toggle.value = True
    explorer.tail_lines.value = 2
    explorer.log_button.click()
    assert explorer.following
    assert "Last 2 lines" in explorer.log_html.value
    marker = f"reloaded-{uuid.uuid4().hex[:6]}"
    say(workload, marker)
    assert wait_for(lambda: marker in explorer.log_html.value)


@pytest.mark.lab
def test_explorer_stats(explorer: CRIExplorer) -> None:
    first = explorer.stats_html.value
    assert "needs a second sample" in first
    assert re.search(
        r"memory working set</th><td[^>]*>[\d.]+ \w+ \([\d,]+ bytes\)", first
    )
    time.sleep(0.3)
    explorer.stats_button.click()
    second = explorer.stats_html.value
    assert re.search(r"CPU \(cores\)</th><td[^>]*>\d+\.\d{4}<", second)
    assert re.search(r"CPU time in total</th><td[^>]*>\d+\.\d{3} s<", second)
    assert "data:image/png;base64," in explorer.plot_html.value


@pytest.mark.lab
def test_explorer_removed_container(workload: Workload) -> None:
    cri = workload.cri
    container_id = cri.create_container(
        workload.pod_id,
        container_config(workload.image, "doomed", "sleep 600"),
        workload.pod_config,
    )
    view = CRIExplorer(cri)
    try:
        cri.start_container(container_id)
        view.refresh_button.click()
        view.pod_select.value = workload.pod_id
        view.container_select.value = container_id
        assert "doomed" in view.details_html.value

        cri.remove_container(container_id)
        view.exec_command.value = "true"
        view.exec_button.click()
        assert "failed (CRICallError, NOT_FOUND)" in view.exec_html.value
        view.show_details()
        assert "failed (CRICallError, NOT_FOUND)" in view.details_html.value
        view.stats_button.click()
        assert "failed (CRICallError, NOT_FOUND)" in view.stats_html.value
        view.log_button.click()
        assert "Reading the log failed" in view.log_html.value

        view.refresh_button.click()
        listed = [value for _, value in view.container_select.options]
        assert container_id not in listed
        assert workload.container_id in listed
    finally:
        view.close()
        cri.remove_container(container_id)


# --- without the lab ---------------------------------------------------------


def test_explorer_dead_socket(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))  # bound but never listening: connections are refused
    try:
        view = CRIExplorer(f"unix://{path}")
        try:
            assert (
                "Listing pods failed (RuntimeUnavailableError" in view.pods_html.value
            )
            assert str(path) in view.pods_html.value
            assert view.pod_select.options == ()
            assert "Choose a pod" in view.details_html.value
        finally:
            view.close()
    finally:
        listener.close()


def test_explorer_rejects_bad_client() -> None:
    with pytest.raises(TypeError, match="invalid client 42: pass a CRIClient"):
        CRIExplorer(42)  # type: ignore[arg-type]


def test_parse_command_quotes() -> None:
    assert parse_command("sh -c 'echo a  b'") == ["sh", "-c", "echo a  b"]


def test_parse_command_empty() -> None:
    with pytest.raises(InvalidRequestError, match="empty command"):
        parse_command("   ")


def test_exec_result_html_escapes() -> None:
    result = ExecResult(2, b"<b>out</b>\n", b"")
    pane = exec_result_html(["echo", "<b>"], result)
    assert "&lt;b&gt;out&lt;/b&gt;" in pane
    assert "exit code 2" in pane
    assert "$ echo &#x27;&lt;b&gt;&#x27;" in pane
    assert "(empty)" in pane


@pytest.mark.lab
def test_follow_stops_when_container_removed(workload: Workload) -> None:
    cri = workload.cri
    container_id = cri.create_container(
        workload.pod_id,
        container_config(workload.image, "gone", "echo before; sleep 600"),
        workload.pod_config,
    )
    view = CRIExplorer(cri, poll_interval=0.1)
    try:
        cri.start_container(container_id)
        view.refresh_button.click()
        view.pod_select.value = workload.pod_id
        view.container_select.value = container_id
        view.follow_toggle.value = True
        assert view.following

        cri.stop_container(container_id, grace_period=0)
        cri.remove_container(container_id)

        assert wait_for(lambda: not view.following, timeout=10)
        assert "stopped: the container was removed" in view.log_html.value
        assert view.follow_toggle.value is False
    finally:
        view.close()


@pytest.mark.lab
def test_follow_keeps_up_with_fast_writer(workload: Workload) -> None:
    cri = workload.cri
    script = "sleep 1; i=0; while [ $i -lt 20000 ]; do echo fast-$i; i=$((i+1)); done; sleep 600"
    container_id = cri.create_container(
        workload.pod_id,
        container_config(workload.image, "fast", script),
        workload.pod_config,
    )
    view = CRIExplorer(cri, poll_interval=0.1, tail_lines=20000)
    try:
        cri.start_container(container_id)
        view.refresh_button.click()
        view.pod_select.value = workload.pod_id
        view.container_select.value = container_id
        view.follow_toggle.value = True
        # Redrawing once per poll, not once per line, keeps the follower close
        # behind the writer; the pane keeps the newest lines when it cuts.
        assert wait_for(lambda: "fast-19999" in view.log_html.value, timeout=30)
        started = time.monotonic()
        view.close()
        assert time.monotonic() - started < 5
        assert not view.following
        assert all(
            not thread.name.startswith("ocilab-follow") or not thread.is_alive()
            for thread in threading.enumerate()
        )
    finally:
        view.close()
        cri.stop_container(container_id, grace_period=0)
        cri.remove_container(container_id)


def test_log_html_keeps_newest_lines() -> None:
    entries = [
        LogEntry(
            timestamp_ns=1_700_000_000_000_000_000 + index,
            stream="stdout",
            content=f"line-{index:05d} " + "x" * 60,
        )
        for index in range(5000)
    ]
    page = log_html(entries)
    assert "line-04999" in page
    assert "line-00000" not in page
    assert "(last 200,000 of" in page


@pytest.mark.lab
def test_explorer_preselects_first_pod(workload: Workload) -> None:
    view = CRIExplorer(workload.cri)
    try:
        pods = [value for _, value in view.pod_select.options]
        assert workload.pod_id in pods
        assert view.pod_select.value == pods[0]
        assert view.container_select.value is not None
        assert "Choose a pod" not in view.details_html.value
    finally:
        view.close()
