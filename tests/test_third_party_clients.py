"""Third-party clients in their default settings against the standalone offline Claude (`python -m helpers.offline`).

Each client (langchain-anthropic, the official TypeScript SDK, pydantic-ai, the Vercel AI SDK, litellm) runs six
scenarios through its own API: a plain message, a multi-turn conversation, streaming, a tool round trip,
count_tokens and native structured output. The client scripts live in tests/clients/ and print one JSON line per
scenario; the clients reach the server through a recording proxy (tests/clients/recording_proxy.py) by their own
base-URL setting, so a failing case prints what the client sent and what the offline Claude answered. The model is the
project's (`CLAUDE_MODEL`, else the default Haiku-class id of `helpers.settings`).

The clients are installed, pinned exactly, into a cache outside the repository (`~/.cache/claude-field-guide/
clients/<name>-<version>/`: a venv of their own for Python clients, an npm prefix for JavaScript ones) and reused
from there. A client that cannot be had is skipped with the command that installs it, except under `CI=true`,
where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import jsonschema
import pytest
from clients.recording_proxy import Exchange, RecordingProxy

from helpers.settings import default_model
from tests.standalone import standalone_offline_claude

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "clients"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "claude-field-guide" / "clients"
API_KEY = "sk-ant-test"
SCENARIOS = ("plain", "multi_turn", "streaming", "tool_round_trip", "count_tokens", "structured_output")
SCRIPT_TIMEOUT_S = 240
MIN_NODE_MAJOR = 18  # the oldest Node.js that ai 6 and @ai-sdk/anthropic declare (package.json "engines")
INSTALL_TIMEOUT_S = 600
WEATHER_RESULT = "18°C and sunny in Paris"
CITY_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@dataclass(frozen=True)
class Client:
    """A third-party client: how to install it (pinned), how to run its script, what it lacks."""

    name: str
    version: str
    kind: str  # "python" (own venv, pins in a requirements file) or "node" (own npm prefix, exact specs)
    script: str
    pins: str  # the requirements file under tests/clients/, or the npm specs separated by spaces
    base_url_suffix: str = ""  # what the client's ANTHROPIC_BASE_URL convention appends (the Vercel SDK: /v1)
    lacks: dict[str, str] = field(default_factory=dict)  # scenario -> why the client has no API for it
    env: dict[str, str] = field(default_factory=dict)  # the client's own switches it needs to stay offline
    end_turn: str = "end_turn"  # the stop reason as the client reports it (litellm speaks OpenAI's "stop")

    @property
    def home(self) -> Path:
        return CACHE / f"{self.name.replace('@', '').replace('/', '-')}-{self.version}"

    def pin_text(self) -> str:
        return (SCRIPTS / self.pins).read_text() if self.kind == "python" else self.pins

    def install_commands(self) -> list[list[str]]:
        if self.kind == "python":
            return [[sys.executable, "-m", "venv", "--clear", str(self.home)],
                    [str(self.home / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                     "-q", "-r", str(SCRIPTS / self.pins)]]
        return [["npm", "install", "--prefix", str(self.home), "--no-audit", "--no-fund", "--save-exact",
                 *self.pins.split()]]

    def install_hint(self) -> str:
        return " && ".join(" ".join(part if " " not in part else repr(part) for part in c)
                           for c in self.install_commands())

    def command(self, model: str) -> list[str]:
        if self.kind == "python":
            return [str(self.home / "bin" / "python"), str(SCRIPTS / self.script), model]
        return ["node", str(self.home / self.script), model]


CLIENTS = (
    Client("langchain-anthropic", "1.7.10", "python", "langchain_anthropic_client.py", "langchain-anthropic.txt"),
    Client("@anthropic-ai/sdk", "1.14.0", "node", "anthropic_sdk_client.mjs", "@anthropic-ai/sdk@1.14.0"),
    Client("pydantic-ai-slim", "2.68.0", "python", "pydantic_ai_client.py", "pydantic-ai-slim.txt"),
    Client("@ai-sdk/anthropic", "3.0.140", "node", "ai_sdk_client.mjs",
           "@ai-sdk/anthropic@3.0.140 ai@6.0.326 zod@4.6.7", base_url_suffix="/v1",
           lacks={"count_tokens": "the Vercel AI SDK has no token-counting call"}),
    Client("litellm", "1.110.2", "python", "litellm_client.py", "litellm.txt", end_turn="stop",
           env={"LITELLM_OFFLINE_MODE": "true"}),
)
MARKS = {"langchain-anthropic": "langchain-anthropic", "@anthropic-ai/sdk": "anthropic-sdk-typescript",
         "pydantic-ai-slim": "pydantic-ai", "@ai-sdk/anthropic": "ai-sdk-anthropic", "litellm": "litellm"}


def _cannot_have(client: Client, why: str) -> NoReturn:
    message = f"{client.name} {client.version} cannot be had ({why}); install it with: {client.install_hint()}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def ensure_installed(client: Client) -> None:
    """Install the client into its cache folder unless the same pins are already there; skip or fail if not."""
    if client.kind == "node":
        if not (shutil.which("node") and shutil.which("npm")):
            _cannot_have(client, "node and npm are not on PATH: apt-get install -y nodejs npm")
        version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        if int(version.lstrip("v").split(".")[0] or 0) < MIN_NODE_MAJOR:
            _cannot_have(client, f"node {version} is older than {MIN_NODE_MAJOR}, which these clients need")
    stamp = client.home / ".installed-pins"
    if stamp.exists() and stamp.read_text() == client.pin_text():
        return
    client.home.mkdir(parents=True, exist_ok=True)
    for command in client.install_commands():
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as error:
            _cannot_have(client, repr(error))
        if done.returncode != 0:
            _cannot_have(client, f"exit {done.returncode}: {(done.stderr or done.stdout)[-1500:]}")
    stamp.write_text(client.pin_text())


@pytest.fixture(scope="module")
def offline_claude() -> Iterator[str]:
    """The standalone server in a subprocess on a free loopback port, without simulated token delays."""
    with tempfile.TemporaryFile() as log, standalone_offline_claude(output=log) as (_, url):
        yield url


@pytest.fixture(scope="module")
def proxy(offline_claude: str) -> Iterator[RecordingProxy]:
    recording = RecordingProxy(offline_claude).start()
    yield recording
    recording.stop()


@dataclass
class Run:
    """What one client script printed: a JSON line per scenario, and its exit code and stderr."""

    lines: dict[str, dict[str, Any]]
    returncode: int
    stderr: str


@pytest.fixture(scope="module")
def client_runs(proxy: RecordingProxy) -> Callable[[Client], Run]:
    """Runs each client's script once (all its scenarios) on first use, and hands back the same run after."""
    runs: dict[str, Run] = {}
    model = os.environ.get("CLAUDE_MODEL") or default_model()

    def run(client: Client) -> Run:
        if client.name not in runs:
            ensure_installed(client)
            if client.kind == "node":  # ES modules resolve packages from the script's folder: run it from there
                shutil.copy(SCRIPTS / client.script, client.home / client.script)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
            env.update(ANTHROPIC_BASE_URL=proxy.url + client.base_url_suffix, ANTHROPIC_API_KEY=API_KEY,
                       NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **client.env)
            try:
                done = subprocess.run(client.command(model), capture_output=True, text=True, env=env,
                                      timeout=SCRIPT_TIMEOUT_S, cwd=client.home)
            except subprocess.TimeoutExpired as timeout:
                done = subprocess.CompletedProcess(timeout.cmd, -1, _text(timeout.stdout),
                                                   f"timed out after {SCRIPT_TIMEOUT_S} s\n{_text(timeout.stderr)}")
            lines = {}
            for text in done.stdout.splitlines():
                if text.startswith("{"):
                    line = json.loads(text)
                    lines[line["scenario"]] = line
            runs[client.name] = Run(lines, done.returncode, done.stderr)
        return runs[client.name]

    return run


def _text(output: str | bytes | None) -> str:
    return output.decode("utf-8", "replace") if isinstance(output, bytes) else output or ""


def _sent(exchanges: list[Exchange]) -> str:
    return "\n".join(f"  {e.summary()}" for e in exchanges) or "  (no request reached the offline Claude)"


def check_plain(result: dict[str, Any], exchanges: list[Exchange], end_turn: str) -> None:
    assert result["text"].strip(), "the reply text is empty"
    assert result["stop_reason"] == end_turn


def check_multi_turn(result: dict[str, Any], exchanges: list[Exchange], end_turn: str) -> None:
    assert "Ada" in result["text"], f"the second turn does not recall the name: {result['text']!r}"
    last = [e for e in exchanges if e.path.startswith("/v1/messages")][-1]
    assert len(last.body["messages"]) == 3, "the second request did not carry the whole conversation"
    assert result["stop_reason"] == end_turn


def _text_deltas(sse: str) -> list[str]:
    """The text_delta pieces of a server-sent-events answer, in order."""
    events = [json.loads(line[5:]) for line in sse.splitlines() if line.startswith("data:")]
    return [e["delta"]["text"] for e in events if e.get("type") == "content_block_delta"
            and e.get("delta", {}).get("type") == "text_delta"]


def check_streaming(result: dict[str, Any], exchanges: list[Exchange], end_turn: str) -> None:
    streamed = [e for e in exchanges if isinstance(e.body, dict) and e.body.get("stream") is True and e.status == 200]
    assert streamed, "no streaming request was answered"
    assert len(_text_deltas(streamed[0].answer)) >= 2, "the text did not arrive in pieces"
    assert result["text_chunks"] >= 1, "the client saw no text delta"  # pydantic-ai debounces deltas into one
    assert result["text"] == result["same_as_plain"], "the streamed text differs from the same request unstreamed"
    assert result["stop_reason"] == end_turn


def check_tool_round_trip(result: dict[str, Any], exchanges: list[Exchange], end_turn: str) -> None:
    assert result["tool_calls"] == [{"name": "get_weather", "args": {"city": "Paris"}}]
    assert result["tool_outputs"] == [WEATHER_RESULT]
    assert WEATHER_RESULT in result["text"], f"the final answer does not quote the tool result: {result['text']!r}"
    assert result["stop_reason"] == end_turn


def check_count_tokens(result: dict[str, Any], exchanges: list[Exchange], end_turn: str) -> None:
    counted = [e for e in exchanges if e.path.startswith("/v1/messages/count_tokens") and e.status == 200]
    assert counted, "the count did not come from the count_tokens endpoint"
    assert result["input_tokens"] == json.loads(counted[-1].answer)["input_tokens"] > 0


def check_structured_output(result: dict[str, Any], exchanges: list[Exchange], end_turn: str) -> None:
    jsonschema.validate(result["parsed"], CITY_SCHEMA)
    assert result["parsed"]["city"] == "Paris"
    formats = [e.body.get("output_config", {}).get("format") or e.body.get("output_format")
               for e in exchanges if isinstance(e.body, dict)]  # output_format: the deprecated top-level name
    assert any(f and f.get("type") == "json_schema" for f in formats), "no JSON schema output format was sent"


CHECKS: dict[str, Callable[[dict[str, Any], list[Exchange], str], None]] = {
    "plain": check_plain, "multi_turn": check_multi_turn, "streaming": check_streaming,
    "tool_round_trip": check_tool_round_trip, "count_tokens": check_count_tokens,
    "structured_output": check_structured_output,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: f"{c.name}=={c.version}")
def test_client_in_default_settings(client: Client, scenario: str, client_runs: Callable[[Client], Run],
                                    proxy: RecordingProxy) -> None:
    if scenario in client.lacks:
        pytest.skip(client.lacks[scenario])
    run = client_runs(client)
    exchanges = proxy.for_scenario(f"{MARKS[client.name]}/{scenario}")
    line = run.lines.get(scenario)
    assert line is not None, f"the client script printed nothing for {scenario} (exit {run.returncode}):\n" \
                             f"{run.stderr[-3000:]}"
    assert exchanges, "no request reached the offline Claude (the client did not use its base URL?)"
    if "error" in line:
        error = line["error"]
        pytest.fail(f"{client.name} {client.version} raised {error['type']} (status {error['status']}): "
                    f"{error['message'][:1500]}\nrequests sent and answers:\n{_sent(exchanges)}", pytrace=False)
    try:
        CHECKS[scenario](line["result"], exchanges, client.end_turn)
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nresult: {json.dumps(line['result'], ensure_ascii=False)[:1500]}\n"
                             f"requests sent and answers:\n{_sent(exchanges)}") from None
