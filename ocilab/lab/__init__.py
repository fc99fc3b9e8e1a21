"""The lab: a real containerd (with CRI), runc, CNI bridge networking and a registry."""

from __future__ import annotations

from ._lab import DownReport, Lab, ResetReport, running_lab
from ._state import LabInfo, default_state_dir

__all__ = ["DownReport", "Lab", "LabInfo", "ResetReport", "default_state_dir", "running_lab"]
