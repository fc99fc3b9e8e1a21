"""environment.yml (for Binder and repo2docker) agrees with pyproject.toml."""

from __future__ import annotations

import re
import tomllib

import yaml

from .conftest import REPO

# conda-forge spells a few PyPI names differently.
CONDA_NAMES = {"pyyaml": "pyyaml"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pyproject_dependencies() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return dict(_name_and_spec(r) for r in project["dependencies"])


def _environment() -> dict[str, object]:
    return yaml.safe_load((REPO / "environment.yml").read_text())


def _conda_dependencies() -> dict[str, str]:
    names = {}
    for entry in _environment()["dependencies"]:
        if isinstance(entry, str) and not entry.startswith("python") and entry != "pip":
            name, spec = _name_and_spec(entry)
            names[name] = spec
    return names


def test_environment_lists_every_dependency() -> None:
    expected = {
        CONDA_NAMES.get(name, name): spec
        for name, spec in _pyproject_dependencies().items()
    }
    assert _conda_dependencies() == expected


def test_environment_python_matches_requires_python() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pythons = [
        e
        for e in _environment()["dependencies"]
        if isinstance(e, str) and e.startswith("python")
    ]
    assert pythons == ["python" + project["requires-python"]]


def test_environment_installs_package_with_pip() -> None:
    pip_sections = [
        e["pip"] for e in _environment()["dependencies"] if isinstance(e, dict)
    ]
    assert pip_sections == [["-e ."]]


def test_environment_has_notebook_stack() -> None:
    conda = _conda_dependencies()
    for name in (
        "jupyterlab",
        "grpcio",
        "protobuf",
        "ipywidgets",
        "pandas",
        "papermill",
    ):
        assert name in conda, name
