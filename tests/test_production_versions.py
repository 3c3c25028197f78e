"""Each lesson's Production version runs on its own, as a script, in live mode.

The one code cell under `## Production version` is what a team pastes into a module, so it must stand alone: it
defines or imports every name it uses, runs its coroutines with `asyncio.run(...)` (no top-level `await`), never
imports `helpers.setup` or `helpers.offline` (production code has no offline switch), and finishes quickly printing
something. Here it is written to a `.py` file in a temporary directory outside the repository and run with this
interpreter against one offline Claude started as its own process (`python -m helpers.offline`), in live mode: a
real-looking key, `ANTHROPIC_BASE_URL` set, `CLAUDE_OFFLINE` unset. Synthetic cells at the end show that each check
fails a cell that breaks its rule.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import os
import subprocess
import symtable
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from live_sim import LIVE_LOOKING_KEY  # sk-ant-api03- and 86 characters, as live mode expects
from test_hygiene import PATHS, production_source

from tests.standalone import standalone_offline_claude

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 120
MODULE_GLOBALS = {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__",
                  "__annotations__", "__cached__"}
FORBIDDEN_MODULES = ("helpers.offline", "helpers.setup")  # `setup` is a function of helpers (helpers.settings)

LESSONS = [(path, source) for path in PATHS if (source := production_source(nbformat.read(path, as_version=4)))]


def undefined_names(source: str) -> list[str]:
    """Names the code reads that it neither defines (at module level, or `global` in a function) nor imports, and
    that are not builtins: the names a cell would take from an earlier cell of the notebook."""
    module = symtable.symtable(source, "<production version>", "exec")
    defined = set(dir(builtins)) | MODULE_GLOBALS
    defined |= {s.get_name() for s in module.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    tables, read = [module], []
    while tables:
        table = tables.pop()
        tables += table.get_children()
        for symbol in table.get_symbols():
            if symbol.is_declared_global() and symbol.is_assigned():
                defined.add(symbol.get_name())
            elif symbol.is_referenced() and symbol.is_global():
                read.append(symbol.get_name())
    return sorted({name for name in read if name not in defined})


class TopLevelAwait(ast.NodeVisitor):
    """Finds `await`, `async for` and `async with` outside any function (a notebook runs them; a script cannot)."""

    def __init__(self) -> None:
        self.lines: list[int] = []

    def visit_FunctionDef(self, node: ast.AST) -> None:
        pass  # inside a function, async or not, is not top level

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_Await(self, node: ast.AST) -> None:
        self.lines.append(node.lineno)

    visit_AsyncFor = visit_AsyncWith = visit_Await

    def visit_comprehension(self, node: ast.comprehension) -> None:
        if node.is_async:
            self.lines.append(node.target.lineno)
        self.generic_visit(node)


def forbidden_imports(tree: ast.AST) -> list[str]:
    """`helpers.setup` or `helpers.offline` imported (or read as `helpers.setup`/`helpers.offline`), with the line."""
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if node.module == "helpers.settings":
                names += [f"helpers.{alias.name}" for alias in node.names]  # helpers.settings.setup is helpers.setup
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "helpers":
            names = [f"helpers.{node.attr}"]
        found += [f"line {node.lineno}: {name}" for name in names
                  if any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN_MODULES)]
    return found


def static_problems(source: str) -> list[str]:
    """What keeps the cell from standing alone as a module, found without running it."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return [f"not valid Python: {error}"]
    finder = TopLevelAwait()
    finder.visit(tree)
    problems = [f"line {line}: top-level await; wrap the coroutine in asyncio.run(...)" for line in finder.lines]
    problems += [f"{name!r} is never defined or imported in the cell" for name in undefined_names(source)]
    problems += [f"imports what production code cannot have: {what}" for what in forbidden_imports(tree)]
    if not any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for node in tree.body):
        problems.append("defines no function or class: a production version is what a team pastes into a module")
    if not any(is_main_guard(node) for node in tree.body):
        problems.append('has no `if __name__ == "__main__":` demo')
    return problems


def is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":` at the top level."""
    return (isinstance(node, ast.If) and isinstance(test := node.test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value == "__main__")


@pytest.fixture(scope="module")
def offline_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One offline Claude for the whole module, in its own process, without simulated latency."""
    log = tmp_path_factory.mktemp("offline") / "server.log"
    with log.open("wb") as sink, contextlib.ExitStack() as stack:
        try:
            _, url = stack.enter_context(standalone_offline_claude(output=sink))
        except RuntimeError as error:
            pytest.fail(f"{error}: {log.read_text()[-2000:]}")
        yield url


def live_environment(base_url: str) -> dict[str, str]:
    """This process's environment in live mode against `base_url`, as a team's CI would run the module."""
    env = {name: value for name, value in os.environ.items()
           if name not in {"CLAUDE_OFFLINE", "CLAUDE_MODEL", "ANTHROPIC_AUTH_TOKEN", "PYTHONPATH"}}
    env.update(ANTHROPIC_API_KEY=LIVE_LOOKING_KEY, ANTHROPIC_BASE_URL=base_url, PYTHONPATH=str(ROOT),
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


def run_as_script(source: str, directory: Path, base_url: str, name: str = "production.py") -> list[str]:
    """Run `source` as `python <directory>/<name>` in live mode; return what went wrong (nothing when it exited 0
    after printing something)."""
    script = directory / name
    script.write_text(source, encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=directory, env=live_environment(base_url),
                              capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [f"did not finish within {RUN_TIMEOUT_S} s"]
    if done.returncode != 0:
        return [f"exited with {done.returncode}:\n{done.stderr[-3000:]}"]
    if not done.stdout.strip():
        return ["printed nothing (a production version's demo prints something checkable)"]
    return []


needs_production = pytest.mark.skipif(not LESSONS, reason="no lesson has a Production version yet")
each_lesson = pytest.mark.parametrize("path, source", LESSONS or [(None, None)],
                                      ids=[path.name for path, _ in LESSONS] or ["none"])


@needs_production
@each_lesson
def test_production_version_stands_alone(path, source):
    assert static_problems(source) == []


@needs_production
@each_lesson
def test_production_version_runs_as_a_script_in_live_mode(path, source, offline_url, tmp_path):
    assert not tmp_path.resolve().is_relative_to(ROOT)
    assert run_as_script(source, tmp_path, offline_url, f"lesson_{path.name[:2]}.py") == []


# -- the checks themselves, on synthetic cells -------------------------------------------------------------------------

GOOD = '''"""Ask Claude one question, in a thread or with asyncio."""
import asyncio
import os

from anthropic import Anthropic, AsyncAnthropic

from helpers.settings import default_model

MODEL = os.environ.get("CLAUDE_MODEL") or default_model()


def text_of(reply) -> str:
    return "".join(block.text for block in reply.content if block.type == "text")


async def ask_async(question: str) -> str:
    async with AsyncAnthropic() as client:
        reply = await client.messages.create(model=MODEL, max_tokens=100,
                                             messages=[{"role": "user", "content": question}])
    return text_of(reply)


if __name__ == "__main__":
    client = Anthropic()
    print(text_of(client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Hi"}])))
    print(asyncio.run(ask_async("What is 2 + 2?")))
'''


def test_a_production_version_that_stands_alone_passes(offline_url, tmp_path):
    assert static_problems(GOOD) == []
    assert run_as_script(GOOD, tmp_path, offline_url) == []


AFTER_GOOD = len(GOOD.splitlines()) + 1  # the line a statement appended to GOOD sits on
BROKEN = {
    "a name from an earlier cell": (GOOD.replace("    client = Anthropic()\n", ""),
                                    "'client' is never defined or imported in the cell"),
    "a function of an earlier cell": (GOOD.replace("def text_of(", "def text_from("),
                                      "'text_of' is never defined or imported in the cell"),
    "settings from the setup cell": (GOOD.replace("model=MODEL, max_tokens=100, messages=[{",
                                                  "model=settings.model, max_tokens=100, messages=[{"),
                                     "'settings' is never defined or imported in the cell"),
    "top-level await": (GOOD + "print(await ask_async('Hello'))\n", f"line {AFTER_GOOD}: top-level await"),
    "top-level async for": (GOOD + "async for event in ask_async('Hi'):\n    pass\n", f"line {AFTER_GOOD}: top-level"),
    "top-level async comprehension": (GOOD + "print([event async for event in ask_async('Hi')])\n",
                                      f"line {AFTER_GOOD}: top-level"),
    "no function": ('from anthropic import Anthropic\n\nif __name__ == "__main__":\n    print(Anthropic())\n',
                    "defines no function or class"),
    "no demo": (GOOD[:GOOD.index('if __name__ == "__main__":')], 'has no `if __name__ == "__main__":` demo'),
    "helpers.setup": (GOOD.replace("from helpers.settings import default_model",
                                   "from helpers import setup\nfrom helpers.settings import default_model"),
                      "imports what production code cannot have: line 7: helpers.setup"),
    "setup from helpers.settings": (GOOD.replace("import default_model", "import default_model, setup"),
                                    "imports what production code cannot have: line 7: helpers.setup"),
    "helpers.offline": (GOOD.replace("import asyncio\n", "import asyncio\nfrom helpers.offline import start_server\n"),
                        "imports what production code cannot have: line 3: helpers.offline"),
    "import helpers.offline": (GOOD.replace("import asyncio\n", "import asyncio\nimport helpers.offline.server\n"),
                               "imports what production code cannot have: line 3: helpers.offline.server"),
}


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_a_production_version_that_leans_on_the_notebook_fails(broken):
    source, expected = BROKEN[broken]
    problems = static_problems(source)
    assert [problem for problem in problems if problem.startswith(expected)], problems


def test_a_production_version_that_fails_or_prints_nothing_fails(offline_url, tmp_path):
    failing = GOOD.replace('"content": "Hi"', '"content": ""')  # the API refuses an empty message: a 400
    assert static_problems(failing) == []
    [problem] = run_as_script(failing, tmp_path, offline_url)
    assert problem.startswith("exited with 1:") and "anthropic.BadRequestError: Error code: 400" in problem
    silent = GOOD.replace("    print(", "    len(")
    assert run_as_script(silent, tmp_path, offline_url) == [
        "printed nothing (a production version's demo prints something checkable)"]


def test_a_production_version_runs_in_live_mode_outside_the_repository(offline_url, tmp_path):
    probe = """import os
import helpers
key = os.environ["ANTHROPIC_API_KEY"]
print(os.getcwd(), os.environ.get("CLAUDE_OFFLINE"), key[:13], len(key), os.environ["ANTHROPIC_BASE_URL"])
assert helpers.__file__.startswith(os.environ["PYTHONPATH"]), helpers.__file__
"""
    script = tmp_path / "probe.py"
    script.write_text(probe)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=live_environment(offline_url),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=True)
    assert done.stdout.split() == [str(tmp_path), "None", "sk-ant-api03-", "99", offline_url]
