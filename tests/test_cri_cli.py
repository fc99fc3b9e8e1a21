"""`ocilab cri` and its crictl verbs, run as a real command against the lab."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ocilab.cri import CRIClient
from ocilab.distribution import push_image
from ocilab.image import LayerBuilder, build_image
from ocilab.lab import LabInfo

from .conftest import AuthRegistry

pytestmark = pytest.mark.lab

# An id that no pod or container has.
MISSING_ID = "0" * 64
RFC3339_NANO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"


@pytest.fixture(autouse=True)
def _lab_for_every_test(lab: LabInfo) -> None:
    """Start the lab before any command runs.

    Without a lab, `ocilab cri` with no endpoint would probe the node's
    default CRI sockets.
    """


def _cri(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocilab.cli", "cri", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = _cri(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _header(table: str) -> list[str]:
    return re.split(r" {2,}", table.splitlines()[0].strip())


def _rows_with(table: str, text: str) -> list[str]:
    return [line for line in table.splitlines()[1:] if text in line]


def _pod_config(lab: LabInfo, name: str) -> dict[str, object]:
    uid = str(uuid.uuid4())
    return {
        "metadata": {"name": name, "namespace": "cli-tests", "uid": uid},
        "hostname": name,
        "labels": {"suite": "cli", "pod": name},
        "log_directory": str(Path(lab.state_dir) / "pod-logs" / f"{name}-{uid}"),
        "linux": {"cgroup_parent": f"{lab.cgroup_parent}/pod-{uid}"},
    }


def _container_config(
    lab: LabInfo, name: str, command: list[str], attempt: int = 0
) -> dict[str, object]:
    return {
        "metadata": {"name": name, "attempt": attempt},
        "image": {"image": lab.images["busybox"]},
        "command": command,
        "labels": {"role": name},
        "log_path": f"{name}/{attempt}.log",
    }


def _wait_for(check: object, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass
class Workload:
    lab: LabInfo
    pod_id: str
    pod_name: str
    busy_id: str
    exited_id: str


@pytest.fixture(scope="module")
def workload(lab: LabInfo) -> Iterator[Workload]:
    """A pod with a busy running container and one that has exited."""
    cri = CRIClient(lab.cri_endpoint, timeout=60)
    name = f"cli-{uuid.uuid4().hex[:8]}"
    pod_config = _pod_config(lab, name)
    cri.pull_image(lab.images["busybox"])
    pod_id = cri.run_pod(pod_config)
    try:
        busy_command = ["sh", "-c", "echo ready; while :; do :; done"]
        busy_id = cri.create_container(
            pod_id, _container_config(lab, "busy", busy_command), pod_config
        )
        cri.start_container(busy_id)
        exited_id = cri.create_container(
            pod_id, _container_config(lab, "done", ["true"]), pod_config
        )
        cri.start_container(exited_id)
        _wait_for(
            lambda: cri.container_status(exited_id).status.state == 2,
            "the short container to exit",
        )
        yield Workload(lab, pod_id, name, busy_id, exited_id)
    finally:
        cri.stop_pod(pod_id)
        cri.remove_pod(pod_id)
        cri.close()


# -- runtime verbs -------------------------------------------------------------


def test_version_formats() -> None:
    table = _ok("version")
    assert re.search(r"^RuntimeName:\s+containerd$", table, re.MULTILINE)
    data = json.loads(_ok("version", "-o", "json"))
    assert data["runtime_name"] == "containerd"
    assert data["api_package"] == "runtime.v1"
    assert yaml.safe_load(_ok("version", "-o", "yaml")) == data


def test_version_options_after_verb(lab: LabInfo) -> None:
    output = _ok(
        "version", "--api-version", "v1alpha2", "--endpoint", lab.cri_endpoint,
        "--timeout", "5", "-o", "json",
    )  # fmt: skip
    data = json.loads(output)
    assert data["api_package"] == "runtime.v1alpha2"
    assert data["endpoint"] == f"unix://{lab.cri_endpoint.removeprefix('unix://')}"


def test_status_verbose_json() -> None:
    data = json.loads(_ok("status", "--verbose", "-o", "json"))
    types = {condition["type"] for condition in data["conditions"]}
    assert {"RuntimeReady", "NetworkReady"} <= types
    assert "config" in data["info"]


def test_status_table() -> None:
    table = _ok("status")
    assert _header(table) == ["CONDITION", "STATUS", "REASON", "MESSAGE"]
    assert _rows_with(table, "RuntimeReady")[0].split()[1] == "True"


def test_call_by_method_path() -> None:
    output = _ok("call", "runtime.v1.RuntimeService/Version", '{"version": "v1"}')
    assert json.loads(output)["runtime_name"] == "containerd"


def test_call_invalid_json() -> None:
    result = _cri("call", "runtime.v1.RuntimeService/Version", "{not json")
    assert result.returncode == 2
    assert "is not valid JSON" in result.stderr


def test_info_formats() -> None:
    data = json.loads(_ok("info", "-o", "json"))
    assert data["status"]["conditions"][0]["type"] == "RuntimeReady"
    assert "containerd" in data["config"]
    assert yaml.safe_load(_ok("info", "-o", "yaml"))["status"] == data["status"]
    table = _ok("info")
    assert _header(table) == ["CONDITION", "STATUS", "REASON", "MESSAGE"]
    assert "verbose info: " in table
    assert "config" in table


def test_runtime_config_unsupported() -> None:
    result = _cri("runtime-config")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "not supported by this runtime (containerd 1.6" in result.stderr


def test_events_unsupported() -> None:
    result = _cri("events", "--timeout", "3")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "GetContainerEvents is not supported by this runtime" in result.stderr
    assert result.stdout == ""


# -- pods ------------------------------------------------------------------


def test_pods_table(workload: Workload) -> None:
    table = _ok("pods", "--id", workload.pod_id)
    assert _header(table) == [
        "POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME",
    ]  # fmt: skip
    row = _rows_with(table, workload.pod_name)[0]
    assert row.startswith(workload.pod_id[:13] + " ")
    assert re.search(
        r"\b(Less than a second|\d+ seconds?|About a minute|\d+ minutes?) ago\b", row
    )
    assert "Ready" in row
    assert "cli-tests" in row
    assert "(default)" in row


def test_pods_json_and_yaml(workload: Workload) -> None:
    data = json.loads(_ok("pods", "--id", workload.pod_id, "-o", "json"))
    assert [item["id"] for item in data["items"]] == [workload.pod_id]
    pod = data["items"][0]
    assert pod["metadata"]["name"] == workload.pod_name
    assert pod["state"] == "SANDBOX_READY"
    assert pod["labels"]["suite"] == "cli"
    assert int(pod["created_at"]) > 0
    assert yaml.safe_load(_ok("pods", "--id", workload.pod_id, "-o", "yaml")) == data


def test_pods_filters(workload: Workload) -> None:
    name = workload.pod_name
    assert _ok("pods", "-q", "--name", f"^{name}$").split() == [workload.pod_id]
    assert workload.pod_id in _ok("pods", "-q", "--namespace", "^cli-")
    assert workload.pod_id in _ok("pods", "-q", "--label", f"pod={name}")
    both_labels = ("--label", "suite=cli", "--label", f"pod={name}")
    assert _ok("pods", "-q", *both_labels).split() == [workload.pod_id]
    assert _ok("pods", "-q", "--label", "pod=other") == ""
    assert workload.pod_id in _ok("pods", "-q", "--state", "ready")
    assert workload.pod_id not in _ok("pods", "-q", "--state", "NotReady")
    assert len(_ok("pods", "-q", "--latest").split()) == 1
    assert len(_ok("pods", "-q", "-n", "1").split()) == 1


def test_pods_invalid_label() -> None:
    result = _cri("pods", "--label", "novalue")
    assert result.returncode == 2
    assert "invalid label 'novalue': use KEY=VALUE" in result.stderr


# -- containers ------------------------------------------------------------


def test_ps_table(workload: Workload) -> None:
    table = _ok("ps", "--pod", workload.pod_id)
    assert _header(table) == [
        "CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD",
    ]  # fmt: skip
    row = _rows_with(table, workload.busy_id[:13])[0]
    assert workload.lab.images["busybox"] in row
    assert "Running" in row
    assert " busy " in row
    assert workload.pod_id[:13] in row
    assert row.endswith(workload.pod_name)
    assert _rows_with(table, workload.exited_id[:13]) == []


def test_ps_no_trunc(workload: Workload) -> None:
    table = _ok("ps", "--pod", workload.pod_id, "--no-trunc")
    assert _rows_with(table, workload.busy_id)


def test_ps_json_and_yaml(workload: Workload) -> None:
    data = json.loads(_ok("ps", "-a", "--pod", workload.pod_id, "-o", "json"))
    by_name = {item["metadata"]["name"]: item for item in data["containers"]}
    assert by_name["busy"]["id"] == workload.busy_id
    assert by_name["busy"]["state"] == "CONTAINER_RUNNING"
    assert by_name["done"]["state"] == "CONTAINER_EXITED"
    assert by_name["busy"]["image"]["image"] == workload.lab.images["busybox"]
    output = _ok("ps", "-a", "--pod", workload.pod_id, "-o", "yaml")
    assert yaml.safe_load(output) == data


def test_ps_filters(workload: Workload) -> None:
    busy, exited = workload.busy_id, workload.exited_id
    in_pod = ("--pod", workload.pod_id)
    assert _ok("ps", "-q", *in_pod).split() == [busy]
    assert sorted(_ok("ps", "-a", "-q", *in_pod).split()) == sorted([busy, exited])
    assert _ok("ps", "-q", "--state", "exited", *in_pod).split() == [exited]
    assert _ok("ps", "-q", "--id", busy[:13]).split() == [busy]
    assert _ok("ps", "-a", "-q", "--name", "^done$", *in_pod).split() == [exited]
    assert _ok("ps", "-q", "--label", "role=busy", *in_pod).split() == [busy]
    assert busy in _ok("ps", "-q", "--namespace", "^cli-tests$")
    assert busy not in _ok("ps", "-q", "--namespace", "^nothing$")
    image = workload.lab.images["busybox"]
    assert busy in _ok("ps", "-q", "--image", image)
    assert _ok("ps", "-q", "--image", "docker.io/library/nginx:1", *in_pod) == ""
    assert _ok("ps", "-a", "-q", "--latest", *in_pod).split() == [exited]
    assert len(_ok("ps", "-a", "-q", "-n", "1", *in_pod).split()) == 1


def test_inspect_formats(workload: Workload) -> None:
    data = json.loads(_ok("inspect", workload.busy_id, "-o", "json"))
    assert data["status"]["id"] == workload.busy_id
    assert data["status"]["state"] == "CONTAINER_RUNNING"
    assert data["info"]["sandboxID"] == workload.pod_id
    assert data["info"]["runtimeSpec"]["process"]["args"][0] == "sh"
    output = _ok("inspect", workload.busy_id[:13], "-o", "yaml")
    assert yaml.safe_load(output)["status"]["id"] == workload.busy_id
    table = _ok("inspect", workload.busy_id)
    assert re.search(rf"^ID:\s+{workload.busy_id}$", table, re.MULTILINE)
    assert re.search(r"^State:\s+Running$", table, re.MULTILINE)
    assert re.search(rf"^Pod ID:\s+{workload.pod_id}$", table, re.MULTILINE)
    assert re.search(r"^Log Path:\s+/.*/busy/0\.log$", table, re.MULTILINE)


def test_inspect_exited_exit_code(workload: Workload) -> None:
    table = _ok("inspect", workload.exited_id)
    assert re.search(r"^State:\s+Exited$", table, re.MULTILINE)
    assert re.search(r"^Exit Code:\s+0$", table, re.MULTILINE)


def test_inspect_missing_container() -> None:
    result = _cri("inspect", MISSING_ID)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "NOT_FOUND" in result.stderr


def test_inspectp_formats(workload: Workload) -> None:
    data = json.loads(_ok("inspectp", workload.pod_id, "-o", "json"))
    assert data["status"]["metadata"]["name"] == workload.pod_name
    assert data["status"]["state"] == "SANDBOX_READY"
    assert "cniResult" in data["info"]
    output = _ok("inspectp", workload.pod_id, "-o", "yaml")
    assert yaml.safe_load(output)["status"] == data["status"]
    table = _ok("inspectp", workload.pod_id)
    assert re.search(rf"^Name:\s+{workload.pod_name}$", table, re.MULTILINE)
    assert re.search(r"^IP:\s+\d+\.\d+\.\d+\.\d+$", table, re.MULTILINE)


def test_exec_exit_code_and_streams(workload: Workload) -> None:
    result = _cri(
        "exec", workload.busy_id, "sh", "-c", "echo out; echo err >&2; exit 7"
    )
    assert result.returncode == 7
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_exec_after_double_dash(workload: Workload) -> None:
    result = _cri("exec", "-s", "--timeout", "5", workload.busy_id, "--", "echo", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\n"


def test_exec_without_command(workload: Workload) -> None:
    result = _cri("exec", workload.busy_id)
    assert result.returncode == 2
    assert "missing command" in result.stderr


def test_update_resources(workload: Workload) -> None:
    memory = str(96 * 1024 * 1024)
    output = _ok(
        "update", "--cpu-shares", "256", "--cpu-quota", "50000",
        "--cpu-period", "100000", "--memory", memory, workload.busy_id,
    )  # fmt: skip
    assert output == f"{workload.busy_id}\n"
    spec = json.loads(_ok("inspect", workload.busy_id, "-o", "json"))["info"]
    resources = spec["runtimeSpec"]["linux"]["resources"]
    assert resources["cpu"]["shares"] == 256
    assert resources["cpu"]["quota"] == 50000
    assert resources["cpu"]["period"] == 100000
    assert resources["memory"]["limit"] == int(memory)


def test_update_without_resources(workload: Workload) -> None:
    result = _cri("update", workload.busy_id)
    assert result.returncode == 2
    assert "nothing to update" in result.stderr


# -- stats -------------------------------------------------------------------


def test_stats_table(workload: Workload) -> None:
    started = time.monotonic()
    table = _ok("stats", "--id", workload.busy_id)
    assert time.monotonic() - started >= 1
    assert _header(table) == ["CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"]
    columns = re.split(r" {2,}", _rows_with(table, workload.busy_id[:13])[0])
    assert columns[1] == "busy"
    assert float(columns[2]) > 30  # a busy shell loop uses most of one core
    assert re.fullmatch(r"[\d.]+[kMG]?B", columns[3])
    assert re.fullmatch(r"[\d.]+[kMG]?B", columns[4])
    assert columns[5].isdigit()


def test_stats_json_and_yaml(workload: Workload) -> None:
    data = json.loads(_ok("stats", workload.busy_id, "-s", "0.2", "-o", "json"))
    [item] = data["stats"]
    assert item["attributes"]["id"] == workload.busy_id
    assert int(item["cpu"]["usage_core_nano_seconds"]["value"]) > 0
    assert int(item["memory"]["working_set_bytes"]["value"]) > 0
    output = _ok("stats", "--pod", workload.pod_id, "-s", "0.2", "-o", "yaml")
    ids = [entry["attributes"]["id"] for entry in yaml.safe_load(output)["stats"]]
    assert ids == [workload.busy_id]


def test_stats_all_and_label(workload: Workload) -> None:
    output = _ok("stats", "-a", "--pod", workload.pod_id, "-s", "0.2", "-o", "json")
    ids = {entry["attributes"]["id"] for entry in json.loads(output)["stats"]}
    assert workload.busy_id in ids
    output = _ok("stats", "--label", "role=busy", "-s", "0.2", "-o", "json")
    ids = {entry["attributes"]["id"] for entry in json.loads(output)["stats"]}
    assert ids == {workload.busy_id}


def test_statsp_formats(workload: Workload) -> None:
    table = _ok("statsp", "--id", workload.pod_id)
    assert _header(table) == ["POD", "POD ID", "CPU %", "MEM"]
    columns = re.split(r" {2,}", _rows_with(table, workload.pod_name)[0])
    assert columns[1] == workload.pod_id[:13]
    assert float(columns[2]) > 30
    output = _ok("statsp", "--id", workload.pod_id, "-s", "0.2", "-o", "json")
    [item] = json.loads(output)["stats"]
    assert item["attributes"]["metadata"]["name"] == workload.pod_name
    output = _ok("statsp", "--label", f"pod={workload.pod_name}", "-o", "yaml")
    assert yaml.safe_load(output)["stats"][0]["attributes"]["id"] == workload.pod_id


# -- images ------------------------------------------------------------------


def test_images_table(workload: Workload) -> None:
    lab = workload.lab
    table = _ok("images")
    assert _header(table) == ["IMAGE", "TAG", "IMAGE ID", "SIZE"]
    repository, tag = lab.images["busybox"].rsplit(":", 1)
    row = [line for line in table.splitlines() if line.startswith(repository + " ")]
    columns = re.split(r" {2,}", row[0])
    assert columns[1] == tag
    assert re.fullmatch(r"[0-9a-f]{13}", columns[2])
    assert re.fullmatch(r"[\d.]+[kM]B", columns[3])


def test_images_digests_column(workload: Workload) -> None:
    lab = workload.lab
    table = _ok("images", "--digests", lab.images["busybox"])
    assert _header(table) == ["IMAGE", "TAG", "DIGEST", "IMAGE ID", "SIZE"]
    assert len(table.splitlines()) == 2


def test_images_json_yaml_and_quiet(workload: Workload) -> None:
    lab = workload.lab
    reference = lab.images["busybox"]
    data = json.loads(_ok("images", reference, "-o", "json"))
    [image] = data["images"]
    assert reference in image["repo_tags"]
    assert int(image["size"]) > 500_000
    assert yaml.safe_load(_ok("images", reference, "-o", "yaml")) == data
    assert _ok("images", "-q", reference) == f"{image['id']}\n"


def test_inspecti_formats(workload: Workload) -> None:
    lab = workload.lab
    reference = lab.images["busybox"]
    data = json.loads(_ok("inspecti", reference, "-o", "json"))
    assert reference in data["status"]["repo_tags"]
    assert data["info"]["imageSpec"]["config"]["Cmd"] == ["sh"]
    assert yaml.safe_load(_ok("inspecti", reference, "-o", "yaml")) == data
    table = _ok("inspecti", reference)
    assert re.search(rf"^Tags:\s+.*{re.escape(reference)}", table, re.MULTILINE)
    assert re.search(r"^Size:\s+[\d.]+[kM]B$", table, re.MULTILINE)


def test_inspecti_missing_image() -> None:
    result = _cri("inspecti", "127.0.0.1:1/absent/image:none")
    assert result.returncode == 2
    assert "image 127.0.0.1:1/absent/image:none not found" in result.stderr


def test_imagefsinfo_formats(lab: LabInfo) -> None:
    data = json.loads(_ok("imagefsinfo", "-o", "json"))
    filesystem = data["status"]["image_filesystems"][0]
    assert filesystem["fs_id"]["mountpoint"].startswith(lab.state_dir)
    # containerd collects snapshot usage every stats_collect_period (10 s by
    # default), so a new lab may still report 0.
    assert int(filesystem["used_bytes"]["value"]) >= 0
    # A second call may carry a newer timestamp and usage, so compare the id.
    from_yaml = yaml.safe_load(_ok("imagefsinfo", "-o", "yaml"))
    assert from_yaml["status"]["image_filesystems"][0]["fs_id"] == filesystem["fs_id"]
    table = _ok("imagefsinfo")
    assert _header(table) == ["FILESYSTEM", "MOUNTPOINT", "USED", "INODES"]
    assert _rows_with(table, filesystem["fs_id"]["mountpoint"])


def test_pull_and_rmi_with_credentials(basic_auth_registry: AuthRegistry) -> None:
    registry = basic_auth_registry
    # An image of its own: containerd's RemoveImage deletes every reference to
    # the image, so removing a copy of a lab image would untag the lab's.
    layer = LayerBuilder()
    layer.add_file("cli.txt", f"pull test {uuid.uuid4()}".encode())
    image = build_image([layer.build()], container_config={"Cmd": ["cat", "/cli.txt"]})
    push_image(
        registry.url,
        "cli/tiny",
        image,
        ["v1"],
        auth=(registry.username, registry.password),
    )
    reference = f"{registry.host}/cli/tiny:v1"
    refused = _cri("pull", reference)
    assert refused.returncode == 2
    assert re.search(r"(?i)unauthorized|401", refused.stderr)

    creds = f"{registry.username}:{registry.password}"
    pulled = _ok("pull", "--creds", creds, reference)
    assert pulled == f"Image is up to date for {image.config.digest}\n"
    assert _ok("rmi", reference) == f"Deleted: {reference}\n"

    token = base64.b64encode(creds.encode()).decode()
    pulled = _ok("pull", "--auth", token, reference)
    assert pulled == f"Image is up to date for {image.config.digest}\n"
    assert _ok("rmi", reference) == f"Deleted: {reference}\n"
    assert _ok("rmi", reference) == f"image {reference} not found; nothing to remove\n"


def test_pull_creds_and_auth_exclusive() -> None:
    result = _cri("pull", "--creds", "a:b", "--auth", "YTpi", "some/image")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


# -- a whole pod's life through the command --------------------------------------


def _write_configs(lab: LabInfo, folder: Path, name: str) -> tuple[Path, Path, Path]:
    pod_file = folder / "pod.yaml"
    pod_file.write_text(yaml.safe_dump(_pod_config(lab, name)))
    command = [
        "sh", "-c",
        # The pause keeps "warn" after "three" in the log: containerd copies
        # stdout and stderr concurrently.
        "echo one; echo two; echo three; sleep 0.2; echo warn >&2; exec sleep 600",
    ]  # fmt: skip
    first = folder / "container.json"
    first.write_text(json.dumps(_container_config(lab, "main", command)))
    retry = folder / "container-attempt-1.json"
    retry.write_text(json.dumps(_container_config(lab, "main", ["sleep", "600"], 1)))
    return pod_file, first, retry


def _check_logs(container_id: str) -> None:
    def written() -> bool:
        return "warn" in _cri("logs", container_id).stderr

    _wait_for(written, "the container's log lines")
    logs = _cri("logs", container_id)
    assert logs.stdout == "one\ntwo\nthree\n"
    assert logs.stderr == "warn\n"
    tail = _cri("logs", "--tail", "2", container_id)
    assert tail.stdout == "three\n"
    assert tail.stderr == "warn\n"
    stamped = _cri("logs", "-t", container_id)
    assert re.fullmatch(rf"({RFC3339_NANO} (one|two|three)\n){{3}}", stamped.stdout)
    assert re.fullmatch(rf"{RFC3339_NANO} warn\n", stamped.stderr)
    assert _ok("logs", "--since", "10m", container_id) == "one\ntwo\nthree\n"
    assert _ok("logs", "--since", "2000-01-01T00:00:00Z", container_id).count("\n") == 3
    assert _ok("logs", "--since", "2999-01-01T00:00:00+02:00", container_id) == ""
    first_attempt = _cri("logs", "-p", container_id)
    assert first_attempt.returncode == 2
    assert "is the log of the first attempt (0.log)" in first_attempt.stderr


def _check_follow_ends_at_stop(container_id: str) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "ocilab.cli", "cri", "logs", "-f", "--tail", "1",
         container_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        time.sleep(1.5)
        assert follower.poll() is None, "logs -f ended while the container runs"
        assert _ok("stop", "-t", "0", container_id) == f"{container_id}\n"
        stdout, stderr = follower.communicate(timeout=15)
    finally:
        follower.kill()
    assert follower.returncode == 0, stderr
    assert stdout == ""
    assert stderr == "warn\n"


def _check_follow_ctrl_c(container_id: str) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "ocilab.cli", "cri", "logs", "--follow", container_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        follower.send_signal(signal.SIGINT)
        stdout, stderr = follower.communicate(timeout=15)
    finally:
        follower.kill()
    assert follower.returncode == 0, stderr
    assert stdout == ""


def test_pod_lifecycle(lab: LabInfo, tmp_path: Path) -> None:
    name = f"cli-life-{uuid.uuid4().hex[:8]}"
    pod_file, first_config, retry_config = _write_configs(lab, tmp_path, name)
    pod_id = _ok("runp", str(pod_file)).strip()
    try:
        assert re.fullmatch(r"[0-9a-f]{64}", pod_id)
        first = _ok(
            "create", "--with-pull", pod_id, str(first_config), str(pod_file)
        ).strip()
        assert _ok("start", first) == f"{first}\n"
        assert _ok("ps", "-q", "--pod", pod_id).split() == [first]

        ran = _cri("exec", first, "sh", "-c", "cat /etc/hostname; exit 3")
        assert ran.returncode == 3
        assert ran.stdout == f"{name}\n"
        _check_logs(first)
        _check_follow_ends_at_stop(first)

        # The kubelet restarts a container as a new one with attempt + 1;
        # its previous log is the first container's.
        retry = _ok("create", pod_id, str(retry_config), str(pod_file)).strip()
        _ok("start", retry)
        previous = _cri("logs", "--previous", retry)
        assert previous.stdout == "one\ntwo\nthree\n"
        assert previous.stderr == "warn\n"
        _check_follow_ctrl_c(retry)

        running = _cri("rm", retry)
        assert running.returncode == 2
        assert f"container {retry} is running" in running.stderr
        assert _ok("rm", "-f", retry) == f"{retry}\n"
        assert _ok("rm", first) == f"{first}\n"
        assert _ok("ps", "-a", "-q", "--pod", pod_id) == ""

        ready = _cri("rmp", pod_id)
        assert ready.returncode == 2
        assert f"pod {pod_id} is ready" in ready.stderr
        assert _ok("stopp", pod_id) == f"Stopped sandbox {pod_id}\n"
        assert _ok("rmp", pod_id) == f"Removed sandbox {pod_id}\n"
        assert _ok("pods", "-q", "--id", pod_id) == ""
    finally:
        with CRIClient(lab.cri_endpoint, timeout=60) as cri:
            cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)


def test_rmp_force(lab: LabInfo, tmp_path: Path) -> None:
    pod_file = tmp_path / "pod.json"
    pod_file.write_text(json.dumps(_pod_config(lab, f"cli-rmp-{uuid.uuid4().hex[:8]}")))
    pod_id = _ok("--timeout", "30", "runp", str(pod_file)).strip()
    try:
        assert _ok("rmp", "-f", pod_id) == f"Removed sandbox {pod_id}\n"
        assert _ok("pods", "-q", "--id", pod_id) == ""
    finally:
        with CRIClient(lab.cri_endpoint, timeout=60) as cri:
            cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)


@pytest.mark.parametrize(
    ("verb", "message"),
    [
        ("stop", f"container {MISSING_ID} not found; nothing to stop"),
        ("rm", f"container {MISSING_ID} not found; nothing to remove"),
        ("stopp", f"pod {MISSING_ID} not found; nothing to stop"),
        ("rmp", f"pod {MISSING_ID} not found; nothing to remove"),
    ],
)
def test_missing_id_is_not_an_error(lab: LabInfo, verb: str, message: str) -> None:
    assert _ok(verb, MISSING_ID) == f"{message}\n"


def test_runp_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "pod.yaml"
    config.write_text("metadata: {name: x, colour: blue}\n")
    result = _cri("runp", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert str(config) in result.stderr


# -- global options and usage errors ----------------------------------------------


def test_runtime_endpoint_option(lab: LabInfo, tmp_path: Path) -> None:
    for option in ("-r", "--runtime-endpoint", "--endpoint"):
        data = json.loads(_ok(option, lab.cri_endpoint, "version", "-o", "json"))
        assert data["runtime_name"] == "containerd"
    missing = tmp_path / "missing.sock"
    result = _cri("-r", f"unix://{missing}", "pods")
    assert result.returncode == 2
    assert f"no CRI socket at {missing}" in result.stderr


def test_runtime_endpoint_environment(lab: LabInfo, tmp_path: Path) -> None:
    env = {**os.environ, "CONTAINER_RUNTIME_ENDPOINT": lab.cri_endpoint}
    data = json.loads(_ok("version", "-o", "json", env=env))
    assert data["endpoint"].endswith(lab.cri_endpoint.removeprefix("unix://"))
    missing = tmp_path / "env.sock"
    env["CONTAINER_RUNTIME_ENDPOINT"] = f"unix://{missing}"
    result = _cri("pods", env=env)
    assert result.returncode == 2
    assert f"no CRI socket at {missing}" in result.stderr
    assert "$CONTAINER_RUNTIME_ENDPOINT" in result.stderr


def test_image_endpoint_option(lab: LabInfo, tmp_path: Path) -> None:
    repository = lab.images["busybox"].rsplit(":", 1)[0]
    assert repository in _ok("-i", lab.cri_endpoint, "images")
    missing = tmp_path / "images.sock"
    result = _cri("--image-endpoint", f"unix://{missing}", "images")
    assert result.returncode == 2
    assert f"no CRI socket at {missing}" in result.stderr


def test_global_api_version(workload: Workload) -> None:
    output = _ok(
        "--api-version", "v1alpha2", "pods", "--id", workload.pod_id, "-o", "json"
    )
    assert [item["id"] for item in json.loads(output)["items"]] == [workload.pod_id]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("pods", "-o", "xml"), "argument -o/--output: invalid choice: 'xml'"),
        (("--timeout", "0", "version"), "invalid number of seconds '0'"),
        (("--timeout", "nan", "pods"), "invalid number of seconds 'nan'"),
        (("logs", "--since", "yesterday", "x"), "invalid --since 'yesterday'"),
        (("ps", "-n", "0"), "invalid value '0': use a whole number >= 1"),
        (("pods", "--state", "sleeping"), "invalid choice: 'sleeping'"),
    ],
)
def test_usage_errors(args: tuple[str, ...], message: str) -> None:
    result = _cri(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: ocilab cri")
    assert message in result.stderr
