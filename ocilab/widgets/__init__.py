"""ipywidgets explorers for notebooks: CRI, image, runtime config and registry.

Each explorer keeps its logic in plain functions of its module, which take
data and return DataFrames, text or HTML, so tests call them without a
display. The explorer class only wires those functions to controls. An
explorer object displays itself as the last value of a cell, and its
``widget`` attribute is the top-level ipywidgets container.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CRIExplorer", "ImageExplorer", "RegistryBrowser", "RuntimeConfigPlayground"]

# Imported on first use, so `import ocilab.widgets` stays cheap and a module
# being worked on cannot break the others.
_MODULES = {
    "CRIExplorer": "cri",
    "ImageExplorer": "image",
    "RegistryBrowser": "registry",
    "RuntimeConfigPlayground": "runtime",
}


def close_tree(widget: Any) -> None:
    """Close a widget and every widget below it, so the kernel frees their comms."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'ocilab.widgets' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
