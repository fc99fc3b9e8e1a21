"""A playground for the OCI runtime config: settings, config.json, diff and findings.

The functions work on plain data, so tests and scripts use them without a
display:

- :func:`settings_from_config` reads the settings that the playground edits
  (namespaces, capabilities, read-only root, resource limits,
  noNewPrivileges, args and hostname) from a config.
- :func:`apply_settings` writes settings into a copy of a config's JSON and
  changes only the fields whose setting differs from the config, so
  ``apply_settings(base, settings_from_config(base))`` returns base unchanged.
- :func:`check_config` runs :func:`~ocilab.runtime.validate_config` and adds
  the combinations that runc 1.1 rejects at create although the schema
  allows them (:func:`runc_findings`).
- :func:`config_diff` and :func:`findings_frame` show what changed and what
  is wrong.

:class:`RuntimeConfigPlayground` wires them to ipywidgets controls and
recomputes the JSON, the diff and the findings on every change.
"""

from __future__ import annotations

import copy
import difflib
import logging
import shlex
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from .. import _html
from ..errors import RuntimeConfigError
from ..image.validate import FRAME_COLUMNS, MUST, Finding
from ..runtime.explain import CAPABILITY_MEANINGS, NAMESPACE_MEANINGS
from ..runtime.spec import RuntimeConfig, default_config, dumps
from ..runtime.validate import CAPABILITY_NAMES, ConfigFindings, validate_config

__all__ = [
    "CAPABILITY_SETS",
    "NAMESPACE_TYPES",
    "RUNC_RULES",
    "RuntimeConfigPlayground",
    "apply_settings",
    "check_config",
    "config_diff",
    "findings_frame",
    "findings_html",
    "runc_findings",
    "settings_from_config",
]

log = logging.getLogger(__name__)

ERROR_COLOUR = "#b00020"
# The namespaces the playground toggles: those `runc spec` writes, then user and cgroup.
NAMESPACE_TYPES = ("pid", "network", "ipc", "uts", "mount", "user", "cgroup")
# The capability sets that the capability setting writes together. Ambient
# has a setting of its own, and inheritable is left as the config has it.
CAPABILITY_SETS = ("bounding", "effective", "permitted")
MIB = 1 << 20

# Combinations that the schema allows but runc 1.1 rejects when it creates the
# container (libcontainer/configs/validate), with the message runc prints.
RUNC_RULES: dict[str, str] = {
    "runc.hostname.uts": "unable to set hostname without a private UTS namespace",
    "runc.user.mappings": "user namespaces enabled, but no uid (gid) mappings found",
    "runc.paths.mount": (
        "unable to restrict sys entries without a private MNT namespace"
    ),
}

_SETTING_KEYS = (
    "namespaces",
    "capabilities",
    "ambient",
    "readonly_root",
    "memory_limit_mib",
    "cpu_quota",
    "cpu_period",
    "pids_limit",
    "no_new_privileges",
    "args",
    "hostname",
)


# ----------------------------------------------------------------- settings


def _as_json(config: RuntimeConfig | Mapping[str, Any] | str) -> dict[str, Any]:
    """Return a deep copy of a config's JSON object."""
    if isinstance(config, RuntimeConfig):
        return config.to_json()
    if isinstance(config, str):
        from ..runtime.spec import parse

        return parse(config).to_json()
    if isinstance(config, Mapping):
        return copy.deepcopy(dict(config))
    raise RuntimeConfigError(
        f"invalid runtime config {config!r:.80}: pass a RuntimeConfig, a dict of "
        "config.json or its JSON text"
    )


def _section(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """Return the object at data[keys[0]][keys[1]]..., or {} where one is missing."""
    current: Any = data
    for key in keys:
        current = current.get(key) if isinstance(current, dict) else None
    return current if isinstance(current, dict) else {}


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mib(limit: int | None) -> int | float | None:
    """Return a memory limit in bytes as MiB; -1 (unlimited) stays -1."""
    if limit is None or limit == -1:
        return limit
    mib = limit / MIB
    return int(mib) if mib.is_integer() else mib


def settings_from_config(
    config: RuntimeConfig | Mapping[str, Any] | str,
) -> dict[str, Any]:
    """Read the playground's settings from a config.

    ``namespaces`` maps each of NAMESPACE_TYPES to a bool, and a namespace
    joined by path counts as on. ``capabilities`` is the bounding set in
    config order. ``ambient`` is True when the ambient set equals it and is
    not empty. ``memory_limit_mib`` is None when unset and -1 for unlimited.
    ``cpu_quota`` and ``cpu_period`` are in microseconds. ``args`` is
    shell-quoted text, and ``hostname`` is "" when unset. The other keys are
    ``readonly_root``, ``pids_limit`` and ``no_new_privileges``.
    """
    data = _as_json(config)
    process = _section(data, "process")
    capabilities = _section(data, "process", "capabilities")
    resources = _section(data, "linux", "resources")
    present = {
        entry.get("type")
        for entry in _section(data, "linux").get("namespaces") or []
        if isinstance(entry, dict)
    }
    bounding = [
        name for name in capabilities.get("bounding") or [] if isinstance(name, str)
    ]
    ambient = [
        name for name in capabilities.get("ambient") or [] if isinstance(name, str)
    ]
    args = [arg for arg in process.get("args") or [] if isinstance(arg, str)]
    hostname = data.get("hostname")
    return {
        "namespaces": {kind: kind in present for kind in NAMESPACE_TYPES},
        "capabilities": bounding,
        "ambient": bool(ambient) and set(ambient) == set(bounding),
        "readonly_root": _section(data, "root").get("readonly") is True,
        "memory_limit_mib": _mib(_number(_section(resources, "memory").get("limit"))),
        "cpu_quota": _number(_section(resources, "cpu").get("quota")),
        "cpu_period": _number(_section(resources, "cpu").get("period")),
        "pids_limit": _number(_section(resources, "pids").get("limit")),
        "no_new_privileges": process.get("noNewPrivileges") is True,
        "args": shlex.join(args),
        "hostname": hostname if isinstance(hostname, str) else "",
    }


def _check_settings(settings: Mapping[str, Any]) -> None:
    """Raise RuntimeConfigError naming the first setting of the wrong type."""
    unknown = sorted(set(settings) - set(_SETTING_KEYS))
    if unknown:
        raise RuntimeConfigError(
            f"unknown setting(s) {', '.join(unknown)}: the settings are "
            f"{', '.join(_SETTING_KEYS)}"
        )
    namespaces = settings.get("namespaces", {})
    if not isinstance(namespaces, Mapping) or set(namespaces) - set(NAMESPACE_TYPES):
        raise RuntimeConfigError(
            f"invalid namespaces setting {namespaces!r}: give a dict of namespace "
            f"types ({', '.join(NAMESPACE_TYPES)}) to True or False"
        )
    capabilities = settings.get("capabilities", [])
    if not isinstance(capabilities, (list, tuple)) or not all(
        isinstance(name, str) for name in capabilities
    ):
        raise RuntimeConfigError(
            f"invalid capabilities setting {capabilities!r}: give a list of names "
            "such as ['CAP_KILL', 'CAP_NET_BIND_SERVICE']"
        )
    for key in ("memory_limit_mib", "cpu_quota", "cpu_period", "pids_limit"):
        value = settings.get(key)
        allowed = (int, float) if key == "memory_limit_mib" else (int,)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, allowed)
        ):
            raise RuntimeConfigError(
                f"invalid {key} setting {value!r}: give a number, or None to "
                "leave the limit out"
            )
    for key in ("args", "hostname"):
        if key in settings and not isinstance(settings[key], str):
            raise RuntimeConfigError(
                f"invalid {key} setting {settings[key]!r}: give a string"
            )


def _split_args(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as error:
        raise RuntimeConfigError(
            f"invalid args {text!r}: {error}; close the quote, or escape it with a "
            "backslash"
        ) from error


def _set_resource(data: dict[str, Any], controller: str, key: str, value: Any) -> None:
    """Set linux.resources.<controller>.<key>; None removes it (and an empty parent)."""
    if value is not None:
        linux = data.setdefault("linux", {})
        resources = linux.setdefault("resources", {})
        resources.setdefault(controller, {})[key] = value
        return
    resources = _section(data, "linux", "resources")
    section = resources.get(controller)
    if isinstance(section, dict):
        section.pop(key, None)
        if not section:
            del resources[controller]


def _apply_namespaces(data: dict[str, Any], requested: Mapping[str, bool]) -> None:
    linux = data.setdefault("linux", {})
    entries = [e for e in linux.get("namespaces") or [] if isinstance(e, dict)]
    present = {entry.get("type") for entry in entries}
    for kind in NAMESPACE_TYPES:
        if kind not in requested or requested[kind] == (kind in present):
            continue
        if requested[kind]:
            entries.append({"type": kind})
        else:
            entries = [entry for entry in entries if entry.get("type") != kind]
    linux["namespaces"] = entries


def _apply_capabilities(
    data: dict[str, Any], names: list[str], ambient: bool, current: Mapping[str, Any]
) -> None:
    process = data.setdefault("process", {})
    capabilities = process.setdefault("capabilities", {})
    if set(names) != set(current["capabilities"]):
        for set_name in CAPABILITY_SETS:
            capabilities[set_name] = list(names)
    if ambient:
        capabilities["ambient"] = list(names)
    else:
        capabilities.pop("ambient", None)


def apply_settings(
    base_json: RuntimeConfig | Mapping[str, Any] | str, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Return a copy of base_json with the settings written into it.

    Only settings that differ from :func:`settings_from_config` of the base
    change the copy, and missing keys keep the base's value. A capability
    change writes the bounding, effective and permitted sets, and the
    ambient set when ``ambient`` is on (it removes ambient otherwise). A
    memory limit
    is in MiB, with -1 for unlimited. A limit of None removes the field.
    Settings are not checked against the spec here: check_config reports
    what is wrong with the result. Raises RuntimeConfigError for a setting
    of the wrong type, an unknown key or args with unbalanced quotes.
    """
    _check_settings(settings)
    data = _as_json(base_json)
    current = settings_from_config(data)

    def changed(key: str) -> bool:
        if key not in settings:
            return False
        if key == "namespaces":
            requested = settings["namespaces"]
            return any(requested[kind] != current[key][kind] for kind in requested)
        if key == "capabilities":
            # Order within a capability set has no meaning.
            return set(settings[key]) != set(current[key])
        return settings[key] != current[key]

    if changed("namespaces"):
        _apply_namespaces(data, settings["namespaces"])
    if changed("capabilities") or changed("ambient"):
        _apply_capabilities(
            data,
            list(settings.get("capabilities", current["capabilities"])),
            bool(settings.get("ambient", current["ambient"])),
            current,
        )
    if changed("readonly_root"):
        data.setdefault("root", {})["readonly"] = bool(settings["readonly_root"])
    if changed("memory_limit_mib"):
        mib = settings["memory_limit_mib"]
        limit = mib if mib in (None, -1) else round(mib * MIB)
        _set_resource(data, "memory", "limit", limit)
    if changed("cpu_quota"):
        _set_resource(data, "cpu", "quota", settings["cpu_quota"])
    if changed("cpu_period"):
        _set_resource(data, "cpu", "period", settings["cpu_period"])
    if changed("pids_limit"):
        _set_resource(data, "pids", "limit", settings["pids_limit"])
    if changed("no_new_privileges"):
        data.setdefault("process", {})["noNewPrivileges"] = bool(
            settings["no_new_privileges"]
        )
    if "args" in settings:
        args = _split_args(settings["args"])
        if args != shlex.split(current["args"]):
            data.setdefault("process", {})["args"] = args
    if changed("hostname"):
        if settings["hostname"]:
            data["hostname"] = settings["hostname"]
        else:
            data.pop("hostname", None)
    return data


# ----------------------------------------------------------------- findings


def _finding(rule: str, pointer: str, message: str) -> Finding:
    return Finding(rule, MUST, pointer, message)


def runc_findings(config: RuntimeConfig | Mapping[str, Any] | str) -> Iterator[Finding]:
    """Yield the combinations of RUNC_RULES that config contains.

    The schema and the spec's rules (validate_config) allow them, but runc
    1.1 refuses to create such a container, so they are reported as MUST.
    """
    data = _as_json(config)
    linux = _section(data, "linux")
    namespaces = {
        entry.get("type"): entry
        for entry in linux.get("namespaces") or []
        if isinstance(entry, dict)
    }
    if data.get("hostname") and "uts" not in namespaces:
        yield _finding(
            "runc.hostname.uts",
            "/hostname",
            f"hostname {data['hostname']!r} without a UTS namespace: runc rejects it "
            f"({RUNC_RULES['runc.hostname.uts']!r}); turn the uts namespace on, or "
            "clear the hostname",
        )
    user = namespaces.get("user")
    if user is not None and not user.get("path"):
        for key, kind in (("uidMappings", "uid"), ("gidMappings", "gid")):
            if not linux.get(key):
                yield _finding(
                    "runc.user.mappings",
                    f"/linux/{key}",
                    f"a new user namespace without linux.{key}: runc rejects it "
                    f"('user namespaces enabled, but no {kind} mappings found'); add "
                    "a mapping such as {'containerID': 0, 'hostID': 100000, "
                    "'size': 65536}, or turn the user namespace off",
                )
    restricted = [key for key in ("maskedPaths", "readonlyPaths") if linux.get(key)]
    if restricted and "mount" not in namespaces:
        yield _finding(
            "runc.paths.mount",
            "/linux/namespaces",
            f"linux.{' and linux.'.join(restricted)} without a mount namespace: runc "
            f"rejects it ({RUNC_RULES['runc.paths.mount']!r}); turn the mount "
            "namespace on",
        )


def check_config(
    config: RuntimeConfig | Mapping[str, Any] | str, *, for_run: bool = False
) -> ConfigFindings:
    """Return validate_config's findings followed by runc_findings."""
    findings = validate_config(config, for_run=for_run)
    # runc_findings needs a JSON object, which these two rules report missing.
    if any(finding.rule in ("json.syntax", "document.type") for finding in findings):
        return findings
    findings.extend(runc_findings(config))
    return findings


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Return findings as a DataFrame (rule, level, pointer, message), MUST first."""
    rows = [
        {column: getattr(finding, column) for column in FRAME_COLUMNS}
        for finding in findings
    ]
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    order = frame["level"].map({MUST: 0}).fillna(1)
    return frame.iloc[order.argsort(kind="stable")].reset_index(drop=True)


def findings_html(findings: list[Finding]) -> str:
    """Show a count of errors (MUST) and warnings (SHOULD), then the findings table."""
    errors = sum(1 for finding in findings if finding.level == MUST)
    warnings = len(findings) - errors
    if not findings:
        return _html.paragraph("No findings: the config is valid.")
    summary = _html.paragraph(
        f"{errors} error(s) (MUST) and {warnings} warning(s) (SHOULD)",
        colour=ERROR_COLOUR if errors else None,
    )
    return summary + _html.frame_table(findings_frame(findings))


def config_diff(
    before: RuntimeConfig | Mapping[str, Any] | str,
    after: RuntimeConfig | Mapping[str, Any] | str,
) -> str:
    """Return a unified diff of two configs as dumps writes them ("" when equal)."""
    old = dumps(_as_json(before)).splitlines(keepends=True)
    new = dumps(_as_json(after)).splitlines(keepends=True)
    lines = difflib.unified_diff(
        old, new, fromfile="base/config.json", tofile="edited/config.json"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# ------------------------------------------------------------------- widget


def _optional_number(text: str, what: str, unit: str, kind: type = int) -> Any:
    """Parse an optional number typed into a text box; "" gives None."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return kind(stripped)
    except ValueError:
        example = "512" if kind is int else "256 or 0.5"
        raise RuntimeConfigError(
            f"invalid {what} {text!r}: type a number of {unit} such as {example}, "
            "or leave the box empty for no limit"
        ) from None


def _number_text(value: float | None) -> str:
    return "" if value is None else str(value)


class RuntimeConfigPlayground:
    """Edit a runtime config with controls, and see its JSON, diff and findings at once.

    ``base`` is a RuntimeConfig, a dict of config.json, or None for the
    config `runc spec` writes (:func:`~ocilab.runtime.default_config`).
    Controls are public attributes: ``namespace_toggles`` (a dict by type),
    ``capabilities``, ``ambient``, ``readonly_root``, ``memory_limit``,
    ``cpu_quota``, ``cpu_period``, ``pids_limit``, ``no_new_privileges``,
    ``args`` and ``hostname``. Panes: ``json_html``, ``diff_html`` and
    ``findings_html``.
    """

    def __init__(self, base: RuntimeConfig | Mapping[str, Any] | None = None) -> None:
        import ipywidgets as widgets

        if base is None:
            base = default_config()
        if not isinstance(base, (RuntimeConfig, Mapping)):
            raise RuntimeConfigError(
                f"invalid base {base!r:.80}: pass a RuntimeConfig, a dict of "
                "config.json, or None for the default config of `runc spec`"
            )
        self.base: dict[str, Any] = _as_json(base)
        self._config = RuntimeConfig.from_json(self.base)
        self._findings = check_config(self.base)
        self._quiet = False
        initial = settings_from_config(self.base)

        self.namespace_toggles = {
            kind: widgets.ToggleButton(
                description=kind, tooltip=NAMESPACE_MEANINGS.get(kind, "")
            )
            for kind in NAMESPACE_TYPES
        }
        names = sorted(CAPABILITY_NAMES | set(initial["capabilities"]))
        self.capabilities = widgets.SelectMultiple(
            options=[
                (f"{name}: {CAPABILITY_MEANINGS.get(name, 'not in Linux 6.x')}", name)
                for name in names
            ],
            rows=8,
            description="Capabilities",
            layout=widgets.Layout(width="95%"),
        )
        self.ambient = widgets.Checkbox(description="ambient too")
        self.readonly_root = widgets.Checkbox(description="read-only root")
        self.no_new_privileges = widgets.Checkbox(description="noNewPrivileges")
        # Wide enough for "CPU period (µs)", so the units stay visible.
        text_options = {
            "continuous_update": False,
            "placeholder": "none",
            "style": {"description_width": "initial"},
        }
        self.memory_limit = widgets.Text(description="Memory (MiB)", **text_options)
        self.cpu_quota = widgets.Text(description="CPU quota (µs)", **text_options)
        self.cpu_period = widgets.Text(description="CPU period (µs)", **text_options)
        self.pids_limit = widgets.Text(description="Pids limit", **text_options)
        self.args = widgets.Text(description="Args", continuous_update=False)
        self.hostname = widgets.Text(
            description="Hostname", continuous_update=False, placeholder="(none)"
        )
        self.reset_button = widgets.Button(description="Reset to base", icon="undo")
        self.json_html = widgets.HTML()
        self.diff_html = widgets.HTML()
        self.findings_html = widgets.HTML()

        self.tabs = widgets.Tab(
            children=[self.json_html, self.diff_html],
            titles=("config.json", "diff against the base"),
        )
        self.widget = widgets.VBox(
            [
                widgets.HTML(_html.heading("Namespaces")),
                widgets.HBox(list(self.namespace_toggles.values())),
                self.capabilities,
                widgets.HBox(
                    [self.ambient, self.readonly_root, self.no_new_privileges]
                ),
                widgets.HBox([self.memory_limit, self.pids_limit]),
                widgets.HBox([self.cpu_quota, self.cpu_period]),
                widgets.HBox([self.args, self.hostname]),
                self.reset_button,
                widgets.HTML(_html.heading("Findings")),
                self.findings_html,
                self.tabs,
            ]
        )
        self._show_settings(initial)
        for control in self._controls():
            control.observe(self._on_change, names="value")
        self.reset_button.on_click(lambda _button: self.reset())
        self.update()

    def _controls(self) -> list[Any]:
        return [
            *self.namespace_toggles.values(),
            self.capabilities,
            self.ambient,
            self.readonly_root,
            self.memory_limit,
            self.cpu_quota,
            self.cpu_period,
            self.pids_limit,
            self.no_new_privileges,
            self.args,
            self.hostname,
        ]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def config(self) -> RuntimeConfig:
        """The edited config, as of the last valid input."""
        return self._config

    @property
    def findings(self) -> ConfigFindings:
        """The findings of the edited config, as of the last valid input."""
        return self._findings

    @property
    def settings(self) -> dict[str, Any]:
        """The settings the controls show; raises RuntimeConfigError for invalid text."""
        return {
            "namespaces": {
                kind: toggle.value for kind, toggle in self.namespace_toggles.items()
            },
            "capabilities": list(self.capabilities.value),
            "ambient": self.ambient.value,
            "readonly_root": self.readonly_root.value,
            "memory_limit_mib": _optional_number(
                self.memory_limit.value, "memory limit", "MiB", float
            ),
            "cpu_quota": _optional_number(self.cpu_quota.value, "CPU quota", "µs"),
            "cpu_period": _optional_number(self.cpu_period.value, "CPU period", "µs"),
            "pids_limit": _optional_number(
                self.pids_limit.value, "pids limit", "processes"
            ),
            "no_new_privileges": self.no_new_privileges.value,
            "args": self.args.value,
            "hostname": self.hostname.value,
        }

    def _show_settings(self, settings: Mapping[str, Any]) -> None:
        self._quiet = True
        try:
            for kind, toggle in self.namespace_toggles.items():
                toggle.value = bool(settings["namespaces"][kind])
            self.capabilities.value = tuple(settings["capabilities"])
            self.ambient.value = settings["ambient"]
            self.readonly_root.value = settings["readonly_root"]
            self.memory_limit.value = _number_text(settings["memory_limit_mib"])
            self.cpu_quota.value = _number_text(settings["cpu_quota"])
            self.cpu_period.value = _number_text(settings["cpu_period"])
            self.pids_limit.value = _number_text(settings["pids_limit"])
            self.no_new_privileges.value = settings["no_new_privileges"]
            self.args.value = settings["args"]
            self.hostname.value = settings["hostname"]
        finally:
            self._quiet = False

    def _on_change(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self.update()

    def reset(self) -> None:
        """Set every control back to the base config."""
        self._show_settings(settings_from_config(self.base))
        self.update()

    def update(self) -> None:
        """Recompute the JSON, diff and findings panes from the controls."""
        try:
            settings = self.settings
            memory = settings["memory_limit_mib"]
            if isinstance(memory, float) and memory.is_integer():
                settings["memory_limit_mib"] = int(memory)
            edited = apply_settings(self.base, settings)
        except RuntimeConfigError as error:
            # Invalid text in a box: the panes show the error instead of a
            # config that does not match the controls.
            message = _html.paragraph(str(error), colour=ERROR_COLOUR)
            self.findings_html.value = message
            stale = _html.paragraph("Not updated: fix the input shown under Findings.")
            self.json_html.value = stale
            self.diff_html.value = stale
            return
        self._config = RuntimeConfig.from_json(edited)
        self._findings = check_config(edited)
        self.json_html.value = _html.code_block(dumps(edited))
        diff = config_diff(self.base, edited)
        self.diff_html.value = (
            _html.code_block(diff)
            if diff
            else _html.paragraph("No changes from the base config.")
        )
        self.findings_html.value = findings_html(self._findings)
