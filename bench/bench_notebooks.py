"""All lesson notebooks under `ocilab notebooks run`: total and per-notebook time, no peer.

A lab of its own (found by the notebooks through $OCILAB_STATE_DIR) serves
one run of ``ocilab notebooks run`` over notebooks/. The limit is 3 minutes
for the whole run on 2 cores. No other tool runs these lessons, so there is
no ratio. The result line keeps the format of _harness.print_result, with
"—" for the peer and the ratio. The JSON row has NaN there and no target,
so that bench/run can still print its table. --smoke runs a one-cell notebook
written to a temporary folder. --runs is ignored, because one run of every
notebook takes minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Result, base_parser, record_notes  # noqa: E402

from ocilab.lab import Lab  # noqa: E402

REPOSITORY = Path(__file__).resolve().parent.parent
LIMIT_SECONDS = 180.0
# One row of ocilab.notebooks.format_results: name, status, seconds, error.
_ROW = re.compile(
    r"^(?P<name>\S+\.ipynb)\s+(?P<status>ok|FAILED)\s+(?P<seconds>[\d.]+)"
)


def write_smoke_notebook(folder: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import ocilab\nprint(ocilab.__version__)")
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, folder / "00-smoke.ipynb")


def run_notebooks(folder: Path, output: Path, state_dir: Path) -> tuple[float, str]:
    """Run `ocilab notebooks run` against the lab in state_dir; return (seconds, stdout)."""
    environment = {**os.environ, "OCILAB_STATE_DIR": str(state_dir)}
    environment.pop("CONTAINER_RUNTIME_ENDPOINT", None)
    command = [
        sys.executable, "-m", "ocilab.cli", "notebooks", "run", str(folder),
        "--output", str(output),
    ]  # fmt: skip
    started = time.perf_counter()
    completed = subprocess.run(
        command, check=False, capture_output=True, text=True, env=environment
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"`ocilab notebooks run` failed with exit code {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr[-3000:]}"
        )
    return seconds, completed.stdout


def print_single(result: Result, output: Path | None) -> None:
    """Print a peer-less result in print_result's format, and append it as JSON to output."""
    met = result.ocilab_median < LIMIT_SECONDS
    verdict = "target met" if met else "target MISSED"
    print(
        f"{result.measure}: ocilab {result.ocilab_median:.3f} s, peer {result.peer}, "
        f"ratio — target < {LIMIT_SECONDS:.0f} s ({verdict}); "
        f"1 run on {result.cores} cores",
        flush=True,
    )
    record_notes(result, output)


def main() -> int:
    args = base_parser(__doc__.splitlines()[0]).parse_args()
    owned = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="bench-nb-")) if owned else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    lab = Lab(work / "lab")
    try:
        lab.up()
        if args.smoke:
            folder = work / "smoke-notebooks"
            folder.mkdir(exist_ok=True)
            write_smoke_notebook(folder)
        else:
            folder = REPOSITORY / "notebooks"
        seconds, stdout = run_notebooks(folder, work / "executed", lab.state_dir)
        rows = [match for line in stdout.splitlines() if (match := _ROW.match(line))]
        result = Result(
            measure="notebooks run"
            + (" (one-cell smoke notebook)" if args.smoke else ""),
            peer="—",
            ocilab_median=seconds,
            peer_median=float("nan"),
            ratio=float("nan"),
            target=None,
            runs=1,
            cores=os.cpu_count() or 1,
        )
        result.notes["limit"] = f"{LIMIT_SECONDS:.0f} s for every notebook together"
        for row in rows:
            result.notes[row["name"]] = (
                f"{float(row['seconds']):.1f} s ({row['status']})"
            )
        result.notes["notebook total"] = (
            f"{sum(float(row['seconds']) for row in rows):.1f} s in the kernels; the rest "
            "is starting the command and writing the report"
        )
        print_single(result, args.json)
    finally:
        lab.down()
        if owned:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
