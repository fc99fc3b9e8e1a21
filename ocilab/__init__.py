"""ocilab: learn the OCI specs and the Kubernetes CRI by driving the real components."""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .cri import CRIClient
from .errors import OcilabError
from .lab import Lab, running_lab

__all__ = ["CRIClient", "Lab", "OcilabError", "__version__", "running_lab"]


def load_ipython_extension(ipython: Any) -> None:
    """Register the %cri and %%runtime_config magics (``%load_ext ocilab``)."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and close their CRI clients (``%unload_ext ocilab``)."""
    from .magics import unload_ipython_extension as unload

    unload(ipython)
