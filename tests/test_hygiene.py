"""Hygiene of the lessons and the tree: the shared notebook template, offline outputs, no secrets.

Every lesson opens and closes the same way (see the README), starts with the same setup cell, types
no model id, installs nothing, and is committed with the outputs of one clean offline run.
"""

import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from helpers.settings import sdk_models

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
PATHS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
SETUP_SOURCE = "from helpers import setup\n\nsettings = setup()"
CLOSING = ["Recap", "Production checklist", "Exercises", "Next"]
MODEL_ID = re.compile(r"claude-(?:opus|sonnet|haiku|fable|mythos|instant)[-\w.]*|claude-\d[-\w.]*")
PIP = re.compile(r"^\s*[%!]\s*(?:uv\s+)?pip\b", re.MULTILINE)
URL = re.compile(r"https?://[^\s'\"<>)]+")
SECRETS = {
    "Anthropic API or admin key": re.compile(r"sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{20,}"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "private key block": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
SKIPPED_DIRS = {
    ".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".ipynb_checkpoints",
}

needs_notebooks = pytest.mark.skipif(not PATHS, reason="no lesson notebooks in notebooks/ yet")
each_notebook = pytest.mark.parametrize("path", PATHS or [None], ids=lambda p: p.name if p else "none")


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def markdown(cells) -> str:
    """The markdown of these cells, fenced code blocks removed (a `# comment` there is not a heading)."""
    text = "\n\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.MULTILINE | re.DOTALL)


def sections(nb) -> list[tuple[str, str]]:
    """The `## ` sections of a notebook, in order, as (heading, body)."""
    parts = re.split(r"^## (.+?)[ \t]*$", markdown(nb.cells), flags=re.MULTILINE)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def links(text: str) -> list[str]:
    """Targets of the markdown links in text, without a #fragment."""
    return [target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", text)]


def title(nb) -> str:
    return nb.cells[0].source.splitlines()[0].removeprefix("# ").strip()


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def outputs_text(cell) -> str:
    texts = []
    for output in cell.outputs:
        texts.append(output.get("text", ""))
        texts.extend(value for value in output.get("data", {}).values() if isinstance(value, str))
    return "".join(texts)


@needs_notebooks
def test_names_are_numbered_from_00_without_gaps():
    names = [path.name for path in PATHS]
    assert [name for name in names if not NAME.match(name)] == []
    assert [int(name[:2]) for name in names] == list(range(len(names)))


@needs_notebooks
@each_notebook
def test_opening(path):
    nb = read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "the first cell: a # title"
    assert len(re.findall(r"^# ", markdown(nb.cells), flags=re.MULTILINE)) == 1, "exactly one H1"
    first_code = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    lines = markdown(nb.cells[:first_code]).splitlines()
    learn = re.compile(r"^(?:\*\*You will learn:?\*\*:?|#{2,6} You will learn:?)\s*$")
    start = next((i for i, line in enumerate(lines) if learn.match(line)), None)
    assert start is not None, "the opening needs **You will learn** before the first code cell"
    bullets = 0
    for line in lines[start + 1:]:
        if re.match(r"^[-*] \S", line):
            bullets += 1
        elif line.strip() and not line[:1].isspace():
            break
    assert bullets == 3, f"**You will learn** has {bullets} bullets, not 3"
    before = re.compile(r"^(?:\*\*Before you start:?\*\*|#{2,6} Before you start)")
    assert any(before.match(line) for line in lines[start:]), "**Before you start** must follow"
    if (number := int(path.name[:2])) > 0:
        previous = PATHS[number - 1].name
        assert previous in links("\n".join(lines)), f"the opening should link to {previous}"


@needs_notebooks
@each_notebook
def test_setup_cell_is_identical_and_ran_offline(path):
    cell = code_cells(read(path))[0]
    assert cell.source == SETUP_SOURCE
    text = outputs_text(cell)
    assert text.startswith("Claude API: offline"), f"outputs must come from an offline run, got {text!r}"
    assert all(re.match(r"https?://(?:127\.0\.0\.1|localhost)[:/]", url) for url in URL.findall(text)), text


@needs_notebooks
@each_notebook
def test_closing_sections(path):
    found = sections(read(path))
    assert [heading for heading, _ in found][-len(CLOSING):] == CLOSING
    bodies = dict(found)
    assert "<details>" in bodies["Exercises"], "exercises need a solution folded in <details>"
    index = PATHS.index(path)
    expected = PATHS[index + 1].name if index + 1 < len(PATHS) else "../README.md"
    assert expected in links(bodies["Next"]), f"## Next should link to {expected}"


@needs_notebooks
@each_notebook
def test_relative_links_resolve(path):
    targets = [t for t in links(markdown(read(path).cells)) if t and not re.match(r"^[a-z]+:", t)]
    assert [t for t in targets if not (path.parent / t).exists()] == []


@needs_notebooks
@each_notebook
def test_code_cells_type_no_model_id_and_install_nothing(path):
    known, deprecated = sdk_models()
    for index, cell in enumerate(code_cells(read(path))):
        assert not MODEL_ID.search(cell.source), f"code cell {index} types a model id; use settings.model"
        assert not [name for name in (*known, *deprecated) if name in cell.source], f"code cell {index}"
        assert not PIP.search(cell.source), f"code cell {index} installs packages; that is the README's job"


@needs_notebooks
@each_notebook
def test_outputs_come_from_one_clean_run(path):
    counts = [cell.execution_count for cell in code_cells(read(path))]
    assert counts == list(range(1, len(counts) + 1)), "re-run with `make outputs`"


@needs_notebooks
def test_readme_lists_every_lesson_in_order():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|\s*(\d\d)\s*\|\s*\[([^\]]+)\]\((notebooks/[^)\s]+)\)\s*\|", readme, re.MULTILINE)
    assert rows == [(path.name[:2], title(read(path)), f"notebooks/{path.name}") for path in PATHS]
    local = [t for t in links(readme) if t and not re.match(r"^[a-z]+:", t)]
    assert [t for t in local if not (ROOT / t).exists()] == []


def repo_files() -> list[Path]:
    """Tracked and untracked files, without what git ignores (such as your .env)."""
    if shutil.which("git") and (ROOT / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout.decode()
        return [ROOT / name for name in listed.split("\0") if name]
    return [
        path for path in ROOT.rglob("*")
        if path.is_file() and path.name != ".env" and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)
    ]


def test_no_secret_looking_string_in_the_tree():
    found = []
    for path in repo_files():
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{path.relative_to(ROOT)}: {kind}" for kind, rx in SECRETS.items() if rx.search(text)]
    assert found == []


def test_dotenv_is_ignored_and_its_example_is_not():
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    example = subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=ROOT)
    assert (ignored.returncode, example.returncode) == (0, 1)


def test_env_example_holds_no_values():
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    assignments = [line for line in lines if re.match(r"^#?\s*[A-Z_]+=", line)]
    assert assignments and all(line.rstrip().endswith("=") for line in assignments)
