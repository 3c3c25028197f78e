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


# The files that take longest, longest first (measured with `pytest -n 2 --dist loadfile --durations=0`, summed per
# file). Run in parallel, each file whole on one worker, the suite ends when its last file does: started first, a
# long file runs beside the many short ones instead of alone at the end. The third-party clients come first because
# on an empty cache (a fresh CI machine) they install packages for about 80 s. A file missing here only runs in
# collection order; nothing else depends on this list.
LONGEST_FIRST = (
    "tests/test_third_party_clients.py",
    "notebooks/11_batches_at_scale.ipynb",
    "tests/test_production_versions.py",
    "notebooks/05_async_and_concurrency.ipynb",
    "tests/test_offline_hostile.py",
    "tests/browser/test_chat_widget_browser.py",
    "notebooks/12_testing_your_integration.ipynb",
    "tests/test_pytest_plugin.py",
    "tests/test_offline_faults.py",
    "notebooks/09_fastapi_backend.ipynb",
    "notebooks/04_streaming.ipynb",
    "tests/test_offline_memory.py",
    "notebooks/06_retries_and_errors.ipynb",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the files of `LONGEST_FIRST` first, in its order; every file's own items keep their order (a notebook's
    cells run top to bottom). The parallel run hands out files in this order (`--no-loadscope-reorder`)."""
    rank = {config.rootpath / path: position for position, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path, len(rank)))
