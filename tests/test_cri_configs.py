"""Pod and container config files and builders: crictl's formats, both API versions."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from ocilab.cri import API_MODULES
from ocilab.cri.configs import (
    container_config,
    dump_config,
    load_container_config,
    load_pod_config,
    parse_dict,
    pod_config,
    to_message,
)
from ocilab.errors import InvalidRequestError

API_VERSIONS = pytest.mark.parametrize("api_version", ["v1", "v1alpha2"])

# The example of crictl's user guide for `crictl runp`.
CRICTL_POD_JSON = """\
{
    "metadata": {
        "name": "nginx-sandbox",
        "namespace": "default",
        "attempt": 1,
        "uid": "hdishd83djaidwnduwk28bcsb"
    },
    "log_directory": "/tmp",
    "linux": {
    }
}
"""

CRICTL_CONTAINER_YAML = """\
metadata:
  name: busybox
image:
  image: busybox
command:
  - top
log_path: busybox.0.log
"""


def env_text(value: str | bytes) -> str:
    """Return an env value as text: runtime.v1 stores bytes, v1alpha2 a str."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def full_pod() -> dict[str, Any]:
    return pod_config(
        "web",
        namespace="shop",
        attempt=2,
        labels={"app": "web"},
        annotations={"note": "höchst wichtig"},
        log_directory="/var/log/pods/shop_web",
        dns_servers=["10.96.0.10"],
        port_mappings=[(80, 8080), {"container_port": 53, "protocol": "UDP"}],
        cgroup_parent="/kubepods",
        host_network=True,
        privileged=True,
    )


def full_container() -> dict[str, Any]:
    return container_config(
        "app",
        "docker.io/library/busybox:1.36",
        command=["sh", "-c"],
        args=["echo $GREETING; sleep 3600"],
        env={"GREETING": "grüß dich", "EMPTY": ""},
        labels={"tier": "backend"},
        annotations={"owner": "team-a"},
        working_dir="/srv",
        mounts=[("/srv/data", "/data", True), {"container_path": "/cache"}],
        attempt=1,
        tty=True,
        stdin=True,
        cpu_shares=512,
        memory_limit_bytes=64 * 1024**3,
        cpu_quota=50_000,
        cpu_period=100_000,
        privileged=True,
        readonly_rootfs=True,
        run_as_user=0,
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# -- round trips -----------------------------------------------------------


@API_VERSIONS
@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
@pytest.mark.parametrize("style", ["crictl", "protojson"])
@pytest.mark.parametrize(
    ("kind", "build", "load"),
    [
        ("pod", full_pod, load_pod_config),
        ("container", full_container, load_container_config),
    ],
    ids=["pod", "container"],
)
def test_message_round_trip(
    tmp_path: Path, api_version, suffix, style, kind, build, load
) -> None:
    message = to_message(build(), kind, api_version)
    path = dump_config(message, tmp_path / f"config{suffix}", style=style)
    assert path == tmp_path / f"config{suffix}"
    assert load(path, api_version) == message


@API_VERSIONS
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_dict_round_trip_guesses_kind(tmp_path: Path, api_version, suffix) -> None:
    pod, container = full_pod(), full_container()
    pod_path = dump_config(pod, tmp_path / f"pod{suffix}", api_version=api_version)
    container_path = dump_config(
        container, tmp_path / f"container{suffix}", api_version=api_version
    )
    assert load_pod_config(pod_path, api_version) == to_message(pod, "pod", api_version)
    assert load_container_config(container_path, api_version) == to_message(
        container, "container", api_version
    )


def test_unknown_suffix_written_as_json(tmp_path: Path) -> None:
    path = dump_config(pod_config("web"), tmp_path / "pod.conf")
    assert json.loads(path.read_text())["metadata"]["name"] == "web"
    assert load_pod_config(path).metadata.name == "web"


def test_dump_crictl_style(tmp_path: Path) -> None:
    config = full_container()
    container = json.loads(dump_config(config, tmp_path / "c.json").read_text())
    pod = yaml.safe_load(dump_config(full_pod(), tmp_path / "p.yaml").read_text())
    assert container["log_path"] == "app/1.log"
    # crictl's Go structs take int64 fields from JSON numbers only.
    assert container["linux"]["resources"]["memory_limit_in_bytes"] == 64 * 1024**3
    assert container["envs"][0] == {"key": "GREETING", "value": "grüß dich"}
    assert pod["linux"]["security_context"]["namespace_options"]["network"] == 2
    assert pod["log_directory"] == "/var/log/pods/shop_web"


def test_dump_protojson_style(tmp_path: Path) -> None:
    container_path = dump_config(
        full_container(), tmp_path / "c.json", style="protojson"
    )
    pod_path = dump_config(full_pod(), tmp_path / "p.yaml", style="protojson")
    container = json.loads(container_path.read_text())
    pod = yaml.safe_load(pod_path.read_text())
    assert container["logPath"] == "app/1.log"
    assert container["linux"]["resources"]["memoryLimitInBytes"] == str(64 * 1024**3)
    assert container["envs"][0] == {"key": "GREETING", "value": "grüß dich"}
    assert pod["linux"]["securityContext"]["namespaceOptions"]["network"] == "NODE"
    assert pod["logDirectory"] == "/var/log/pods/shop_web"


def test_dump_rejects_unknown_style(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="'crictl'"):
        dump_config(pod_config("web"), tmp_path / "p.json", style="camel")
    assert not (tmp_path / "p.json").exists()


def test_dump_checks_dict_first(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="'bogus'"):
        dump_config({"metadata": {"name": "web"}, "bogus": 1}, tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()


# -- crictl's example files ------------------------------------------------


@API_VERSIONS
def test_crictl_pod_example(tmp_path: Path, api_version) -> None:
    path = write(tmp_path, "pod-config.json", CRICTL_POD_JSON)
    pod = load_pod_config(path, api_version)
    assert type(pod) is API_MODULES[api_version].PodSandboxConfig
    assert pod.metadata.name == "nginx-sandbox"
    assert pod.metadata.namespace == "default"
    assert pod.metadata.attempt == 1
    assert pod.metadata.uid == "hdishd83djaidwnduwk28bcsb"
    assert pod.log_directory == "/tmp"
    assert pod.HasField("linux")


@API_VERSIONS
def test_crictl_container_example(tmp_path: Path, api_version) -> None:
    path = write(tmp_path, "container-config.yaml", CRICTL_CONTAINER_YAML)
    container = load_container_config(path, api_version)
    assert type(container) is API_MODULES[api_version].ContainerConfig
    assert container.metadata.name == "busybox"
    assert container.image.image == "busybox"
    assert list(container.command) == ["top"]
    assert container.log_path == "busybox.0.log"


@API_VERSIONS
def test_camel_and_snake_case_equal(tmp_path: Path, api_version) -> None:
    snake = {
        "metadata": {"name": "app"},
        "log_path": "app/0.log",
        "working_dir": "/srv",
        "envs": [{"key": "A", "value": "1"}],
        "linux": {
            "resources": {"memory_limit_in_bytes": 1024},
            "security_context": {"run_as_user": {"value": 1000}},
        },
    }
    camel = {
        "metadata": {"name": "app"},
        "logPath": "app/0.log",
        "workingDir": "/srv",
        "envs": [{"key": "A", "value": "1"}],
        "linux": {
            "resources": {"memoryLimitInBytes": "1024"},
            "securityContext": {"runAsUser": {"value": 1000}},
        },
    }
    snake_path = write(tmp_path, "snake.yaml", yaml.safe_dump(snake))
    camel_path = write(tmp_path, "camel.json", json.dumps(camel))
    from_snake = load_container_config(snake_path, api_version)
    from_camel = load_container_config(camel_path, api_version)
    assert from_snake == from_camel
    assert from_snake.linux.resources.memory_limit_in_bytes == 1024
    assert from_snake.linux.security_context.run_as_user.value == 1000
    assert env_text(from_snake.envs[0].value) == "1"


@API_VERSIONS
def test_enum_by_name_or_number(api_version) -> None:
    by_name = {"linux": {"security_context": {"namespace_options": {"pid": "NODE"}}}}
    by_number = {"linux": {"security_context": {"namespace_options": {"pid": 2}}}}
    assert to_message(by_name, "pod", api_version) == to_message(
        by_number, "pod", api_version
    )


@pytest.mark.parametrize(
    "text",
    ['{"metadata": {"name": "web"}}', "metadata:\n  name: web\n"],
    ids=["json", "yaml"],
)
def test_unknown_suffix_tries_json_then_yaml(tmp_path: Path, text) -> None:
    path = write(tmp_path, "pod.conf", text)
    assert load_pod_config(path).metadata.name == "web"


# -- file errors -----------------------------------------------------------


@API_VERSIONS
def test_unknown_field_names_valid_fields(tmp_path: Path, api_version) -> None:
    path = write(tmp_path, "pod.yaml", "metadata:\n  name: web\nlogDir: /tmp\n")
    with pytest.raises(InvalidRequestError) as caught:
        load_pod_config(path, api_version)
    message = str(caught.value)
    assert str(path) in message
    assert "unknown field 'logDir' at the top level" in message
    assert "log_directory (logDirectory)" in message
    assert "port_mappings (portMappings)" in message
    assert f"runtime.{api_version}.PodSandboxConfig" in message


def test_nested_unknown_field_names_its_message(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{"metadata": {"nmae": "app"}}')
    with pytest.raises(InvalidRequestError) as caught:
        load_container_config(path)
    message = str(caught.value)
    assert "'nmae' in metadata" in message
    assert "runtime.v1.ContainerMetadata has the fields: name, attempt" in message


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    text = "metadata:\n  name: web\n  namespace: [default\nhostname: web\n"
    path = write(tmp_path, "pod.yaml", text)
    with pytest.raises(InvalidRequestError) as caught:
        load_pod_config(path)
    message = str(caught.value)
    assert message.startswith(f"invalid YAML in {path} at line 4,")
    assert "Fix the syntax" in message


def test_json_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "pod.json", '{\n  "metadata": {"name": "web"},\n}\n')
    with pytest.raises(InvalidRequestError) as caught:
        load_pod_config(path)
    assert str(caught.value).startswith(f"invalid JSON in {path} at line 3, column 1")


def test_unknown_suffix_syntax_error_says_both(tmp_path: Path) -> None:
    path = write(tmp_path, "pod.conf", "metadata: [web\n")
    with pytest.raises(InvalidRequestError) as caught:
        load_pod_config(path)
    message = str(caught.value)
    assert f"invalid YAML in {path} (it is not valid JSON either)" in message
    assert "at line 2" in message


@pytest.mark.parametrize(
    ("text", "found"),
    [("- name: web\n", "the list"), ("web\n", "the string 'web'")],
    ids=["list", "string"],
)
def test_top_level_not_mapping(tmp_path: Path, text, found) -> None:
    path = write(tmp_path, "pod.yaml", text)
    with pytest.raises(InvalidRequestError) as caught:
        load_pod_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "the top level must be a mapping" in message
    assert found in message


def test_empty_file_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "pod.yaml", "")
    with pytest.raises(InvalidRequestError, match="the config is empty"):
        load_pod_config(path)


def test_missing_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(InvalidRequestError) as caught:
        load_pod_config(path)
    assert f"config file {path} not found" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_missing_relative_path_shown_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidRequestError) as caught:
        load_container_config("configs/absent.yaml")
    message = str(caught.value)
    assert "configs/absent.yaml" in message
    assert f"absolute path {tmp_path / 'configs' / 'absent.yaml'}" in message


def test_directory_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="cannot read config file"):
        load_pod_config(tmp_path)


def test_not_utf8_rejected(tmp_path: Path) -> None:
    path = tmp_path / "pod.json"
    path.write_bytes(b'{"hostname": "\xff"}')
    with pytest.raises(InvalidRequestError, match="is not UTF-8 text"):
        load_pod_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metadata:\n  attempt: first\n", "metadata.attempt must be an integer"),
        ("metadata:\n  attempt: -1\n", "from 0 to 4294967295 (uint32)"),
        ("metadata: [web]\n", "metadata must be a mapping"),
        ("labels:\n  enabled: true\n", "labels['enabled'] must be a string"),
        ("port_mappings:\n  containerPort: 80\n", "port_mappings must be a list"),
        ("hostname: 42\n", "Quote the value in YAML"),
        (
            "linux:\n  security_context:\n    namespace_options:\n"
            "      network: HOST\n",
            "POD (0), CONTAINER (1), NODE (2), TARGET (3), not the string 'HOST'",
        ),
        (
            "logDirectory: /a\nlog_directory: /b\n",
            "given twice, as 'logDirectory' and 'log_directory'",
        ),
    ],
    ids=[
        "text-for-int",
        "negative-uint",
        "list-for-message",
        "bool-label",
        "mapping-for-list",
        "int-for-string",
        "unknown-enum",
        "duplicate-field",
    ],
)
def test_wrong_value_names_path(tmp_path: Path, text, expected) -> None:
    path = write(tmp_path, "pod.yaml", text)
    with pytest.raises(InvalidRequestError) as caught:
        load_pod_config(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_invalid_api_version(tmp_path: Path) -> None:
    path = write(tmp_path, "pod.json", CRICTL_POD_JSON)
    with pytest.raises(InvalidRequestError, match="'v1' or 'v1alpha2'"):
        load_pod_config(path, "v2")


# -- builders --------------------------------------------------------------


@API_VERSIONS
def test_pod_defaults(api_version) -> None:
    config = pod_config("web")
    pod = to_message(config, "pod", api_version)
    assert uuid.UUID(pod.metadata.uid).version == 4
    assert pod.metadata.name == "web"
    assert pod.metadata.namespace == "default"
    assert pod.metadata.attempt == 0
    assert pod.hostname == "web"
    assert config["linux"] == {}
    assert pod.HasField("linux")
    assert pod.log_directory == ""
    assert pod.linux.security_context.namespace_options.network == 0


def test_pod_uids_differ() -> None:
    assert pod_config("web")["metadata"]["uid"] != pod_config("web")["metadata"]["uid"]


@API_VERSIONS
def test_pod_options(api_version) -> None:
    pod = to_message(full_pod(), "pod", api_version)
    module = API_MODULES[api_version]
    assert pod.metadata.namespace == "shop"
    assert pod.metadata.attempt == 2
    assert pod.linux.security_context.namespace_options.network == module.NODE
    assert pod.linux.security_context.namespace_options.network == 2
    assert pod.linux.security_context.privileged
    assert pod.linux.cgroup_parent == "/kubepods"
    assert list(pod.dns_config.servers) == ["10.96.0.10"]
    assert pod.port_mappings[0].container_port == 80
    assert pod.port_mappings[0].host_port == 8080
    assert pod.port_mappings[1].protocol == module.UDP
    assert dict(pod.labels) == {"app": "web"}
    assert pod.annotations["note"] == "höchst wichtig"


@API_VERSIONS
def test_container_defaults(api_version) -> None:
    config = container_config("app", "busybox")
    container = to_message(config, "container", api_version)
    assert container.metadata.name == "app"
    assert container.metadata.attempt == 0
    assert container.image.image == "busybox"
    assert container.log_path == "app/0.log"
    assert config["linux"] == {}
    assert not container.tty
    assert not container.linux.security_context.HasField("run_as_user")


@pytest.mark.parametrize(
    ("attempt", "log_path"), [(0, "app/0.log"), (3, "app/3.log")], ids=["0", "3"]
)
def test_container_log_path_layout(attempt, log_path) -> None:
    config = container_config("app", "busybox", attempt=attempt)
    assert config["log_path"] == log_path
    assert config["metadata"]["attempt"] == attempt


def test_container_log_path_given() -> None:
    config = container_config("app", "busybox", log_path="custom.log")
    assert config["log_path"] == "custom.log"


@pytest.mark.parametrize(
    "env",
    [{"A": "1", "B": "two words"}, [("A", "1"), ("B", "two words")]],
    ids=["dict", "pairs"],
)
@API_VERSIONS
def test_container_env_format(api_version, env) -> None:
    config = container_config("app", "busybox", env=env)
    assert config["envs"] == [
        {"key": "A", "value": "1"},
        {"key": "B", "value": "two words"},
    ]
    container = to_message(config, "container", api_version)
    assert [item.key for item in container.envs] == ["A", "B"]
    assert [env_text(item.value) for item in container.envs] == ["1", "two words"]


@API_VERSIONS
def test_container_resources_placement(api_version) -> None:
    config = full_container()
    assert config["linux"]["resources"] == {
        "cpu_shares": 512,
        "memory_limit_in_bytes": 64 * 1024**3,
        "cpu_quota": 50_000,
        "cpu_period": 100_000,
    }
    container = to_message(config, "container", api_version)
    resources = container.linux.resources
    assert resources.cpu_shares == 512
    assert resources.memory_limit_in_bytes == 64 * 1024**3
    assert resources.cpu_quota == 50_000
    assert resources.cpu_period == 100_000


@API_VERSIONS
def test_container_security_context(api_version) -> None:
    container = to_message(full_container(), "container", api_version)
    security = container.linux.security_context
    assert security.privileged
    assert security.readonly_rootfs
    assert security.HasField("run_as_user")
    assert security.run_as_user.value == 0


@API_VERSIONS
def test_container_other_fields(api_version) -> None:
    container = to_message(full_container(), "container", api_version)
    assert list(container.command) == ["sh", "-c"]
    assert list(container.args) == ["echo $GREETING; sleep 3600"]
    assert container.working_dir == "/srv"
    assert container.mounts[0].host_path == "/srv/data"
    assert container.mounts[0].container_path == "/data"
    assert container.mounts[0].readonly
    assert container.mounts[1].container_path == "/cache"
    assert container.tty
    assert container.stdin
    assert container.metadata.attempt == 1
    assert container.log_path == "app/1.log"
    assert dict(container.labels) == {"tier": "backend"}


@pytest.mark.parametrize(
    "name",
    ["", "Web", "-web", "web-", "web_1", "web.1", "a" * 64, 5, None],
    ids=[
        "empty",
        "uppercase",
        "leading-dash",
        "trailing-dash",
        "underscore",
        "dot",
        "64-chars",
        "int",
        "none",
    ],
)
def test_invalid_names_rejected(name) -> None:
    with pytest.raises(InvalidRequestError) as pod_error:
        pod_config(name)
    with pytest.raises(InvalidRequestError) as container_error:
        container_config(name, "busybox")
    assert repr(name) in str(pod_error.value)
    assert "DNS-1123 label" in str(pod_error.value)
    assert "pod name" in str(pod_error.value)
    assert "container name" in str(container_error.value)


@pytest.mark.parametrize("name", ["a", "a" * 63, "web-1", "0"], ids=str)
def test_valid_names_accepted(name) -> None:
    assert pod_config(name)["metadata"]["name"] == name
    assert container_config(name, "busybox")["metadata"]["name"] == name


def test_invalid_namespace_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="invalid namespace 'Kube_System'"):
        pod_config("web", namespace="Kube_System")


@pytest.mark.parametrize("image", ["", None], ids=["empty", "none"])
def test_empty_image_rejected(image) -> None:
    with pytest.raises(InvalidRequestError, match="invalid image"):
        container_config("app", image)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"command": "sleep 10"}, "invalid command 'sleep 10'"),
        ({"args": [1]}, "every element must be a string"),
        ({"env": "A=1"}, "invalid env 'A=1'"),
        ({"env": ["A=1"]}, "give a (name, value) pair"),
        ({"env": {"A": 1}}, "environment variable A: expected a string"),
        ({"env": {"A=B": "1"}}, "without '='"),
        ({"mounts": ["/data"]}, "invalid mount '/data'"),
        ({"attempt": -1}, "invalid attempt -1"),
    ],
    ids=[
        "command-string",
        "args-int",
        "env-string",
        "env-entry-string",
        "env-int-value",
        "env-name-equals",
        "mount-string",
        "negative-attempt",
    ],
)
def test_container_bad_arguments(kwargs, expected) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        container_config("app", "busybox", **kwargs)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"port_mappings": [(0, 80)]}, "invalid container port 0"),
        ({"port_mappings": [(80, 70000)]}, "invalid host port 70000"),
        ({"port_mappings": [80]}, "invalid port mapping 80"),
        ({"uid": ""}, "invalid pod uid ''"),
        ({"dns_servers": "10.0.0.1"}, "invalid dns_servers '10.0.0.1'"),
    ],
    ids=["container-port", "host-port", "bare-int", "empty-uid", "dns-string"],
)
def test_pod_bad_arguments(kwargs, expected) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        pod_config("web", **kwargs)
    assert expected in str(caught.value)


# -- to_message ------------------------------------------------------------


@API_VERSIONS
def test_to_message_unknown_field(api_version) -> None:
    config = container_config("app", "busybox")
    config["linux"]["resources"] = {"memory_limit": 1024}
    with pytest.raises(InvalidRequestError) as caught:
        to_message(config, "container", api_version)
    message = str(caught.value)
    assert "unknown field 'memory_limit' in linux.resources" in message
    assert "memory_limit_in_bytes (memoryLimitInBytes)" in message


def test_to_message_wrong_kind() -> None:
    with pytest.raises(InvalidRequestError, match="unknown field 'image'"):
        to_message(container_config("app", "busybox"), "pod")


@pytest.mark.parametrize(
    ("kind", "api_version", "expected"),
    [
        ("sandbox", "v1", "invalid config kind 'sandbox'"),
        ("pod", "v2", "invalid api_version 'v2'"),
    ],
    ids=["kind", "api-version"],
)
def test_to_message_bad_selector(kind, api_version, expected) -> None:
    with pytest.raises(InvalidRequestError, match=expected):
        to_message(pod_config("web"), kind, api_version)


def test_to_message_top_level_list() -> None:
    with pytest.raises(InvalidRequestError, match="the top level must be a mapping"):
        to_message([pod_config("web")], "pod")  # type: ignore[arg-type]


@API_VERSIONS
def test_parse_dict_nested_request(api_version) -> None:
    request_class = API_MODULES[api_version].CreateContainerRequest
    request = parse_dict(
        {
            "pod_sandbox_id": "f84dd361f8dc",
            "config": container_config("app", "busybox", env={"GREETING": "hello"}),
            "sandbox_config": pod_config("web"),
        },
        request_class,
    )
    assert request.pod_sandbox_id == "f84dd361f8dc"
    assert request.config.metadata.name == "app"
    assert env_text(request.config.envs[0].value) == "hello"
    assert request.sandbox_config.metadata.name == "web"


def test_yaml_alias_bomb_rejected_fast(tmp_path) -> None:
    import time

    from ocilab.cri.configs import load_pod_config
    from ocilab.errors import InvalidRequestError

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    lines.append("hostname: *a9")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    with pytest.raises(InvalidRequestError, match="YAML aliases"):
        load_pod_config(bomb)
    assert time.monotonic() - started < 5


def test_deeply_nested_config_rejected(tmp_path) -> None:
    from ocilab.cri.configs import load_pod_config
    from ocilab.errors import InvalidRequestError

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(InvalidRequestError, match="nested too deeply|invalid"):
        load_pod_config(deep)
