"""Run the lesson notebooks offline, top to bottom, and store their outputs.

This is the only way outputs get into the repository, so that every committed output comes from one
clean offline run that nbval can reproduce. From the repo root:

    make outputs                                   # every notebook in notebooks/
    .venv/bin/python tests/make_outputs.py notebooks/01_basic_call.ipynb

Each notebook runs in a fresh kernel whose environment has CLAUDE_OFFLINE=1 and no API key. A notebook
is written back only if every cell succeeded, except cells tagged `raises-exception`, which must fail.
Then consecutive stream outputs are merged (a streamed reply is one stdout block, as Jupyter shows it),
and it is normalised the way `nbstripout --keep-output --keep-count` does it: outputs and execution
counts stay; widget state, per-cell timings and editor state go; cell ids are renumbered from 0.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert.preprocessors.coalescestreams import CoalesceStreamsPreprocessor
from nbstripout import strip_output

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# The metadata `nbstripout` removes by default (it has no public constant for this list).
NOISE_KEYS = [
    "metadata.signature",
    "metadata.widgets",
    "cell.metadata.collapsed",
    "cell.metadata.ExecuteTime",
    "cell.metadata.execution",
    "cell.metadata.heading_collapsed",
    "cell.metadata.hidden",
    "cell.metadata.scrolled",
]


def offline_environment() -> None:
    """Make the kernels this process starts offline, whatever the caller's environment or `.env` says."""
    os.environ["CLAUDE_OFFLINE"] = "1"
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        os.environ.pop(name, None)


def unraised(nb: nbformat.NotebookNode) -> list[int]:
    """Indexes of cells tagged `raises-exception` that did not raise."""
    return [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and "raises-exception" in cell.metadata.get("tags", [])
        and not any(output.output_type == "error" for output in cell.outputs)
    ]


def run(path: Path) -> bool:
    """Execute one notebook and write it back normalised; return False (writing nothing) on failure."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        store_widget_state=False,
        timeout=600,
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        print(f"{path.name}: a cell failed, not written\n{error}", file=sys.stderr)
        return False
    elapsed = time.perf_counter() - started
    if missing := unraised(nb):
        print(f"{path.name}: cells {missing} are tagged raises-exception but did not raise, not written",
              file=sys.stderr)
        return False
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})  # one stdout block per cell, as Jupyter shows it
    strip_output(nb, keep_output=True, keep_count=True, keep_id=False, extra_keys=NOISE_KEYS)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    print(f"{path.name}  {elapsed:.1f} s")
    return True


def main(argv: list[str]) -> int:
    paths = [Path(arg).resolve() for arg in argv] or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        print(f"No notebooks in {NOTEBOOKS}", file=sys.stderr)
        return 1
    offline_environment()
    results = [run(path) for path in paths]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
