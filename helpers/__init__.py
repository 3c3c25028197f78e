"""The helpers the field guide's notebooks import.

`setup()` (taught in `00_setup_and_security.ipynb`) is the one call that touches the environment:
it chooses between the real Claude API and the offline Claude, a local server that speaks the
Messages API. The other modules are the production versions of what the lessons build, written
to be copied into real code. Importing this package starts nothing.
"""

from helpers.settings import Settings, setup

__all__ = ["Settings", "setup"]
