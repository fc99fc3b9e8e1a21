"""Each public module's __all__ names only what exists, and errors lists every exception."""

from __future__ import annotations

import importlib
import inspect

import pytest

import ocilab.errors

MODULES = [
    "ocilab",
    "ocilab.cri",
    "ocilab.cri.frames",
    "ocilab.cri.logs",
    "ocilab.cri.configs",
    "ocilab.lab",
    "ocilab.image",
    "ocilab.image.layout",
    "ocilab.image.archive",
    "ocilab.image.layers",
    "ocilab.image.unpack",
    "ocilab.image.validate",
    "ocilab.distribution",
    "ocilab.distribution.auth",
    "ocilab.distribution.client",
    "ocilab.distribution.copy",
    "ocilab.distribution.links",
    "ocilab.errors",
    "ocilab.notebooks",
    "ocilab.runtime",
    "ocilab.runtime.spec",
    "ocilab.runtime.validate",
    "ocilab.runtime.explain",
    "ocilab.runtime.driver",
    "ocilab.runtime.bundle",
    "ocilab.runtime.inspect",
    "ocilab.magics",
    "ocilab.image.plots",
    "ocilab.widgets",
    "ocilab.widgets.cri",
    "ocilab.widgets.image",
    "ocilab.widgets.registry",
    "ocilab.widgets.runtime",
    "ocilab.exercises",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    missing = [item for item in module.__all__ if not hasattr(module, item)]
    assert missing == []


def test_errors_all_lists_every_exception() -> None:
    defined = {
        name
        for name, value in vars(ocilab.errors).items()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ == "ocilab.errors"
    }
    assert defined == set(ocilab.errors.__all__)


def test_errors_docstring_draws_every_exception() -> None:
    tree = ocilab.errors.__doc__ or ""
    missing = [name for name in ocilab.errors.__all__ if name not in tree]
    assert missing == []
