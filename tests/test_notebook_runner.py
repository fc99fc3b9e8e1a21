"""Tests for ocilab.notebooks: run lesson notebooks on real python3 kernels."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ocilab._notebook_report import failing_cell, html_report
from ocilab.cli import main as cli_main
from ocilab.cli import parameter_value
from ocilab.errors import NotebookError
from ocilab.notebooks import (
    NotebookResult,
    default_notebook_dir,
    find_notebooks,
    format_results,
    main_run,
    run_notebook,
    run_notebooks,
)

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

# A dead kernel must be noticed long before this cell timeout could fire.
NO_TIMEOUT = 3600
DEAD_KERNEL_MAX_SECONDS = 60
ERROR_MARKER_TAG = "papermill-error-cell-tag"


def write_notebook(
    path: Path,
    sources: list[str],
    *,
    kernelspec: bool = True,
    parameters_cell: int | None = None,
) -> Path:
    """Write a notebook of code cells and tag cell ``parameters_cell`` "parameters"."""
    cells = [new_code_cell(source) for source in sources]
    if parameters_cell is not None:
        cells[parameters_cell].metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=cells)
    if kernelspec:
        notebook.metadata["kernelspec"] = dict(KERNELSPEC)
        notebook.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def kernel_children() -> set[int]:
    """Return the PIDs of ipykernel_launcher processes below this test process."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if any("ipykernel_launcher" in part for part in child.cmdline()):
                pids.add(child.pid)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return pids


@contextmanager
def watch_kernels() -> Iterator[set[int]]:
    """Record the PID of every kernel process started while the block runs."""
    seen: set[int] = set()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            seen.update(kernel_children())
            done.wait(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()


def kill_when_pid_written(pid_file: Path, delay: float, stop: threading.Event) -> None:
    """Send SIGKILL to the PID in ``pid_file``, ``delay`` seconds after it appears."""
    while not stop.is_set():
        try:
            pid = int(pid_file.read_text())
        except (FileNotFoundError, ValueError):
            stop.wait(0.05)
            continue
        stop.wait(delay)
        os.kill(pid, signal.SIGKILL)
        return


def read_output(result: NotebookResult) -> nbformat.NotebookNode:
    assert result.output_path is not None
    return nbformat.read(result.output_path, as_version=4)


def error_marker_count(notebook: nbformat.NotebookNode) -> int:
    tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
    return sum(1 for cell_tags in tags if ERROR_MARKER_TAG in cell_tags)


def code_cell(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    return next(cell for cell in notebook.cells if cell.source == source)


def assert_no_kernel_left(seen: set[int]) -> None:
    assert seen, "no kernel process was observed, so the check below proves nothing"
    for pid in seen:
        assert not psutil.pid_exists(pid), f"kernel process {pid} still exists"
    assert kernel_children() == set()


def test_find_notebooks_sorted_flat(tmp_path: Path) -> None:
    for name in ["10-c.ipynb", "02-b.ipynb", "01-a.ipynb"]:
        write_notebook(tmp_path / name, ["1"])
    write_notebook(tmp_path / ".ipynb_checkpoints" / "01-a-checkpoint.ipynb", ["1"])
    write_notebook(tmp_path / "extra" / "03-nested.ipynb", ["1"])
    (tmp_path / "notes.txt").write_text("not a notebook")

    found = find_notebooks(tmp_path)

    assert [path.name for path in found] == ["01-a.ipynb", "02-b.ipynb", "10-c.ipynb"]
    assert all(path.parent == tmp_path for path in found)


def test_find_notebooks_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="notebook folder not found"):
        find_notebooks(tmp_path / "absent")


def test_default_notebook_dir() -> None:
    import ocilab.notebooks

    expected = Path(ocilab.notebooks.__file__).resolve().parent.parent / "notebooks"
    if expected.is_dir():
        assert default_notebook_dir() == expected
    else:
        with pytest.raises(NotebookError) as raised:
            default_notebook_dir()
        assert str(expected) in str(raised.value)
        assert "explicitly" in str(raised.value)


def test_runner_ok_notebook(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "lessons" / "01-ok.ipynb",
        [
            "import os\nopen('cwd.txt', 'w').write(os.getcwd())",
            "print('hello from the kernel')",
        ],
    )
    output_dir = tmp_path / "out"

    result = run_notebook(notebook, output_dir)

    assert result.ok
    assert result.error is None
    assert result.failed_cell is None
    assert result.name == "01-ok.ipynb"
    assert result.input_path == notebook.resolve()
    assert result.output_path == output_dir.resolve() / "01-ok.ipynb"
    assert result.seconds > 0
    # The kernel's working directory is the notebook's folder.
    cwd_file = tmp_path / "lessons" / "cwd.txt"
    assert cwd_file.read_text() == str(notebook.parent.resolve())
    outputs = code_cell(read_output(result), "print('hello from the kernel')").outputs
    assert outputs[0]["text"] == "hello from the kernel\n"


def test_runner_cell_error(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "err.ipynb", ["x = 1", "1 / 0", "print('after')"]
    )

    result = run_notebook(notebook, tmp_path / "out")

    assert not result.ok
    assert result.error == "ZeroDivisionError: division by zero"
    assert result.failed_cell == 2
    output = read_output(result)
    assert error_marker_count(output) == 2
    assert code_cell(output, "print('after')").outputs == []


@pytest.mark.timeout(120)
def test_runner_dead_kernel_self_kill(tmp_path: Path) -> None:
    kill_source = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    notebook = write_notebook(
        tmp_path / "self-kill.ipynb", [kill_source, 'print("unreachable")']
    )

    started = time.monotonic()
    with watch_kernels() as seen:
        result = run_notebook(notebook, tmp_path / "out", cell_timeout=NO_TIMEOUT)
    elapsed = time.monotonic() - started

    assert elapsed < DEAD_KERNEL_MAX_SECONDS
    assert not result.ok
    assert result.error == "DeadKernelError: Kernel died"
    # The kernel may die before it reports the cell's execution count.
    assert result.failed_cell in (None, 1)
    output = read_output(result)
    assert error_marker_count(output) == 2
    killed = code_cell(output, kill_source)
    assert killed.metadata.papermill["status"] == "failed"
    assert killed.outputs[-1]["ename"] == "DeadKernelError"
    unreachable = code_cell(output, 'print("unreachable")')
    assert unreachable.outputs == []
    assert unreachable.metadata.papermill["status"] == "pending"
    assert_no_kernel_left(seen)


@pytest.mark.timeout(120)
def test_runner_dead_kernel_external_kill(tmp_path: Path) -> None:
    pid_file = tmp_path / "kernel.pid"
    pid_source = (
        "import os, pathlib\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))"
    )
    sleep_source = "import time; time.sleep(10**6)"
    notebook = write_notebook(
        tmp_path / "sleeper.ipynb", [pid_source, sleep_source, 'print("unreachable")']
    )
    stop = threading.Event()
    # The delay lets the sleep cell start before the kill.
    killer = threading.Thread(target=kill_when_pid_written, args=(pid_file, 1.0, stop))

    started = time.monotonic()
    with watch_kernels() as seen:
        killer.start()
        try:
            result = run_notebook(notebook, tmp_path / "out", cell_timeout=NO_TIMEOUT)
        finally:
            stop.set()
            killer.join()
    elapsed = time.monotonic() - started

    assert elapsed < DEAD_KERNEL_MAX_SECONDS
    assert not result.ok
    assert result.error == "DeadKernelError: Kernel died"
    assert result.failed_cell == 2
    kernel_pid = int(pid_file.read_text())
    assert kernel_pid in seen
    output = read_output(result)
    assert error_marker_count(output) == 2
    sleeper = code_cell(output, sleep_source)
    assert sleeper.metadata.papermill["status"] == "failed"
    assert sleeper.outputs[-1]["ename"] == "DeadKernelError"
    assert code_cell(output, 'print("unreachable")').outputs == []
    assert_no_kernel_left(seen)


@pytest.mark.timeout(120)
def test_runner_cell_timeout(tmp_path: Path) -> None:
    sleep_source = "import time; time.sleep(60)"
    notebook = write_notebook(tmp_path / "slow.ipynb", [sleep_source, "print('after')"])

    with watch_kernels() as seen:
        result = run_notebook(notebook, tmp_path / "out", cell_timeout=2)

    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("CellTimeoutError: ")
    assert "2 seconds" in result.error
    assert result.seconds < 30
    output = read_output(result)
    assert error_marker_count(output) == 2
    assert code_cell(output, sleep_source).metadata.papermill["status"] == "failed"
    assert_no_kernel_left(seen)


def test_runner_no_kernelspec(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "bare.ipynb", ["1"], kernelspec=False)

    result = run_notebook(notebook, tmp_path / "out", kernel_name=None)

    assert not result.ok
    assert result.error == (
        "ValueError: No kernel name found in notebook and no override provided."
    )
    assert result.failed_cell is None
    assert result.output_path is None


def test_runner_no_kernelspec_parameters(tmp_path: Path) -> None:
    # With a kernel name given, papermill 2.7.0 still needs the notebook's
    # language to write the injected parameters cell.
    notebook = write_notebook(tmp_path / "bare.ipynb", ["1"], kernelspec=False)

    result = run_notebook(notebook, tmp_path / "out", parameters={"answer": 42})

    assert not result.ok
    assert result.error == (
        "ValueError: No language found in notebook and no override provided."
    )
    assert result.output_path is None


def test_runner_no_kernelspec_kernel_name(tmp_path: Path) -> None:
    # Without parameters, the kernel_name argument is enough for papermill 2.7.0.
    notebook = write_notebook(tmp_path / "bare.ipynb", ["1"], kernelspec=False)

    result = run_notebook(notebook, tmp_path / "out")

    assert result.ok
    assert result.output_path is not None


def test_runner_unknown_kernel(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", ["print('ran')"])

    result = run_notebook(notebook, tmp_path / "out", kernel_name="no-such-kernel")

    assert not result.ok
    assert result.error == "NoSuchKernel: No such kernel named no-such-kernel"


def test_runner_parameters_injected(tmp_path: Path) -> None:
    target = tmp_path / "parameter.txt"
    notebook = write_notebook(
        tmp_path / "params.ipynb",
        [
            "greeting = 'default'\ntarget = 'unset.txt'",
            "open(target, 'w').write(greeting)",
        ],
        parameters_cell=0,
    )

    parameters = {"greeting": "hello", "target": str(target)}
    result = run_notebook(notebook, tmp_path / "out", parameters=parameters)

    assert result.ok
    assert target.read_text() == "hello"
    output = read_output(result)
    tags = [cell.metadata.get("tags", []) for cell in output.cells]
    assert tags.index(["injected-parameters"]) == tags.index(["parameters"]) + 1
    assert not (tmp_path / "unset.txt").exists()


def test_runner_rejects_own_folder(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "lesson.ipynb", ["1"])
    before = notebook.read_bytes()

    with pytest.raises(NotebookError, match="overwrite"):
        run_notebook(notebook, tmp_path)
    assert notebook.read_bytes() == before


def test_runner_missing_notebook(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="notebook not found"):
        run_notebook(tmp_path / "absent.ipynb", tmp_path / "out")


def test_runner_removes_stale_output(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "bare.ipynb", ["1"], kernelspec=False)
    stale = tmp_path / "out" / "bare.ipynb"
    stale.parent.mkdir()
    stale.write_text("{}")

    result = run_notebook(notebook, tmp_path / "out", kernel_name=None)

    assert not result.ok
    assert result.output_path is None
    assert not stale.exists()


def test_run_notebooks_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = write_notebook(tmp_path / "01-fail.ipynb", ["raise RuntimeError('boom')"])
    passing = write_notebook(tmp_path / "02-pass.ipynb", ["print('ok')"])

    results = run_notebooks([failing, passing], tmp_path / "out")

    assert [result.name for result in results] == ["01-fail.ipynb", "02-pass.ipynb"]
    assert [result.ok for result in results] == [False, True]
    assert results[0].error == "RuntimeError: boom"
    assert "2/2" in capsys.readouterr().err


def test_format_results_table() -> None:
    results = [
        NotebookResult("01-a.ipynb", Path("01-a.ipynb"), None, True, 1.25),
        NotebookResult(
            "02-longer.ipynb",
            Path("02-longer.ipynb"),
            None,
            False,
            0.5,
            error="DeadKernelError: Kernel died",
            failed_cell=3,
        ),
    ]

    lines = format_results(results).splitlines()

    assert len(lines) == 4
    assert lines[1].split() == ["01-a.ipynb", "ok", "1.2"]
    assert lines[2].split()[:3] == ["02-longer.ipynb", "FAILED", "0.5"]
    assert lines[2].endswith("DeadKernelError: Kernel died (cell In [3])")
    assert lines[3] == "total: 2 notebooks, 1 ok, 1 failed, 1.8 s"


def test_main_run_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_notebook(tmp_path / "lessons" / "01-pass.ipynb", ["print('ok')"])
    write_notebook(tmp_path / "lessons" / "02-fail.ipynb", ["1 / 0"])
    output_dir = tmp_path / "out"

    code = main_run(tmp_path / "lessons", output_dir, None)

    assert code == 1
    stdout = capsys.readouterr().out
    assert "01-pass.ipynb" in stdout
    assert "FAILED" in stdout
    assert "ZeroDivisionError: division by zero" in stdout
    assert str(output_dir) in stdout
    assert (output_dir / "02-fail.ipynb").exists()


def test_main_run_temporary_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(tmp_path / "lessons" / "01-pass.ipynb", ["print('ok')"])
    # Keep the temporary output folder inside tmp_path, so nothing is left behind.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    code = main_run(tmp_path / "lessons", None, None)

    assert code == 0
    output_dirs = list(tmp_path.glob("ocilab-notebooks-*"))
    assert len(output_dirs) == 1
    assert (output_dirs[0] / "01-pass.ipynb").exists()
    assert str(output_dirs[0]) in capsys.readouterr().out


def test_main_run_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="no \\*.ipynb notebooks found"):
        main_run(tmp_path, tmp_path / "out", None)


# -- HTML report -------------------------------------------------------------


def test_main_run_writes_html_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(tmp_path / "lessons" / "01-pass.ipynb", ["print('ok')"])
    write_notebook(
        tmp_path / "lessons" / "02-fail.ipynb",
        ["x = 1", "raise ValueError('<bad> & wrong')", "print('never')"],
    )
    output_dir = tmp_path / "out"

    main_run(tmp_path / "lessons", output_dir, None)

    report = output_dir / "report.html"
    assert f"HTML report written to {report}" in capsys.readouterr().out
    page = report.read_text()
    assert "2 notebooks, 1 ok, 1 failed" in page
    assert '<a href="./01-pass.ipynb">01-pass.ipynb</a>' in page
    assert '<span class="failed">FAILED</span>' in page
    assert "In [2]" in page
    # The failing cell's source and error are shown escaped, without ANSI codes.
    assert "raise ValueError(&#x27;&lt;bad&gt; &amp; wrong&#x27;)" in page
    assert "ValueError: &lt;bad&gt; &amp; wrong" in page
    assert "\x1b[" not in page
    assert "<bad>" not in page


@pytest.mark.timeout(120)
def test_html_report_dead_kernel(tmp_path: Path) -> None:
    kill_source = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    notebook = write_notebook(tmp_path / "dies.ipynb", ["a = 1", kill_source])
    result = run_notebook(notebook, tmp_path / "out", cell_timeout=NO_TIMEOUT)

    found = failing_cell(result.output_path, result.failed_cell)
    page = html_report([result], report_dir=tmp_path / "out")

    assert found is not None
    assert found[0] == kill_source
    assert "DeadKernelError" in found[1]
    assert "0 ok, 1 failed" in page
    assert "os.kill(os.getpid(), signal.SIGKILL)" in page


def test_html_report_without_executed_copy(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "bare.ipynb", ["1"], kernelspec=False)
    result = run_notebook(notebook, tmp_path / "out", kernel_name=None)

    page = html_report([result])

    assert not result.ok
    assert "no executed copy was written" in page


def test_main_run_single_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(tmp_path / "lessons" / "01-pass.ipynb", ["print('ok')"])
    only = write_notebook(tmp_path / "lessons" / "02-other.ipynb", ["print('ok')"])

    code = main_run(only, tmp_path / "out", None)

    assert code == 0
    assert "Running 1 notebook from" in capsys.readouterr().out
    assert (tmp_path / "out" / "02-other.ipynb").exists()
    assert not (tmp_path / "out" / "01-pass.ipynb").exists()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("True", True),
        ("false", False),
        ("None", None),
        ("12", 12),
        ("2.5", 2.5),
        (
            "unix:///run/containerd/containerd.sock",
            "unix:///run/containerd/containerd.sock",
        ),
        ("", ""),
        (" False ", False),
    ],
)
def test_parameter_value_types(text: str, value: object) -> None:
    assert parameter_value(text) == value
    assert type(parameter_value(text)) is type(value)


def test_cli_parameters_reach_notebook(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "lessons" / "01-params.ipynb",
        ["flag = True\nname = 'x'", "assert flag is False, flag\nassert name == 'y'"],
        parameters_cell=0,
    )
    code = cli_main(
        [
            "notebooks",
            "run",
            str(notebook),
            "--output",
            str(tmp_path / "out"),
            "-p",
            "flag=False",
            "-p",
            "name=y",
        ]
    )
    assert code == 0


def test_cli_rejects_parameter_without_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli_main(["notebooks", "run", "-p", "reveal_solutions"])
    assert code == 2
    assert "write NAME=VALUE" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_cli_run_kernel_killed_mid_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid_file = tmp_path / "kernel.pid"
    pid_source = (
        "import os, pathlib\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))"
    )
    sleep_source = "import time; time.sleep(10**6)"
    notebook = write_notebook(
        tmp_path / "lessons" / "01-killed.ipynb",
        [pid_source, sleep_source, 'print("unreachable")'],
    )
    output_dir = tmp_path / "out"
    stop = threading.Event()
    killer = threading.Thread(target=kill_when_pid_written, args=(pid_file, 1.0, stop))

    with watch_kernels() as seen:
        killer.start()
        try:
            code = cli_main(
                ["notebooks", "run", str(notebook), "--output", str(output_dir)]
            )
        finally:
            stop.set()
            killer.join()

    # The run ends with an error, in the exit code and the table.
    assert code == 1
    stdout = capsys.readouterr().out
    assert "01-killed.ipynb  FAILED" in stdout
    assert "DeadKernelError: Kernel died (cell In [2])" in stdout
    assert "total: 1 notebooks, 0 ok, 1 failed" in stdout

    # The executed copy is written, with the killed cell marked as failed.
    output = nbformat.read(output_dir / "01-killed.ipynb", as_version=4)
    assert error_marker_count(output) == 2
    sleeper = code_cell(output, sleep_source)
    assert sleeper.metadata.papermill["status"] == "failed"
    assert sleeper.outputs[-1]["ename"] == "DeadKernelError"
    assert code_cell(output, 'print("unreachable")').outputs == []

    # report.html names the killed cell and shows its source and error.
    page = (output_dir / "report.html").read_text()
    assert "1 notebooks, 0 ok, 1 failed" in page
    assert '<span class="failed">FAILED</span>' in page
    assert "In [2]" in page
    assert "import time; time.sleep(10**6)" in page
    assert "DeadKernelError: Kernel died" in page

    # No kernel process is left, the killed one included.
    assert int(pid_file.read_text()) in seen
    assert_no_kernel_left(seen)


def test_html_report_links_cannot_be_urls(tmp_path: Path) -> None:
    names = ["javascript:alert(1).ipynb", "a#b?c d.ipynb"]
    results = []
    for name in names:
        output = tmp_path / "out" / name
        output.parent.mkdir(exist_ok=True)
        output.write_text("{}")
        results.append(
            NotebookResult(name, tmp_path / name, output, ok=True, seconds=1.0)
        )

    page = html_report(results, report_dir=tmp_path / "out")

    assert 'href="./javascript%3Aalert%281%29.ipynb"' in page
    assert 'href="./a%23b%3Fc%20d.ipynb"' in page
    assert 'href="javascript:' not in page


def test_format_results_strips_control_characters(tmp_path: Path) -> None:
    result = NotebookResult(
        "x.ipynb",
        tmp_path / "x.ipynb",
        None,
        ok=False,
        seconds=1.0,
        error="ValueError: \x1b[31mred\x1b[0m \x07bell",
    )
    table = format_results([result])
    assert "\x1b" not in table
    assert "\x07" not in table
    assert "ValueError: red bell" in table


def test_cli_raw_parameter_stays_text(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "lessons" / "01-raw.ipynb",
        ["name = 'x'", "assert name == '007', repr(name)"],
        parameters_cell=0,
    )
    code = cli_main(
        [
            "notebooks",
            "run",
            str(notebook),
            "--output",
            str(tmp_path / "out"),
            "-r",
            "name=007",
        ]
    )
    assert code == 0


def test_main_run_rejects_unknown_parameter(tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "lessons" / "01-params.ipynb",
        ["reveal_solutions = False", "print(reveal_solutions)"],
        parameters_cell=0,
    )
    with pytest.raises(
        NotebookError, match="unknown notebook parameter 'reveal_solution'"
    ):
        main_run(tmp_path / "lessons", tmp_path / "out", {"reveal_solution": True})
    assert not (tmp_path / "out").exists()


def test_main_run_missing_notebook_file(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="notebook not found"):
        main_run(tmp_path / "nope.ipynb", tmp_path / "out", None)
