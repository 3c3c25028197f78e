"""Live or offline: the settings every lesson starts from.

Taught in `00_setup_and_security.ipynb`. `setup()` loads `.env` (never overriding variables that are
already set), chooses the mode and prints one line saying what it chose. Offline, it starts the
offline Claude on 127.0.0.1 and points the SDK at it through `ANTHROPIC_BASE_URL` with a placeholder
key, so a lesson's plain `Anthropic()` works unchanged. Live, it leaves the environment alone.
It is not a client factory: lessons build their own `Anthropic()`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from dotenv import find_dotenv, load_dotenv
from dotenv.parser import parse_stream

LIVE_BASE_URL = "https://api.anthropic.com"
OFFLINE_KEY = "sk-ant-offline-placeholder"  # accepted by the offline Claude; can never be a real key
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Settings:
    """What `setup()` chose. `mode` is "offline" or "live"; `server` is the offline Claude or None."""

    mode: str
    model: str
    base_url: str
    server: object | None = None


_current: Settings | None = None
_replaced_env: dict[str, str | None] = {}  # what offline mode overwrote, restored when going live


def mask_key(key: str | None) -> str:
    """Show enough of an API key to recognise it, never enough to use it."""
    if not key:
        return "(none)"
    prefix = "sk-ant-" if key.startswith("sk-ant-") else ""
    return f"{prefix}…{key[-4:]}" if len(key) >= 20 else f"{prefix}…"


def load_env_file() -> str | None:
    """Load the nearest `.env` upward from the working directory, without overriding; return its path."""
    path = find_dotenv(usecwd=True)
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


def _start_offline() -> Settings:
    from helpers.offline import start_server  # imported here so that `import helpers` starts nothing

    model = _choose_model()
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        _replaced_env[name] = os.environ.get(name)
    _add_loopback_to_no_proxy()
    server = start_server()
    os.environ["ANTHROPIC_BASE_URL"] = server.url
    os.environ["ANTHROPIC_API_KEY"] = OFFLINE_KEY
    return Settings(mode="offline", model=model, base_url=server.url, server=server)


def _start_live() -> Settings:
    if not os.environ.get("ANTHROPIC_API_KEY"):
        warnings.warn("Live mode without ANTHROPIC_API_KEY: requests will fail to authenticate.",
                      stacklevel=3)
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
    global _current
    if _current is None or (offline is not None and offline != (_current.mode == "offline")):
        _leave_offline()
        _current = None
        load_env_file()
        wants_offline = offline if offline is not None else (
            os.environ.get("CLAUDE_OFFLINE") == "1" or not os.environ.get("ANTHROPIC_API_KEY"))
        _current = _start_offline() if wants_offline else _start_live()
    key = mask_key(os.environ.get("ANTHROPIC_API_KEY"))
    print(f"Claude API: {_current.mode} · model {_current.model} · base URL {_current.base_url} · key {key}")
    return _current


def _reset_for_tests() -> None:
    """Forget the current Settings, stopping the offline Claude if one is running."""
    global _current
    _leave_offline()
    _current = None
