"""A loopback HTTP proxy that records what third-party clients send to the offline Claude and what it answers.

The standalone server runs in a subprocess, so its request log cannot be read from the test; the clients talk to
this proxy instead (through their own base-URL setting) and each exchange is kept: method, path, the headers that
matter to the API, the JSON body, the status and the answer. A client script marks the scenario it is about to
run with `POST /__scenario__/<name>`, which the proxy answers itself (204) and never forwards, so every exchange
is filed under the scenario that caused it. Answers are read whole and then sent on (server-sent events too:
with the server's token delays at 0 nothing is lost but pacing).
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MARK_PREFIX = "/__scenario__/"
KEPT_HEADERS = ("anthropic-beta", "anthropic-version", "content-type", "accept", "user-agent")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade", "te"}


@dataclass
class Exchange:
    """One request a client sent and the offline Claude's answer to it."""

    scenario: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    answer: str = ""

    def summary(self, answer_chars: int = 600) -> str:
        """One paragraph a failing test prints: what was sent (keys, model, max_tokens, betas) and the answer."""
        sent: list[str] = [f"{self.method} {self.path}"]
        if isinstance(self.body, dict):
            sent.append(f"body keys={sorted(self.body)}")
            for key in ("model", "max_tokens", "stream"):
                if key in self.body:
                    sent.append(f"{key}={self.body[key]!r}")
            for key in ("thinking", "output_config", "output_format", "tool_choice", "system"):
                if key in self.body:
                    sent.append(f"{key}={json.dumps(self.body[key])[:300]}")
            if "tools" in self.body:
                tools = [t for t in self.body["tools"] if isinstance(t, dict)]
                sent.append("tools=" + ", ".join(f"{t.get('name')}{sorted(set(t) - {'name', 'description'})}"
                                                 for t in tools))
        for name in ("anthropic-beta", "anthropic-version"):
            if name in self.headers:
                sent.append(f"{name}: {self.headers[name]}")
        answer = self.answer if len(self.answer) <= answer_chars else self.answer[:answer_chars] + "..."
        return "; ".join(sent) + f"\n    -> {self.status} {answer}"


@dataclass
class RecordingProxy:
    """Forwards every request to `upstream` (a base URL such as http://127.0.0.1:8765) and records it."""

    upstream: str
    exchanges: list[Exchange] = field(default_factory=list)
    scenario: str = ""
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the proxy first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> RecordingProxy:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="recording-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def for_scenario(self, scenario: str) -> list[Exchange]:
        """The exchanges recorded under a scenario mark (`client/scenario`), in order."""
        with self._lock:
            return [e for e in self.exchanges if e.scenario == scenario]

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)


def _handler_for(proxy: RecordingProxy) -> type[BaseHTTPRequestHandler]:
    upstream = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return

        def _relay(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.startswith(MARK_PREFIX):
                proxy.scenario = self.path[len(MARK_PREFIX):]
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw[:500].decode("utf-8", "replace")
            exchange = Exchange(scenario=proxy.scenario, method=self.command, path=self.path,
                                headers={k: self.headers[k] for k in KEPT_HEADERS if k in self.headers}, body=body)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            try:
                connection.request(self.command, self.path, body=raw or None, headers=headers)
                response = connection.getresponse()
                content = response.read()
                exchange.status = response.status
                exchange.answer = content.decode("utf-8", "replace")
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP | {"date", "server"}:  # send_response wrote these
                        self.send_header(name, value)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
            except OSError as error:
                exchange.answer = f"proxy could not reach the offline Claude: {error!r}"
                self.send_error(502, exchange.answer)
            finally:
                connection.close()
                proxy._record(exchange)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _relay

    return Handler
