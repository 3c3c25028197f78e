"""`python -m helpers.offline`: the standalone server answers the README's curl request, on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
