"""Shared pytest configuration.

The whole suite runs offline: CLAUDE_OFFLINE=1 is set at import, before any test or notebook
kernel starts (nbval kernels inherit this environment), so even a key in `.env` is never used.
Fixtures that start the offline Claude live in the test modules that use them.
"""

import os

os.environ["CLAUDE_OFFLINE"] = "1"
