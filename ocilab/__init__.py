"""ocilab: learn the OCI specs and the Kubernetes CRI by driving the real components."""

from __future__ import annotations

from ._version import __version__
from .cri import CRIClient
from .errors import OcilabError
from .lab import Lab, running_lab

__all__ = ["CRIClient", "Lab", "OcilabError", "__version__", "running_lab"]
