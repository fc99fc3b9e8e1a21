"""Lesson 07's exercise checks against an image built, pushed, pulled and run in the test lab."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ocilab.cri import CRIClient, container_config, pod_config
from ocilab.distribution import RegistryClient, copy_image
from ocilab.exercises import lesson07
from ocilab.image import LayerBuilder, OCILayout, extend_image
from ocilab.lab import LabInfo

pytestmark = pytest.mark.lab

# Set by the container config below, and absent from the image config.
CONFIG_ONLY_VARIABLE = "ONLY_IN_CONTAINER_CONFIG"


@dataclass(frozen=True)
class Journey:
    """An image built on the lab's busybox, pulled through CRI and running in a pod."""

    cri: CRIClient
    reference: str
    container_id: str
    pod_hostname: str
    image_env: list[str]
    container_env: dict[str, str]
    base_diff_ids: list[str]
    layer_diff_id: str


@pytest.fixture(scope="module")
def journey(
    lab: LabInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Journey]:
    suffix = uuid.uuid4().hex[:8]
    layout_path = tmp_path_factory.mktemp("lesson07") / "layout"
    copy_image(lab.images["busybox"], f"oci:{layout_path}:base", progress=False)
    layout = OCILayout.open(layout_path)
    base = layout.images(ref_name="base")[0]
    layer = LayerBuilder()
    layer.add_file("app/run.sh", b"#!/bin/sh\nexec sleep 300\n", mode=0o755)
    layer_blob, layer_diff_id = layer.build()
    image_env = [*base.config.env, "GREETING=hello", "LESSON=07"]
    image = extend_image(
        json.loads(layout.read_blob(base.descriptor)),
        json.loads(layout.read_blob(base.manifest.config)),
        [(layer_blob, layer_diff_id)],
        container_config={"Entrypoint": ["/app/run.sh"], "Env": image_env},
    )
    layout.add_image(image, ref_name="journey")
    host = lab.registry_url.removeprefix("http://")
    repository = f"tests/lesson07-{suffix}"
    reference = f"{host}/{repository}:v1"
    copy_image(f"oci:{layout_path}:journey", reference, progress=False)

    container_env = {"GREETING": "hello from CRI", CONFIG_ONLY_VARIABLE: "1"}
    pod_name = f"lesson07-{suffix}"
    with CRIClient(lab.cri_endpoint, timeout=60) as cri:
        cri.pull_image(reference)
        pod = pod_config(
            pod_name,
            log_directory=str(Path(lab.state_dir) / "pod-logs" / pod_name),
        )
        pod_id = cri.run_pod(pod)
        try:
            container_id = cri.create_container(
                pod_id, container_config("app", reference, env=container_env), pod
            )
            cri.start_container(container_id)
            yield Journey(
                cri=cri,
                reference=reference,
                container_id=container_id,
                pod_hostname=pod["hostname"],
                image_env=image_env,
                container_env=container_env,
                base_diff_ids=list(base.config.diff_ids),
                layer_diff_id=layer_diff_id,
            )
        finally:
            cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)
            cri.remove_image(reference)
            with RegistryClient(lab.registry_url) as client:
                client.delete_manifest(repository, image.manifest.digest)


def _added_names(journey: Journey) -> set[str]:
    """The process.env names that the test put neither in the image nor in the container config."""
    spec = journey.cri.container_runtime_spec(journey.container_id)
    names = {entry.split("=", 1)[0] for entry in spec["process"]["env"]}
    names -= {entry.split("=", 1)[0] for entry in journey.image_env}
    names -= set(journey.container_env)
    return names


def _top_chain_id(journey: Journey) -> str:
    """Compute the ChainID of the top layer by the image spec's definition."""
    chain_id = journey.base_diff_ids[0]
    for diff_id in [*journey.base_diff_ids[1:], journey.layer_diff_id]:
        text = f"{chain_id} {diff_id}".encode()
        chain_id = "sha256:" + hashlib.sha256(text).hexdigest()
    return chain_id


def test_added_env_unanswered(journey: Journey) -> None:
    result = lesson07.check_added_env(None, journey.cri, journey.container_id)
    assert result.passed is None
    assert "Hint:" in result.message


def test_added_env_without_container(journey: Journey) -> None:
    result = lesson07.check_added_env("HOSTNAME", journey.cri, None)
    assert result.passed is None


def test_added_env_right(journey: Journey) -> None:
    added = _added_names(journey)
    assert len(added) == 1  # exercise 1 in the notebook states "exactly one"
    (name,) = added
    result = lesson07.check_added_env(name, journey.cri, journey.container_id)
    assert result.passed is True


def test_added_env_value_is_pod_hostname(journey: Journey) -> None:
    (name,) = _added_names(journey)
    spec = journey.cri.container_runtime_spec(journey.container_id)
    values = [
        e.split("=", 1)[1] for e in spec["process"]["env"] if e.startswith(f"{name}=")
    ]
    assert values == [journey.pod_hostname]


def test_added_env_other_forms(journey: Journey) -> None:
    (name,) = _added_names(journey)
    with_value = lesson07.check_added_env(
        f"{name}=anything", journey.cri, journey.container_id
    )
    as_set = lesson07.check_added_env({name}, journey.cri, journey.container_id)
    assert with_value.passed is True
    assert as_set.passed is True


def test_added_env_image_variable(journey: Journey) -> None:
    (name,) = _added_names(journey)
    result = lesson07.check_added_env("LESSON", journey.cri, journey.container_id)
    assert result.passed is False
    assert "image config's Env" in result.message
    assert "Hint:" in result.message
    assert name not in result.message


def test_added_env_config_variable(journey: Journey) -> None:
    (name,) = _added_names(journey)
    result = lesson07.check_added_env(
        CONFIG_ONLY_VARIABLE, journey.cri, journey.container_id
    )
    assert result.passed is False
    assert "ContainerConfig" in result.message
    assert name not in result.message


def test_added_env_extra_name(journey: Journey) -> None:
    (name,) = _added_names(journey)
    result = lesson07.check_added_env(
        {name, "LESSON"}, journey.cri, journey.container_id
    )
    assert result.passed is False


def test_added_env_unknown_name(journey: Journey) -> None:
    result = lesson07.check_added_env("NO_SUCH_NAME", journey.cri, journey.container_id)
    assert result.passed is False
    assert "not in process.env" in result.message


def test_added_env_not_text(journey: Journey) -> None:
    result = lesson07.check_added_env(42, journey.cri, journey.container_id)  # type: ignore[arg-type]
    assert result.passed is False
    assert "42" in result.message


def test_added_env_missing_container(journey: Journey) -> None:
    result = lesson07.check_added_env("HOSTNAME", journey.cri, "0" * 64)
    assert result.passed is False
    assert "from the top" in result.message


def test_chain_id_unanswered(journey: Journey) -> None:
    result = lesson07.check_top_chain_id(None, journey.cri, journey.reference)
    assert result.passed is None
    assert "Hint:" in result.message


def test_chain_id_right(journey: Journey) -> None:
    expected = _top_chain_id(journey)
    result = lesson07.check_top_chain_id(expected, journey.cri, journey.reference)
    assert result.passed is True


def test_chain_id_upper_case(journey: Journey) -> None:
    expected = _top_chain_id(journey).upper().replace("SHA256:", "sha256:")
    result = lesson07.check_top_chain_id(expected, journey.cri, journey.reference)
    assert result.passed is True


def test_chain_id_diff_id_given(journey: Journey) -> None:
    result = lesson07.check_top_chain_id(
        journey.layer_diff_id, journey.cri, journey.reference
    )
    assert result.passed is False
    assert "diff_id" in result.message
    assert _top_chain_id(journey) not in result.message


def test_chain_id_lower_layer(journey: Journey) -> None:
    result = lesson07.check_top_chain_id(
        journey.base_diff_ids[0], journey.cri, journey.reference
    )
    assert result.passed is False
    assert "lower layer" in result.message


def test_chain_id_wrong(journey: Journey) -> None:
    result = lesson07.check_top_chain_id(
        "sha256:" + "0" * 64, journey.cri, journey.reference
    )
    assert result.passed is False
    assert "Hint:" in result.message
    assert _top_chain_id(journey) not in result.message


def test_chain_id_not_text(journey: Journey) -> None:
    result = lesson07.check_top_chain_id(7, journey.cri, journey.reference)  # type: ignore[arg-type]
    assert result.passed is False
    assert "not a digest" in result.message


def test_chain_id_image_absent(journey: Journey) -> None:
    absent = journey.reference.rsplit(":", 1)[0] + ":no-such-tag"
    result = lesson07.check_top_chain_id(_top_chain_id(journey), journey.cri, absent)
    assert result.passed is False
    assert "pull it again" in result.message


@pytest.mark.parametrize("exercise", [1, 2])
def test_solution_passes_check(journey: Journey, exercise: int) -> None:
    namespace = {
        "cri": journey.cri,
        "container_id": journey.container_id,
        "reference": journey.reference,
    }
    # The solution is this package's own code, run as the notebook cell would run it.
    exec(lesson07.solution(exercise).code, namespace)  # noqa: S102
    if exercise == 1:
        result = lesson07.check_added_env(
            namespace["answer_1"], journey.cri, journey.container_id
        )
    else:
        result = lesson07.check_top_chain_id(
            namespace["answer_2"], journey.cri, journey.reference
        )
    assert result.passed is True
