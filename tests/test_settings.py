"""Tests of helpers.setup(): how it chooses the mode, what it does to the environment, what it prints."""

import os
import socket
import subprocess
import sys
import warnings

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import helpers.offline
from helpers import Settings, settings, setup
from helpers.settings import OFFLINE_KEY, default_model, mask_key, sdk_models

REAL_START_SERVER = getattr(helpers.offline, "start_server", None)
# Built at run time so that no file of the repo contains a string that looks like a real key.
REAL_LOOKING_KEY = "sk-ant-" + "api03-" + "Zq7" * 30 + "-WXYZ"
ENV_NAMES = [
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "CLAUDE_MODEL", "CLAUDE_OFFLINE",
    "CLAUDE_OFFLINE_LATENCY", "NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
    "ALL_PROXY", "all_proxy",
]


class StandInServer:
    """Listens on a loopback port, like the offline Claude, until stop(). Used until that exists."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def stop(self) -> None:
        self._socket.close()


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    """Each test starts with none of the variables setup() reads, in an empty folder, with no Settings."""
    saved = dict(os.environ)
    for name in ENV_NAMES:
        os.environ.pop(name, None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(settings, "PROJECT_ROOT", tmp_path)  # a developer's own .env never leaks in
    settings._reset_for_tests()
    yield
    settings._reset_for_tests()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def started(monkeypatch):
    """The servers setup() starts: the real offline Claude once it exists, else a stand-in."""
    servers = []

    def start_server(**options):
        server = REAL_START_SERVER(**options) if REAL_START_SERVER else StandInServer()
        servers.append(server)
        return server

    monkeypatch.setattr(helpers.offline, "start_server", start_server, raising=False)
    return servers


def is_listening(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_offline_without_a_key(capsys, started):
    s = setup()
    assert isinstance(s, Settings)
    assert s.mode == "offline" and s.server is started[0]
    assert s.base_url == started[0].url == os.environ["ANTHROPIC_BASE_URL"]
    assert s.base_url.startswith("http://127.0.0.1:") and is_listening(s.base_url)
    assert os.environ["ANTHROPIC_API_KEY"] == OFFLINE_KEY
    assert capsys.readouterr().out == (
        f"Claude API: offline · model {s.model} · base URL {s.base_url} · key sk-ant-…lder\n"
    )


def test_claude_offline_forces_offline_and_hides_the_real_key(capsys):
    os.environ["ANTHROPIC_API_KEY"] = REAL_LOOKING_KEY
    os.environ["CLAUDE_OFFLINE"] = "1"
    s = setup()
    assert s.mode == "offline"
    assert os.environ["ANTHROPIC_API_KEY"] == OFFLINE_KEY
    assert REAL_LOOKING_KEY[-4:] not in capsys.readouterr().out


def test_explicit_offline_true_wins_over_a_key():
    os.environ["ANTHROPIC_API_KEY"] = REAL_LOOKING_KEY
    assert setup(offline=True).mode == "offline"


def test_live_with_a_key_leaves_the_environment_alone(capsys):
    os.environ["ANTHROPIC_API_KEY"] = REAL_LOOKING_KEY
    os.environ["ANTHROPIC_BASE_URL"] = "https://gateway.example.test"
    before = dict(os.environ)
    s = setup()
    assert (s.mode, s.base_url, s.server) == ("live", "https://gateway.example.test", None)
    assert dict(os.environ) == before
    out = capsys.readouterr().out
    assert "key sk-ant-…WXYZ" in out and REAL_LOOKING_KEY not in out


def test_live_base_url_defaults_to_the_real_api(started):
    os.environ["ANTHROPIC_API_KEY"] = REAL_LOOKING_KEY
    assert setup().base_url == "https://api.anthropic.com"
    assert started == []


def test_dotenv_is_found_at_the_project_root_from_a_subfolder_and_never_overrides(tmp_path, monkeypatch):
    dotenv = f"# my settings\nANTHROPIC_API_KEY={REAL_LOOKING_KEY}\nCLAUDE_MODEL=from-dotenv\n"
    (tmp_path / ".env").write_text(dotenv)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    os.environ["CLAUDE_MODEL"] = default_model()
    s = setup()
    assert os.environ["ANTHROPIC_API_KEY"] == REAL_LOOKING_KEY  # loaded from .env
    assert s.mode == "live" and s.model == default_model()  # the environment's CLAUDE_MODEL won


def test_malformed_dotenv_names_the_file_and_lines(tmp_path):
    (tmp_path / ".env").write_text('ANTHROPIC_API_KEY=\nnot an assignment\nOK=1\nBAD="unclosed\n')
    with pytest.raises(ValueError, match=r"\.env: cannot parse lines 2, 4\b"):
        setup()


def test_no_proxy_gets_loopback_appended():
    os.environ["NO_PROXY"] = "corp.example.test,localhost"
    os.environ["HTTPS_PROXY"] = "http://proxy.example.test:3128"
    setup()
    assert os.environ["NO_PROXY"] == "corp.example.test,localhost,127.0.0.1"
    assert os.environ["no_proxy"] == "127.0.0.1,localhost"


def test_default_model_is_a_current_haiku_from_the_sdk():
    known, deprecated = sdk_models()
    model = setup().model
    assert model == default_model() and model in known and "haiku" in model and model not in deprecated


def test_a_current_claude_model_is_used_silently():
    known, deprecated = sdk_models()
    chosen = next(name for name in known if name not in deprecated and name != default_model())
    os.environ["CLAUDE_MODEL"] = chosen
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert setup().model == chosen


def test_unknown_claude_model_warns_and_is_kept():
    os.environ["CLAUDE_MODEL"] = "claude-typo-9"
    with pytest.warns(UserWarning, match="claude-typo-9 is not in the installed SDK's model list"):
        assert setup().model == "claude-typo-9"


def test_deprecated_claude_model_warns_and_is_kept():
    old = next(iter(sdk_models()[1]))
    os.environ["CLAUDE_MODEL"] = old
    with pytest.warns(UserWarning, match=f"CLAUDE_MODEL={old} is deprecated"):
        assert setup().model == old


def test_second_call_reuses_the_server_and_prints_again(capsys, started):
    first = setup()
    assert setup() is first and setup(offline=True) is first
    assert len(started) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and len(set(lines)) == 1


def test_switching_to_live_stops_the_server_and_restores_the_key(started):
    os.environ["ANTHROPIC_API_KEY"] = REAL_LOOKING_KEY
    offline = setup(offline=True)
    live = setup(offline=False)
    assert live.mode == "live" and live.server is None and live.base_url == "https://api.anthropic.com"
    assert os.environ["ANTHROPIC_API_KEY"] == REAL_LOOKING_KEY and "ANTHROPIC_BASE_URL" not in os.environ
    assert not is_listening(offline.base_url)
    back = setup(offline=True)
    assert back.mode == "offline" and len(started) == 2 and is_listening(back.base_url)


@pytest.mark.parametrize(("value", "first_token_ms", "per_token_ms"), [
    (None, 150.0, 6.0), ("on", 150.0, 6.0), ("", 150.0, 6.0), ("off", 0.0, 0.0), (" OFF ", 0.0, 0.0), ("0", 0.0, 0.0)])
def test_claude_offline_latency_off_starts_the_offline_claude_without_simulated_time(value, first_token_ms,
                                                                                      per_token_ms):
    if value is not None:
        os.environ["CLAUDE_OFFLINE_LATENCY"] = value
    options = setup().server.options
    assert (options.first_token_ms, options.per_token_ms) == (first_token_ms, per_token_ms)


def test_an_unknown_claude_offline_latency_is_refused_before_anything_starts(started):
    os.environ["CLAUDE_OFFLINE_LATENCY"] = "fast"
    before = dict(os.environ)
    with pytest.raises(ValueError, match=r"CLAUDE_OFFLINE_LATENCY='fast': use `off`"):
        setup()
    assert started == [] and dict(os.environ) == before


def test_live_without_a_key_warns():
    with pytest.warns(UserWarning, match="without ANTHROPIC_API_KEY"):
        assert setup(offline=False).mode == "live"


@pytest.mark.parametrize("key", [None, ""])
def test_mask_of_no_key(key):
    assert mask_key(key) == "(none)"


def test_mask_shows_prefix_and_last_four():
    assert mask_key(REAL_LOOKING_KEY) == "sk-ant-…WXYZ"
    assert mask_key("sk-ant-short") == "sk-ant-…"


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # mask_key is pure
@given(st.text(min_size=8))
def test_mask_never_contains_the_key(key):
    assert key not in mask_key(key)


def test_importing_helpers_starts_nothing():
    code = "import helpers, sys; print([m for m in ('anthropic', 'helpers.offline') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"


@pytest.mark.skipif(REAL_START_SERVER is None, reason="helpers.offline.start_server is not written yet")
def test_the_sdk_reaches_the_offline_claude_despite_a_proxy():
    from anthropic import Anthropic

    os.environ["HTTP_PROXY"] = os.environ["HTTPS_PROXY"] = "http://127.0.0.1:9"  # nothing listens there
    s = setup()
    with Anthropic(max_retries=0) as client:
        messages = [{"role": "user", "content": "Hi"}]
        reply = client.messages.create(model=s.model, max_tokens=32, messages=messages)
    assert reply.content and reply.model == s.model


# ---- a damaged key, an empty variable, a stray .env, a proxy ----

def output_of(capsys) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.mark.parametrize("damaged", [f"  {REAL_LOOKING_KEY}  ", f"{REAL_LOOKING_KEY}\n", f"\t{REAL_LOOKING_KEY}\r\n"])
def test_whitespace_around_the_key_is_removed_and_said(capsys, damaged):
    os.environ["ANTHROPIC_API_KEY"] = damaged
    assert setup().mode == "live"
    assert os.environ["ANTHROPIC_API_KEY"] == REAL_LOOKING_KEY
    out = output_of(capsys)
    assert out.endswith("key sk-ant-…WXYZ · spaces around ANTHROPIC_API_KEY removed\n")
    assert REAL_LOOKING_KEY not in out


@pytest.mark.parametrize(("inside", "named"), [("\n", "a control character, '\\n' (U+000A), at position 20"),
                                               ("\x1b", "a control character, '\\x1b' (U+001B), at position 20"),
                                               (" ", "whitespace, ' ' (U+0020), at position 20"),
                                               ("\u201c",
                                                "a character that is not printable ASCII, '\u201c' (U+201C), "
                                                "at position 20")])
def test_a_key_with_a_bad_character_inside_is_refused_and_shown_masked(capsys, inside, named):
    os.environ["ANTHROPIC_API_KEY"] = REAL_LOOKING_KEY[:20] + inside + REAL_LOOKING_KEY[20:]
    with pytest.raises(ValueError) as caught:
        setup()
    message = str(caught.value)
    assert message.startswith(f"ANTHROPIC_API_KEY (sk-ant-…WXYZ) contains {named}; an API key is printable ASCII")
    assert REAL_LOOKING_KEY[:20] not in message and REAL_LOOKING_KEY[20:] not in message
    assert "ANTHROPIC_API_KEY" not in os.environ  # no later request can send it, or print it in a traceback
    assert REAL_LOOKING_KEY[20:] not in output_of(capsys)


def test_an_empty_key_variable_is_unset_so_the_dotenv_key_is_used(tmp_path, capsys):
    (tmp_path / ".env").write_text(f"ANTHROPIC_API_KEY={REAL_LOOKING_KEY}\n")
    os.environ["ANTHROPIC_API_KEY"] = ""
    s = setup()
    assert s.mode == "live" and os.environ["ANTHROPIC_API_KEY"] == REAL_LOOKING_KEY
    assert output_of(capsys).endswith("key sk-ant-…WXYZ · ANTHROPIC_API_KEY was empty: treated as unset\n")


def test_an_empty_base_url_is_unset_too():
    os.environ["ANTHROPIC_API_KEY"] = REAL_LOOKING_KEY
    os.environ["ANTHROPIC_BASE_URL"] = ""
    assert setup().base_url == "https://api.anthropic.com" and "ANTHROPIC_BASE_URL" not in os.environ


def test_a_stray_dotenv_below_the_project_root_is_ignored(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(f"ANTHROPIC_API_KEY={REAL_LOOKING_KEY}\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / ".env").write_text("ANTHROPIC_API_KEY=\nCLAUDE_MODEL=stray\n")
    monkeypatch.chdir(tmp_path / "notebooks")
    with pytest.warns(UserWarning, match=r"Ignoring .*notebooks/\.env: setup\(\) reads the project's"):
        s = setup()
    assert s.mode == "live" and s.model == default_model()
    assert os.environ["ANTHROPIC_API_KEY"] == REAL_LOOKING_KEY


def test_a_proxy_is_named_without_its_password_and_loopback_bypasses_it_live(capsys):
    os.environ["ANTHROPIC_API_KEY"] = REAL_LOOKING_KEY
    os.environ["HTTPS_PROXY"] = "http://ada:s3cret@proxy.example.test:3128"
    setup()
    out = output_of(capsys)
    assert out.endswith("key sk-ant-…WXYZ · proxy http://proxy.example.test:3128 (not for loopback)\n")
    assert "s3cret" not in out
    assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == "127.0.0.1,localhost"


@pytest.mark.skipif(REAL_START_SERVER is None, reason="helpers.offline.start_server is not written yet")
def test_a_key_with_a_line_end_works_after_setup_and_is_never_printed(capfd):
    with REAL_START_SERVER() as upstream:
        os.environ["ANTHROPIC_API_KEY"] = f" {REAL_LOOKING_KEY}\n"
        os.environ["ANTHROPIC_BASE_URL"] = upstream.url  # live mode, pointed at a local server
        s = setup()
        from anthropic import Anthropic

        with Anthropic(max_retries=0) as client:
            reply = client.messages.create(model=s.model, max_tokens=32, messages=[{"role": "user", "content": "Hi"}])
        sent = upstream.requests[-1]
    assert s.mode == "live" and reply.content
    assert sent.status == 200
    captured = capfd.readouterr()
    assert REAL_LOOKING_KEY not in captured.out + captured.err


def test_a_damaged_key_does_not_stop_offline_mode_and_is_refused_when_going_live(capsys):
    damaged = REAL_LOOKING_KEY[:20] + "\n" + REAL_LOOKING_KEY[20:]
    os.environ["ANTHROPIC_API_KEY"] = damaged
    os.environ["CLAUDE_OFFLINE"] = "1"
    assert setup().mode == "offline"  # the key is put aside unused
    with pytest.raises(ValueError, match=r"contains a control character, '\\n' \(U\+000A\)"):
        setup(offline=False)
    assert "ANTHROPIC_API_KEY" not in os.environ
    assert REAL_LOOKING_KEY[20:] not in output_of(capsys)
