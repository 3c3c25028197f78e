"""The live-mode harness (`tests/live_sim.py`) on tiny synthetic notebooks, so that it stays correct.

The lessons themselves run through it only with `make test-live-sim` (minutes); here two small notebooks show that
it runs a kernel in live mode against the server it is given, counts that server's requests and 429s, accepts an
error only from a cell tagged `raises-exception`, and fails a lesson that costs more than its request budget.
"""

import os

import nbformat
import pytest
from live_sim import LIVE_LOOKING_KEY, LessonRun, kernel_environment, run_lesson, verdict

from helpers.offline import start_server

SETUP = "from helpers import setup\n\nsettings = setup()"
ASK_THREE = """from anthropic import Anthropic

client = Anthropic()
for question in ["Hi", "Hello", "Hey"]:
    reply = client.messages.create(model=settings.model, max_tokens=20,
                                   messages=[{"role": "user", "content": question}])
print(reply.stop_reason)"""


def notebook(tmp_path, name: str, *cells: tuple[str, bool]) -> object:
    """A notebook of a title, the setup cell and these (source, tagged raises-exception) code cells."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Synthetic"),
                                         nbformat.v4.new_code_cell(SETUP)])
    for source, raises in cells:
        cell = nbformat.v4.new_code_cell(source)
        if raises:
            cell.metadata["tags"] = ["raises-exception"]
        nb.cells.append(cell)
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def server():
    with start_server(first_token_ms=0, per_token_ms=0) as running:
        yield running


def test_the_kernel_environment_is_live_whatever_the_caller_says(monkeypatch):
    monkeypatch.setenv("CLAUDE_OFFLINE", "1")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "token")
    monkeypatch.setenv("NO_PROXY", "example.org")
    env = kernel_environment("http://127.0.0.1:9")
    assert "CLAUDE_OFFLINE" not in env and "ANTHROPIC_AUTH_TOKEN" not in env
    assert (env["ANTHROPIC_API_KEY"], env["ANTHROPIC_BASE_URL"]) == (LIVE_LOOKING_KEY, "http://127.0.0.1:9")
    assert LIVE_LOOKING_KEY.startswith("sk-ant-api03-") and len(LIVE_LOOKING_KEY) == 13 + 86
    assert env["NO_PROXY"] == "example.org,127.0.0.1,localhost"
    assert os.environ["CLAUDE_OFFLINE"] == "1"  # the caller's own environment is left alone


def test_a_lesson_that_completes_live_is_counted(server, tmp_path):
    path = notebook(
        tmp_path, "00_good.ipynb",
        ("# Offline only: would fail the next request\nif settings.server:\n    raise RuntimeError('ran offline')",
         False),
        (ASK_THREE, False),
        ("client.messages.create(model=settings.model, max_tokens=20, messages=[])", True),  # a 400, on purpose
    )
    server.fail_next(429, retry_after_ms=10)  # the first request is refused once; the SDK retries it
    run = run_lesson(path, server)
    assert (run.name, run.completed, run.problems) == ("00_good.ipynb", True, [])
    assert (run.requests, run.rate_limited, run.billed) == (5, 1, 4)
    assert [(record.path, record.status) for record in server.requests] == [
        ("/v1/messages", 429), ("/v1/messages", 200), ("/v1/messages", 200), ("/v1/messages", 200),
        ("/v1/messages", 400)]
    assert verdict(run, max_requests=4) == []
    assert verdict(run, max_requests=3) == ["4 requests (not counting 429s), more than 3"]


def test_a_lesson_fails_on_an_untagged_error_and_on_a_tagged_cell_that_does_not_raise(server, tmp_path):
    path = notebook(
        tmp_path, "01_bad.ipynb",
        ("print('no error here')", True),
        ("raise ValueError('boom')", False),
        ("print('never runs')", False),
    )
    run = run_lesson(path, server)
    assert (run.completed, run.requests, run.rate_limited) == (False, 0, 0)
    assert run.problems == ["code cell 2: ValueError: boom",
                            "code cell 1 is tagged raises-exception but did not raise"]
    assert verdict(run) == run.problems


def test_verdict_counts_only_what_was_not_refused():
    run = LessonRun(name="05_x.ipynb", completed=True, requests=90, rate_limited=30, seconds=1.0)
    assert (run.billed, verdict(run, max_requests=60)) == (60, [])
    assert verdict(LessonRun("05_x.ipynb", True, 61, 0, 1.0)) == ["61 requests (not counting 429s), more than 60"]
