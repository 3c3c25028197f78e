"""Drift guard: every model id the project names is one the pinned SDK knows, and none is one it deprecates.

The pinned SDK's `anthropic.types.Model` literal is the list of known ids and
`anthropic.resources.messages.messages.DEPRECATED_MODELS` the deprecation list (the SDK warns when either is
used). A new SDK that drops or deprecates an id a lesson, a helper or the offline Claude relies on fails here,
with the file that names it. Named exceptions, each on purpose:
- the offline Claude's catalogue (`helpers/offline/models.py`) mirrors the SDK's whole list, deprecated ids
  included (the API still serves them until they retire), so it is checked to equal that list instead;
- tests name deprecated ids as examples of per-model rules, and made-up ids as examples of unknown models;
- a lesson's output may show a deprecated id only where it lists the whole catalogue (`client.models.list()`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest
from anthropic.resources.messages.messages import DEPRECATED_MODELS
from anthropic.types import Model

from helpers.offline.models import MODELS
from helpers.settings import default_model

ROOT = Path(__file__).resolve().parent.parent
KNOWN = frozenset(name for arg in get_args(Model) for name in get_args(arg) if isinstance(name, str))
DEPRECATED = frozenset(DEPRECATED_MODELS)
# A model id as the API spells them: claude-<family>-<version...>[-<date>] or claude-mythos-preview.
MODEL_ID = re.compile(r"\bclaude-(?:haiku|sonnet|opus|fable|mythos|instant)(?:-(?:\d+(?:\.\d+)?|preview|latest|\d{8}k?"
                      r"|100k))+\b|\bclaude-\d(?:[.-]\d+k?)*(?:-[a-z]+)*(?:-\d{8})?\b")
CATALOGUE = ROOT / "helpers" / "offline" / "models.py"
DEPRECATED_EXAMPLES_IN_TESTS = frozenset({"claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-mythos-preview"})
UNKNOWN_EXAMPLES_IN_TESTS = re.compile(r"\bclaude-(?:nope|typo|not-a-model)(?:-\d+)?\b")
CATALOGUE_LISTING = 10  # an output naming at least this many distinct ids lists the catalogue


def ids_in(text: str) -> set[str]:
    return set(MODEL_ID.findall(text))


def python_sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def output_texts(cell: dict) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        texts.append("".join(output.get("text", [])))
        for kind, value in output.get("data", {}).items():
            if kind.startswith("text/") or kind.endswith("json"):
                texts.append(value if isinstance(value, str) else "".join(value) if isinstance(value, list)
                             else json.dumps(value))
    return texts


def test_the_pattern_finds_the_sdks_own_ids() -> None:
    """The check below sees every id the SDK lists or deprecates (else it could pass by missing them)."""
    assert KNOWN and DEPRECATED
    assert {name for name in KNOWN | DEPRECATED if ids_in(f'"{name}"') != {name}} == set()
    assert ids_in("claude-field-guide claude-code claude-haik") == set()


def test_the_default_model_is_known_and_current() -> None:
    assert default_model() in KNOWN
    assert default_model() not in DEPRECATED


def test_the_offline_catalogue_is_the_sdks_list() -> None:
    """Every id the pinned SDK lists is served, nothing else is, and deprecated ones say so."""
    assert set(MODELS) == KNOWN
    assert {m for m, spec in MODELS.items() if spec.deprecated} == KNOWN & DEPRECATED


@pytest.mark.parametrize("path", [*python_sources(ROOT / "helpers"), ROOT / ".env.example"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_helpers_and_the_server_name_only_current_ids(path: Path) -> None:
    named = ids_in(path.read_text())
    assert named - KNOWN == set(), f"{path.name} names ids the SDK does not know"
    if path != CATALOGUE:
        assert named & DEPRECATED == set(), f"{path.name} names deprecated ids"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_lessons_code_names_only_current_ids(path: Path) -> None:
    named = set().union(*(ids_in("".join(c["source"])) for c in cells(path) if c["cell_type"] == "code"))
    assert named - KNOWN == set(), f"{path.name} names ids the SDK does not know"
    assert named & DEPRECATED == set(), f"{path.name} names deprecated ids"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_lessons_outputs_show_only_current_ids(path: Path) -> None:
    for index, cell in enumerate(cells(path)):
        for text in output_texts(cell):
            named = ids_in(text)
            assert named - KNOWN == set(), f"{path.name} cell {index}: an output shows ids the SDK does not know"
            if len(named) < CATALOGUE_LISTING:
                assert named & DEPRECATED == set(), f"{path.name} cell {index}: an output shows deprecated ids"


@pytest.mark.parametrize("path", python_sources(ROOT / "tests"), ids=lambda p: p.name)
def test_tests_name_current_ids_or_listed_examples(path: Path) -> None:
    named = ids_in(UNKNOWN_EXAMPLES_IN_TESTS.sub("", path.read_text()))
    assert named - KNOWN == set(), f"{path.name} names ids the SDK does not know"
    assert named & DEPRECATED <= DEPRECATED_EXAMPLES_IN_TESTS, f"{path.name} names deprecated ids"
