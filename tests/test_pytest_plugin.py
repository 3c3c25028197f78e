"""The pytest plugin `helpers.offline.pytest_plugin`, tested as a team uses it: from suites of their own.

Each test writes a small suite to a temporary folder outside this repository and runs it with pytest in a
subprocess, so the plugin is loaded exactly as in someone else's project (and never into this suite). The last
test installs this package into a fresh virtual environment and runs a project that knows nothing of this
repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout under test
PLUGIN = "helpers.offline.pytest_plugin"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a team's shell: no key, no base URL, nothing of this suite's settings."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("ANTHROPIC_", "CLAUDE_", "PYTEST_")) and name != "PYTHONPATH"}
    return {**env, **extra}


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def run_pytest(python: str, folder: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, str], str]:
    """Run pytest in `folder`; return its exit code, each test's outcome by node id, and its output.

    Plugins installed in this environment for this suite (nbval, playwright, hypothesis, ...) are not loaded: a
    team's project has its own, and loading ours costs about 3 s a run. The plugin under test is loaded the way
    the project asks for it (`pytest_plugins` in its conftest.py, or `-p`)."""
    env = {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    outcomes = dict((node, outcome) for outcome, node in
                    re.findall(r"^(PASSED|FAILED|ERROR|SKIPPED) (\S+)", done.stdout, flags=re.MULTILINE))
    return done.returncode, outcomes, done.stdout + done.stderr


def test_loading_the_plugin_starts_no_server(tmp_path: Path) -> None:
    write(tmp_path, {
        "pytest.ini": "[pytest]\n",
        "test_plain.py": """
            import threading


            def test_no_fixture_no_server():
                assert [t.name for t in threading.enumerate() if t.name == "offline-claude"] == []
        """,
    })
    code, outcomes, output = run_pytest(sys.executable, tmp_path, clean_env(PYTHONPATH=str(ROOT)), "-p", PLUGIN)
    assert (code, outcomes) == (0, {"test_plain.py::test_no_fixture_no_server": "PASSED"}), output


def test_fixtures_isolate_tests_and_reset_the_shared_server(tmp_path: Path) -> None:
    write(tmp_path, {
        "pytest.ini": "[pytest]\n",
        "conftest.py": """
            import pytest

            pytest_plugins = ["helpers.offline.pytest_plugin"]


            @pytest.fixture(scope="session")
            def offline_claude_options():
                return {"first_token_ms": 0, "per_token_ms": 0, "context_window": 5_000}
        """,
        "test_fixtures.py": """
            import asyncio

            import anthropic
            import pytest
            from helpers.settings import default_model

            MODEL = default_model()
            HELLO = [{"role": "user", "content": "Hello"}]
            seen = {}


            def test_a_fresh_server(offline_claude, anthropic_client):
                message = anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=HELLO)
                seen["url"], seen["id"] = offline_claude.url, message.id
                assert [(r.path, r.status) for r in offline_claude.requests] == [("/v1/messages", 200)]
                assert offline_claude.options.context_window == 5_000  # from offline_claude_options


            def test_another_fresh_server(offline_claude, anthropic_client):
                assert offline_claude.url != seen["url"] and offline_claude.requests == []
                offline_claude.fail_next(429)
                message = anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=HELLO)
                assert message.id == seen["id"]  # ids count from 1 again: a fresh server
                assert [(r.status, r.retry_count) for r in offline_claude.requests] == [(429, 0), (200, 1)]


            def test_the_shared_server_left_dirty(offline_claude_shared):
                seen["shared"] = offline_claude_shared.url
                client = anthropic.Anthropic(api_key="sk-ant-test", base_url=offline_claude_shared.url)
                client.messages.create(model=MODEL, max_tokens=50, messages=HELLO)
                offline_claude_shared.fail_next(500, times=5)
                offline_claude_shared.cut_stream_next()
                offline_claude_shared.configure(requests_per_minute=1)


            def test_the_shared_server_reset(offline_claude_shared):
                assert offline_claude_shared.url == seen["shared"]
                assert offline_claude_shared.requests == []
                assert offline_claude_shared.options.requests_per_minute is None
                client = anthropic.Anthropic(api_key="sk-ant-test", base_url=offline_claude_shared.url, max_retries=0)
                with client.messages.stream(model=MODEL, max_tokens=50, messages=HELLO) as stream:
                    assert stream.get_final_message().stop_reason == "end_turn"
                assert [r.status for r in offline_claude_shared.requests] == [200]


            def test_env_points_a_plain_client(offline_claude_env):
                anthropic.Anthropic().messages.create(model=MODEL, max_tokens=50, messages=HELLO)
                assert len(offline_claude_env.requests) == 1


            def test_async_client(offline_claude, async_anthropic_client):
                offline_claude.refuse_next(category="cyber")
                message = asyncio.run(async_anthropic_client.messages.create(model=MODEL, max_tokens=50,
                                                                             messages=HELLO))
                assert (message.stop_reason, message.stop_details.category) == ("refusal", "cyber")


            def test_faults_reach_the_code_under_test(offline_claude, anthropic_client):
                offline_claude.spend_cap_next()
                with pytest.raises(anthropic.EnforcedSpendLimitReachedError):
                    anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=HELLO)
                assert len(offline_claude.requests) == 1
        """,
    })
    code, outcomes, output = run_pytest(sys.executable, tmp_path, clean_env(PYTHONPATH=str(ROOT)))
    names = ["a_fresh_server", "another_fresh_server", "the_shared_server_left_dirty", "the_shared_server_reset",
             "env_points_a_plain_client", "async_client", "faults_reach_the_code_under_test"]
    assert outcomes == {f"test_fixtures.py::test_{name}": "PASSED" for name in names}, output
    assert code == 0
    assert "offline-claude" not in output  # no server thread left behind to complain at exit


PROJECT = {
    "pytest.ini": """
        [pytest]
        testpaths = tests
        pythonpath = .
    """,
    "shop_bot.py": '''
        """A shop assistant: a tool loop over a stock lookup."""
        import anthropic

        TOOLS = [{"name": "stock", "description": "Units in stock for a product name.",
                  "input_schema": {"type": "object", "properties": {"product": {"type": "string"}},
                                   "required": ["product"]}}]
        STOCK = {"kettle": 3}


        def reply(client: anthropic.Anthropic, question: str, model: str) -> str:
            messages = [{"role": "user", "content": question}]
            while True:
                message = client.messages.create(model=model, max_tokens=300, tools=TOOLS, messages=messages)
                if message.stop_reason != "tool_use":
                    return "".join(block.text for block in message.content if block.type == "text")
                messages += [message.to_param(), {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": block.id,
                     "content": str(STOCK.get(block.input["product"], 0))}
                    for block in message.content if block.type == "tool_use"]}]
    ''',
    "tests/conftest.py": """
        pytest_plugins = ["helpers.offline.pytest_plugin"]
    """,
    "tests/test_shop_bot.py": """
        import anthropic
        import pytest
        from shop_bot import TOOLS, reply

        MODEL = "claude-haiku-5-5"  # the model the project uses
        KETTLE = [{"type": "tool_use", "name": "stock", "input": {"product": "kettle"}}]


        def test_the_tool_result_goes_back(offline_claude, anthropic_client):
            offline_claude.reply_next(KETTLE, stop_reason="tool_use")
            assert reply(anthropic_client, "How many kettles?", MODEL)
            first, second = offline_claude.requests
            assert first.body["tools"] == TOOLS
            assert second.body["messages"][-1]["content"][0]["content"] == "3"


        def test_a_429_is_retried(offline_claude, anthropic_client):
            offline_claude.fail_next(429)
            assert reply(anthropic_client, "Hello", MODEL)
            assert [r.retry_count for r in offline_claude.requests] == [0, 1]


        def test_a_dropped_connection_is_retried(offline_claude_shared):
            offline_claude_shared.drop_next()
            client = anthropic.Anthropic(api_key="sk-ant-test", base_url=offline_claude_shared.url)
            assert reply(client, "Hello", MODEL)


        def test_529_past_the_retries_raises(offline_claude, anthropic_client):
            offline_claude.fail_next(529, times=3)
            with pytest.raises(anthropic.OverloadedError):
                reply(anthropic_client, "Hello", MODEL)


        def test_a_refusal_is_not_an_answer(offline_claude, anthropic_client):  # the bot's bug: this one fails
            offline_claude.refuse_next(category="cyber")
            with pytest.raises(Exception, match="refus"):
                reply(anthropic_client, "Hello", MODEL)
    """,
}


def test_a_project_elsewhere_uses_the_installed_plugin(tmp_path: Path) -> None:
    """Install this checkout into a fresh venv outside the repo, then run a project's suite that uses the plugin:
    four tests pass, and the one that finds the project's bug (a refusal passed on as an empty answer) fails."""
    source, venv, project = tmp_path / "source", tmp_path / "venv", tmp_path / "shop"
    assert not tmp_path.resolve().is_relative_to(ROOT)
    source.mkdir()
    shutil.copytree(ROOT / "helpers", source / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    site_packages = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    # The venv sees this environment's packages (anthropic, pytest, ...), not its editable install of this repo.
    Path(site_packages, "shared-packages.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", site_packages, str(source)], check=True, timeout=300,
                   env=clean_env(), capture_output=True)
    where = subprocess.run([python, "-c", "import helpers.offline.pytest_plugin as p; print(p.__file__)"],
                           capture_output=True, text=True, check=True, env=clean_env(), cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(Path(site_packages)), where.stdout

    write(project, PROJECT)
    code, outcomes, output = run_pytest(python, project, clean_env())
    assert outcomes == {
        "tests/test_shop_bot.py::test_the_tool_result_goes_back": "PASSED",
        "tests/test_shop_bot.py::test_a_429_is_retried": "PASSED",
        "tests/test_shop_bot.py::test_a_dropped_connection_is_retried": "PASSED",
        "tests/test_shop_bot.py::test_529_past_the_retries_raises": "PASSED",
        "tests/test_shop_bot.py::test_a_refusal_is_not_an_answer": "FAILED",
    }, output
    assert code == 1
    assert re.search(r"^=+ 1 failed, 4 passed in ", output, flags=re.MULTILINE), output
    assert "Failed: DID NOT RAISE" in output
