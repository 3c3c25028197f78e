"""Fixtures for the real-browser tests: JupyterLab on a free loopback port, opened in Debian's chromium.

The browser is the system's `/usr/bin/chromium`, driven by Playwright through pytest-playwright; nothing is
downloaded (never run `playwright install`). Without chromium these tests are skipped, except under `CI=true`,
where they fail. JupyterLab runs with fresh config, data, runtime and settings folders, so neither your own
Jupyter setup nor a "check for news" notification can get in the way, and with `CLAUDE_OFFLINE=1`, so the
notebook talks to the offline Claude even if a key is around. Each test gets its own copy of the notebook,
outputs stripped, and so its own kernel.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserType, Page, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "pw-results"  # screenshots and the Lab log of failed tests (ignored by git)
TOKEN = "browser-test-token"


@pytest.fixture(scope="session", autouse=True)
def chromium_installed() -> None:
    """Skip (or, under CI=true, fail) when Debian's chromium is not installed."""
    if CHROMIUM.exists():
        return
    message = (f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` "
               "(Playwright's own browser download is not used)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch options, pointed at the system chromium (each launch gets a fresh profile)."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


# pytest-playwright keeps Playwright up for the whole session. Its sync API leaves an asyncio loop marked as
# running on the main thread while it is up, so every later test calling asyncio.run() would fail. These
# overrides give Playwright, the browser and the context options the scope of one test module instead.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="module")
def browser(browser_type: BrowserType, browser_type_launch_args: dict) -> Iterator[Browser]:
    launched = browser_type.launch(**browser_type_launch_args)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def browser_context_args() -> dict:
    return {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory):
    """A JupyterLab server for one test module (stopped after it, kernels included): url, token, root, log."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    settings = base / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {name: value for name, value in os.environ.items() if not name.startswith("ANTHROPIC_")}
    env.update(CLAUDE_OFFLINE="1", JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_DATA_DIR=str(base / "data"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"), JUPYTER_PLATFORM_DIRS="1", IPYTHONDIR=str(base / "ipython"))
    port = free_port()
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--ServerApp.token={TOKEN}",
               f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={base / 'user-settings'}",
               f"--LabApp.workspaces_dir={base / 'workspaces'}", "--LabApp.expose_app_in_browser=True"]
    log_path = base / "lab.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise RuntimeError(f"JupyterLab did not start:\n{log_path.read_text()}") from None
                time.sleep(0.2)
        yield {"url": url, "token": TOKEN, "root": root, "log": log_path}
        process.terminate()  # SIGTERM: the server shuts its kernels down too
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def notebook_copy(jupyter_lab: dict, request: pytest.FixtureRequest):
    """Copy a lesson notebook, outputs stripped, into Lab's root under this test's name; return its name."""

    def copy(lesson: str) -> str:
        nb = json.loads((ROOT / "notebooks" / lesson).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        nb["metadata"].pop("widgets", None)  # stale widget ids would only render "model not found"
        name = f"{request.node.originalname}.ipynb"
        (jupyter_lab["root"] / name).write_text(json.dumps(nb), encoding="utf-8")
        return name

    return copy


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Remember each test's outcome on the item, so a fixture can tell whether the test failed."""
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


@pytest.fixture(autouse=True)
def evidence_on_failure(page: Page, jupyter_lab: dict, request: pytest.FixtureRequest):
    """When a test fails, save a screenshot of the page and the Lab log to pw-results/."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
        shutil.copy(jupyter_lab["log"], ARTIFACTS / f"{request.node.name}.lab.log")
