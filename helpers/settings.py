"""Live or offline: the settings every lesson starts from.

Taught in `00_setup_and_security.ipynb`. `setup()` loads `.env` from the project root (never overriding
variables that are already set), chooses the mode and prints one line saying what it chose. Offline, it
starts the offline Claude on 127.0.0.1 and points the SDK at it through `ANTHROPIC_BASE_URL` with a
placeholder key, so a lesson's plain `Anthropic()` works unchanged. Live, it leaves the environment alone,
except to repair what would fail every request:

- a key with stray spaces or a line end around it is stripped (each request would otherwise fail with
  "Connection error.", its traceback printing the key); a key with a control character or anything but
  printable ASCII *inside* it is refused with a `ValueError` that shows the key masked;
- a variable set to nothing (`ANTHROPIC_API_KEY=` in the shell) counts as unset, so the key in `.env`
  is used, and the line says so;
- with a proxy configured, loopback joins `NO_PROXY` (offline always), and the line names the proxy.

Offline, the replies take simulated time, as live ones do (see `helpers.offline.Options`);
`CLAUDE_OFFLINE_LATENCY=off` turns it off, for a test suite that runs notebooks (see `offline_options`).

It is not a client factory: lessons build their own `Anthropic()`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import find_dotenv, load_dotenv
from dotenv.parser import parse_stream

LIVE_BASE_URL = "https://api.anthropic.com"
OFFLINE_KEY = "sk-ant-offline-placeholder"  # accepted by the offline Claude; can never be a real key
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the folder that holds helpers/ and .env
# Variables that mean nothing when set to an empty string: treated as unset.
BLANK_MEANS_UNSET = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CLAUDE_MODEL", "CLAUDE_OFFLINE",
                     "CLAUDE_OFFLINE_LATENCY")
NO_LATENCY = {"first_token_ms": 0.0, "per_token_ms": 0.0}  # no simulated generation time
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")


@dataclass(frozen=True)
class Settings:
    """What `setup()` chose. `mode` is "offline" or "live"; `server` is the offline Claude or None."""

    mode: str
    model: str
    base_url: str
    server: object | None = None


_current: Settings | None = None
_replaced_env: dict[str, str | None] = {}  # what offline mode overwrote, restored when going live
_notes: list[str] = []  # what setup() repaired in the environment, said in its line


def mask_key(key: str | None) -> str:
    """Show enough of an API key to recognise it, never enough to use it."""
    if not key:
        return "(none)"
    prefix = "sk-ant-" if key.startswith("sk-ant-") else ""
    return f"{prefix}…{key[-4:]}" if len(key) >= 20 else f"{prefix}…"


def env_file_path() -> str | None:
    """The `.env` to load: the project root's; without one there, the nearest upward from the working directory.

    A `.env` nearer the working directory than the project root's (say `notebooks/.env`) is ignored, with a
    warning, so it cannot hide the project's key.
    """
    nearest = find_dotenv(usecwd=True) or None
    root = PROJECT_ROOT / ".env"
    if not root.is_file():
        return nearest
    if nearest and Path(nearest).resolve() != root.resolve():
        warnings.warn(f"Ignoring {nearest}: setup() reads the project's {root}.", stacklevel=4)
    return str(root)


def load_env_file() -> str | None:
    """Load the project's `.env` (see `env_file_path`) without overriding; return its path."""
    path = env_file_path()
    if not path:
        return None
    with open(path, encoding="utf-8") as stream:
        bad = [str(binding.original.line) for binding in parse_stream(stream) if binding.error]
    if bad:
        where = f"line{'s' if len(bad) > 1 else ''} {', '.join(bad)}"
        raise ValueError(f"{path}: cannot parse {where}; each line must look like NAME=value")
    load_dotenv(path, override=False)
    return path


def sdk_models() -> tuple[tuple[str, ...], dict[str, str]]:
    """The model ids the installed SDK knows, and those it marks deprecated (id -> date)."""
    from typing import get_args

    from anthropic.resources.messages.messages import DEPRECATED_MODELS
    from anthropic.types import Model

    known = tuple(name for arg in get_args(Model) for name in get_args(arg) if isinstance(name, str))
    return known, dict(DEPRECATED_MODELS)


def default_model() -> str:
    """The first Haiku-class id in the SDK's model list that is not deprecated."""
    known, deprecated = sdk_models()
    return next(name for name in known if "haiku" in name and name not in deprecated)


def _choose_model() -> str:
    model = os.environ.get("CLAUDE_MODEL", "").strip()
    if not model:
        return default_model()
    known, deprecated = sdk_models()
    if model in deprecated:
        warnings.warn(f"CLAUDE_MODEL={model} is deprecated ({deprecated[model]}); pick a current model.",
                      stacklevel=4)
    elif model not in known:
        warnings.warn(f"CLAUDE_MODEL={model} is not in the installed SDK's model list; is it a typo?",
                      stacklevel=4)
    return model


def _add_loopback_to_no_proxy() -> None:
    """Make sure a proxy from the environment is never used to reach the offline Claude."""
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [host.strip() for host in os.environ.get(name, "").split(",") if host.strip()]
        missing = [host for host in LOOPBACK_HOSTS if host not in hosts]
        if missing:
            os.environ[name] = ",".join(hosts + missing)


def offline_options() -> dict[str, float]:
    """The options `setup()` starts the offline Claude with: its defaults (first token after 150 ms, then 6 ms a
    token), or no simulated generation time when `CLAUDE_OFFLINE_LATENCY` is `off` (or `0`).

    A test suite that runs notebooks sets `CLAUDE_OFFLINE_LATENCY=off` for those that are not about latency:
    their replies are the same, only sooner. Any value but `on`, `1`, `off` or `0` is a ValueError.
    """
    value = os.environ.get("CLAUDE_OFFLINE_LATENCY", "on").strip().lower()
    if value in ("on", "1"):
        return {}
    if value in ("off", "0"):
        return dict(NO_LATENCY)
    raise ValueError(f"CLAUDE_OFFLINE_LATENCY={value!r}: use `off` (no simulated generation time) or `on`")


def _start_offline() -> Settings:
    from helpers.offline import start_server  # imported here so that `import helpers` starts nothing

    options = offline_options()  # a bad value is refused before anything changes
    model = _choose_model()
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        _replaced_env[name] = os.environ.get(name)
    _add_loopback_to_no_proxy()
    server = start_server(**options)
    os.environ["ANTHROPIC_BASE_URL"] = server.url
    os.environ["ANTHROPIC_API_KEY"] = OFFLINE_KEY
    return Settings(mode="offline", model=model, base_url=server.url, server=server)


def check_api_key(key: str) -> str:
    """Return the key without surrounding whitespace; raise ValueError for a character no request can carry.

    An API key travels in an HTTP header, so only printable ASCII can be sent. The error names the character
    and its position and shows the key masked, never whole.
    """
    stripped = key.strip()
    for position, char in enumerate(stripped):
        if not "!" <= char <= "~":
            kind = "a control character" if ord(char) < 32 or ord(char) == 127 else \
                "whitespace" if char.isspace() else "a character that is not printable ASCII"
            raise ValueError(f"ANTHROPIC_API_KEY ({mask_key(stripped)}) contains {kind}, {char!r} (U+{ord(char):04X}), "
                             f"at position {position}; an API key is printable ASCII only. Copy the key again "
                             "from the Claude Console into .env or your environment.")
    return stripped


def proxy_in_use() -> str | None:
    """The proxy the SDK will use for https requests, without any user:password in it, or None."""
    for name in PROXY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            parts = urlsplit(value if "://" in value else f"http://{value}")
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{parts.hostname}{port}"
    return None


def _forget_blank_variables() -> list[str]:
    """Unset the variables of `BLANK_MEANS_UNSET` that are set to nothing; return their names."""
    blank = [name for name in BLANK_MEANS_UNSET if name in os.environ and not os.environ[name].strip()]
    for name in blank:
        del os.environ[name]
    return blank


def _strip_key() -> str:
    """Strip the key in the environment; return a note for the line ("" if there was nothing to do)."""
    key = os.environ.get("ANTHROPIC_API_KEY")
    if key is None:
        return ""
    cleaned = key.strip()
    if cleaned == key:
        return ""
    if not cleaned:
        del os.environ["ANTHROPIC_API_KEY"]
        return "ANTHROPIC_API_KEY held only whitespace: treated as unset"
    os.environ["ANTHROPIC_API_KEY"] = cleaned
    return "spaces around ANTHROPIC_API_KEY removed"


def _refuse_damaged_key() -> None:
    """Raise ValueError (key masked) for a key no request can carry, and take it out of the environment."""
    key = os.environ.get("ANTHROPIC_API_KEY")
    if key is None:
        return
    try:
        check_api_key(key)
    except ValueError:
        del os.environ["ANTHROPIC_API_KEY"]  # never left where a request (and its traceback) would send it
        raise


def _start_live() -> Settings:
    if not os.environ.get("ANTHROPIC_API_KEY"):
        warnings.warn("Live mode without ANTHROPIC_API_KEY: requests will fail to authenticate.",
                      stacklevel=3)
    if proxy_in_use():
        _add_loopback_to_no_proxy()  # local services (lesson 09's) must not go through the proxy
    base_url = os.environ.get("ANTHROPIC_BASE_URL") or LIVE_BASE_URL
    return Settings(mode="live", model=_choose_model(), base_url=base_url, server=None)


def _leave_offline() -> None:
    """Stop the offline Claude, if any, and put back the key and base URL it replaced."""
    if _current is not None and _current.server is not None:
        _current.server.stop()
    for name, value in _replaced_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _replaced_env.clear()


def setup(offline: bool | None = None) -> Settings:
    """Choose live or offline mode, print one line about the choice, and return the Settings.

    Offline when `offline=True`, when `CLAUDE_OFFLINE=1`, or when there is no `ANTHROPIC_API_KEY`;
    live otherwise. A later call returns the same Settings (and the same server). A later call with
    an explicit `offline` that differs from the current mode switches: going live stops the offline
    Claude and restores the key and base URL it had replaced; going offline starts a new one.
    """
    global _current, _notes
    if _current is None or (offline is not None and offline != (_current.mode == "offline")):
        _leave_offline()
        _current = None
        blank = _forget_blank_variables()
        load_env_file()
        _notes = [f"{name} was empty: treated as unset" for name in blank]
        _notes += [note for note in [_strip_key()] if note]
        wants_offline = offline if offline is not None else (
            os.environ.get("CLAUDE_OFFLINE") == "1" or not os.environ.get("ANTHROPIC_API_KEY"))
        if not wants_offline:  # offline, the key is put aside unused
            _refuse_damaged_key()
        _current = _start_offline() if wants_offline else _start_live()
    _short_tracebacks()
    key = mask_key(os.environ.get("ANTHROPIC_API_KEY"))
    proxy = proxy_in_use()
    extra = "".join(f" · {note}" for note in [*_notes, *([f"proxy {proxy} (not for loopback)"] if proxy else [])])
    print(f"Claude API: {_current.mode} · model {_current.model} · base URL {_current.base_url} · key {key}{extra}")
    return _current


def _short_tracebacks() -> None:
    """In a notebook, show an exception as its class and message, without the SDK's frames (`%xmode Minimal`),
    and a warning as its category and message, without the temporary file that holds the cell: an error a lesson
    shows on purpose then reads in two lines. `%xmode Context` brings full tracebacks back, and
    `CLAUDE_FULL_TRACEBACKS=1` keeps them. Outside IPython it does nothing."""
    if os.environ.get("CLAUDE_FULL_TRACEBACKS") == "1":
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "InteractiveTB"):
        shell.InteractiveTB.set_mode("Minimal")
        warnings.formatwarning = _warning_without_path


def _warning_without_path(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                          line: str | None = None) -> str:
    return f"{category.__name__}: {message}\n"


def _reset_for_tests() -> None:
    """Forget the current Settings, stopping the offline Claude if one is running."""
    global _current
    _leave_offline()
    _current = None
