"""PodSandboxConfig and ContainerConfig files and dicts, as crictl reads them.

``crictl runp pod.json`` reads a PodSandboxConfig and ``crictl create POD
container.yaml pod.json`` reads a ContainerConfig, both as JSON or YAML. This
module loads such files into messages of runtime.v1 or runtime.v1alpha2,
builds config dicts with the kubelet's defaults, and writes them back:

>>> pod = pod_config("web", log_directory="/tmp/pods/web")
>>> dump_config(pod, "pod.json")
PosixPath('pod.json')
>>> load_pod_config("pod.json").metadata.name
'web'
>>> to_message(container_config("app", "busybox"), "container").log_path
'app/0.log'

Files and dicts may use protobuf's JSON field names (``logDirectory``) or the
proto field names (``log_directory``), and enum values by name or by number.
Environment values are plain text in every form: this repository's runtime.v1
proto declares ``KeyValue.value`` as bytes, which protobuf's JSON mapping would
expect in base64, so this module encodes and decodes them itself.
"""

from __future__ import annotations

import base64
import json
import os
import re
import reprlib
import uuid
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from ..errors import InvalidRequestError
from ._modules import API_MODULES

__all__ = [
    "container_config",
    "dump_config",
    "load_container_config",
    "load_pod_config",
    "parse_dict",
    "pod_config",
    "to_message",
]

# The message type that each kind of config file contains.
MESSAGE_NAMES = {"pod": "PodSandboxConfig", "container": "ContainerConfig"}
JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")
# NamespaceMode.NODE in runtime.v1 and runtime.v1alpha2: use the host's namespace.
NAMESPACE_MODE_NODE = 2

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_LABEL_MAX_LENGTH = 63
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_INTEGER_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1, "int32"),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1, "uint32"),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1, "int64"),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1, "uint64"),
}
_64_BIT_TYPES = (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64)


# -- checking dicts against a message type ---------------------------------


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = 60
_SHORT_REPR.maxother = 60
_SHORT_REPR.maxlist = _SHORT_REPR.maxdict = 6


class _FieldError(Exception):
    """A problem at one place in a config dict, turned into InvalidRequestError."""


def _describe(value: object) -> str:
    """Return "the list [1, 2]" style text for an error message."""
    if isinstance(value, Mapping):
        kind = "mapping"
    elif isinstance(value, list):
        kind = "list"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int):
        kind = "integer"
    elif isinstance(value, float):
        kind = "number"
    else:
        kind = type(value).__name__
    # reprlib bounds the work: a full repr of an alias-expanded value can take
    # gigabytes before it would be cut to 60 characters.
    return f"the {kind} {_SHORT_REPR.repr(value)}"


def _yaml_hint(value: object) -> str:
    """Return advice for YAML scalars meant as strings (true, 42, 2024-01-01)."""
    if isinstance(value, (str, Mapping, list)):
        return ""
    return '. Quote the value in YAML, for example "true" or "8080"'


def _join(location: str, key: str) -> str:
    return f"{location}.{key}" if location else key


def _where(location: str) -> str:
    return location or "the top level"


def _in(location: str) -> str:
    return f"in {location}" if location else "at the top level"


@cache
def _fields_by_key(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """Map both the proto name and the JSON name of each field to the field."""
    fields: dict[str, FieldDescriptor] = {}
    for field in descriptor.fields:
        fields[field.name] = field
        fields[field.json_name] = field
    return fields


def _field_names(descriptor: Descriptor) -> str:
    """Return "metadata, log_directory (logDirectory), ..." for an error message."""
    names = []
    for field in descriptor.fields:
        if field.json_name == field.name:
            names.append(field.name)
        else:
            names.append(f"{field.name} ({field.json_name})")
    return ", ".join(names) or "(none)"


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _is_env_value(field: FieldDescriptor) -> bool:
    """Return True for a KeyValue.value that the proto declares as bytes."""
    return (
        field.type == FieldDescriptor.TYPE_BYTES
        and field.containing_type.name == "KeyValue"
        and field.name == "value"
    )


def _check_message(value: object, descriptor: Descriptor, location: str) -> Any:
    """Check a dict against a message type and return it ready for ParseDict."""
    if value is None:  # ParseDict leaves a field that is null unset
        return None
    if not isinstance(value, Mapping):
        raise _FieldError(
            f"{_where(location)} must be a mapping of {descriptor.full_name} fields, "
            f"not {_describe(value)}. Its fields are: {_field_names(descriptor)}"
        )
    fields = _fields_by_key(descriptor)
    keys_seen: dict[str, str] = {}
    result: dict[str, Any] = {}
    for key, item in value.items():
        field = fields.get(key) if isinstance(key, str) else None
        if field is None:
            raise _FieldError(
                f"unknown field {key!r} {_in(location)}. {descriptor.full_name} "
                f"has the fields: {_field_names(descriptor)}. Correct the field name "
                "or remove the field"
            )
        if field.name in keys_seen:
            raise _FieldError(
                f"field {_join(location, field.name)} is given twice, as "
                f"{keys_seen[field.name]!r} and {key!r}. Keep one of them"
            )
        keys_seen[field.name] = key
        result[key] = _check_field(item, field, _join(location, key))
    return result


def _check_field(value: object, field: FieldDescriptor, location: str) -> Any:
    if value is None:
        return None
    if _is_map(field):
        if not isinstance(value, Mapping):
            raise _FieldError(
                f"{location} must be a mapping of keys to values, not "
                f"{_describe(value)}"
            )
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        return {
            _check_single(key, key_field, f"{location} key"): _check_single(
                item, value_field, f"{location}[{key!r}]"
            )
            for key, item in value.items()
        }
    if field.is_repeated:
        if not isinstance(value, list):
            raise _FieldError(f"{location} must be a list, not {_describe(value)}")
        return [
            _check_single(item, field, f"{location}[{index}]")
            for index, item in enumerate(value)
        ]
    return _check_single(value, field, location)


def _check_single(value: object, field: FieldDescriptor, location: str) -> Any:
    """Check one value of a field (one element of a repeated field)."""
    cpp_type = field.cpp_type
    if cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        return _check_message(value, field.message_type, location)
    if cpp_type == FieldDescriptor.CPPTYPE_STRING:
        if not isinstance(value, str):
            raise _FieldError(
                f"{location} must be a string, not {_describe(value)}"
                + _yaml_hint(value)
            )
        if _is_env_value(field):
            return base64.b64encode(value.encode("utf-8")).decode("ascii")
        return value
    if cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        if not isinstance(value, bool):
            raise _FieldError(
                f"{location} must be true or false, not {_describe(value)}"
            )
        return value
    if cpp_type == FieldDescriptor.CPPTYPE_ENUM:
        return _check_enum(value, field, location)
    if cpp_type in _INTEGER_RANGES:
        return _check_integer(value, field, location)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _FieldError(f"{location} must be a number, not {_describe(value)}")
    return value


def _check_enum(value: object, field: FieldDescriptor, location: str) -> Any:
    enum = field.enum_type
    choices = ", ".join(f"{item.name} ({item.number})" for item in enum.values)
    known = (isinstance(value, str) and value in enum.values_by_name) or (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value in enum.values_by_number
    )
    if not known:
        raise _FieldError(
            f"{location} must be one of the {enum.full_name} values {choices}, "
            f"not {_describe(value)}"
        )
    return value


def _check_integer(value: object, field: FieldDescriptor, location: str) -> Any:
    low, high, type_name = _INTEGER_RANGES[field.cpp_type]
    number: int | None = None
    # Protobuf's JSON mapping also accepts integers as strings ("1073741824")
    # and as floats without a fraction (1.0).
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None or not low <= number <= high:
        raise _FieldError(
            f"{location} must be an integer from {low} to {high} ({type_name}), "
            f"not {_describe(value)}"
        )
    return value


def parse_dict(
    data: object, message_class: Any, *, origin: str | None = None
) -> Message:
    """Check a dict in protobuf JSON form and parse it into a new message_class.

    Works for any CRI message, such as a CreateContainerRequest with nested
    configs, and reads env values (KeyValue.value) as text. Raises
    InvalidRequestError naming the field path, the problem and the fix.
    ``origin`` (a file name) goes into that message.
    """
    type_name = message_class.DESCRIPTOR.full_name
    prefix = f"invalid {type_name} in {origin}" if origin else f"invalid {type_name}"
    try:
        checked = _check_message(data, message_class.DESCRIPTOR, "")
    except _FieldError as error:
        raise InvalidRequestError(f"{prefix}: {error}") from None
    if checked is None:
        raise InvalidRequestError(
            f"{prefix}: the config is empty. Give a mapping of {type_name} fields: "
            f"{_field_names(message_class.DESCRIPTOR)}"
        )
    try:
        return json_format.ParseDict(checked, message_class())
    except json_format.ParseError as error:  # a case that _check_message missed
        raise InvalidRequestError(f"{prefix}: {error}") from error


# -- message classes -------------------------------------------------------


def _message_class(kind: str, api_version: str) -> Any:
    module = API_MODULES.get(api_version)
    if module is None:
        raise InvalidRequestError(
            f"invalid api_version {api_version!r}: use 'v1' or 'v1alpha2'"
        )
    name = MESSAGE_NAMES.get(kind)
    if name is None:
        raise InvalidRequestError(
            f"invalid config kind {kind!r}: use 'pod' (PodSandboxConfig) or "
            "'container' (ContainerConfig)"
        )
    return getattr(module, name)


def to_message(
    config: Mapping[str, Any], kind: str, api_version: str = "v1"
) -> Message:
    """Convert a config dict into a PodSandboxConfig ("pod") or ContainerConfig.

    Raises InvalidRequestError for a field that the message type lacks (with
    that type's field names) or a value of the wrong type.
    """
    return parse_dict(config, _message_class(kind, api_version))


# -- files -----------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        described_path = (
            path if path.is_absolute() else f"{path} (absolute path {path.absolute()})"
        )
        raise InvalidRequestError(
            f"config file {described_path} not found. Check the path"
        ) from None
    except UnicodeDecodeError as error:
        raise InvalidRequestError(
            f"config file {path} is not UTF-8 text ({error.reason} at byte "
            f"{error.start}). Save it as UTF-8"
        ) from None
    except OSError as error:
        raise InvalidRequestError(
            f"cannot read config file {path}: {error.strerror}"
        ) from error


def _json_error(path: Path, error: json.JSONDecodeError) -> InvalidRequestError:
    return InvalidRequestError(
        f"invalid JSON in {path} at line {error.lineno}, column {error.colno}: "
        f"{error.msg}. Fix the syntax there"
    )


def _yaml_error(
    path: Path, error: yaml.YAMLError, note: str = ""
) -> InvalidRequestError:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is None or problem is None:
        return InvalidRequestError(f"invalid YAML in {path}{note}: {error}")
    context = getattr(error, "context", None)
    detail = f"{problem} ({context})" if context else problem
    # PyYAML counts lines and columns from 0.
    return InvalidRequestError(
        f"invalid YAML in {path}{note} at line {mark.line + 1}, column "
        f"{mark.column + 1}: {detail}. Fix the syntax there"
    )


def _parse_text(path: Path, text: str) -> object:
    """Parse JSON or YAML by suffix, trying JSON then YAML for other suffixes."""
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise _json_error(path, error) from None
    if suffix not in YAML_SUFFIXES:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        note = "" if suffix in YAML_SUFFIXES else " (it is not valid JSON either)"
        raise _yaml_error(path, error, note) from None


def _load(path: str | os.PathLike[str], kind: str, api_version: str) -> Message:
    message_class = _message_class(kind, api_version)
    path = Path(path)
    try:
        data = _parse_text(path, _read_text(path))
        return parse_dict(data, message_class, origin=str(path))
    except RecursionError:
        raise InvalidRequestError(
            f"invalid config file {path}: it is nested too deeply to be a CRI config"
        ) from None


# A config file needs few YAML aliases, and a few dozen nested ones can expand
# to gigabytes (the "billion laughs" file), so their number is capped.
MAX_YAML_ALIASES = 20


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that rejects documents with more than MAX_YAML_ALIASES aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases = getattr(self, "_aliases", 0) + 1
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(
                    f"more than {MAX_YAML_ALIASES} YAML aliases (*name); a CRI config "
                    "needs none, so write the values out"
                )
        return super().compose_node(parent, index)


def load_pod_config(path: str | os.PathLike[str], api_version: str = "v1") -> Message:
    """Read a PodSandboxConfig from a JSON or YAML file, as ``crictl runp`` does.

    The suffix picks the format (.json, .yaml, .yml). A file with any other
    suffix is read as JSON, or as YAML when it is not valid JSON. Raises
    InvalidRequestError naming the file for a missing file, a syntax error
    or a field that does not fit the message.
    """
    return _load(path, "pod", api_version)


def load_container_config(
    path: str | os.PathLike[str], api_version: str = "v1"
) -> Message:
    """Read a ContainerConfig from a JSON or YAML file, as ``crictl create`` does.

    Formats and errors are those of load_pod_config.
    """
    return _load(path, "container", api_version)


def _plain_values(data: dict[str, Any], descriptor: Descriptor, style: str) -> None:
    """Rewrite MessageToDict output in place for dump_config's style.

    Env values become text again, and style "crictl" gets 64-bit integers as numbers.
    """
    fields = _fields_by_key(descriptor)
    for key, value in data.items():
        field = fields[key]
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            for map_key, item in value.items():
                value[map_key] = _plain_value(item, value_field, style)
        elif field.is_repeated:
            data[key] = [_plain_value(item, field, style) for item in value]
        else:
            data[key] = _plain_value(value, field, style)


def _plain_value(value: Any, field: FieldDescriptor, style: str) -> Any:
    if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        _plain_values(value, field.message_type, style)
        return value
    if _is_env_value(field):
        raw = base64.b64decode(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequestError(
                f"environment value {raw!r:.60} is not UTF-8 text, so it cannot be "
                "written to a config file. Set it as a str"
            ) from None
    if style == "crictl" and field.cpp_type in _64_BIT_TYPES:
        return int(value)
    return value


def _guess_kind(config: Mapping[str, Any]) -> str:
    # Only ContainerConfig has an image field.
    return "container" if "image" in config else "pod"


def dump_config(
    config: Message | Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    api_version: str = "v1",
    style: str = "crictl",
) -> Path:
    """Write a config message or dict to a JSON or YAML file and return its path.

    The suffix picks the format: .yaml and .yml write YAML, any other suffix
    writes JSON. A dict is first checked with to_message; its kind is
    ``kind``, or "container" when it has an ``image`` key and "pod" otherwise.

    ``style="crictl"`` writes what ``crictl runp`` and ``crictl create``
    decode: proto field names (``log_directory``) and enums and 64-bit
    integers as numbers. crictl (cri-tools cmd/crictl/util.go) decodes these
    files with sigs.k8s.io/yaml into the generated Go structs, whose JSON tags
    are the proto field names and which take no strings for int64 or enum
    fields. ``style="protojson"`` writes protobuf's canonical
    JSON mapping, as ``crictl inspectp -o json`` prints it: JSON names
    (``logDirectory``), enum names and 64-bit integers as strings. The load
    functions read both styles back into an equal message.
    """
    if style not in ("crictl", "protojson"):
        raise InvalidRequestError(
            f"invalid style {style!r}: use 'crictl' (proto field names, numbers) "
            "or 'protojson' (JSON names, enum names)"
        )
    if isinstance(config, Message):
        message = config
    elif isinstance(config, Mapping):
        message = to_message(config, kind or _guess_kind(config), api_version)
    else:
        raise InvalidRequestError(
            f"cannot write {_describe(config)} as a config: give a PodSandboxConfig "
            "or ContainerConfig message, or a dict from pod_config or container_config"
        )
    # NOTE: no test feeds these files to a crictl binary. The "crictl" style
    # follows the loader in cri-tools' source.
    crictl = style == "crictl"
    data = json_format.MessageToDict(
        message, preserving_proto_field_name=crictl, use_integers_for_enums=crictl
    )
    _plain_values(data, message.DESCRIPTOR, style)
    path = Path(path)
    if path.suffix.lower() in YAML_SUFFIXES:
        text = yaml.safe_dump(
            data, sort_keys=False, default_flow_style=False, allow_unicode=True
        )
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


# -- builders --------------------------------------------------------------


def _check_dns_label(value: object, argument: str) -> str:
    """Return value, or raise InvalidRequestError unless it is a DNS-1123 label."""
    if (
        isinstance(value, str)
        and len(value) <= _DNS1123_LABEL_MAX_LENGTH
        and _DNS1123_LABEL.fullmatch(value)
    ):
        return value
    raise InvalidRequestError(
        f"invalid {argument} {value!r}: a {argument} must be a DNS-1123 label, "
        f"which is 1 to {_DNS1123_LABEL_MAX_LENGTH} characters of lowercase "
        "letters, digits and '-', starting and ending with a letter or digit "
        "(for example 'web-1')"
    )


def _check_attempt(attempt: object) -> int:
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise InvalidRequestError(
            f"invalid attempt {attempt!r}: give the restart count as an integer of "
            "0 or more"
        )
    return attempt


def _check_strings(values: object, argument: str) -> list[str]:
    """Return a list of strings, rejecting one string where a list is meant."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidRequestError(
            f"invalid {argument} {values!r}: give a list of strings, for example "
            "['sh', '-c', 'echo hello']"
        )
    result = list(values)
    for item in result:
        if not isinstance(item, str):
            raise InvalidRequestError(
                f"invalid {argument} {result!r}: every element must be a string, not "
                f"{_describe(item)}"
            )
    return result


def _check_port(value: object, low: int, argument: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= 65535
    ):
        raise InvalidRequestError(
            f"invalid {argument} {value!r}: give an integer from {low} to 65535"
        )
    return value


def _port_mapping(item: object) -> dict[str, Any]:
    """Turn a (container_port, host_port) tuple into a PortMapping dict."""
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, tuple) and len(item) == 2:
        container_port, host_port = item
        return {
            "container_port": _check_port(container_port, 1, "container port"),
            "host_port": _check_port(host_port, 0, "host port"),
        }
    raise InvalidRequestError(
        f"invalid port mapping {item!r}: give a (container_port, host_port) tuple "
        "such as (80, 8080), or a PortMapping dict such as "
        "{'container_port': 80, 'host_port': 8080, 'protocol': 'UDP'}"
    )


def _mount(item: object) -> dict[str, Any]:
    """Turn a (host_path, container_path[, readonly]) tuple into a Mount dict."""
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, tuple) and len(item) in (2, 3):
        host_path, container_path = item[0], item[1]
        readonly = item[2] if len(item) == 3 else False
        if (
            isinstance(host_path, (str, os.PathLike))
            and isinstance(container_path, (str, os.PathLike))
            and isinstance(readonly, bool)
        ):
            mount: dict[str, Any] = {
                "host_path": os.fspath(host_path),
                "container_path": os.fspath(container_path),
            }
            if readonly:
                mount["readonly"] = True
            return mount
    raise InvalidRequestError(
        f"invalid mount {item!r}: give a (host_path, container_path) or "
        "(host_path, container_path, readonly) tuple such as ('/srv/data', '/data', "
        "True), or a Mount dict"
    )


def _env_list(env: object) -> list[dict[str, str]]:
    """Turn {"NAME": "value"} or [("NAME", "value")] into KeyValue dicts."""
    if isinstance(env, Mapping):
        pairs: Iterable[object] = env.items()
    elif isinstance(env, (str, bytes)) or not isinstance(env, Iterable):
        raise InvalidRequestError(
            f"invalid env {env!r}: give a dict such as {{'PATH': '/bin'}} or a list "
            "of (name, value) pairs"
        )
    else:
        pairs = env
    result = []
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InvalidRequestError(
                f"invalid env entry {pair!r}: give a (name, value) pair"
            )
        name, value = pair
        if not isinstance(name, str) or not name or "=" in name:
            raise InvalidRequestError(
                f"invalid environment variable name {name!r}: give a non-empty string "
                "without '='"
            )
        if not isinstance(value, str):
            raise InvalidRequestError(
                f"invalid value for environment variable {name}: expected a string, "
                f"got {_describe(value)}. Convert it with str()"
            )
        result.append({"key": name, "value": value})
    return result


def pod_config(
    name: str,
    *,
    namespace: str = "default",
    uid: str | None = None,
    attempt: int = 0,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    hostname: str | None = None,
    log_directory: str | os.PathLike[str] | None = None,
    dns_servers: Iterable[str] | None = None,
    port_mappings: Iterable[Mapping[str, Any] | tuple[int, int]] | None = None,
    cgroup_parent: str | None = None,
    host_network: bool = False,
    privileged: bool = False,
) -> dict[str, Any]:
    """Build a PodSandboxConfig dict for RunPodSandbox or ``crictl runp``.

    ``uid`` defaults to a new UUID4 and ``hostname`` to ``name``.
    ``host_network`` puts the pod in the node's network namespace (NODE).
    ``port_mappings`` contains (container_port, host_port) tuples or
    PortMapping dicts. Without ``log_directory``, containerd keeps no container
    logs for the pod. The dict uses proto field names, so to_message,
    CRIClient.call and dump_config accept it for both API versions.
    Raises InvalidRequestError when name or namespace is not a DNS-1123 label.
    """
    if uid is None:
        uid = str(uuid.uuid4())
    elif not isinstance(uid, str) or not uid:
        raise InvalidRequestError(
            f"invalid pod uid {uid!r}: give a non-empty string, or None for a new UUID"
        )
    config: dict[str, Any] = {
        "metadata": {
            "name": _check_dns_label(name, "pod name"),
            "namespace": _check_dns_label(namespace, "namespace"),
            "uid": uid,
            "attempt": _check_attempt(attempt),
        },
        "hostname": name if hostname is None else hostname,
    }
    if log_directory is not None:
        config["log_directory"] = os.fspath(log_directory)
    if dns_servers is not None:
        config["dns_config"] = {"servers": _check_strings(dns_servers, "dns_servers")}
    if port_mappings is not None:
        config["port_mappings"] = [_port_mapping(item) for item in port_mappings]
    if labels:
        config["labels"] = dict(labels)
    if annotations:
        config["annotations"] = dict(annotations)

    linux: dict[str, Any] = {}
    if cgroup_parent:
        linux["cgroup_parent"] = cgroup_parent
    security_context: dict[str, Any] = {}
    if host_network:
        security_context["namespace_options"] = {"network": NAMESPACE_MODE_NODE}
    if privileged:
        security_context["privileged"] = True
    if security_context:
        linux["security_context"] = security_context
    config["linux"] = linux
    return config


def container_config(
    name: str,
    image: str,
    *,
    command: Iterable[str] | None = None,
    args: Iterable[str] | None = None,
    env: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    working_dir: str | None = None,
    log_path: str | None = None,
    mounts: Iterable[Mapping[str, Any] | tuple[Any, ...]] | None = None,
    attempt: int = 0,
    tty: bool = False,
    stdin: bool = False,
    cpu_shares: int | None = None,
    memory_limit_bytes: int | None = None,
    cpu_quota: int | None = None,
    cpu_period: int | None = None,
    privileged: bool = False,
    readonly_rootfs: bool = False,
    run_as_user: int | None = None,
) -> dict[str, Any]:
    """Build a ContainerConfig dict for CreateContainer or ``crictl create``.

    ``log_path`` defaults to "<name>/<attempt>.log", the kubelet's layout,
    relative to the pod's log_directory. ``command`` replaces the image's
    entrypoint and ``args`` its cmd. ``env`` is a dict or (name, value)
    pairs. ``mounts`` contains (host_path, container_path[, readonly]) tuples
    or Mount dicts. Resource limits go to linux.resources (memory in bytes,
    cpu_quota and cpu_period in microseconds) and the security settings to
    linux.security_context. A privileged container needs a pod built with
    privileged=True, because containerd rejects it otherwise.
    Raises InvalidRequestError when name is not a DNS-1123 label or image is
    empty.
    Env values stay text: CRIClient encodes request dicts with parse_dict,
    which reads them as text although runtime.v1 declares them as bytes.
    """
    _check_dns_label(name, "container name")
    if not isinstance(image, str) or not image:
        raise InvalidRequestError(
            f"invalid image {image!r}: give an image reference such as "
            "'docker.io/library/busybox:1.36'"
        )
    _check_attempt(attempt)
    config: dict[str, Any] = {
        "metadata": {"name": name, "attempt": attempt},
        "image": {"image": image},
        "log_path": f"{name}/{attempt}.log" if log_path is None else log_path,
    }
    if command is not None:
        config["command"] = _check_strings(command, "command")
    if args is not None:
        config["args"] = _check_strings(args, "args")
    if env is not None:
        config["envs"] = _env_list(env)
    if working_dir is not None:
        config["working_dir"] = working_dir
    if mounts is not None:
        config["mounts"] = [_mount(item) for item in mounts]
    if labels:
        config["labels"] = dict(labels)
    if annotations:
        config["annotations"] = dict(annotations)
    if tty:
        config["tty"] = True
    if stdin:
        config["stdin"] = True

    linux: dict[str, Any] = {}
    resources = {
        field: value
        for field, value in (
            ("cpu_shares", cpu_shares),
            ("memory_limit_in_bytes", memory_limit_bytes),
            ("cpu_quota", cpu_quota),
            ("cpu_period", cpu_period),
        )
        if value is not None
    }
    if resources:
        linux["resources"] = resources
    security_context: dict[str, Any] = {}
    if privileged:
        security_context["privileged"] = True
    if readonly_rootfs:
        security_context["readonly_rootfs"] = True
    if run_as_user is not None:
        # A wrapper message, so that run_as_user 0 (root) differs from unset.
        security_context["run_as_user"] = {"value": run_as_user}
    if security_context:
        linux["security_context"] = security_context
    config["linux"] = linux
    return config
