"""Timing harness shared by the benchmark scripts: medians, ratios and one result line each.

Every measure runs ocilab and a named peer in the same process run, a warm-up
first, then alternating runs so that load from the rest of the machine falls
on both. Absolute times vary between machines and runs, so the ratio
(ocilab / peer) is the result to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Result",
    "Timing",
    "base_parser",
    "compare",
    "machine",
    "print_result",
    "record_notes",
    "run_command",
    "time_call",
]


@dataclass
class Timing:
    """Seconds of each measured run of one contender, warm-up excluded."""

    name: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class Result:
    """One measure: ocilab's and the peer's medians, their ratio and the target."""

    measure: str
    peer: str
    ocilab_median: float
    peer_median: float
    ratio: float
    target: float | None
    runs: int
    cores: int
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def machine() -> dict[str, Any]:
    """Return the facts that make two benchmark runs comparable."""
    return {
        "cores": os.cpu_count() or 1,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "kernel": platform.release(),
    }


def time_call(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def run_command(
    argv: Sequence[str], **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    """Run a peer's command, raising with its stderr when it fails."""
    result = subprocess.run(list(argv), capture_output=True, check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed with exit code {result.returncode}: "
            f"{result.stderr.decode(errors='replace')[-2000:]}"
        )
    return result


def compare(
    measure: str,
    ocilab: Callable[[], Any],
    peer_name: str,
    peer: Callable[[], Any],
    *,
    runs: int,
    warmup: int = 1,
    target: float | None = None,
    before_each: Callable[[], Any] | None = None,
) -> Result:
    """Time ocilab and the peer alternately and return the ratio of their medians.

    ``before_each`` runs untimed before every run of either contender, for
    example to remove what the previous run wrote.
    """
    ours = Timing("ocilab")
    theirs = Timing(peer_name)
    for index in range(warmup + runs):
        for timing, function in ((ours, ocilab), (theirs, peer)):
            if before_each is not None:
                before_each()
            seconds = time_call(function)
            if index >= warmup:
                timing.seconds.append(seconds)
    return Result(
        measure=measure,
        peer=peer_name,
        ocilab_median=ours.median,
        peer_median=theirs.median,
        ratio=ours.median / theirs.median,
        target=target,
        runs=runs,
        cores=os.cpu_count() or 1,
    )


def print_result(result: Result, output: Path | None = None) -> None:
    """Print one result line, and append it as JSON to output when given."""
    verdict = {None: "", True: " (target met)", False: " (target MISSED)"}[result.met]
    target = f" target <= {result.target:.2f}" if result.target is not None else ""
    print(
        f"{result.measure}: ocilab {result.ocilab_median:.3f} s, {result.peer} "
        f"{result.peer_median:.3f} s, ratio {result.ratio:.2f}{target}{verdict}; "
        f"median of {result.runs} runs on {result.cores} cores",
        flush=True,
    )
    record_notes(result, output)


def record_notes(result: Result, output: Path | None) -> None:
    """Print a result's notes, and append the result as JSON to output when given."""
    for key, value in result.notes.items():
        print(f"  {key}: {value}", flush=True)
    if output is not None:
        with output.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps({**asdict(result), **machine()}) + "\n")


def base_parser(description: str) -> argparse.ArgumentParser:
    """Return the options every benchmark script takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny inputs and one run, to check that the script works",
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="measured runs (default: 5)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder for generated inputs (default: a new temporary folder)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="append each result as a JSON line to this file",
    )
    return parser


if __name__ == "__main__":
    sys.exit("this module is imported by the bench_*.py scripts; run bench/run")
