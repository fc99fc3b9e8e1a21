"""Rules for the image config (image-spec config.md), OCI or Docker."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ._findings import (
    _BOOLEAN,
    _CONFIG_STRINGS,
    _EXECUTION_STRING_ARRAYS,
    _EXECUTION_STRINGS,
    _HISTORY_STRINGS,
    _OBJECT,
    _STRING,
    Finding,
    Findings,
    _bad_digest,
    _child,
    _finding,
    _missing,
    _not_an_object,
    _show,
    _unwrap,
    _wrong_map,
    _wrong_string_array,
    _wrong_type,
)

_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.[0-9]+)?(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))"
)
_PORT = re.compile(r"([0-9]{1,5})(?:/(?:tcp|udp|sctp))?")


def _is_date_time(value: Any) -> bool:
    """Return whether value is an RFC 3339 section 5.6 date-time."""
    match = _DATE_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    # A second of 60 is a leap second, which RFC 3339 allows.
    if hour > 23 or minute > 59 or second > 60:
        return False
    offset_hour, offset_minute = match.group(7), match.group(8)
    return offset_hour is None or (int(offset_hour) <= 23 and int(offset_minute) <= 59)


def _bad_date_time(
    obj: Mapping[str, Any], key: str, rule: str, pointer: str
) -> Iterator[Finding]:
    """Yield a finding when obj[key] is set but not an RFC 3339 date-time."""
    value = obj.get(key)
    if value is not None and not _is_date_time(value):
        yield _finding(
            rule,
            _child(pointer, key),
            f"invalid {key} {_show(value)}: expected an RFC 3339 date-time "
            "such as '2024-01-02T03:04:05Z'",
        )


def _run(
    rules: Iterable[Callable[[dict[str, Any]], Iterable[Finding]]],
    document: dict[str, Any],
) -> Findings:
    findings = Findings()
    for rule in rules:
        findings.extend(rule(document))
    return findings


def _execution_parameters(config: dict[str, Any]) -> dict[str, Any]:
    """Return config["config"] when it is an object, else an empty dict."""
    parameters = config.get("config")
    return parameters if isinstance(parameters, dict) else {}


def _rootfs(config: dict[str, Any]) -> dict[str, Any] | None:
    rootfs = config.get("rootfs")
    return rootfs if isinstance(rootfs, dict) else None


# architecture and os are REQUIRED strings.
def _config_platform(config: dict[str, Any]) -> Iterator[Finding]:
    for key in ("architecture", "os"):
        yield from _missing(
            config,
            key,
            f"config.{key}.required",
            "",
            "a string such as 'amd64' or 'linux'",
        )
        yield from _wrong_type(config, key, _STRING, f"config.{key}.type", "")


# author, variant, os.version are strings and os.features an array of strings.
def _config_optional_fields(config: dict[str, Any]) -> Iterator[Finding]:
    for key in _CONFIG_STRINGS:
        yield from _wrong_type(
            config, key, _STRING, f"config.{key}.type", "", null_ok=True
        )
    yield from _wrong_string_array(
        config, "os.features", "config.os.features.type", "", null_ok=True
    )


# created, when set, MUST be an RFC 3339 section 5.6 date-time.
def _config_created(config: dict[str, Any]) -> Iterator[Finding]:
    yield from _bad_date_time(config, "created", "config.created.format", "")


# config (the execution parameters) is an OPTIONAL object of typed fields.
def _config_execution_types(config: dict[str, Any]) -> Iterator[Finding]:
    if config.get("config") is None:
        return
    if not isinstance(config["config"], dict):
        yield _not_an_object(
            config["config"], "config.config.type", "/config", "config"
        )
        return
    parameters = config["config"]
    for key in _EXECUTION_STRINGS:
        yield from _wrong_type(
            parameters,
            key,
            _STRING,
            f"config.config.{key}.type",
            "/config",
            null_ok=True,
        )
    for key in _EXECUTION_STRING_ARRAYS:
        yield from _wrong_string_array(
            parameters, key, f"config.config.{key}.type", "/config", null_ok=True
        )
    yield from _wrong_type(
        parameters,
        "ArgsEscaped",
        _BOOLEAN,
        "config.config.ArgsEscaped.type",
        "/config",
        null_ok=True,
    )
    for key, kind in (
        ("ExposedPorts", _OBJECT),
        ("Volumes", _OBJECT),
        ("Labels", _STRING),
    ):
        yield from _wrong_map(
            parameters, key, kind, f"config.config.{key}.type", "/config", null_ok=True
        )


# Each Env entry MUST be NAME=VALUE with a non-empty NAME.
def _config_env(config: dict[str, Any]) -> Iterator[Finding]:
    env = _execution_parameters(config).get("Env")
    if not isinstance(env, list):
        return
    for index, entry in enumerate(env):
        if not isinstance(entry, str):
            continue
        name, separator, _ = entry.partition("=")
        if not separator or not name:
            yield _finding(
                "config.config.Env.format",
                f"/config/Env/{index}",
                f"invalid Env entry {entry!r}: expected NAME=VALUE, such as "
                "'PATH=/usr/bin'",
            )


# ExposedPorts keys are port/tcp, port/udp or a bare port. config.md names no
# MUST keyword here, so this is a SHOULD finding. Docker's port/sctp is accepted.
def _config_exposed_ports(config: dict[str, Any]) -> Iterator[Finding]:
    ports = _execution_parameters(config).get("ExposedPorts")
    if not isinstance(ports, dict):
        return
    for key in ports:
        match = _PORT.fullmatch(key)
        if match is None or not 1 <= int(match.group(1)) <= 65535:
            yield _finding(
                "config.config.ExposedPorts.format",
                _child("/config/ExposedPorts", key),
                f"invalid exposed port {key!r}: expected a port from 1 to 65535, "
                "alone or followed by /tcp, /udp or /sctp, such as '8080/tcp'",
            )


# rootfs is a REQUIRED object.
def _config_rootfs(config: dict[str, Any]) -> Iterator[Finding]:
    yield from _missing(
        config,
        "rootfs",
        "config.rootfs.required",
        "",
        "an object with type 'layers' and diff_ids",
    )
    if "rootfs" in config and _rootfs(config) is None:
        yield _not_an_object(
            config["rootfs"], "config.rootfs.type", "/rootfs", "rootfs"
        )


# rootfs.type is REQUIRED and MUST be "layers".
def _config_rootfs_type(config: dict[str, Any]) -> Iterator[Finding]:
    rootfs = _rootfs(config)
    if rootfs is None:
        return
    yield from _missing(
        rootfs, "type", "config.rootfs.type.required", "/rootfs", "'layers'"
    )
    if "type" in rootfs and rootfs["type"] != "layers":
        yield _finding(
            "config.rootfs.type.value",
            "/rootfs/type",
            f"invalid rootfs type {_show(rootfs['type'])}: expected 'layers'",
        )


# rootfs.diff_ids is a REQUIRED array of digests, one per layer.
def _config_diff_ids(config: dict[str, Any]) -> Iterator[Finding]:
    rootfs = _rootfs(config)
    if rootfs is None:
        return
    yield from _missing(
        rootfs,
        "diff_ids",
        "config.rootfs.diff_ids.required",
        "/rootfs",
        "an array of digests",
    )
    if "diff_ids" not in rootfs:
        return
    diff_ids = rootfs["diff_ids"]
    if not isinstance(diff_ids, list):
        yield _finding(
            "config.rootfs.diff_ids.type",
            "/rootfs/diff_ids",
            f"invalid diff_ids {_show(diff_ids)}: expected an array of digests",
        )
        return
    for index, diff_id in enumerate(diff_ids):
        yield from _bad_digest(
            diff_id, f"/rootfs/diff_ids/{index}", "config.rootfs.diff_ids"
        )


# history is an OPTIONAL array of objects with OPTIONAL typed fields.
def _config_history(config: dict[str, Any]) -> Iterator[Finding]:
    history = config.get("history")
    if history is None:
        return
    if not isinstance(history, list):
        yield _finding(
            "config.history.type",
            "/history",
            f"invalid history {_show(history)}: expected an array of objects",
        )
        return
    for index, entry in enumerate(history):
        yield from _history_entry(entry, f"/history/{index}")


def _history_entry(entry: Any, pointer: str) -> Iterator[Finding]:
    if not isinstance(entry, dict):
        yield _not_an_object(entry, "config.history.type", pointer, "history entry")
        return
    yield from _bad_date_time(
        entry, "created", "config.history.created.format", pointer
    )
    for key in _HISTORY_STRINGS:
        yield from _wrong_type(
            entry, key, _STRING, f"config.history.{key}.type", pointer, null_ok=True
        )
    yield from _wrong_type(
        entry,
        "empty_layer",
        _BOOLEAN,
        "config.history.empty_layer.type",
        pointer,
        null_ok=True,
    )


_CONFIG_RULES = (
    _config_platform,
    _config_optional_fields,
    _config_created,
    _config_execution_types,
    _config_env,
    _config_exposed_ports,
    _config_rootfs,
    _config_rootfs_type,
    _config_diff_ids,
    _config_history,
)


def validate_config(obj: Any) -> Findings:
    """Check an image config (config.md), OCI or Docker.

    obj is the parsed JSON or a models.ImageConfig. Any OPTIONAL field may be
    null, which config.md defines as equal to absent.
    """
    config = _unwrap(obj)
    if not isinstance(config, dict):
        return Findings([_not_an_object(config, "document.type", "", "image config")])
    return _run(_CONFIG_RULES, config)
