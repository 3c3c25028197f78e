"""What every test and every notebook kernel of the suite runs in, wherever pytest is pointed
(`pytest`, `pytest tests/test_settings.py`, `pytest notebooks/04_streaming.ipynb`).

- Offline: CLAUDE_OFFLINE=1 is set at import, before any test or notebook kernel starts (nbval kernels inherit
  this environment), so even a key in `.env` is never used.
- Simulated latency only where a lesson is about it: each notebook's kernel starts with CLAUDE_OFFLINE_LATENCY
  `on` for the lessons in `LESSONS_ABOUT_LATENCY` and `off` for the others (see `helpers.settings.offline_options`).
"""

import os

import pytest

os.environ["CLAUDE_OFFLINE"] = "1"

# These lessons' subject is time, so they keep the offline Claude's simulated latency (first token after 150 ms,
# then 6 ms a token): 04 measures time to first token, 05 concurrency, 06 timeouts and retries, 09 a service's
# slots held by calls in flight, 11 a batch against concurrent calls sized by Little's law. The others get the same
# replies without the wait; their committed outputs (made with latency on, by tests/make_outputs.py) must match.
LESSONS_ABOUT_LATENCY = ("04_", "05_", "06_", "09_", "11_")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """Set CLAUDE_OFFLINE_LATENCY while a notebook's cell is set up: nbval starts the notebook's kernel, which
    inherits it, when it sets up the first cell. The tests themselves never see it."""
    if item.path.suffix != ".ipynb":
        yield
        return
    saved = os.environ.get("CLAUDE_OFFLINE_LATENCY")
    os.environ["CLAUDE_OFFLINE_LATENCY"] = "on" if item.path.name.startswith(LESSONS_ABOUT_LATENCY) else "off"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["CLAUDE_OFFLINE_LATENCY"]
        else:
            os.environ["CLAUDE_OFFLINE_LATENCY"] = saved
