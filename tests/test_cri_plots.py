"""Stats plots render from frames alone, without a display."""

from __future__ import annotations

import pandas as pd

from ocilab.cri.plots import plot_stats


def _frame() -> pd.DataFrame:
    times = pd.to_datetime(
        [1_700_000_000_000_000_000 + i * 500_000_000 for i in range(4)], utc=True
    )
    rows = []
    for name, cpu in (("web", 0.5), ("db", 0.1)):
        for time in times:
            rows.append(
                {
                    "name": name,
                    "time": time,
                    "cpu_cores": cpu,
                    "memory_working_set_bytes": 2**20 * 8,
                }
            )
    return pd.DataFrame(rows)


def test_plot_stats_one_line_per_container() -> None:
    figure = plot_stats(_frame(), title="two containers")
    cpu_axes, memory_axes = figure.axes
    assert sorted(line.get_label() for line in cpu_axes.get_lines()) == ["db", "web"]
    assert cpu_axes.get_title() == "two containers"
    assert cpu_axes.get_ylim()[0] == 0
    memory_values = memory_axes.get_lines()[0].get_ydata()
    assert list(memory_values) == [8.0, 8.0, 8.0, 8.0]


def test_plot_stats_empty_frame() -> None:
    empty = pd.DataFrame(
        columns=["name", "time", "cpu_cores", "memory_working_set_bytes"]
    )
    figure = plot_stats(empty)
    assert figure.axes[0].get_lines() == []
