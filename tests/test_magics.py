"""The %cri and %%runtime_config magics, run in a real IPython shell.

The %cri tests talk to the containerd of the lab fixture; the dead-socket test
binds a unix socket in tmp_path that never listens.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

from ocilab.cri import CRIClient
from ocilab.cri.types import RuntimeVersion
from ocilab.lab import LabInfo
from ocilab.magics import CommandText, ExecOutput, OcilabMagics
from ocilab.runtime import RuntimeConfig, default_config, dumps

# CONTAINER_EXITED in both CRI API packages.
_EXITED = 2


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    """An IPython shell with ocilab's magics loaded and history kept in memory."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ipython = InteractiveShell.instance(config=config)
    ipython.run_line_magic("load_ext", "ocilab")
    yield ipython
    ipython.run_line_magic("unload_ext", "ocilab")


@dataclass(frozen=True)
class Captured:
    """What one magic returned, and what it printed and displayed."""

    value: Any
    stdout: str
    stderr: str
    outputs: list[dict[str, str]]


def _line(shell: InteractiveShell, line: str) -> Captured:
    with capture_output() as captured:
        value = shell.run_line_magic("cri", line)
    outputs = [output.data for output in captured.outputs]
    return Captured(value, captured.stdout, captured.stderr, outputs)


def _cell(shell: InteractiveShell, line: str, cell: str) -> Captured:
    with capture_output() as captured:
        value = shell.run_cell_magic("runtime_config", line, cell)
    outputs = [output.data for output in captured.outputs]
    return Captured(value, captured.stdout, captured.stderr, outputs)


def _wait_for(check: Any, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _pod_config(lab: LabInfo, name: str) -> dict[str, Any]:
    uid = str(uuid.uuid4())
    return {
        "metadata": {"name": name, "namespace": "magic-tests", "uid": uid},
        "hostname": name,
        "labels": {"suite": "magics"},
        "log_directory": str(Path(lab.state_dir) / "pod-logs" / f"{name}-{uid}"),
        "linux": {"cgroup_parent": f"{lab.cgroup_parent}/pod-{uid}"},
    }


def _container_config(lab: LabInfo, name: str, command: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "image": {"image": lab.images["busybox"]},
        "command": command,
        "log_path": f"{name}/0.log",
    }


@dataclass(frozen=True)
class Workload:
    endpoint: str
    pod_id: str
    busy_id: str
    exited_id: str


@pytest.fixture(scope="module")
def workload(lab: LabInfo) -> Iterator[Workload]:
    """A pod with a running container and one that has exited."""
    cri = CRIClient(lab.cri_endpoint, timeout=60)
    pod_config = _pod_config(lab, f"magic-{uuid.uuid4().hex[:8]}")
    cri.pull_image(lab.images["busybox"])
    pod_id = cri.run_pod(pod_config)
    try:
        busy_id = cri.create_container(
            pod_id, _container_config(lab, "busy", ["sleep", "600"]), pod_config
        )
        cri.start_container(busy_id)
        exited_id = cri.create_container(
            pod_id, _container_config(lab, "done", ["echo", "done"]), pod_config
        )
        cri.start_container(exited_id)
        _wait_for(
            lambda: cri.container_status(exited_id).status.state == _EXITED,
            "the short container to exit",
        )
        yield Workload(lab.cri_endpoint, pod_id, busy_id, exited_id)
    finally:
        cri.stop_pod(pod_id)
        cri.remove_pod(pod_id)
        cri.close()


# -- %cri: values ----------------------------------------------------------------


@pytest.mark.lab
def test_cri_version(shell: InteractiveShell, lab: LabInfo) -> None:
    result = _line(shell, f"-r {lab.cri_endpoint} version")
    with CRIClient(lab.cri_endpoint) as cri:
        expected = cri.version()
    assert isinstance(result.value, RuntimeVersion)
    assert result.value == expected
    assert result.stderr == ""


@pytest.mark.lab
def test_cri_version_json(shell: InteractiveShell, lab: LabInfo) -> None:
    result = _line(shell, f"--endpoint {lab.cri_endpoint} version -o json")
    assert isinstance(result.value, dict)
    assert result.value["runtime_name"] == "containerd"
    assert result.value["endpoint"] == lab.cri_endpoint


@pytest.mark.lab
def test_cri_version_yaml(shell: InteractiveShell, lab: LabInfo) -> None:
    result = _line(shell, f"-r {lab.cri_endpoint} version -o yaml")
    assert isinstance(result.value, CommandText)
    assert "runtime_name: containerd\n" in result.value


@pytest.mark.lab
def test_cri_pods_frame(shell: InteractiveShell, workload: Workload) -> None:
    result = _line(shell, f"-r {workload.endpoint} pods")
    with CRIClient(workload.endpoint) as cri:
        pods = cri.list_pods()
    frame = result.value
    assert isinstance(frame, pd.DataFrame)
    assert sorted(frame["id"]) == sorted(pod.id for pod in pods)
    row = frame[frame["id"] == workload.pod_id].iloc[0]
    assert row["namespace"] == "magic-tests"
    assert row["state"] == "Ready"


@pytest.mark.lab
def test_cri_pods_filters(shell: InteractiveShell, workload: Workload) -> None:
    by_label = _line(shell, f"-r {workload.endpoint} pods --label suite=magics")
    assert list(by_label.value["id"]) == [workload.pod_id]
    quiet = _line(shell, f"-r {workload.endpoint} pods -q --namespace ^magic-tests$")
    assert quiet.value == [workload.pod_id]


@pytest.mark.lab
def test_cri_ps_running_only(shell: InteractiveShell, workload: Workload) -> None:
    frame = _line(shell, f"-r {workload.endpoint} ps --pod {workload.pod_id}").value
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["id"]) == [workload.busy_id]
    assert list(frame["pod_namespace"]) == ["magic-tests"]


@pytest.mark.lab
def test_cri_ps_all(shell: InteractiveShell, workload: Workload) -> None:
    frame = _line(shell, f"-r {workload.endpoint} ps -a --pod {workload.pod_id}").value
    with CRIClient(workload.endpoint) as cri:
        containers = cri.list_containers(pod_id=workload.pod_id)
    assert sorted(frame["id"]) == sorted(c.id for c in containers)
    states = dict(zip(frame["id"], frame["state"], strict=True))
    assert states[workload.busy_id] == "Running"
    assert states[workload.exited_id] == "Exited"


@pytest.mark.lab
def test_cri_ps_json(shell: InteractiveShell, workload: Workload) -> None:
    line = f"-r {workload.endpoint} ps -a --pod {workload.pod_id} -o json"
    data = _line(shell, line).value
    ids = {container["id"] for container in data["containers"]}
    assert ids == {workload.busy_id, workload.exited_id}


@pytest.mark.lab
def test_cri_images_frame(
    shell: InteractiveShell, workload: Workload, lab: LabInfo
) -> None:
    frame = _line(shell, f"-r {workload.endpoint} images").value
    with CRIClient(workload.endpoint) as cri:
        images = cri.list_images()
    assert isinstance(frame, pd.DataFrame)
    assert sorted(frame["id"]) == sorted(image.id for image in images)
    tags = [tag for row in frame["tags"] for tag in row]
    assert lab.images["busybox"] in tags
    assert (frame["size_bytes"] > 0).all()


@pytest.mark.lab
def test_cri_stats_frame(shell: InteractiveShell, workload: Workload) -> None:
    line = f"-r {workload.endpoint} stats --id {workload.busy_id} -s 0.5"
    frame = _line(shell, line).value
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["id"]) == [workload.busy_id]
    assert frame["memory_working_set_bytes"].iloc[0] > 0


@pytest.mark.lab
def test_cri_statsp_frame(shell: InteractiveShell, workload: Workload) -> None:
    line = f"-r {workload.endpoint} statsp --id {workload.pod_id} -s 0.5"
    frame = _line(shell, line).value
    assert list(frame["id"]) == [workload.pod_id]
    assert "cpu_cores" in frame.columns


@pytest.mark.lab
def test_cri_imagefsinfo_frame(shell: InteractiveShell, workload: Workload) -> None:
    frame = _line(shell, f"-r {workload.endpoint} imagefsinfo").value
    assert isinstance(frame, pd.DataFrame)
    assert "image" in set(frame["filesystem"])
    assert (frame["mountpoint"] != "").all()


@pytest.mark.lab
def test_cri_inspect_dict(shell: InteractiveShell, workload: Workload) -> None:
    data = _line(shell, f"-r {workload.endpoint} inspect {workload.busy_id}").value
    assert data["status"]["id"] == workload.busy_id
    assert data["status"]["state"] == "CONTAINER_RUNNING"
    assert data["info"]["sandboxID"] == workload.pod_id


@pytest.mark.lab
def test_cri_inspectp_dict(shell: InteractiveShell, workload: Workload) -> None:
    data = _line(shell, f"-r {workload.endpoint} inspectp {workload.pod_id}").value
    assert data["status"]["id"] == workload.pod_id
    assert data["status"]["metadata"]["namespace"] == "magic-tests"


@pytest.mark.lab
def test_cri_logs_follow_exited(shell: InteractiveShell, workload: Workload) -> None:
    # -f prints while it runs, and ends once the container is not running.
    result = _line(shell, f"-r {workload.endpoint} logs -f {workload.exited_id}")
    assert result.value is None
    assert result.stdout == "done\n"
    assert result.stderr == ""


@pytest.mark.lab
def test_cri_events_unsupported(shell: InteractiveShell, lab: LabInfo) -> None:
    result = _line(shell, f"-r {lab.cri_endpoint} events --timeout 3")
    assert result.value is None
    assert result.stderr.startswith("error: ")
    assert "GetContainerEvents is not supported by this runtime" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.lab
def test_cri_runtime_config_unsupported(shell: InteractiveShell, lab: LabInfo) -> None:
    result = _line(shell, f"-r {lab.cri_endpoint} runtime-config")
    assert result.value is None
    assert "not supported by this runtime (containerd 1.6" in result.stderr


@pytest.mark.lab
def test_cri_status_and_info(shell: InteractiveShell, lab: LabInfo) -> None:
    status = _line(shell, f"-r {lab.cri_endpoint} status").value
    assert status.ready
    assert status.condition("RuntimeReady").status
    info = _line(shell, f"-r {lab.cri_endpoint} info").value
    assert info["status"]["conditions"][0]["type"] == "RuntimeReady"
    assert "config" in info


@pytest.mark.lab
def test_cri_call_by_path(shell: InteractiveShell, lab: LabInfo) -> None:
    line = f"-r {lab.cri_endpoint} call runtime.v1.RuntimeService/Version '{{}}'"
    reply = _line(shell, line).value
    assert reply["runtime_name"] == "containerd"


@pytest.mark.lab
def test_cri_assignment_in_cell(shell: InteractiveShell, workload: Workload) -> None:
    with capture_output():
        shell.run_cell(f"frame = %cri -r {workload.endpoint} ps -a")
    frame = shell.user_ns["frame"]
    assert isinstance(frame, pd.DataFrame)
    assert workload.exited_id in set(frame["id"])


@pytest.mark.lab
def test_cri_lifecycle_round_trip(
    shell: InteractiveShell, lab: LabInfo, tmp_path: Path
) -> None:
    name = f"magic-life-{uuid.uuid4().hex[:8]}"
    pod_file = tmp_path / "pod.json"
    pod_file.write_text(json.dumps(_pod_config(lab, name)))
    command = ["sh", "-c", "echo one; echo two; exec sleep 600"]
    container_file = tmp_path / "container.json"
    container_file.write_text(json.dumps(_container_config(lab, "main", command)))
    endpoint = f"-r {lab.cri_endpoint} --timeout 60"

    pod_id = _line(shell, f"{endpoint} runp {pod_file}").value
    try:
        assert re.fullmatch(r"[0-9a-f]{64}", pod_id)
        create = f"{endpoint} create --with-pull {pod_id} {container_file} {pod_file}"
        container_id = _line(shell, create).value
        assert re.fullmatch(r"[0-9a-f]{64}", container_id)
        started = _line(shell, f"{endpoint} start {container_id}")
        assert started.value == f"{container_id}\n"
        assert isinstance(started.value, CommandText)

        ran = _line(shell, f"{endpoint} exec {container_id} sh -c 'hostname; exit 3'")
        assert isinstance(ran.value, ExecOutput)
        assert ran.value.exit_code == 3
        assert ran.value.stdout == f"{name}\n"

        def logged() -> bool:
            return _line(shell, f"{endpoint} logs {container_id}").value == "one\ntwo\n"

        _wait_for(logged, "the container's two log lines")
        tail = _line(shell, f"{endpoint} logs --tail 1 {container_id}")
        assert tail.value == "two\n"

        stopped = _line(shell, f"{endpoint} stopp {pod_id}")
        assert stopped.value == f"Stopped sandbox {pod_id}\n"
        removed = _line(shell, f"{endpoint} rmp {pod_id}")
        assert removed.value == f"Removed sandbox {pod_id}\n"
        assert _line(shell, f"{endpoint} pods -q --id {pod_id}").value == []
    finally:
        with CRIClient(lab.cri_endpoint, timeout=60) as cri:
            cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)


# -- %cri: errors and help ---------------------------------------------------------


def test_cri_unknown_verb(shell: InteractiveShell) -> None:
    result = _line(shell, "frobnicate")
    assert result.value is None
    assert result.stderr.startswith("usage: %cri")
    assert "%cri: error: argument VERB: invalid choice: 'frobnicate'" in result.stderr


def test_cri_bad_option(shell: InteractiveShell) -> None:
    result = _line(shell, "ps --bogus")
    assert result.value is None
    assert result.stderr.startswith("usage: %cri")
    assert "unrecognized arguments: --bogus" in result.stderr


def test_cri_bad_option_value(shell: InteractiveShell) -> None:
    result = _line(shell, "pods -o xml")
    assert result.value is None
    assert result.stderr.startswith("usage: %cri pods")
    assert "argument -o/--output: invalid choice: 'xml'" in result.stderr


def test_cri_bad_global_option(shell: InteractiveShell) -> None:
    result = _line(shell, "--timeout 0 version")
    assert result.value is None
    assert "invalid number of seconds '0'" in result.stderr


def test_cri_unbalanced_quote(shell: InteractiveShell) -> None:
    result = _line(shell, "exec abc sh -c 'echo")
    assert result.value is None
    assert result.stderr.startswith("%cri: error: cannot split the line")


def test_cri_help(shell: InteractiveShell) -> None:
    result = _line(shell, "--help")
    assert result.value is None
    assert result.stdout.startswith("usage: %cri [-h]")
    assert "runp" in result.stdout


def test_cri_verb_help(shell: InteractiveShell) -> None:
    result = _line(shell, "ps --help")
    assert result.value is None
    assert result.stdout.startswith("usage: %cri ps [-h]")
    assert "--all" in result.stdout


def test_cri_dead_socket(shell: InteractiveShell, tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
        bound.bind(str(path))  # bound, never listening: connect() is refused
        result = _line(shell, f"-r unix://{path} --timeout 5 pods")
    assert result.value is None
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert str(path) in lines[0]
    assert "Traceback" not in result.stdout


def test_cri_missing_socket(shell: InteractiveShell, tmp_path: Path) -> None:
    path = tmp_path / "missing.sock"
    result = _line(shell, f"-r unix://{path} version")
    assert result.value is None
    assert result.stderr == (
        f"error: no CRI socket at {path}: start the lab with `ocilab lab up`, or "
        "pass the endpoint of a running runtime (containerd: "
        "unix:///run/containerd/containerd.sock, CRI-O: unix:///run/crio/crio.sock)\n"
    )


@pytest.mark.lab
def test_cri_missing_image(shell: InteractiveShell, lab: LabInfo) -> None:
    result = _line(shell, f"-r {lab.cri_endpoint} inspecti no/such:image")
    assert result.value is None
    assert result.stderr.startswith("error: image no/such:image not found")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.lab
def test_cri_exec_without_command(shell: InteractiveShell, workload: Workload) -> None:
    result = _line(shell, f"-r {workload.endpoint} exec {workload.busy_id}")
    assert result.value is None
    assert result.stderr.startswith("error: missing command")


def _magics(shell: InteractiveShell) -> OcilabMagics:
    magics = shell.magics_manager.registry["OcilabMagics"]
    assert isinstance(magics, OcilabMagics)
    return magics


@pytest.mark.lab
def test_cri_client_per_endpoint(shell: InteractiveShell, lab: LabInfo) -> None:
    magics = _magics(shell)
    magics.close()
    for timeout in ("10", "10", "20"):
        _line(shell, f"-r {lab.cri_endpoint} --timeout {timeout} version")
    clients = list(magics._clients.values())
    assert len(clients) == 2
    assert sorted(client.timeout for client in clients) == [10.0, 20.0]


def test_unload_removes_magics(shell: InteractiveShell) -> None:
    shell.run_line_magic("unload_ext", "ocilab")
    try:
        assert "cri" not in shell.magics_manager.magics["line"]
        assert "runtime_config" not in shell.magics_manager.magics["cell"]
        assert "OcilabMagics" not in shell.magics_manager.registry
    finally:
        shell.run_line_magic("load_ext", "ocilab")
    assert "cri" in shell.magics_manager.magics["line"]


@pytest.mark.lab
def test_unload_closes_clients(shell: InteractiveShell, lab: LabInfo) -> None:
    magics = _magics(shell)
    _line(shell, f"-r {lab.cri_endpoint} version")
    clients = list(magics._clients.values())
    assert clients
    assert all(client._channels for client in clients)
    shell.run_line_magic("unload_ext", "ocilab")
    shell.run_line_magic("load_ext", "ocilab")
    assert magics._clients == {}
    assert all(client._channels == {} for client in clients)


# -- %%runtime_config ------------------------------------------------------------------


def test_runtime_config_valid_default(shell: InteractiveShell) -> None:
    result = _cell(shell, "", dumps(default_config()))
    assert isinstance(result.value, RuntimeConfig)
    assert result.value.raw == default_config().raw
    assert result.outputs[0]["text/plain"] == "valid: no findings"
    assert "valid: no findings" in result.outputs[0]["text/html"]


def test_runtime_config_invalid_json(shell: InteractiveShell) -> None:
    cell = '{\n  "ociVersion": "1.0.2",\n  "hostname": "a",,\n}'
    result = _cell(shell, "", cell)
    assert result.value is None
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: invalid JSON at line 3 column 19: ")
    assert lines[1] == '  "hostname": "a",,'
    assert lines[2] == " " * 18 + "^"


def test_runtime_config_not_an_object(shell: InteractiveShell) -> None:
    result = _cell(shell, "", "[1, 2]")
    assert result.value is None
    assert result.stderr == (
        "error: invalid runtime config: expected a JSON object, got list\n"
    )


def test_runtime_config_with_errors(shell: InteractiveShell) -> None:
    document = json.loads(dumps(default_config()))
    document["process"]["args"] = []
    document["process"]["cwd"] = "relative/dir"
    document["hostname"] = "box"
    result = _cell(shell, "", json.dumps(document))
    text = result.outputs[0]["text/plain"]
    assert text.startswith("invalid: 2 MUST findings")
    assert "process.args.empty at /process/args" in text
    assert "process.cwd.absolute at /process/cwd" in text
    assert "process.cwd.absolute" in result.outputs[0]["text/html"]
    assert isinstance(result.value, RuntimeConfig)
    assert result.value.hostname == "box"
    assert result.value.process is not None
    assert result.value.process.cwd == "relative/dir"


def test_runtime_config_for_run(shell: InteractiveShell) -> None:
    document = json.loads(dumps(default_config()))
    del document["process"]
    lenient = _cell(shell, "", json.dumps(document))
    assert lenient.outputs[0]["text/plain"].startswith("valid, with 1 SHOULD finding")
    strict = _cell(shell, "--for-run", json.dumps(document))
    assert strict.outputs[0]["text/plain"].startswith("invalid: 1 MUST finding")
    assert "process.required" in strict.outputs[0]["text/plain"]


def test_runtime_config_stores_name(shell: InteractiveShell) -> None:
    shell.user_ns.pop("stored_config", None)
    result = _cell(shell, "stored_config", dumps(default_config()))
    assert result.value is None
    stored = shell.user_ns["stored_config"]
    assert isinstance(stored, RuntimeConfig)
    assert stored.raw == default_config().raw


def test_runtime_config_invalid_name(shell: InteractiveShell) -> None:
    result = _cell(shell, "not-a-name", dumps(default_config()))
    assert result.value is None
    assert result.stderr.startswith("usage: %%runtime_config")
    assert "invalid variable name 'not-a-name'" in result.stderr


def test_runtime_config_explain(shell: InteractiveShell) -> None:
    result = _cell(shell, "--explain", dumps(default_config()))
    assert len(result.outputs) == 2
    explanation = result.outputs[1]
    assert explanation["text/plain"].startswith("Namespaces\n")
    assert "own process IDs" in explanation["text/plain"]
    assert "<h4>Capabilities</h4>" in explanation["text/html"]
    assert "CAP_KILL" in explanation["text/html"]
