"""The CRI client against the lab's real containerd: versions, status, raw calls, a pod's life."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import grpc
import pytest

from ocilab.cri import CRIClient
from ocilab.errors import (
    CRICallError,
    CRITimeout,
    CRIUnimplementedError,
    InvalidRequestError,
    UnknownMethodError,
)
from ocilab.lab import LabInfo

pytestmark = pytest.mark.lab


@pytest.fixture
def cri(lab: LabInfo) -> CRIClient:
    client = CRIClient(lab.cri_endpoint, timeout=60)
    yield client
    client.close()


@pytest.mark.parametrize("api_version", ["v1", "v1alpha2"])
def test_version_on_both_apis(lab: LabInfo, api_version: str) -> None:
    with CRIClient(lab.cri_endpoint, api_version=api_version) as cri:
        reply = cri.version()
    assert reply.runtime_name == "containerd"
    assert reply.api_package == f"runtime.{api_version}"
    assert reply.runtime_api_version == api_version


def test_negotiation_prefers_v1(cri: CRIClient) -> None:
    assert cri.api_version == "v1"
    assert cri.image_api_version == "v1"


def test_default_endpoint_is_running_lab(lab: LabInfo) -> None:
    with CRIClient() as cri:
        assert cri.endpoint.uri == lab.cri_endpoint
        assert cri.endpoint_source.startswith("the running lab")


def test_status_conditions_and_verbose_info(cri: CRIClient) -> None:
    status = cri.status(verbose=True)
    types = {condition.type: condition.status for condition in status.conditions}
    assert types == {"RuntimeReady": True, "NetworkReady": True}
    assert status.ready
    # containerd's verbose info contains its CRI config as a JSON string.
    assert isinstance(status.info["config"], dict)
    assert status.info["config"]["restrictOOMScoreAdj"] is True


@pytest.mark.parametrize(
    "method",
    ["runtime.v1.RuntimeService/Version", "/runtime.v1.RuntimeService/Version"],
)
def test_raw_call_by_path(cri: CRIClient, method: str) -> None:
    reply = cri.call(method, {"version": "v1"})
    assert reply.runtime_name == "containerd"
    assert type(reply).DESCRIPTOR.full_name == "runtime.v1.VersionResponse"


def test_raw_call_v1alpha2_message(cri: CRIClient) -> None:
    from ocilab._proto.runtime.v1alpha2 import api_pb2

    reply = cri.call(
        "runtime.v1alpha2.RuntimeService/Version", api_pb2.VersionRequest()
    )
    assert type(reply).DESCRIPTOR.full_name == "runtime.v1alpha2.VersionResponse"
    assert reply.runtime_api_version == "v1alpha2"


def test_raw_call_wrong_message_type(cri: CRIClient) -> None:
    with pytest.raises(InvalidRequestError, match="takes runtime.v1.VersionRequest"):
        cri.call("runtime.v1.RuntimeService/Version", cri.pb.StatusRequest())


@pytest.mark.parametrize(
    "method",
    [
        "runtime.v1.RuntimeService/NoSuchMethod",
        "runtime.v2.RuntimeService/Version",
        "Version",
        "runtime.v1.Nope/Version",
    ],
)
def test_raw_call_unknown_method(cri: CRIClient, method: str) -> None:
    with pytest.raises(UnknownMethodError, match="runtime.v1.RuntimeService/Version"):
        cri.call(method)


def test_unimplemented_method_is_not_version_problem(cri: CRIClient) -> None:
    # containerd 1.6 predates ListMetricDescriptors.
    assert cri.api_version == "v1"
    with pytest.raises(CRIUnimplementedError) as caught:
        cri.runtime.ListMetricDescriptors()
    assert "not supported by this runtime" in str(caught.value)
    assert "containerd" in str(caught.value)
    assert caught.value.code == "UNIMPLEMENTED"
    assert cri.api_version == "v1"
    assert cri.version().runtime_name == "containerd"


def test_deadline_exceeded_translated(lab: LabInfo) -> None:
    name = "deadline"
    image = lab.images["busybox"]
    with CRIClient(lab.cri_endpoint, timeout=120) as cri:
        cri.images.PullImage(image={"image": image})
        pod_config = _pod_config(lab, name)
        pod_id = cri.runtime.RunPodSandbox(config=pod_config).pod_sandbox_id
        container_id = cri.runtime.CreateContainer(
            pod_sandbox_id=pod_id,
            config={
                "metadata": {"name": "main"},
                "image": {"image": image},
                "command": ["sleep", "600"],
            },
            sandbox_config=pod_config,
        ).container_id
        cri.runtime.StartContainer(container_id=container_id)
        started = time.monotonic()
        with pytest.raises(CRITimeout, match="timed out") as caught:
            cri.runtime.ExecSync(
                container_id=container_id, cmd=["sleep", "5"], deadline=0.5
            )
        elapsed = time.monotonic() - started
        cri.runtime.StopPodSandbox(pod_sandbox_id=pod_id)
        cri.runtime.RemovePodSandbox(pod_sandbox_id=pod_id)
    assert elapsed < 4
    assert caught.value.code == "DEADLINE_EXCEEDED"
    assert caught.value.method == "/runtime.v1.RuntimeService/ExecSync"
    assert isinstance(caught.value.__cause__, grpc.RpcError)


def test_not_found_translated(cri: CRIClient) -> None:
    with pytest.raises(CRICallError, match="NOT_FOUND") as caught:
        cri.runtime.ContainerStatus(container_id="ocilab-no-such-container")
    assert caught.value.method == "/runtime.v1.RuntimeService/ContainerStatus"


def test_grpc_stub_direct(cri: CRIClient) -> None:
    stub = cri.grpc_stub("RuntimeService")
    reply = stub.Version(cri.pb.VersionRequest(), timeout=5)
    assert reply.runtime_name == "containerd"


def _pod_config(lab: LabInfo, name: str) -> dict[str, object]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ocilab-tests",
            "uid": str(uuid.uuid4()),
            "attempt": 0,
        },
        "hostname": name,
        "log_directory": str(Path(lab.state_dir) / "pod-logs" / name),
        "linux": {},
    }


@pytest.mark.parametrize("api_version", ["v1", "v1alpha2"])
def test_pod_lifecycle(lab: LabInfo, api_version: str) -> None:
    name = f"life-{api_version}"
    image = lab.images["busybox"]
    with CRIClient(lab.cri_endpoint, api_version=api_version, timeout=120) as cri:
        pulled = cri.images.PullImage(image={"image": image})
        assert pulled.image_ref.startswith("sha256:")

        pod_config = _pod_config(lab, name)
        pod_id = cri.runtime.RunPodSandbox(config=pod_config).pod_sandbox_id
        container_config = {
            "metadata": {"name": "main"},
            "image": {"image": image},
            "command": ["sh", "-c", "echo started; exec sleep 600"],
            "log_path": "main.log",
        }
        container_id = cri.runtime.CreateContainer(
            pod_sandbox_id=pod_id, config=container_config, sandbox_config=pod_config
        ).container_id
        cri.runtime.StartContainer(container_id=container_id)

        result = cri.runtime.ExecSync(
            container_id=container_id,
            cmd=["sh", "-c", "echo out; echo err >&2; hostname; exit 3"],
            timeout=20,
        )
        assert result.exit_code == 3
        assert result.stdout.decode().split() == ["out", name]
        assert result.stderr.decode().strip() == "err"

        pod_status = cri.runtime.PodSandboxStatus(pod_sandbox_id=pod_id).status
        assert pod_status.state == cri.pb.SANDBOX_READY
        assert pod_status.network.ip.startswith(
            lab.subnet.split(".")[0] + "." + lab.subnet.split(".")[1] + "."
        )

        log_file = Path(lab.state_dir) / "pod-logs" / name / "main.log"
        for _ in range(50):
            if log_file.exists() and "started" in log_file.read_text():
                break
            time.sleep(0.1)
        assert " stdout F started" in log_file.read_text()

        cri.runtime.StopContainer(container_id=container_id, timeout=0)
        state = cri.runtime.ContainerStatus(container_id=container_id).status.state
        assert state == cri.pb.CONTAINER_EXITED
        cri.runtime.RemoveContainer(container_id=container_id)
        cri.runtime.StopPodSandbox(pod_sandbox_id=pod_id)
        cri.runtime.RemovePodSandbox(pod_sandbox_id=pod_id)
        remaining = [pod.id for pod in cri.runtime.ListPodSandbox().items]
        assert pod_id not in remaining


def test_raw_call_unknown_field_lists_fields(cri: CRIClient) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        cri.call("runtime.v1.RuntimeService/ListContainers", {"bogus": 1})
    message = str(caught.value)
    assert "bogus" in message
    assert "runtime.v1.ListContainersRequest has the fields: filter" in message
    assert isinstance(caught.value, ValueError)


def test_raw_call_wrong_field_type(cri: CRIClient) -> None:
    with pytest.raises(InvalidRequestError, match="invalid request"):
        cri.call("runtime.v1.RuntimeService/ListContainers", {"filter": {"id": 5}})


@pytest.mark.parametrize("request_value", [[], 1, "x"], ids=["list", "int", "str"])
def test_raw_call_non_dict_request(cri: CRIClient, request_value: object) -> None:
    with pytest.raises(
        InvalidRequestError, match="expected a runtime.v1.VersionRequest"
    ):
        cri.call("runtime.v1.RuntimeService/Version", request_value)  # type: ignore[arg-type]


@pytest.mark.parametrize("deadline", [0, -1, float("inf"), float("nan")])
def test_invalid_deadline_rejected(cri: CRIClient, deadline: float) -> None:
    with pytest.raises(ValueError, match="invalid deadline"):
        cri.runtime.Version(deadline=deadline)
