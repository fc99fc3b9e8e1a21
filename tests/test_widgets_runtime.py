"""The runtime config playground: settings, JSON, diff and findings, and one real run.

The pure functions are checked on the default config of `runc spec`. The
widget is driven by setting its controls' values, as a learner's clicks do,
and its HTML panes are read back. One test runs an edited config with runc.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest

from ocilab.errors import RuntimeConfigError
from ocilab.image.unpack import unpack_layers
from ocilab.lab._seed import build_lab_images
from ocilab.runtime import default_config, dumps, rootless_config, validate_config
from ocilab.runtime.bundle import make_bundle
from ocilab.runtime.driver import Runc
from ocilab.widgets import RuntimeConfigPlayground
from ocilab.widgets.runtime import (
    NAMESPACE_TYPES,
    apply_settings,
    check_config,
    config_diff,
    findings_frame,
    settings_from_config,
)

DEFAULT_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def namespace_types(config: dict) -> list[str]:
    return [entry["type"] for entry in config["linux"]["namespaces"]]


def rules(findings: list) -> list[str]:
    return [finding.rule for finding in findings]


def diff_lines(diff: str, sign: str) -> list[str]:
    """Return the added ("+") or removed ("-") lines of a diff, stripped, no headers."""
    header = sign * 3
    return [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith(sign) and not line.startswith(header)
    ]


# --- settings_from_config ----------------------------------------------------


def test_settings_of_default_config() -> None:
    settings = settings_from_config(default_config())
    assert settings["namespaces"] == {
        "pid": True,
        "network": True,
        "ipc": True,
        "uts": True,
        "mount": True,
        "user": False,
        "cgroup": False,
    }
    assert settings["capabilities"] == DEFAULT_CAPABILITIES
    assert settings["ambient"] is True
    assert settings["readonly_root"] is True
    assert settings["memory_limit_mib"] is None
    assert settings["cpu_quota"] is None
    assert settings["cpu_period"] is None
    assert settings["pids_limit"] is None
    assert settings["no_new_privileges"] is True
    assert settings["args"] == "sh"
    assert settings["hostname"] == "runc"


def test_settings_read_limits_and_quoted_args() -> None:
    data = default_config().to_json()
    data["linux"]["resources"]["memory"] = {"limit": 256 * 2**20}
    data["linux"]["resources"]["cpu"] = {"quota": 50_000, "period": 100_000}
    data["linux"]["resources"]["pids"] = {"limit": 64}
    data["process"]["args"] = ["sh", "-c", "echo 'a b'"]
    settings = settings_from_config(data)
    assert settings["memory_limit_mib"] == 256
    assert settings["cpu_quota"] == 50_000
    assert settings["cpu_period"] == 100_000
    assert settings["pids_limit"] == 64
    assert settings["args"] == "sh -c 'echo '\"'\"'a b'\"'\"''"


def test_settings_memory_unlimited() -> None:
    data = default_config().to_json()
    data["linux"]["resources"]["memory"] = {"limit": -1}
    assert settings_from_config(data)["memory_limit_mib"] == -1


# --- apply_settings ----------------------------------------------------------


def test_apply_unchanged_settings_keeps_base() -> None:
    base = default_config()
    edited = apply_settings(base, settings_from_config(base))
    assert edited == base.to_json()
    assert config_diff(base, edited) == ""


def test_round_trip_of_edited_settings() -> None:
    base = default_config()
    settings = settings_from_config(base)
    settings["namespaces"]["cgroup"] = True
    settings["namespaces"]["network"] = False
    settings["capabilities"] = ["CAP_CHOWN", "CAP_KILL"]
    settings["ambient"] = False
    settings["readonly_root"] = False
    settings["memory_limit_mib"] = 128
    settings["cpu_quota"] = 20_000
    settings["cpu_period"] = 100_000
    settings["pids_limit"] = 32
    settings["no_new_privileges"] = False
    settings["args"] = "sh -c 'echo hello world'"
    settings["hostname"] = "playground"
    assert settings_from_config(apply_settings(base, settings)) == settings


def test_apply_namespace_toggles() -> None:
    settings = settings_from_config(default_config())
    settings["namespaces"]["network"] = False
    settings["namespaces"]["cgroup"] = True
    edited = apply_settings(default_config(), settings)
    assert namespace_types(edited) == ["pid", "ipc", "uts", "mount", "cgroup"]


def test_apply_keeps_joined_namespace_path() -> None:
    data = default_config().to_json()
    data["linux"]["namespaces"][1] = {"type": "network", "path": "/var/run/netns/x"}
    settings = settings_from_config(data)
    settings["namespaces"]["cgroup"] = True
    edited = apply_settings(data, settings)
    assert edited["linux"]["namespaces"][1] == {
        "type": "network",
        "path": "/var/run/netns/x",
    }
    assert namespace_types(edited)[-1] == "cgroup"


def test_apply_capabilities_to_three_sets() -> None:
    settings = settings_from_config(default_config())
    settings["capabilities"] = ["CAP_NET_RAW"]
    settings["ambient"] = False
    capabilities = apply_settings(default_config(), settings)["process"]["capabilities"]
    assert capabilities["bounding"] == ["CAP_NET_RAW"]
    assert capabilities["effective"] == ["CAP_NET_RAW"]
    assert capabilities["permitted"] == ["CAP_NET_RAW"]
    assert "ambient" not in capabilities


def test_apply_capabilities_ignores_order() -> None:
    settings = settings_from_config(default_config())
    settings["capabilities"] = list(reversed(DEFAULT_CAPABILITIES))
    assert apply_settings(default_config(), settings) == default_config().to_json()


def test_apply_limits_write_resources() -> None:
    settings = {
        "memory_limit_mib": 64,
        "cpu_quota": 50_000,
        "cpu_period": 100_000,
        "pids_limit": 16,
    }
    resources = apply_settings(default_config(), settings)["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 * 2**20}
    assert resources["cpu"] == {"quota": 50_000, "period": 100_000}
    assert resources["pids"] == {"limit": 16}
    assert resources["devices"] == [{"allow": False, "access": "rwm"}]


def test_apply_none_removes_limit() -> None:
    data = default_config().to_json()
    data["linux"]["resources"]["pids"] = {"limit": 10}
    edited = apply_settings(data, {"pids_limit": None})
    assert "pids" not in edited["linux"]["resources"]


def test_apply_empty_hostname_removes_it() -> None:
    edited = apply_settings(default_config(), {"hostname": ""})
    assert "hostname" not in edited


def test_apply_does_not_change_base() -> None:
    base = default_config().to_json()
    before = json.dumps(base)
    apply_settings(base, {"args": "true", "memory_limit_mib": 1})
    assert json.dumps(base) == before


def test_apply_rejects_unknown_setting() -> None:
    with pytest.raises(RuntimeConfigError, match="unknown setting.*memory_mib"):
        apply_settings(default_config(), {"memory_mib": 5})


def test_apply_rejects_text_limit() -> None:
    with pytest.raises(RuntimeConfigError, match="invalid pids_limit setting '10'"):
        apply_settings(default_config(), {"pids_limit": "10"})


def test_apply_rejects_unbalanced_quote() -> None:
    with pytest.raises(RuntimeConfigError, match="invalid args .*close the quote"):
        apply_settings(default_config(), {"args": "echo 'oops"})


def test_apply_rejects_unknown_namespace() -> None:
    with pytest.raises(RuntimeConfigError, match="invalid namespaces setting"):
        apply_settings(default_config(), {"namespaces": {"time": True}})


# --- findings ----------------------------------------------------------------


def test_default_config_checks_clean() -> None:
    edited = apply_settings(default_config(), settings_from_config(default_config()))
    assert list(check_config(edited)) == []
    assert list(validate_config(edited)) == []


def test_hostname_without_uts_finding() -> None:
    settings = {"namespaces": {"uts": False}}
    findings = check_config(apply_settings(default_config(), settings))
    assert rules(findings) == ["runc.hostname.uts"]
    assert findings[0].level == "MUST"
    assert "runc" in findings[0].message


def test_user_namespace_without_mappings_finding() -> None:
    settings = {"namespaces": {"user": True}}
    findings = check_config(apply_settings(default_config(), settings))
    assert rules(findings) == ["runc.user.mappings", "runc.user.mappings"]
    assert [finding.pointer for finding in findings] == [
        "/linux/uidMappings",
        "/linux/gidMappings",
    ]


def test_user_namespace_with_mappings_clean() -> None:
    # The rootless config has a user namespace and both mappings.
    assert rules(check_config(rootless_config(uid=1000, gid=1000))) == []


def test_masked_paths_without_mount_finding() -> None:
    settings = {"namespaces": {"mount": False}}
    findings = check_config(apply_settings(default_config(), settings))
    assert rules(findings) == ["runc.paths.mount"]


def test_negative_memory_limit_finding() -> None:
    findings = check_config(apply_settings(default_config(), {"memory_limit_mib": -5}))
    assert rules(findings) == ["linux.resources.memory.range"]
    assert findings[0].pointer == "/linux/resources/memory/limit"


def test_empty_args_finding() -> None:
    findings = check_config(apply_settings(default_config(), {"args": ""}))
    assert rules(findings) == ["process.args.empty"]


def test_unknown_capability_finding() -> None:
    settings = {"capabilities": ["CAP_KILL", "CAP_FLY"]}
    findings = check_config(apply_settings(default_config(), settings))
    assert set(rules(findings)) == {"process.capabilities.unknown"}
    assert len(findings) == 4  # bounding, effective, permitted and ambient


def test_check_config_invalid_json() -> None:
    assert rules(check_config("{not json")) == ["json.syntax"]


def test_findings_frame_errors_first() -> None:
    settings = {"namespaces": {"uts": False}, "memory_limit_mib": -5}
    frame = findings_frame(check_config(apply_settings(default_config(), settings)))
    assert list(frame.columns) == ["rule", "level", "pointer", "message"]
    assert list(frame["level"]) == ["MUST", "SHOULD"]
    assert list(frame["rule"]) == ["runc.hostname.uts", "linux.resources.memory.range"]


# --- config_diff ------------------------------------------------------------


def test_diff_shows_hostname_change() -> None:
    edited = apply_settings(default_config(), {"hostname": "web"})
    diff = config_diff(default_config(), edited)
    assert diff.startswith("--- base/config.json\n+++ edited/config.json\n")
    assert diff_lines(diff, "-") == ['"hostname": "runc",']
    assert diff_lines(diff, "+") == ['"hostname": "web",']


# --- the playground widget ---------------------------------------------------


def test_playground_starts_clean() -> None:
    playground = RuntimeConfigPlayground()
    assert "No findings" in playground.findings_html.value
    assert "No changes" in playground.diff_html.value
    assert "&quot;hostname&quot;: &quot;runc&quot;" in playground.json_html.value
    assert playground.config.raw == default_config().raw
    assert playground.namespace_toggles["pid"].value is True
    assert playground.namespace_toggles["user"].value is False
    assert playground.capabilities.value == tuple(DEFAULT_CAPABILITIES)


def test_playground_namespace_toggle() -> None:
    playground = RuntimeConfigPlayground()
    playground.namespace_toggles["cgroup"].value = True
    assert namespace_types(playground.config.raw)[-1] == "cgroup"
    assert "&quot;type&quot;: &quot;cgroup&quot;" in playground.json_html.value
    assert "+        &quot;type&quot;: &quot;cgroup&quot;" in playground.diff_html.value
    assert "No findings" in playground.findings_html.value


def test_playground_uts_off_shows_finding() -> None:
    playground = RuntimeConfigPlayground()
    playground.namespace_toggles["uts"].value = False
    assert "uts" not in namespace_types(playground.config.raw)
    assert "runc.hostname.uts" in playground.findings_html.value
    assert "1 error(s)" in playground.findings_html.value
    assert rules(playground.findings) == ["runc.hostname.uts"]
    playground.hostname.value = ""
    assert rules(playground.findings) == []
    assert "No findings" in playground.findings_html.value


def test_playground_user_namespace_finding() -> None:
    playground = RuntimeConfigPlayground()
    playground.namespace_toggles["user"].value = True
    assert "runc.user.mappings" in playground.findings_html.value
    assert "2 error(s)" in playground.findings_html.value


def test_playground_capabilities() -> None:
    playground = RuntimeConfigPlayground()
    playground.capabilities.value = ("CAP_KILL", "CAP_NET_RAW")
    capabilities = playground.config.raw["process"]["capabilities"]
    assert capabilities["effective"] == ["CAP_KILL", "CAP_NET_RAW"]
    assert capabilities["ambient"] == ["CAP_KILL", "CAP_NET_RAW"]
    assert "+        &quot;CAP_NET_RAW&quot;" in playground.diff_html.value
    assert "-        &quot;CAP_AUDIT_WRITE&quot;" in playground.diff_html.value
    playground.ambient.value = False
    assert "ambient" not in playground.config.raw["process"]["capabilities"]


def test_playground_limits() -> None:
    playground = RuntimeConfigPlayground()
    playground.memory_limit.value = "64"
    playground.pids_limit.value = "20"
    playground.cpu_quota.value = "25000"
    playground.cpu_period.value = "100000"
    resources = playground.config.raw["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 * 2**20}
    assert resources["pids"] == {"limit": 20}
    assert resources["cpu"] == {"quota": 25_000, "period": 100_000}
    assert "&quot;limit&quot;: 67108864" in playground.diff_html.value


def test_playground_negative_memory() -> None:
    playground = RuntimeConfigPlayground()
    playground.memory_limit.value = "-8"
    assert "linux.resources.memory.range" in playground.findings_html.value
    assert "1 warning(s)" in playground.findings_html.value


def test_playground_invalid_text_shown() -> None:
    playground = RuntimeConfigPlayground()
    playground.pids_limit.value = "many"
    assert "invalid pids limit &#x27;many&#x27;" in playground.findings_html.value
    assert "Not updated" in playground.json_html.value
    assert "Not updated" in playground.diff_html.value
    playground.pids_limit.value = ""
    assert "No findings" in playground.findings_html.value


def test_playground_args_and_readonly() -> None:
    playground = RuntimeConfigPlayground()
    playground.args.value = "sh -c 'echo hi there'"
    playground.readonly_root.value = False
    playground.no_new_privileges.value = False
    process = playground.config.raw["process"]
    assert process["args"] == ["sh", "-c", "echo hi there"]
    assert process["noNewPrivileges"] is False
    assert playground.config.raw["root"]["readonly"] is False


def test_playground_reset() -> None:
    playground = RuntimeConfigPlayground()
    playground.namespace_toggles["uts"].value = False
    playground.hostname.value = "other"
    playground.reset_button.click()
    assert playground.namespace_toggles["uts"].value is True
    assert playground.hostname.value == "runc"
    assert playground.config.raw == default_config().raw
    assert "No changes" in playground.diff_html.value


def test_playground_dict_base() -> None:
    base = rootless_config(uid=1000, gid=1000).to_json()
    playground = RuntimeConfigPlayground(base)
    assert playground.namespace_toggles["user"].value is True
    assert playground.namespace_toggles["network"].value is False
    assert "No findings" in playground.findings_html.value


def test_playground_rejects_bad_base() -> None:
    with pytest.raises(RuntimeConfigError, match="invalid base 'config.json'"):
        RuntimeConfigPlayground("config.json")  # type: ignore[arg-type]


def test_playground_mimebundle() -> None:
    bundle = RuntimeConfigPlayground()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_namespace_toggles_complete() -> None:
    assert tuple(RuntimeConfigPlayground().namespace_toggles) == NAMESPACE_TYPES


# --- one edited config run with runc -----------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="runc needs root here")
@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
def test_edited_config_runs_in_runc(tmp_path: Path) -> None:
    container_id = f"ocilab-test-{uuid.uuid4().hex[:12]}"
    base = default_config().to_json()
    # The driver captures output through pipes, so no terminal.
    base["process"]["terminal"] = False
    base["linux"]["cgroupsPath"] = f"/{container_id}"
    playground = RuntimeConfigPlayground(base)
    playground.hostname.value = "playground"
    playground.args.value = "sh -c 'hostname; cat /proc/self/status'"
    playground.pids_limit.value = "16"
    assert rules(playground.findings) == []

    rootfs = tmp_path / "busybox-rootfs"
    unpack_layers([build_lab_images().busybox.layers[0].data], rootfs, progress=False)
    bundle = make_bundle(
        tmp_path / "bundle", rootfs_from=rootfs, config=playground.config.raw
    )
    assert json.loads((bundle.path / "config.json").read_text())["hostname"] == (
        "playground"
    )
    runc = Runc(root=tmp_path / "state", timeout=20)
    try:
        result = runc.run(container_id, bundle.path, timeout=20)
    finally:
        runc.cleanup(container_id)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "playground"
    assert "NoNewPrivs:\t1" in result.stdout
    assert runc.list() == []
    assert dumps(playground.config).count('"limit": 16') == 1
