"""Each benchmark script runs on tiny inputs and prints a ratio; the real runs live in bench/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

SCRIPTS = sorted((REPO / "bench").glob("bench_*.py"))


def test_bench_scripts_exist() -> None:
    assert len(SCRIPTS) >= 7, [script.name for script in SCRIPTS]


@pytest.mark.lab
@pytest.mark.parametrize("script", SCRIPTS, ids=[script.stem for script in SCRIPTS])
def test_bench_script_smoke(script: Path, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    completed = subprocess.run(
        [sys.executable, str(script), "--smoke", "--json", str(results)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert rows, completed.stdout
    for row in rows:
        assert row["ocilab_median"] > 0
        assert row["cores"] >= 1
        assert f"{row['measure']}: ocilab" in completed.stdout
