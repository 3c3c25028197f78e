"""Hygiene of the lessons and the tree: the shared notebook template, offline outputs, no secrets.

Every lesson opens and closes the same way (LESSONS.md rules, summarised in the README), starts with the same setup
cell, types no model id, installs nothing, and is committed with the outputs of one clean offline run. Each rule is a
function that returns the problems it finds in a notebook (an empty list when the lesson follows it); the tests at
the end run every rule on small synthetic notebooks, one that follows it and one that breaks it, so that a rule that
cannot fail is itself a failing test.
"""

import ast
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
PRODUCTION = "Production version"
CLOSING = ["Recap", PRODUCTION, "Production checklist", "Exercises", "API reference", "Next"]
FIRST_WITH_PRODUCTION = 2  # lessons 00 and 01 may end without a Production version
MAX_CELL_LINES = 20  # a lesson's code cell, except the Production version's
MAX_TRACEBACK_LINES = 15
DOCS = re.compile(r"^https://(?:platform\.claude\.com/docs/|docs\.claude\.com/)")
CHECKER = re.compile(r"^# Check exercise (\d+)\b")
CHECKER_VERDICT = r"^exercise {n}: (?:not yet: \S.*|correct)$"
OFFLINE_ONLY = re.compile(r"^# Offline only: \S")
FIRST_BLOCK = re.compile(r"content\s*\[\s*0\s*\]")
# What only one machine has: a home directory, an installation, a temporary file (Linux, macOS, Windows), or an
# absolute path into a checkout of this project (a traceback through helpers/ names where the repo was cloned).
MACHINE_PATH = re.compile(r"/root/|/home/|/Users/|[A-Za-z]:\\Users\\|site-packages|\.venv/|/tmp/|/var/folders/"
                          r"|(?<![\w.:/])/(?:[\w.-]+/)+(?:helpers|notebooks|tests)/")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
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


def text_outputs(cell) -> str:
    """Everything a reader sees as text in a cell's outputs: streams, text/* data, error names, messages and
    tracebacks (ANSI colours removed). Images and widget state are left out (base64 is not text)."""
    texts = []
    for output in cell.get("outputs", []):
        texts.append(output.get("text", ""))
        texts.extend(value for mime, value in output.get("data", {}).items()
                     if mime.startswith("text/") and isinstance(value, str))
        if output.output_type == "error":
            texts += [output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])]
    return ANSI.sub("", "\n".join(texts))


def cells_by_section(nb) -> list[tuple[str | None, nbformat.NotebookNode]]:
    """Each cell with the `## ` heading it sits under (None before the first); a markdown cell that holds a
    heading belongs to its last heading."""
    current, result = None, []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = re.findall(r"^## (.+?)[ \t]*$", markdown([cell]), flags=re.MULTILINE)
            current = headings[-1] if headings else current
        result.append((current, cell))
    return result


def section_cells(nb, heading: str, cell_type: str) -> list[nbformat.NotebookNode]:
    return [cell for under, cell in cells_by_section(nb) if under == heading and cell.cell_type == cell_type]


def is_production_cell(nb, cell) -> bool:
    return any(cell is candidate for candidate in section_cells(nb, PRODUCTION, "code"))


def production_source(nb) -> str | None:
    """The source of the one code cell under `## Production version`, or None (no such section, or not one cell)."""
    cells = section_cells(nb, PRODUCTION, "code")
    return cells[0].source if len(cells) == 1 else None


def closing_problems(nb, number: int, next_name: str) -> list[str]:
    """The closing sections, in order; solutions folded; the docs linked; the next lesson linked."""
    found = sections(nb)
    headings = [heading for heading, _ in found]
    expected = CLOSING
    if number < FIRST_WITH_PRODUCTION and PRODUCTION not in headings:
        expected = [heading for heading in CLOSING if heading != PRODUCTION]
    last = headings[-len(expected):]
    if last != expected:
        return [f"the last level-2 headings must be {expected}, not {last}"]
    bodies = dict(found)
    problems = []
    if "<details>" not in bodies["Exercises"]:
        problems.append("## Exercises needs its solutions folded in <details><summary>Solutions</summary>")
    if not any(DOCS.match(target) for target in links(bodies["API reference"])):
        problems.append("## API reference needs a link to https://platform.claude.com/docs/en/...")
    if next_name not in links(bodies["Next"]):
        problems.append(f"## Next should link to {next_name}")
    return problems


def production_problems(nb) -> list[str]:
    """Exactly one code cell under `## Production version` (when the lesson has one)."""
    if PRODUCTION not in [heading for heading, _ in sections(nb)]:
        return []
    count = len(section_cells(nb, PRODUCTION, "code"))
    return [] if count == 1 else [f"## Production version has {count} code cells, not exactly one"]


def solution_lines(nb) -> list[str]:
    """The code lines of the fenced blocks inside `<details>` in ## Exercises, stripped; only lines specific
    enough to give an answer away (10 characters or more, not a comment, not only brackets)."""
    raw = "\n".join(cell.source for cell in section_cells(nb, "Exercises", "markdown"))
    lines, inside = [], False
    for block in re.findall(r"<details>(.*?)</details>", raw, flags=re.DOTALL):
        for line in block.splitlines():
            stripped = line.strip()
            if "```" in stripped:
                inside = not inside
            elif inside and len(stripped) >= 10 and not stripped.startswith("#") and re.search(r"\w", stripped):
                lines.append(stripped)
    return lines


def exercise_problems(nb) -> list[str]:
    """Each numbered exercise N has a `# Check exercise N` cell in ## Exercises that prints
    `exercise N: not yet: <hint>` or `exercise N: correct`, and no checker's output gives a solution's code away."""
    if "Exercises" not in [heading for heading, _ in sections(nb)]:
        return ["no ## Exercises section"]
    listed = re.sub(r"<details>.*?</details>", "", markdown(section_cells(nb, "Exercises", "markdown")),
                    flags=re.DOTALL)
    numbers = [int(n) for n in re.findall(r"^(\d+)\.\s", listed, flags=re.MULTILINE)]
    if not numbers:
        return ["## Exercises has no numbered exercise"]
    checkers: dict[int, list] = {}
    for cell in section_cells(nb, "Exercises", "code"):
        if match := CHECKER.match(cell.source):
            checkers.setdefault(int(match[1]), []).append(cell)
    problems = [f"exercise {n} has no code cell starting `# Check exercise {n}` in ## Exercises"
                for n in numbers if n not in checkers]
    problems += [f"`# Check exercise {n}` checks no numbered exercise" for n in checkers if n not in numbers]
    problems += [f"{len(cells)} cells start `# Check exercise {n}`" for n, cells in checkers.items() if len(cells) > 1]
    secrets = solution_lines(nb)
    for n, cells in sorted(checkers.items()):
        for cell in cells:
            text = text_outputs(cell)
            if not re.search(CHECKER_VERDICT.format(n=n), text, flags=re.MULTILINE):
                problems.append(f"the checker of exercise {n} must print `exercise {n}: not yet: <hint>` "
                                f"or `exercise {n}: correct`, printed {text[:120]!r}")
            problems += [f"the checker of exercise {n} prints a solution's line: {line!r}"
                         for line in secrets if line in text]
    return problems


def first_block_problems(nb) -> list[str]:
    """No code cell reads `content[0]`: a reply's first block need not be text (or exist)."""
    return [f"code cell {index} reads content[0]; join the text blocks or use the helper the series taught"
            for index, cell in enumerate(code_cells(nb)) if FIRST_BLOCK.search(cell.source)]


def length_problems(nb) -> list[str]:
    """No code cell over MAX_CELL_LINES lines, except the Production version's."""
    return [f"code cell {index} has {lines} lines (at most {MAX_CELL_LINES})"
            for index, cell in enumerate(code_cells(nb))
            if (lines := len(cell.source.rstrip().splitlines())) > MAX_CELL_LINES and not is_production_cell(nb, cell)]


SERVER_USE = re.compile(r"\bsettings\.server\.\w")  # an attribute of the offline Claude: its log, a fault, ...


def is_server(node: ast.AST) -> bool:
    """`settings.server` itself."""
    return (isinstance(node, ast.Attribute) and node.attr == "server" and isinstance(node.value, ast.Name)
            and node.value.id == "settings")


def mentions_server(node: ast.AST) -> bool:
    return any(is_server(sub) for sub in ast.walk(node))


def unguarded_server_use(node: ast.AST, guarded: bool = False) -> list[int]:
    """Lines where `settings.server.<anything>` is reached without a guard that tests `settings.server` (the body of
    an `if`/conditional expression on it, or what follows it in an `and`); in live mode it is None and those lines
    raise. Functions and classes defined in the cell are skipped: they run only when called."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
        return []
    if isinstance(node, ast.Attribute) and is_server(node.value):
        return [] if guarded else [node.lineno]
    if isinstance(node, ast.If | ast.IfExp) and mentions_server(node.test):
        body = node.body if isinstance(node.body, list) else [node.body]
        orelse = node.orelse if isinstance(node.orelse, list) else [node.orelse]
        return [*unguarded_server_use(node.test, guarded),
                *(line for child in body for line in unguarded_server_use(child, True)),
                *(line for child in orelse for line in unguarded_server_use(child, guarded))]
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        lines, safe = [], guarded
        for value in node.values:
            lines += unguarded_server_use(value, safe)
            safe = safe or mentions_server(value)
        return lines
    return [line for child in ast.iter_child_nodes(node) for line in unguarded_server_use(child, guarded)]


def offline_only_problems(nb) -> list[str]:
    """A cell that uses the offline Claude (`settings.server.<something>`: a fault, a scripted reply, its log) is
    offline-only: it starts with `# Offline only: <what it does>` and does nothing in live mode, where
    `settings.server` is None (every use sits under `if settings.server:`). A cell that only tests `settings.server`
    to choose a size (`20 if settings.server else 3`) runs in both modes and is not offline-only."""
    problems = []
    for index, cell in enumerate(code_cells(nb)):
        if not SERVER_USE.search(cell.source):
            continue
        if not OFFLINE_ONLY.match(cell.source):
            problems.append(f"code cell {index} uses settings.server but does not start with "
                            "`# Offline only: <what it does>`")
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # IPython syntax (a magic): nothing to say about its guards
        problems += [f"code cell {index} line {line} uses settings.server outside `if settings.server:`"
                     for line in sorted(set(unguarded_server_use(tree)))]
    return problems


def output_problems(nb) -> list[str]:
    """No machine's path in any output; no traceback (error output or one printed to stderr) over 15 lines."""
    problems = []
    for index, cell in enumerate(code_cells(nb)):
        if match := MACHINE_PATH.search(text := text_outputs(cell)):
            line = next(line for line in text.splitlines() if match[0] in line)
            problems.append(f"code cell {index} shows a machine's path ({match[0]!r}): {line.strip()[:160]!r}")
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                lines = len(ANSI.sub("", "\n".join(output.get("traceback", []))).splitlines())
            elif output.output_type == "stream" and "Traceback (most recent call last)" in output.get("text", ""):
                lines = len(output.text[output.text.index("Traceback (most recent call last)"):].splitlines())
            else:
                continue
            if lines > MAX_TRACEBACK_LINES:
                problems.append(f"code cell {index} shows a traceback of {lines} lines (at most {MAX_TRACEBACK_LINES})")
    return problems


def next_target(path: Path) -> str:
    index = PATHS.index(path)
    return PATHS[index + 1].name if index + 1 < len(PATHS) else "../README.md"


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
    assert closing_problems(read(path), int(path.name[:2]), next_target(path)) == []


@needs_notebooks
@each_notebook
def test_production_version_is_one_code_cell(path):
    assert production_problems(read(path)) == []


@needs_notebooks
@each_notebook
def test_every_exercise_has_a_checker_that_gives_nothing_away(path):
    assert exercise_problems(read(path)) == []


@needs_notebooks
@each_notebook
def test_no_code_cell_reads_the_first_block(path):
    assert first_block_problems(read(path)) == []


@needs_notebooks
@each_notebook
def test_code_cells_are_short(path):
    assert length_problems(read(path)) == []


@needs_notebooks
@each_notebook
def test_offline_only_cells_say_so(path):
    assert offline_only_problems(read(path)) == []


@needs_notebooks
@each_notebook
def test_outputs_show_no_machine_path_and_no_long_traceback(path):
    assert output_problems(read(path)) == []


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


# -- the rules themselves, on synthetic lessons -----------------------------------------------------------------------

GOOD_PRODUCTION = "\n".join([
    '"""Ask Claude one question."""',
    "import os",
    "",
    "from anthropic import Anthropic",
    "",
    "from helpers.settings import default_model",
    "",
    'MODEL = os.environ.get("CLAUDE_MODEL") or default_model()',
    "",
    "",
    "def ask(client: Anthropic, question: str) -> str:",
    '    """The text of Claude\'s answer to one question."""',
    "    reply = client.messages.create(",
    "        model=MODEL,",
    "        max_tokens=200,",
    '        messages=[{"role": "user", "content": question}],',
    "    )",
    '    return "".join(block.text for block in reply.content if block.type == "text")',
    "",
    "",
    'if __name__ == "__main__":',
    "    client = Anthropic()",
    '    for question in ["Hello", "What is 2 + 2?"]:',
    "        print(ask(client, question))",
])  # 24 lines: allowed in the Production version cell only


def stdout(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def synthetic_lesson(number: int = 2) -> nbformat.NotebookNode:
    """A small lesson that follows every rule above."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md("# A lesson\n\nWhy it matters.\n\n**You will learn**\n\n- one\n- two\n- three\n\n"
           "**Before you start**: [01](01_basic_call.ipynb)"),
        code(SETUP_SOURCE, outputs=[stdout("Claude API: offline · model m · base URL http://127.0.0.1:4 · key k\n")]),
        md("## 1. A call"),
        code("# Offline only: the next request fails with a 500\n"
             "if settings.server:\n    settings.server.fail_next(500)"),
        code('from anthropic import Anthropic\n\nclient = Anthropic()\n'
             'reply = client.messages.create(model=settings.model, max_tokens=50, '
             'messages=[{"role": "user", "content": "Hi"}])\n'
             'print("".join(b.text for b in reply.content if b.type == "text"))', outputs=[stdout("Hello!\n")]),
        code("client.messages.create(model=settings.model, max_tokens=0, messages=[])",
             outputs=[nbformat.v4.new_output("error", ename="BadRequestError", evalue="Error code: 400",
                                             traceback=["\x1b[31mBadRequestError\x1b[39m: Error code: 400"])]),
        md("## Recap\n\n- A call."),
        md("## Production version\n\nPaste this into a module:"),
        code(GOOD_PRODUCTION, outputs=[stdout("Hello!\n4\n")]),
        md("## Production checklist\n\n- [ ] Set a timeout."),
        md("## Exercises\n\n1. Write `double(x)`.\n2. Set `greeting` to a greeting for Ada."),
        code("def double(x):\n    pass  # your answer here\n\n\ngreeting = None  # your answer here"),
        code("# Check exercise 1\nprint('exercise 1: ' + ('correct' if double(2) == 4 else 'not yet: double(2) is 4'))",
             outputs=[stdout("exercise 1: not yet: double(2) is 4\n")]),
        code("# Check exercise 2\nprint('exercise 2: ' + ('correct' if greeting else 'not yet: greeting is None'))",
             outputs=[stdout("exercise 2: not yet: greeting is None\n")]),
        md('<details><summary>Solutions</summary>\n\n1. ```python\n   def double(x):\n       return 2 * x\n   ```\n'
           '2. ```python\n   greeting = "Hello, Ada"\n   ```\n\n</details>'),
        md("## API reference\n\n- [Messages](https://platform.claude.com/docs/en/api/messages)"),
        md(f"## Next\n\n[Next lesson]({number + 1:02d}_next.ipynb)"),
    ]
    cells[5].metadata["tags"] = ["raises-exception"]
    for count, cell in enumerate((cell for cell in cells if cell.cell_type == "code"), start=1):
        cell.execution_count = count
    nb = nbformat.v4.new_notebook(cells=cells)
    nbformat.validate(nb)
    return nb


def all_problems(nb, number: int = 2) -> list[str]:
    return [
        *closing_problems(nb, number, f"{number + 1:02d}_next.ipynb"), *production_problems(nb),
        *exercise_problems(nb), *first_block_problems(nb), *length_problems(nb), *offline_only_problems(nb),
        *output_problems(nb),
    ]


def written_and_read(nb, tmp_path: Path) -> nbformat.NotebookNode:
    path = tmp_path / "02_synthetic.ipynb"
    nbformat.write(nb, path)
    return read(path)


def cell_under(nb, heading: str, index: int = 0, cell_type: str = "code") -> nbformat.NotebookNode:
    return section_cells(nb, heading, cell_type)[index]


def test_a_lesson_that_follows_the_rules_passes_them(tmp_path):
    nb = written_and_read(synthetic_lesson(), tmp_path)
    assert all_problems(nb) == []
    assert production_source(nb) == GOOD_PRODUCTION
    assert solution_lines(nb) == ["def double(x):", "return 2 * x", 'greeting = "Hello, Ada"']


def test_lessons_00_and_01_may_close_without_a_production_version(tmp_path):
    nb = synthetic_lesson(number=1)
    start = next(i for i, cell in enumerate(nb.cells) if cell.source.startswith("## Production version"))
    del nb.cells[start:start + 2]
    nb = written_and_read(nb, tmp_path)
    assert closing_problems(nb, 1, "02_next.ipynb") == []
    assert closing_problems(nb, 2, "02_next.ipynb") == [
        f"the last level-2 headings must be {CLOSING}, not "
        "['1. A call', 'Recap', 'Production checklist', 'Exercises', 'API reference', 'Next']"]


def drop_heading(heading: str):
    def change(nb):
        start = next(i for i, cell in enumerate(nb.cells) if cell.source.startswith(f"## {heading}"))
        nb.cells[start].source = nb.cells[start].source.replace(f"## {heading}", heading)
    return change


def swap_closing(nb):
    first = next(i for i, cell in enumerate(nb.cells) if cell.source.startswith("## API reference"))
    nb.cells[first], nb.cells[first + 1] = nb.cells[first + 1], nb.cells[first]


def add_production_cell(nb):
    start = next(i for i, cell in enumerate(nb.cells) if cell.source.startswith("## Production version"))
    nb.cells.insert(start + 1, nbformat.v4.new_code_cell("print('one more')"))


def set_source(heading: str, index: int, source: str, cell_type: str = "code"):
    def change(nb):
        cell_under(nb, heading, index, cell_type).source = source
    return change


def set_output(heading: str, index: int, output: nbformat.NotebookNode):
    def change(nb):
        cell_under(nb, heading, index).outputs = [output]
    return change


LONG_TRACEBACK = nbformat.v4.new_output(
    "error", ename="APIConnectionError", evalue="Connection error.",
    traceback=[f"  File \"<cell>\", line {n}, in frame_{n}" for n in range(16)])
STDERR_TRACEBACK = nbformat.v4.new_output(
    "stream", name="stderr", text="Traceback (most recent call last):\n" + "  frame\n" * 15 + "ValueError: x\n")
BROKEN = {
    "closing order": (swap_closing, "the last level-2 headings must be"),
    "no Production version": (drop_heading("Production version"), "the last level-2 headings must be"),
    "no API reference": (drop_heading("API reference"), "the last level-2 headings must be"),
    "two Production cells": (add_production_cell, "## Production version has 2 code cells"),
    "no docs link": (set_source("API reference", 0, "## API reference\n\n- [SDK](https://github.com/anthropics/)",
                                "markdown"), "## API reference needs a link"),
    "no solutions": (set_source("Exercises", 1, "Solutions: ask a friend.", "markdown"), "solutions folded"),
    "wrong next": (set_source("Next", 0, "## Next\n\n[README](../README.md)", "markdown"), "## Next should link"),
    "exercise without checker": (set_source("Exercises", 2, "print('exercise 2: correct')"),
                                 "exercise 2 has no code cell starting `# Check exercise 2`"),
    "checker of no exercise": (set_source("Exercises", 2, "# Check exercise 3\nprint('exercise 2: correct')"),
                               "`# Check exercise 3` checks no numbered exercise"),
    "checker gives the answer": (set_output("Exercises", 2, stdout('exercise 2: not yet: greeting = "Hello, Ada"\n')),
                                 "prints a solution's line: 'greeting = \"Hello, Ada\"'"),
    "checker returns instead of printing": (set_output("Exercises", 1, nbformat.v4.new_output(
        "execute_result", data={"text/plain": "'exercise 1: correct'"}, execution_count=7)),
        "the checker of exercise 1 must print"),
    "content[0]": (set_source("1. A call", 1, "print(reply.content[0].text)"), "code cell 2 reads content[0]"),
    "long cell": (set_source("1. A call", 1, "\n".join(f"x{n} = {n}" for n in range(21))),
                  "code cell 2 has 21 lines (at most 20)"),
    "unmarked offline-only cell": (set_source("1. A call", 0, "settings.server.fail_next(500)"),
                                   "code cell 1 uses settings.server but does not start with `# Offline only:"),
    "offline-only cell that acts live": (set_source("1. A call", 0, "# Offline only: the log\nrecords = "
                                                  "settings.server.requests\nif settings.server:\n    print(1)"),
                                         "code cell 1 line 2 uses settings.server outside `if settings.server:`"),
    "home directory in a warning": (set_output("1. A call", 1, nbformat.v4.new_output(
        "stream", name="stderr", text="/home/ada/project/.venv/lib/python3.11/site-packages/x.py:1: UserWarning\n")),
        "code cell 2 shows a machine's path ('/home/'"),
    "temporary file in a result": (set_output("1. A call", 1, nbformat.v4.new_output(
        "execute_result", data={"text/plain": "PosixPath('/tmp/tmpab12/out.json')"}, execution_count=3)),
        "code cell 2 shows a machine's path ('/tmp/'"),
    "checkout path in a traceback": (set_output("1. A call", 2, nbformat.v4.new_output(
        "error", ename="ValueError", evalue="blank", traceback=["File /srv/guide/helpers/conversation.py:92, in ask"])),
        "code cell 3 shows a machine's path ('/srv/guide/helpers/'"),
    "long traceback": (set_output("1. A call", 2, LONG_TRACEBACK), "code cell 3 shows a traceback of 16 lines"),
    "long traceback on stderr": (set_output("1. A call", 1, STDERR_TRACEBACK),
                                 "code cell 2 shows a traceback of 17 lines"),
}


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_a_lesson_that_breaks_a_rule_fails_it(broken, tmp_path):
    change, expected = BROKEN[broken]
    nb = synthetic_lesson()
    change(nb)
    problems = all_problems(written_and_read(nb, tmp_path))
    assert [problem for problem in problems if expected in problem], problems


GUARDED = {  # (guarded, the same without its guard)
    "a function it defines": ("def show_log():\n    print([r.status for r in settings.server.requests])\n\n\n"
                              "if settings.server is not None:\n    settings.server.clear_requests()",
                              "print([r.status for r in settings.server.requests])\n\n\n"
                              "if settings.server is not None:\n    settings.server.clear_requests()"),
    "a conditional expression": ("log = settings.server.requests if settings.server else []\nprint(len(log))",
                                 "log = settings.server.requests\nprint(len(log))"),
    "an and": ("print(settings.server and len(settings.server.requests))",
               "print(settings.server or len(settings.server.requests))"),
    "an if with an else": ("if settings.server:\n    settings.server.clear_requests()\nelse:\n    print('live')",
                           "if settings.server:\n    print('offline')\nelse:\n    settings.server.clear_requests()"),
}


@pytest.mark.parametrize("guard", GUARDED, ids=list(GUARDED))
def test_an_offline_only_cell_guards_its_server_use_with(guard, tmp_path):
    guarded, unguarded = GUARDED[guard]
    nb = synthetic_lesson()
    cell_under(nb, "1. A call", 0).source = f"# Offline only: the server's log\n{guarded}"
    assert offline_only_problems(written_and_read(nb, tmp_path)) == []
    cell_under(nb, "1. A call", 0).source = f"# Offline only: the server's log\n{unguarded}"
    [problem] = offline_only_problems(written_and_read(nb, tmp_path))
    assert re.fullmatch(r"code cell 1 line \d uses settings.server outside `if settings.server:`", problem)


def test_a_cell_that_only_tests_the_mode_to_shrink_live_is_not_offline_only(tmp_path):
    nb = synthetic_lesson()
    cell_under(nb, "1. A call", 1).source = 'questions = ["Hi"] * (20 if settings.server else 3)  # live: 3 requests'
    assert offline_only_problems(written_and_read(nb, tmp_path)) == []
    cell_under(nb, "1. A call", 1).source = 'questions = ["Hi"] * (20 if settings.server.requests else 3)'
    assert offline_only_problems(written_and_read(nb, tmp_path)) == [
        "code cell 2 uses settings.server but does not start with `# Offline only: <what it does>`",
        "code cell 2 line 1 uses settings.server outside `if settings.server:`"]


def test_a_long_production_version_is_allowed_but_not_elsewhere(tmp_path):
    nb = synthetic_lesson()
    assert len(GOOD_PRODUCTION.splitlines()) > MAX_CELL_LINES
    cell_under(nb, "1. A call", 1).source = GOOD_PRODUCTION
    assert length_problems(written_and_read(nb, tmp_path)) == ["code cell 2 has 24 lines (at most 20)"]
