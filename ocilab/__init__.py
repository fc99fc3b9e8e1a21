"""ocilab: learn the OCI specs and the Kubernetes CRI by driving the real components."""

from __future__ import annotations

from .cri import CRIClient
from .errors import OcilabError
from .lab import Lab, running_lab

__version__ = "0.1.0"

__all__ = ["CRIClient", "Lab", "OcilabError", "__version__", "running_lab"]
