"""Every typed CRI method against the lab's containerd, on both API versions where it exists."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from ocilab.cri import CRIClient
from ocilab.cri.frames import (
    container_stats_frame,
    cpu_rate,
    pod_stats_frame,
    sample_stats,
)
from ocilab.distribution import push_image
from ocilab.errors import CRICallError, CRITimeout, CRIUnimplementedError
from ocilab.lab import LabInfo
from ocilab.lab._seed import build_lab_images

from .conftest import AuthRegistry

pytestmark = pytest.mark.lab

VERSIONS = ["v1", "v1alpha2"]


@dataclass
class Workload:
    cri: CRIClient
    lab: LabInfo
    pod_id: str
    pod_config: dict[str, object]
    container_id: str
    name: str


def _pod_config(lab: LabInfo, name: str, **labels: str) -> dict[str, object]:
    uid = str(uuid.uuid4())
    return {
        "metadata": {"name": name, "namespace": "api-tests", "uid": uid, "attempt": 0},
        "hostname": name,
        "labels": {"suite": "api", **labels},
        "log_directory": str(Path(lab.state_dir) / "pod-logs" / name),
        "linux": {"cgroup_parent": f"{lab.cgroup_parent}/pod-{uid}"},
    }


def _container_config(lab: LabInfo, name: str, command: list[str]) -> dict[str, object]:
    return {
        "metadata": {"name": name, "attempt": 0},
        "image": {"image": lab.images["busybox"]},
        "command": command,
        "labels": {"role": name},
        "log_path": f"{name}/0.log",
    }


def _start(
    cri: CRIClient, lab: LabInfo, name: str, command: list[str]
) -> tuple[str, dict[str, object], str]:
    cri.pull_image(lab.images["busybox"])
    pod_config = _pod_config(lab, name)
    pod_id = cri.run_pod(pod_config)
    container_id = cri.create_container(
        pod_id, _container_config(lab, "main", command), pod_config
    )
    cri.start_container(container_id)
    return pod_id, pod_config, container_id


@pytest.fixture(scope="module", params=VERSIONS)
def workload(request: pytest.FixtureRequest, lab: LabInfo) -> Iterator[Workload]:
    """A running pod with one busy container, per API version."""
    api_version = request.param
    cri = CRIClient(lab.cri_endpoint, api_version=api_version, timeout=120)
    name = f"api-{api_version}"
    command = ["sh", "-c", "echo ready; while :; do :; done"]
    pod_id, pod_config, container_id = _start(cri, lab, name, command)
    yield Workload(cri, lab, pod_id, pod_config, container_id, name)
    cri.stop_pod(pod_id)
    cri.remove_pod(pod_id)
    cri.close()


# -- pods ------------------------------------------------------------------


def test_pod_status_ready(workload: Workload) -> None:
    status = workload.cri.pod_status(workload.pod_id).status
    assert status.metadata.name == workload.name
    assert status.state == 0  # SANDBOX_READY
    assert status.network.ip.startswith(workload.lab.gateway.rsplit(".", 2)[0])


def test_pod_info_has_runtime_spec_and_cni(workload: Workload) -> None:
    info = workload.cri.pod_info(workload.pod_id)
    assert info["runtimeSpec"]["ociVersion"]
    assert "cniResult" in info


def test_list_pods_filters(workload: Workload) -> None:
    cri = workload.cri
    assert [p.id for p in cri.list_pods(pod_id=workload.pod_id)] == [workload.pod_id]
    assert workload.pod_id in [p.id for p in cri.list_pods(state="ready")]
    assert workload.pod_id not in [p.id for p in cri.list_pods(state="notready")]
    assert workload.pod_id in [
        p.id for p in cri.list_pods(label_selector={"suite": "api"})
    ]
    assert cri.list_pods(label_selector={"suite": "other"}) == []
    assert [p.id for p in cri.list_pods(name=f"^{workload.name}$")] == [workload.pod_id]
    assert workload.pod_id in [p.id for p in cri.list_pods(namespace="^api-")]
    assert cri.list_pods(namespace="^kube-system$") == []


def test_list_pods_latest_and_last(workload: Workload) -> None:
    everything = workload.cri.list_pods()
    newest = max(everything, key=lambda pod: pod.created_at)
    assert [p.id for p in workload.cri.list_pods(latest=True)] == [newest.id]
    assert len(workload.cri.list_pods(last=1)) == 1
    assert len(workload.cri.list_pods(last=100)) == len(everything)


def test_invalid_state_filter(workload: Workload) -> None:
    with pytest.raises(ValueError, match="invalid pod state 'sleeping'"):
        workload.cri.list_pods(state="sleeping")


def test_pods_frame_columns(workload: Workload) -> None:
    frame = workload.cri.pods_frame(pod_id=workload.pod_id)
    row = frame.iloc[0]
    assert row["name"] == workload.name
    assert row["namespace"] == "api-tests"
    assert row["state"] == "Ready"
    assert row["pod_id"] == workload.pod_id[:13]
    assert row["labels"]["suite"] == "api"
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    pod = workload.cri.list_pods(pod_id=workload.pod_id)[0]
    assert frame["created"].iloc[0].value == pod.created_at


# -- containers ---------------------------------------------------------------


def test_container_status_running(workload: Workload) -> None:
    status = workload.cri.container_status(workload.container_id).status
    assert status.state == 1  # CONTAINER_RUNNING
    assert status.metadata.name == "main"
    assert status.log_path.endswith("main/0.log")


def test_container_runtime_spec(workload: Workload) -> None:
    spec = workload.cri.container_runtime_spec(workload.container_id)
    assert spec["process"]["args"] == ["sh", "-c", "echo ready; while :; do :; done"]
    assert spec["root"]["path"] == "rootfs"
    namespaces = {entry["type"] for entry in spec["linux"]["namespaces"]}
    assert {"pid", "ipc", "uts", "mount", "network"} <= namespaces


def test_list_containers_filters(workload: Workload) -> None:
    cri = workload.cri
    cid = workload.container_id
    assert [c.id for c in cri.list_containers(container_id=cid)] == [cid]
    assert [c.id for c in cri.list_containers(pod_id=workload.pod_id)] == [cid]
    assert cid in [c.id for c in cri.list_containers(state="running")]
    assert cid not in [c.id for c in cri.list_containers(state="exited")]
    assert cid in [c.id for c in cri.list_containers(label_selector={"role": "main"})]
    assert cid in [c.id for c in cri.list_containers(name="^main$")]
    assert cid in [c.id for c in cri.list_containers(namespace="^api-tests$")]
    assert cid not in [c.id for c in cri.list_containers(namespace="^nothing$")]
    assert cid in [
        c.id for c in cri.list_containers(image=workload.lab.images["busybox"])
    ]
    assert cri.list_containers(image="docker.io/library/nginx:latest") == []


def test_containers_frame_joins_pod(workload: Workload) -> None:
    frame = workload.cri.containers_frame(pod_id=workload.pod_id)
    row = frame.iloc[0]
    assert row["pod_name"] == workload.name
    assert row["pod_namespace"] == "api-tests"
    assert row["state"] == "Running"
    assert row["image"] == workload.lab.images["busybox"]
    assert row["image_id"].startswith("sha256:")
    assert row["container_id"] == workload.container_id[:13]


def test_exec_sync_result(workload: Workload) -> None:
    result = workload.cri.exec_sync(
        workload.container_id, ["sh", "-c", "echo out; echo err >&2; exit 7"]
    )
    assert result.exit_code == 7
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\n"


def test_exec_sync_timeout(workload: Workload) -> None:
    started = time.monotonic()
    # containerd reports the command's own timeout as DEADLINE_EXCEEDED.
    with pytest.raises(
        CRITimeout, match="did not finish within its timeout of 1 s"
    ) as caught:
        workload.cri.exec_sync(workload.container_id, ["sleep", "30"], timeout=1)
    assert time.monotonic() - started < 15
    assert caught.value.code == "DEADLINE_EXCEEDED"


def test_streaming_urls(workload: Workload) -> None:
    cri = workload.cri
    assert cri.exec_url(workload.container_id, ["sh"]).startswith("http://127.0.0.1:")
    assert "/attach/" in cri.attach_url(workload.container_id)
    assert "/portforward/" in cri.port_forward_url(workload.pod_id, [80])


def test_update_container_resources(workload: Workload) -> None:
    cri = workload.cri
    cri.update_container_resources(
        workload.container_id,
        {"cpu_shares": 512, "memory_limit_in_bytes": 64 * 1024 * 1024},
    )
    spec = cri.container_runtime_spec(workload.container_id)
    assert spec["linux"]["resources"]["cpu"]["shares"] == 512
    assert spec["linux"]["resources"]["memory"]["limit"] == 64 * 1024 * 1024


@pytest.mark.parametrize("api_version", VERSIONS)
def test_reopen_container_log(lab: LabInfo, api_version: str) -> None:
    with CRIClient(lab.cri_endpoint, api_version=api_version, timeout=60) as cri:
        command = ["sh", "-c", "while :; do echo tick; sleep 0.1; done"]
        pod_id, _, container_id = _start(cri, lab, f"reopen-{api_version}", command)
        log_path = Path(cri.container_status(container_id).status.log_path)
        rotated = log_path.with_suffix(".log.1")
        time.sleep(0.3)
        log_path.rename(rotated)
        cri.reopen_container_log(container_id)
        for _ in range(50):
            if log_path.exists() and "tick" in log_path.read_text():
                break
            time.sleep(0.1)
        reopened = log_path.read_text()
        cri.stop_pod(pod_id)
        cri.remove_pod(pod_id)
    assert "stdout F tick" in reopened
    assert "stdout F tick" in rotated.read_text()


# -- stats -------------------------------------------------------------------


def test_container_stats(workload: Workload) -> None:
    stats = workload.cri.container_stats(workload.container_id)
    assert stats.attributes.id == workload.container_id
    assert stats.cpu.usage_core_nano_seconds.value > 0
    assert stats.memory.working_set_bytes.value > 0


def test_cpu_rate_of_busy_loop(workload: Workload) -> None:
    first = workload.cri.container_stats(workload.container_id)
    time.sleep(1)
    second = workload.cri.container_stats(workload.container_id)
    rate = cpu_rate(first.cpu, second.cpu)
    assert rate is not None
    # One busy shell loop uses up to one core. Other load on a 2-core machine
    # can take much of it, but an idle container stays near 0.
    assert 0.1 < rate < 1.1


def test_container_stats_frame(workload: Workload) -> None:
    first = workload.cri.list_container_stats(pod_id=workload.pod_id)
    time.sleep(0.5)
    frame = container_stats_frame(
        workload.cri.list_container_stats(pod_id=workload.pod_id), first
    )
    row = frame.iloc[0]
    assert row["name"] == "main"
    assert row["cpu_cores"] > 0.1  # a busy loop, even on a loaded machine
    assert row["memory_working_set_bytes"] > 0
    assert frame["time"].iloc[0].value > 0


def test_sample_stats_over_time(workload: Workload) -> None:
    frame = sample_stats(
        workload.cri, duration=2.2, interval=1.0, pod_id=workload.pod_id
    )
    assert len(frame) == 2
    assert frame["time"].is_monotonic_increasing
    assert (frame["cpu_cores"] > 0.1).all()


def test_pod_stats(workload: Workload) -> None:
    # PodSandboxStats exists in both API packages; containerd needs the pod
    # to have a cgroup parent, which the workload's pod config sets.
    stats = workload.cri.pod_stats(workload.pod_id)
    assert stats.attributes.id == workload.pod_id
    frame = pod_stats_frame(workload.cri.list_pod_stats(pod_id=workload.pod_id))
    assert frame.iloc[0]["name"] == workload.name
    assert frame.iloc[0]["cpu_total_ns"] > 0


# -- images ------------------------------------------------------------------


def test_images_list_status_config(workload: Workload) -> None:
    cri = workload.cri
    reference = workload.lab.images["busybox"]
    assert any(reference in image.repo_tags for image in cri.list_images())
    assert [list(i.repo_tags) for i in cri.list_images(reference)] == [[reference]]
    status = cri.image_status(reference)
    assert status.image.size > 500_000
    config = cri.image_config(reference)
    assert config["config"]["Cmd"] == ["sh"]
    frame = cri.images_frame(reference)
    assert frame.iloc[0]["tags"] == [reference]
    assert frame.iloc[0]["size_bytes"] == status.image.size


def test_image_status_absent(workload: Workload) -> None:
    assert workload.cri.image_status("127.0.0.1:1/absent/image:none").image.id == ""


def test_image_fs_info(workload: Workload) -> None:
    filesystem = workload.cri.image_fs_info().image_filesystems[0]
    assert filesystem.fs_id.mountpoint.startswith(workload.lab.state_dir)
    assert filesystem.fs_id.mountpoint.endswith(
        "io.containerd.snapshotter.v1.overlayfs"
    )
    assert filesystem.timestamp > 0


def test_pull_remove_image(workload: Workload) -> None:
    built = build_lab_images()
    reference = f"{workload.lab.registry_url.removeprefix('http://')}/tests/remove-me:{workload.cri.api_version}"
    repository, tag = reference.split("/", 1)[1].rsplit(":", 1)
    push_image(workload.lab.registry_url, repository, built.pause, [tag])
    image_ref = workload.cri.pull_image(reference)
    assert image_ref == built.pause.config.digest
    assert workload.cri.remove_image(reference) is True
    assert workload.cri.image_status(reference).image.id == ""
    assert workload.cri.remove_image(reference) is False


@pytest.mark.parametrize("credential", ["password", "auth"])
def test_pull_with_credentials(
    workload: Workload, basic_auth_registry: AuthRegistry, credential: str
) -> None:
    registry = basic_auth_registry
    built = build_lab_images()
    push_image(
        registry.url,
        "private/busybox",
        built.busybox,
        ["lab"],
        auth=(registry.username, registry.password),
    )
    reference = f"{registry.host}/private/busybox:lab"
    with pytest.raises(CRICallError, match="(?i)unauthorized|401"):
        workload.cri.pull_image(reference)
    if credential == "password":
        image_ref = workload.cri.pull_image(
            reference, username=registry.username, password=registry.password
        )
    else:
        token = base64.b64encode(
            f"{registry.username}:{registry.password}".encode()
        ).decode()
        image_ref = workload.cri.pull_image(reference, auth=token)
    assert image_ref == built.busybox.config.digest
    workload.cri.remove_image(reference)


# -- runtime and newer calls -----------------------------------------------------


def test_update_runtime_config(workload: Workload) -> None:
    workload.cri.update_runtime_config(workload.lab.subnet)
    assert workload.cri.status().ready


@pytest.mark.parametrize(
    ("method", "arguments"),
    [
        ("runtime_config", {}),
        ("list_metric_descriptors", {}),
        ("list_pod_metrics", {}),
        ("checkpoint_container", {"container_id": "x", "location": "/tmp/x.tar"}),
        ("update_pod_resources", {"pod_id": "x"}),
        ("checkpoint_pod", {"pod_id": "x", "output_path": "/tmp/x"}),
        ("restore_pod", {"checkpoint_path": "/tmp/x"}),
    ],
)
def test_methods_containerd_lacks(
    workload: Workload, method: str, arguments: dict[str, str]
) -> None:
    with pytest.raises(CRIUnimplementedError) as caught:
        getattr(workload.cri, method)(**arguments)
    message = str(caught.value)
    if workload.cri.api_version == "v1":
        assert "not supported by this runtime (containerd 1.6" in message
    else:
        assert (
            "not part of runtime.v1alpha2, the API version this client was forced"
            in message
        )


@pytest.mark.parametrize(
    "method",
    [
        "stream_pods",
        "stream_containers",
        "stream_container_stats",
        "stream_pod_stats",
        "stream_pod_metrics",
        "stream_images",
    ],
)
def test_stream_methods_containerd_lacks(workload: Workload, method: str) -> None:
    with pytest.raises(CRIUnimplementedError):
        list(getattr(workload.cri, method)())


def test_container_events(workload: Workload) -> None:
    with pytest.raises(CRIUnimplementedError):
        list(workload.cri.container_events(timeout=2))


# -- lifecycle and idempotency ------------------------------------------------------


@pytest.mark.parametrize("api_version", VERSIONS)
def test_stop_grace_period_and_idempotent_remove(
    lab: LabInfo, api_version: str
) -> None:
    with CRIClient(lab.cri_endpoint, api_version=api_version, timeout=60) as cri:
        # The shell ignores SIGTERM, so stop must wait the grace period, then kill.
        pod_id, _, container_id = _start(
            cri,
            lab,
            f"grace-{api_version}",
            ["sh", "-c", "trap '' TERM; echo up; sleep 600"],
        )
        # Stop only after the shell has set its trap, which "up" confirms:
        # a SIGTERM that arrives earlier ends the shell at once.
        log_path = Path(cri.container_status(container_id).status.log_path)
        for _ in range(100):
            if log_path.exists() and "up" in log_path.read_text():
                break
            time.sleep(0.05)
        started = time.monotonic()
        assert cri.stop_container(container_id, grace_period=2) is True
        elapsed = time.monotonic() - started
        status = cri.container_status(container_id).status
        assert 1.5 < elapsed < 10
        assert status.state == 2  # CONTAINER_EXITED
        assert status.exit_code == 137
        assert cri.stop_container(container_id) is True
        assert cri.remove_container(container_id) is True
        assert cri.remove_container(container_id) is False
        assert cri.stop_container(container_id) is False
        assert cri.stop_pod(pod_id) is True
        assert cri.stop_pod(pod_id) is True
        assert cri.remove_pod(pod_id) is True
        assert cri.remove_pod(pod_id) is False
        assert cri.stop_pod(pod_id) is False
        assert cri.list_pods(pod_id=pod_id) == []


def test_frames_empty_lists() -> None:
    from ocilab.cri.frames import containers_frame, images_frame, pods_frame

    assert list(pods_frame([]).columns)[:3] == ["pod_id", "name", "namespace"]
    assert containers_frame([]).empty
    assert images_frame([]).empty
    assert isinstance(container_stats_frame([]), pd.DataFrame)


@pytest.mark.parametrize("api_version", VERSIONS)
def test_builders_env_reaches_container(lab: LabInfo, api_version: str) -> None:
    from ocilab.cri.configs import container_config, pod_config

    with CRIClient(lab.cri_endpoint, api_version=api_version, timeout=60) as cri:
        cri.pull_image(lab.images["busybox"])
        pod = pod_config(
            f"env-{api_version}",
            namespace="api-tests",
            log_directory=str(Path(lab.state_dir) / "pod-logs" / f"env-{api_version}"),
        )
        pod_id = cri.run_pod(pod)
        try:
            container = container_config(
                "env",
                lab.images["busybox"],
                command=["sleep", "600"],
                env={"GREETING": "hello world", "COUNT": "1"},
            )
            container_id = cri.create_container(pod_id, container, pod)
            cri.start_container(container_id)
            result = cri.exec_sync(
                container_id, ["sh", "-c", 'echo "$GREETING/$COUNT"']
            )
        finally:
            cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)
    assert result.stdout == b"hello world/1\n"


@pytest.mark.parametrize("api_version", VERSIONS)
def test_env_from_config_file_message(
    lab: LabInfo, api_version: str, tmp_path: Path
) -> None:
    from ocilab.cri.configs import load_container_config, pod_config

    config_file = tmp_path / "container.yaml"
    config_file.write_text(
        "metadata: {name: envfile}\n"
        f"image: {{image: '{lab.images['busybox']}'}}\n"
        "command: [sleep, '600']\n"
        "envs: [{key: GREETING, value: 'héllo wörld'}]\n"
    )
    with CRIClient(lab.cri_endpoint, api_version=api_version, timeout=60) as cri:
        cri.pull_image(lab.images["busybox"])
        pod = pod_config(
            f"envfile-{api_version}",
            log_directory=str(
                Path(lab.state_dir) / "pod-logs" / f"envfile-{api_version}"
            ),
        )
        pod_id = cri.run_pod(pod)
        try:
            message = load_container_config(config_file, api_version=api_version)
            container_id = cri.create_container(pod_id, message, pod)
            cri.start_container(container_id)
            result = cri.exec_sync(container_id, ["sh", "-c", 'echo "$GREETING"'])
        finally:
            cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)
    assert result.stdout.decode() == "héllo wörld\n"


def test_invalid_regex_filter(workload: Workload) -> None:
    from ocilab.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match=r"invalid regular expression '\('"):
        workload.cri.list_containers(name="(")
    with pytest.raises(InvalidRequestError, match="invalid regular expression"):
        workload.cri.list_pods(namespace="[z-a]")


@pytest.mark.parametrize("last", [0, -1, 2.5, "2", True])
def test_invalid_last_rejected(workload: Workload, last: object) -> None:
    with pytest.raises(ValueError, match="invalid last"):
        workload.cri.list_containers(last=last)  # type: ignore[arg-type]


def test_image_filter_not_substring(workload: Workload) -> None:
    assert workload.cri.list_containers(image="x") == []
    image_id = workload.cri.container_status(workload.container_id).status.image_ref
    matched = workload.cri.list_containers(image=image_id[:12])
    assert workload.container_id in [c.id for c in matched]
