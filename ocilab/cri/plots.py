"""Plots of CRI stats over time, for lessons and node debugging."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_stats"]


def plot_stats(frame: pd.DataFrame, *, title: str = "Container resource use") -> Figure:
    """Plot CPU (cores) and memory working set (MiB) per container against time.

    frame is what ocilab.cri.frames.sample_stats returns. Returns the
    matplotlib Figure; a notebook displays it when it is a cell's last value.
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5), layout="constrained")
    cpu_axes, memory_axes = figure.subplots(2, 1, sharex=True)
    frame = frame.dropna(subset=["time"])
    for name, rows in frame.groupby("name", sort=True):
        rows = rows.sort_values("time")
        cpu_axes.plot(rows["time"], rows["cpu_cores"], marker="o", label=str(name))
        memory_axes.plot(
            rows["time"],
            rows["memory_working_set_bytes"] / 2**20,
            marker="o",
            label=str(name),
        )
    # Start both axes at zero, so small changes are not drawn as large ones.
    cpu_axes.set_ylim(bottom=0)
    memory_axes.set_ylim(bottom=0)
    locator = AutoDateLocator()
    memory_axes.xaxis.set_major_locator(locator)
    memory_axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    cpu_axes.set_ylabel("CPU (cores)")
    memory_axes.set_ylabel("memory working set (MiB)")
    memory_axes.set_xlabel("time (UTC)")
    cpu_axes.set_title(title)
    if not frame.empty:
        cpu_axes.legend(loc="upper left", fontsize="small")
    return figure
