"""`python -m helpers.offline`: the standalone server answers the README's curl request, on loopback; the README's
Python example prints what its comments say; every option has a flag."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from tests.standalone import free_port


def test_standalone_server_answers_the_readme_request():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "helpers.offline", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/v1/messages"
        body = {"model": "claude-haiku-5-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hello"}]}
        headers = {"x-api-key": "sk-ant-offline", "anthropic-version": "2023-06-01"}
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx2.post(url, json=body, headers=headers, timeout=5)
                break
            except httpx2.ConnectError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["content"][0]["text"] == "Hello! How can I help you today?"
        assert response.headers["request-id"].startswith("req_")
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert f"http://127.0.0.1:{port}" in output


def test_it_binds_to_loopback_by_default():
    from helpers.offline import start_server

    with start_server() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert {sock.getsockname()[0] for s in server._server.servers for sock in s.sockets} == {"127.0.0.1"}
    help_text = subprocess.run([sys.executable, "-m", "helpers.offline", "--help"], capture_output=True,
                               text=True, check=True).stdout
    assert "default: 127.0.0.1" in help_text


def test_every_option_has_a_flag(monkeypatch):
    import helpers.offline.__main__ as cli
    from helpers.offline import Options

    received = {}
    monkeypatch.setattr(cli, "serve_forever",
                        lambda host, port, on_started, **options: received.update(options, port=port))
    cli.main(["--port", "9999", "--first-token-ms", "0", "--per-token-ms", "1.5", "--requests-per-minute", "50",
              "--context-window", "4096", "--require-tools-for-tool-blocks", "--beta", "my-feature-2099-01-01",
              "--beta", "other-feature-2099-02-02", "--batch-processing-s", "0.5"])
    assert received == {"port": 9999, "first_token_ms": 0.0, "per_token_ms": 1.5, "requests_per_minute": 50,
                        "context_window": 4096, "tools_required_for_tool_blocks": True,
                        "extra_betas": ("my-feature-2099-01-01", "other-feature-2099-02-02"),
                        "batch_processing_s": 0.5}
    assert set(received) - {"port"} == {f.name for f in dataclasses.fields(Options)}


def test_a_port_in_use_is_reported_without_announcing_a_server():
    from helpers.offline import start_server

    with start_server() as running:
        taken = subprocess.run([sys.executable, "-m", "helpers.offline", "--port", str(running.port)],
                               capture_output=True, text=True, timeout=60)
    assert taken.returncode != 0
    assert "address already in use" in taken.stderr
    assert "Offline Claude on" not in taken.stdout


def test_extra_betas_are_accepted_and_others_still_refused():
    from helpers.offline import start_server

    body = {"model": "claude-haiku-5-5", "max_tokens": 20, "messages": [{"role": "user", "content": "Hello"}]}
    headers = {"x-api-key": "sk-ant-offline", "anthropic-version": "2023-06-01"}
    with start_server(first_token_ms=0, per_token_ms=0, extra_betas=("my-feature-2099-01-01",)) as server:
        url = f"{server.url}/v1/messages"
        ok = httpx2.post(url, json=body, headers={**headers, "anthropic-beta": "my-feature-2099-01-01"})
        refused = httpx2.post(url, json=body, headers={**headers, "anthropic-beta": "my-feature-2099-01-01, nope-1"})
    assert ok.status_code == 200
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert message.startswith("Unexpected value(s) `nope-1` for the `anthropic-beta` header.")


def test_the_readme_python_example_prints_what_its_comments_say():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The offline Claude on its own"):readme.index("## Lessons")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    expected = [line.split("# ")[-1].strip() for line in code.splitlines() if line.lstrip().startswith("print(")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    assert printed.getvalue().splitlines() == expected
