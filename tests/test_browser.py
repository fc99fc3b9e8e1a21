"""A real browser test: JupyterLab in Debian's Chromium renders an ocilab explorer.

Playwright drives the system Chromium (/usr/bin/chromium) headless; it never
downloads a browser. JupyterLab runs on 127.0.0.1 with a random token, and its
config, runtime, settings and workspace folders are temporary ones. The
screenshot is kept in $OCILAB_ARTIFACTS/browser/ (default: artifacts/ in the
repository).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ocilab.lab._prereq import free_port

from .conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]
START_TIMEOUT = 60.0
# Generous: JupyterLab's first page load is slow on a loaded 2-core machine.
UI_TIMEOUT_MS = 120_000
# The visible notebook panel; hidden panels of other notebooks stay in the page.
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
NOTEBOOK = f"{PANEL} .jp-Notebook"
OUTPUT = f"{NOTEBOOK} .jp-OutputArea-output"

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: run scripts/setup"
)
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed at /usr/bin/chromium: run scripts/setup",
        allow_module_level=True,
    )


@dataclass(frozen=True)
class JupyterLab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]


def _artifacts() -> Path:
    folder = Path(os.environ.get("OCILAB_ARTIFACTS", REPO / "artifacts")) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _kernel_processes(server_pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(server_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [child for child in children if "ipykernel" in " ".join(child.cmdline())]


def _jupyter_command(base: Path, root: Path, port: int, token: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--allow-root",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        f"--LabApp.user_settings_dir={base / 'settings'}",
        # No update checks or news: the test must not reach beyond loopback.
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=None",
    ]


def _wait_until_serving(lab: JupyterLab, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            status = httpx.get(f"{lab.url}/api/status", params={"token": lab.token})
            if status.status_code == 200:
                return
        except httpx.TransportError:
            pass
        if lab.process.poll() is not None or time.monotonic() > deadline:
            lab.process.kill()
            pytest.fail("JupyterLab did not start: " + log_path.read_text()[-3000:])
        time.sleep(0.2)


def _stop(lab: JupyterLab) -> None:
    """Stop the server and check that the kernels it started are gone."""
    kernels = _kernel_processes(lab.process.pid)
    # SIGTERM makes the server shut its kernels down before it exits.
    os.killpg(lab.process.pid, signal.SIGTERM)
    try:
        lab.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(lab.process.pid, signal.SIGKILL)
        lab.process.wait(timeout=10)
    _stopped, alive = psutil.wait_procs(kernels, timeout=10)
    for kernel in alive:
        kernel.kill()
    assert alive == [], f"JupyterLab left kernels running: {alive}"


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    base = tmp_path_factory.mktemp("jupyter")
    root = base / "notebooks"
    root.mkdir()

    # No news prompt, which would cover the page and fetch from the internet.
    news = base / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )

    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "IPYTHONDIR": str(base / "ipython"),
    }
    log_path = base / "jupyter.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _jupyter_command(base, root, port, token),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    lab = JupyterLab(f"http://127.0.0.1:{port}", token, root, process)
    _wait_until_serving(lab, log_path)
    try:
        yield lab
    finally:
        _stop(lab)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _write_notebook(root: Path, name: str, source: str) -> Path:
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Explorer in the browser"),
            new_code_cell(source),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = root / name
    nbformat.write(notebook, path)
    return path


def _accept_kernel_dialog(page: object) -> None:
    """Accept JupyterLab's "Select Kernel" dialog, which can show under load."""
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    if accept.count() and accept.first.is_visible():
        accept.first.click()


def _run_first_code_cell(page: object) -> None:
    """Run the notebook's first code cell once its kernel is idle, retrying the key press.

    On a loaded machine the first Shift+Enter can reach the page before the
    editor or the kernel is ready, so the cell's prompt must change from
    "[ ]" to "[*]" or "[1]" before this returns.
    """
    cell = page.locator(f"{NOTEBOOK} .jp-CodeCell").first
    cell.wait_for(timeout=UI_TIMEOUT_MS)
    started = (
        "() => { const prompt = document.querySelector("
        f"'{NOTEBOOK} .jp-CodeCell .jp-InputPrompt');"
        " return prompt !== null && /\\[(\\*|\\d+)\\]/.test(prompt.textContent); }"
    )
    idle = (
        "() => [...document.querySelectorAll("
        f"'{PANEL} .jp-Notebook-ExecutionIndicator')]"
        ".some(e => e.getAttribute('data-status') === 'idle')"
    )
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        _accept_kernel_dialog(page)
        if page.evaluate(idle):
            cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            try:
                page.wait_for_function(started, timeout=10_000)
                return
            except playwright_api.TimeoutError:
                continue
        time.sleep(0.5)
    raise AssertionError("the notebook's code cell did not start running")


def _open(jupyter_lab: JupyterLab, browser: object, name: str) -> object:
    """Start the notebook's kernel through the REST API, then open the notebook.

    A session that exists before the page opens keeps JupyterLab from asking
    which kernel to start.
    """
    reply = httpx.post(
        f"{jupyter_lab.url}/api/sessions",
        params={"token": jupyter_lab.token},
        json={
            "path": name,
            "name": name,
            "type": "notebook",
            "kernel": {"name": "python3"},
        },
        timeout=60,
    )
    assert reply.status_code == 201, reply.text
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # A workspace of its own, reset, so the page shows only this notebook.
    workspace = Path(name).stem
    page.goto(
        f"{jupyter_lab.url}/lab/workspaces/{workspace}/tree/{name}"
        f"?reset&token={jupyter_lab.token}",
        wait_until="domcontentloaded",
    )
    return page


def test_ipywidgets_render(jupyter_lab: JupyterLab, browser: object) -> None:
    """The widget stack itself: a slider proves the ipywidgets extension loaded."""
    _write_notebook(
        jupyter_lab.root,
        "slider.ipynb",
        "import ipywidgets\nipywidgets.IntSlider(value=7, description='seven')",
    )
    page = _open(jupyter_lab, browser, "slider.ipynb")
    try:
        _run_first_code_cell(page)
        slider = page.wait_for_selector(
            ".jupyter-widgets.widget-slider", timeout=UI_TIMEOUT_MS
        )
        assert slider.is_visible()
        assert "seven" in page.inner_text(OUTPUT)
    except Exception:
        page.screenshot(path=str(_artifacts() / "slider-failure.png"))
        raise
    finally:
        page.close()


PLAYGROUND_CELL = """\
from ocilab.widgets import RuntimeConfigPlayground

playground = RuntimeConfigPlayground()
playground
"""


def test_runtime_playground_renders_and_reacts(
    jupyter_lab: JupyterLab, browser: object
) -> None:
    """The playground renders in Chromium, and a click in the page reaches the kernel."""
    _write_notebook(jupyter_lab.root, "playground.ipynb", PLAYGROUND_CELL)
    page = _open(jupyter_lab, browser, "playground.ipynb")
    screenshot = _artifacts() / "runtime-playground.png"
    try:
        _run_first_code_cell(page)
        output = OUTPUT
        page.wait_for_selector(
            f"{output} .jupyter-widgets.widget-toggle-button", timeout=UI_TIMEOUT_MS
        )
        uts = page.get_by_role("button", name="uts", exact=True)
        assert uts.is_visible()
        # The default config of `runc spec` validates clean, and its JSON shows.
        page.wait_for_selector(f"{output} :text('ociVersion')")
        assert "unable to set hostname" not in page.inner_text(output)
        assert '"type": "uts"' in page.inner_text(output)

        # Turning the UTS namespace off while a hostname is set is a runc error.
        uts.click()
        page.wait_for_selector(f"{output} :text('unable to set hostname')")
        # The config.json tab no longer lists the namespace.
        assert '"type": "uts"' not in page.inner_text(output)
        page.screenshot(path=str(screenshot), full_page=True)
    except Exception:
        page.screenshot(path=str(_artifacts() / "playground-failure.png"))
        raise
    finally:
        page.close()
    assert screenshot.stat().st_size > 10_000
