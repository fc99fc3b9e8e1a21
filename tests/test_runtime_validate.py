"""Tests of ocilab.runtime.validate: every rule, the oracle cases, and findings."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ocilab.runtime.spec import RuntimeConfigError, default_config, rootless_config
from ocilab.runtime.validate import RULES, ConfigFindings, validate_config

from .conftest import SHARED, shared_path

CASES = SHARED / "oci" / "runtime-spec" / "cases" / "config"


def _case_files(kind: str) -> list[Path]:
    folder = CASES / kind
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


# ------------------------------------------------------------------ oracle


@pytest.mark.parametrize(
    "name", [path.name for path in _case_files("good")] or ["(none)"]
)
def test_oracle_good_case_ok(name: str) -> None:
    path = shared_path("oci", "runtime-spec", "cases", "config", "good", name)
    findings = validate_config(path.read_text())
    assert findings.ok, "\n".join(str(finding) for finding in findings.errors)


@pytest.mark.parametrize(
    "name", [path.name for path in _case_files("bad")] or ["(none)"]
)
def test_oracle_bad_case_rejected(name: str) -> None:
    path = shared_path("oci", "runtime-spec", "cases", "config", "bad", name)
    findings = validate_config(path.read_text())
    assert not findings.ok


def test_oracle_summary() -> None:
    folder = shared_path("oci", "runtime-spec", "cases", "config")
    good = sorted((folder / "good").glob("*.json"))
    bad = sorted((folder / "bad").glob("*.json"))
    good_ok = [path.name for path in good if validate_config(path.read_text()).ok]
    bad_rejected = [
        path.name for path in bad if not validate_config(path.read_text()).ok
    ]
    print(
        f"runtime config oracle: {len(good_ok)}/{len(good)} good accepted, "
        f"{len(bad_rejected)}/{len(bad)} bad rejected"
    )
    assert len(good) > 0
    assert len(bad) > 0
    assert len(good_ok) == len(good)
    assert len(bad_rejected) == len(bad)


# ------------------------------------------------------------- defaults


def test_default_config_has_no_findings() -> None:
    assert list(validate_config(default_config(), for_run=True)) == []


def test_rootless_config_has_no_findings() -> None:
    config = rootless_config(uid=1000, gid=1000)
    assert list(validate_config(config, for_run=True)) == []


# ---------------------------------------------------------------- rules


def _base() -> dict[str, Any]:
    return default_config().to_json()


def _with(path: str, value: Any) -> dict[str, Any]:
    """Return the default config with the value at a slash-separated path replaced."""
    config = _base()
    *parents, last = path.strip("/").split("/")
    node: Any = config
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return config


def _without(path: str) -> dict[str, Any]:
    config = _base()
    *parents, last = path.strip("/").split("/")
    node: Any = config
    for part in parents:
        node = node[part]
    del node[last]
    return config


RULE_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("oci-version-missing", _without("ociVersion"), "ociVersion.required", ""),
    ("oci-version-not-semver", _with("ociVersion", "1.0"), "ociVersion.format", ""),
    ("oci-version-number", _with("ociVersion", 1), "ociVersion.type", ""),
    ("root-missing", _without("root"), "root.required", "/root"),
    ("root-path-missing", _with("root", {"readonly": True}), "root.path.required", ""),
    ("root-readonly-string", _with("root/readonly", "yes"), "root.readonly.type", ""),
    ("args-null-entry", _with("process/args", ["sh", None]), "process.args.type", ""),
    ("args-empty", _with("process/args", []), "process.args.empty", ""),
    ("args-missing", _without("process/args"), "process.args.required", ""),
    ("cwd-missing", _without("process/cwd"), "process.cwd.required", ""),
    ("cwd-relative", _with("process/cwd", "app"), "process.cwd.absolute", ""),
    ("env-no-equals", _with("process/env", ["PATH"]), "process.env.format", ""),
    ("env-null", _with("process/env", None), "process.env.type", ""),
    ("terminal-string", _with("process/terminal", "1"), "process.terminal.type", ""),
    ("uid-negative", _with("process/user/uid", -1), "process.user.uid.range", ""),
    ("gid-too-big", _with("process/user/gid", 2**32), "process.user.gid.range", ""),
    ("uid-string", _with("process/user/uid", "0"), "process.user.uid.type", ""),
    (
        "additional-gid-negative",
        _with("process/user/additionalGids", [5, -5]),
        "process.user.additionalGids.range",
        "/process/user/additionalGids/1",
    ),
    (
        "capability-lowercase",
        _with("process/capabilities/bounding", ["kill"]),
        "process.capabilities.format",
        "/process/capabilities/bounding/0",
    ),
    (
        "capability-unknown",
        _with("process/capabilities/ambient", ["CAP_FLY"]),
        "process.capabilities.unknown",
        "",
    ),
    (
        "capability-set-string",
        _with("process/capabilities/effective", "CAP_KILL"),
        "process.capabilities.effective.type",
        "",
    ),
    (
        "rlimit-type-format",
        _with("process/rlimits/0/type", "nofile"),
        "process.rlimits.type.format",
        "/process/rlimits/0/type",
    ),
    (
        "rlimit-type-unknown",
        _with("process/rlimits/0/type", "RLIMIT_FOO"),
        "process.rlimits.type.unknown",
        "",
    ),
    (
        "rlimit-soft-above-hard",
        _with("process/rlimits/0/soft", 4096),
        "process.rlimits.order",
        "",
    ),
    (
        "rlimit-negative",
        _with("process/rlimits/0/hard", -1),
        "process.rlimits.hard.range",
        "",
    ),
    (
        "rlimit-soft-missing",
        _with("process/rlimits/0", {"type": "RLIMIT_CORE", "hard": 1}),
        "process.rlimits.soft.required",
        "/process/rlimits/0/soft",
    ),
    (
        "rlimit-duplicate",
        _with(
            "process/rlimits",
            [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 1}] * 2,
        ),
        "process.rlimits.duplicate",
        "/process/rlimits/1/type",
    ),
    (
        "oom-score-adj-range",
        _with("process/oomScoreAdj", 2000),
        "process.oomScoreAdj.range",
        "",
    ),
    (
        "mount-destination-relative",
        _with("mounts/0/destination", "proc"),
        "mounts.destination.absolute",
        "/mounts/0/destination",
    ),
    (
        "mount-destination-missing",
        _with("mounts/0", {"type": "proc", "source": "proc"}),
        "mounts.destination.required",
        "",
    ),
    (
        "mount-option-null",
        _with("mounts/1/options", ["nosuid", None]),
        "mounts.options.type",
        "/mounts/1/options/1",
    ),
    ("mounts-object", _with("mounts", {}), "mounts.type", ""),
    (
        "hook-path-relative",
        _with("hooks", {"prestart": [{"path": "hook.sh"}]}),
        "hooks.path.absolute",
        "/hooks/prestart/0/path",
    ),
    (
        "hook-path-missing",
        _with("hooks", {"poststop": [{"args": ["x"]}]}),
        "hooks.path.required",
        "",
    ),
    (
        "hook-timeout-zero",
        _with("hooks", {"poststart": [{"path": "/bin/true", "timeout": 0}]}),
        "hooks.timeout.range",
        "",
    ),
    ("hostname-number", _with("hostname", 7), "hostname.type", ""),
    ("annotation-value-number", _with("annotations", {"a": 1}), "annotations.type", ""),
    (
        "annotation-key-empty",
        _with("annotations", {"": "v"}),
        "annotations.key.empty",
        "",
    ),
    (
        "namespace-unknown",
        _with("linux/namespaces/0/type", "pids"),
        "linux.namespaces.type.value",
        "/linux/namespaces/0/type",
    ),
    (
        "namespace-duplicate",
        _with("linux/namespaces", [{"type": "pid"}, {"type": "pid"}]),
        "linux.namespaces.duplicate",
        "/linux/namespaces/1/type",
    ),
    (
        "namespace-path-relative",
        _with("linux/namespaces/1", {"type": "network", "path": "ns/net"}),
        "linux.namespaces.path.absolute",
        "",
    ),
    (
        "namespace-type-missing",
        _with("linux/namespaces/1", {"path": "/proc/1/ns/net"}),
        "linux.namespaces.type.required",
        "",
    ),
    (
        "uid-mapping-size-negative",
        _with(
            "linux/uidMappings",
            [{"containerID": 0, "hostID": 1000, "size": -1}],
        ),
        "linux.uidMappings.size.range",
        "",
    ),
    (
        "uid-mapping-without-user-namespace",
        _with("linux/uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}]),
        "linux.uidMappings.namespace",
        "",
    ),
    (
        "masked-path-relative",
        _with("linux/maskedPaths", ["proc/kcore"]),
        "linux.maskedPaths.absolute",
        "",
    ),
    (
        "readonly-path-null",
        _with("linux/readonlyPaths", [None]),
        "linux.readonlyPaths.type",
        "",
    ),
    (
        "readonly-path-relative",
        _with("linux/readonlyPaths", ["proc/sys"]),
        "linux.readonlyPaths.absolute",
        "",
    ),
    (
        "device-type-unknown",
        _with("linux/devices", [{"type": "x", "path": "/dev/x"}]),
        "linux.devices.type.value",
        "/linux/devices/0/type",
    ),
    (
        "device-major-missing",
        _with("linux/devices", [{"type": "c", "path": "/dev/fuse"}]),
        "linux.devices.major.required",
        "",
    ),
    (
        "device-path-relative",
        _with("linux/devices", [{"type": "p", "path": "fifo"}]),
        "linux.devices.path.absolute",
        "",
    ),
    (
        "device-file-mode-too-big",
        _with(
            "linux/devices",
            [{"type": "p", "path": "/dev/f", "fileMode": 0o1777}],
        ),
        "linux.devices.fileMode.range",
        "",
    ),
    (
        "device-rule-access",
        _with("linux/resources/devices/0/access", "rwx"),
        "linux.resources.devices.access.format",
        "",
    ),
    (
        "device-rule-allow-missing",
        _with("linux/resources/devices/0", {"access": "rwm"}),
        "linux.resources.devices.allow.required",
        "",
    ),
    (
        "memory-limit-negative",
        _with("linux/resources/memory", {"limit": -5}),
        "linux.resources.memory.range",
        "/linux/resources/memory/limit",
    ),
    (
        "swappiness-negative",
        _with("linux/resources/memory", {"swappiness": -1}),
        "linux.resources.memory.swappiness.range",
        "",
    ),
    (
        "hugepage-size-format",
        _with("linux/resources/hugepageLimits", [{"pageSize": "2mb", "limit": 1}]),
        "linux.resources.hugepageLimits.pageSize.format",
        "",
    ),
    (
        "hugepage-limit-negative",
        _with("linux/resources/hugepageLimits", [{"pageSize": "2MB", "limit": -1}]),
        "linux.resources.hugepageLimits.limit.range",
        "",
    ),
    (
        "pids-limit-missing",
        _with("linux/resources/pids", {}),
        "linux.resources.pids.limit.required",
        "",
    ),
    (
        "cpus-format",
        _with("linux/resources/cpu", {"cpus": "0-3;5"}),
        "linux.resources.cpu.format",
        "",
    ),
    (
        "cgroups-path-dotdot",
        _with("linux/cgroupsPath", "/a/../../b"),
        "linux.cgroupsPath.format",
        "",
    ),
    (
        "cgroups-path-number",
        _with("linux/cgroupsPath", 1),
        "linux.cgroupsPath.type",
        "",
    ),
    (
        "sysctl-key-format",
        _with("linux/sysctl", {"ip_forward": "1"}),
        "linux.sysctl.key.format",
        "/linux/sysctl/ip_forward",
    ),
    (
        "sysctl-value-number",
        _with("linux/sysctl", {"net.ipv4.ip_forward": 1}),
        "linux.sysctl.type",
        "/linux/sysctl/net.ipv4.ip_forward",
    ),
    (
        "rootfs-propagation-unknown",
        _with("linux/rootfsPropagation", "private-ish"),
        "linux.rootfsPropagation.value",
        "",
    ),
    (
        "seccomp-action-missing",
        _with("linux/seccomp", {"syscalls": []}),
        "linux.seccomp.defaultAction.required",
        "",
    ),
    (
        "seccomp-action-unknown",
        _with("linux/seccomp", {"defaultAction": "ALLOW"}),
        "linux.seccomp.defaultAction.value",
        "",
    ),
    (
        "seccomp-names-empty",
        _with(
            "linux/seccomp",
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}],
            },
        ),
        "linux.seccomp.syscalls.names.empty",
        "",
    ),
    ("linux-array", _with("linux", []), "linux.type", "/linux"),
    (
        "net-device-name-number",
        _with("linux/netDevices", {"eth0": {"name": 23}}),
        "linux.netDevices.name.type",
        "/linux/netDevices/eth0/name",
    ),
    (
        "freebsd-vnet-disable",
        _with("freebsd", {"jail": {"vnet": "disable"}}),
        "freebsd.jail.vnet.value",
        "",
    ),
]


@pytest.mark.parametrize(
    ("config", "rule", "pointer"),
    [case[1:] for case in RULE_CASES],
    ids=[case[0] for case in RULE_CASES],
)
def test_rule_triggered(config: dict[str, Any], rule: str, pointer: str) -> None:
    findings = validate_config(config)
    matching = [finding for finding in findings if finding.rule == rule]
    assert matching, f"no {rule} finding; got: {[str(f) for f in findings]}"
    assert matching[0].level == RULES[rule]
    if pointer:
        assert matching[0].pointer == pointer


def test_rule_cases_cover_most_spec_rules() -> None:
    triggered = {case[2] for case in RULE_CASES}
    spec_rules = {
        rule
        for rule in RULES
        if not rule.endswith((".type", ".range", ".required", ".value"))
    }
    untested = spec_rules - triggered - {"json.syntax", "document.type"}
    untested -= {"process.missing", "process.required", "process.user.unmapped"}
    assert untested == set()


def test_user_not_in_mappings() -> None:
    config = rootless_config(uid=1000, gid=1000).to_json()
    config["process"]["user"]["uid"] = 5
    findings = validate_config(config)
    assert [finding.rule for finding in findings] == ["process.user.unmapped"]
    assert findings.ok


def test_each_finding_rule_is_registered() -> None:
    for _, config, _, _ in RULE_CASES:
        for finding in validate_config(config):
            assert finding.rule in RULES


# ------------------------------------------------------------- process


def test_missing_process_is_warning_for_create() -> None:
    findings = validate_config(_without("process"))
    assert findings.ok
    assert [finding.rule for finding in findings.warnings] == ["process.missing"]


def test_missing_process_is_error_for_run() -> None:
    findings = validate_config(_without("process"), for_run=True)
    assert not findings.ok
    assert [finding.rule for finding in findings.errors] == ["process.required"]


# -------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    "text",
    ["{]", "", '{"a": 1,}', b"\xff\xfe"],
    ids=["bracket", "empty", "trailing-comma", "not-utf8"],
)
def test_malformed_json_is_finding(text: str | bytes) -> None:
    findings = validate_config(text)
    assert [finding.rule for finding in findings] == ["json.syntax"]
    assert not findings.ok


@pytest.mark.parametrize(
    "value", [[], None, '"text"', 3], ids=["array", "null", "json-string", "number"]
)
def test_non_object_is_finding(value: Any) -> None:
    findings = validate_config(value)
    assert [finding.rule for finding in findings] == ["document.type"]


def test_json_text_accepted() -> None:
    text = json.dumps(default_config().to_json())
    assert validate_config(text).ok


def test_nulls_everywhere_never_crash() -> None:
    config = _base()

    def nullify(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            if isinstance(value, dict | list) and value:
                nullify(value)
            else:
                node[key] = None

    nullify(config)
    findings = validate_config(config)
    assert not findings.ok
    assert all(finding.rule in RULES for finding in findings)


@pytest.mark.parametrize(
    "value",
    [None, 1, "x", [], {}, [None], [1], {"a": None}],
    ids=["null", "int", "string", "list", "dict", "list-null", "list-int", "map"],
)
def test_wrong_type_in_every_field_never_crashes(value: Any) -> None:
    config = _base()
    for section in ("process", "linux"):
        for key in list(config[section]):
            broken = copy.deepcopy(config)
            broken[section][key] = value
            findings = validate_config(broken)
            assert isinstance(findings, ConfigFindings)


# ------------------------------------------------------------- findings


def test_frame_has_columns() -> None:
    frame = validate_config(_with("process/cwd", "app")).frame()
    assert list(frame.columns) == ["rule", "level", "pointer", "message"]
    assert frame.loc[0, "rule"] == "process.cwd.absolute"


def test_raise_for_findings_raises_runtime_config_error() -> None:
    findings = validate_config(_with("process/cwd", "app"))
    with pytest.raises(RuntimeConfigError, match="process.cwd.absolute") as caught:
        findings.raise_for_findings()
    assert caught.value.findings == findings


def test_raise_for_findings_quiet_when_ok() -> None:
    validate_config(default_config()).raise_for_findings()


def test_errors_and_warnings_split() -> None:
    config = _with("process/env", ["PATH"])
    config["process"]["cwd"] = "app"
    findings = validate_config(config)
    assert [finding.rule for finding in findings.errors] == ["process.cwd.absolute"]
    assert [finding.rule for finding in findings.warnings] == ["process.env.format"]
    assert isinstance(findings.errors, ConfigFindings)


def test_message_shows_value() -> None:
    findings = validate_config(_with("process/user/uid", -1))
    assert "-1" in findings[0].message
    assert "uint32" in findings[0].message
