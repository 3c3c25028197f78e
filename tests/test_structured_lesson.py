"""The code paths of `notebooks/13_structured_outputs.ipynb`, through the real SDK against the offline Claude.

Each test runs what the lesson runs (its pydantic model, its documents in `notebooks/data/invoices`, its raw schemas)
and asserts what a reader sees: the parsed records, the API's 400 for an unsupported keyword, pydantic's
`ValidationError` for a cut reply and for a broken constraint, the refusal's `stop_details`. The lesson's Production
version runs as a script, in live mode, against a separately started offline Claude.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Literal

import anthropic
import nbformat
import pydantic
import pytest
from anthropic import Anthropic, transform_schema

from helpers.replies import RefusalError, check_stop_reason, text_of
from helpers.settings import default_model

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
INVOICES = NOTEBOOKS / "data" / "invoices"
PROMPT = "Extract the invoice fields from this document.\n\n"
MODEL = default_model()
PLACEHOLDER_KEY = "sk-ant-api03-placeholder"  # the shape of a real key, never a usable one


class Invoice(pydantic.BaseModel):
    vendor: str
    invoice_number: str
    issue_date: date
    currency: Literal["EUR", "USD", "GBP"]
    total: float = pydantic.Field(ge=0, description="amount due, tax included")


@pytest.fixture
def client(server):
    with Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as sdk:
        yield sdk


def document(name: str) -> str:
    return (INVOICES / name).read_text(encoding="utf-8")


def ask(name: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPT + document(name)}]


def production_cell(notebook: str) -> str:
    """The source of the one code cell under `## Production version`."""
    cells = nbformat.read(NOTEBOOKS / notebook, as_version=4).cells
    start = next(i for i, cell in enumerate(cells) if cell.cell_type == "markdown"
                 and re.search(r"^## Production version\s*$", cell.source, re.MULTILINE))
    return next(cell.source for cell in cells[start + 1:] if cell.cell_type == "code")


def run_production_cell(notebook: str, server_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a lesson's Production version as a script, in live mode, against `server_url`, from `notebooks/`."""
    script = tmp_path / "production.py"
    script.write_text(production_cell(notebook), encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if key not in ("CLAUDE_OFFLINE", "CLAUDE_MODEL")}
    environment.update(ANTHROPIC_API_KEY=PLACEHOLDER_KEY, ANTHROPIC_BASE_URL=server_url, PYTHONPATH=str(ROOT),
                       NO_PROXY="127.0.0.1,localhost", **env)
    return subprocess.run([sys.executable, str(script)], cwd=NOTEBOOKS, env=environment, capture_output=True,
                          text=True, timeout=60)


def test_the_batch_holds_five_documents():
    assert sorted(path.name for path in INVOICES.glob("*.txt")) == [
        "contoso_ct-7781.txt", "fabrikam_fb-0093.txt", "northwind_nw-0412.txt", "northwind_nw-0412_reminder.txt",
        "tailspin_tt-2291.txt"]


def test_parse_gives_the_invoice_as_a_model(client):
    reply = client.messages.parse(model=MODEL, max_tokens=1024, output_format=Invoice,
                                  messages=ask("contoso_ct-7781.txt"))
    assert reply.stop_reason == "end_turn"
    assert reply.parsed_output == Invoice(vendor="Contoso Ltd", invoice_number="CT-7781",
                                          issue_date=date(2026, 11, 12), currency="USD", total=389.0)
    assert [block.type for block in reply.content] == ["text"]
    assert list(json.loads(text_of(reply))) == ["vendor", "invoice_number", "issue_date", "currency", "total"]


def test_parse_sends_the_transformed_schema(client, server):
    client.messages.parse(model=MODEL, max_tokens=1024, output_format=Invoice, messages=ask("contoso_ct-7781.txt"))
    sent = server.requests[-1].body["output_config"]["format"]
    assert sent["type"] == "json_schema" and sent["schema"] == transform_schema(Invoice)
    total = sent["schema"]["properties"]["total"]
    assert "minimum" not in total and total["description"] == "amount due, tax included\n\n{minimum: 0}"
    assert sent["schema"]["additionalProperties"] is False


def test_a_negative_total_passes_the_grammar_and_fails_the_sdk_check(client):
    with pytest.raises(pydantic.ValidationError) as caught:
        client.messages.parse(model=MODEL, max_tokens=1024, output_format=Invoice,
                              messages=ask("fabrikam_fb-0093.txt"))
    (error,) = caught.value.errors(include_url=False)
    assert (error["loc"], error["type"], error["input"]) == (("total",), "greater_than_equal", -80.0)


def test_the_raw_schema_gets_json_in_the_text_block(client):
    schema = {"type": "object", "additionalProperties": False, "required": ["vendor", "currency", "is_credit_note"],
              "properties": {"vendor": {"type": "string"}, "currency": {"enum": ["EUR", "USD", "GBP"]},
                             "is_credit_note": {"type": "boolean"}}}
    raw = client.messages.create(model=MODEL, max_tokens=512, messages=ask("contoso_ct-7781.txt"),
                                 output_config={"format": {"type": "json_schema", "schema": schema}})
    assert not hasattr(raw, "parsed_output")
    assert json.loads(text_of(raw)) == {"vendor": "Contoso Ltd", "currency": "USD", "is_credit_note": False}


def test_minimum_in_a_raw_schema_is_the_apis_400(client):
    schema = {"type": "object", "properties": {"total": {"type": "number", "minimum": 0}}, "required": ["total"],
              "additionalProperties": False}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=512, messages=ask("contoso_ct-7781.txt"),
                               output_config={"format": {"type": "json_schema", "schema": schema}})
    assert caught.value.status_code == 400
    assert caught.value.body["error"] == {
        "type": "invalid_request_error", "details": None,
        "message": "output_config.format.schema: For 'number' type, property 'minimum' is not supported"}


def test_a_strict_tool_with_one_call_gets_a_valid_invoice(client):
    tool = {"name": "record_invoice", "description": "Record one invoice in the accounts system.",
            "input_schema": transform_schema(Invoice), "strict": True}
    reply = client.messages.create(model=MODEL, max_tokens=1024, tools=[tool],
                                   tool_choice={"type": "auto", "disable_parallel_tool_use": True},
                                   messages=[{"role": "user", "content": "Record this invoice.\n\n"
                                              + document("contoso_ct-7781.txt")}])
    calls = [block for block in reply.content if block.type == "tool_use"]
    assert reply.stop_reason == "tool_use" and len(calls) == 1
    assert Invoice.model_validate(calls[0].input).invoice_number == "CT-7781"


def test_a_reply_cut_at_max_tokens_makes_parse_raise_validation_error(client):
    with pytest.raises(pydantic.ValidationError) as caught:
        client.messages.parse(model=MODEL, max_tokens=12, output_format=Invoice, messages=ask("contoso_ct-7781.txt"))
    assert [e["type"] for e in caught.value.errors()] == ["json_invalid"]
    assert "EOF while parsing" in caught.value.errors()[0]["msg"]


def test_a_refusal_without_text_gives_no_parsed_output(client, server):
    server.refuse_next(category="general_harms")
    reply = client.messages.parse(model=MODEL, max_tokens=1024, output_format=Invoice,
                                  messages=ask("contoso_ct-7781.txt"))
    assert (reply.stop_reason, reply.parsed_output, reply.content) == ("refusal", None, [])
    assert (reply.stop_details.category, reply.stop_details.explanation) == ("general_harms", None)
    with pytest.raises(RefusalError, match=r"category: general_harms"):
        check_stop_reason(reply, runs_tools=False)


def test_a_refusal_after_some_text_makes_parse_raise(client, server):
    server.refuse_next(category=None, text="I can't help with that.")
    with pytest.raises(pydantic.ValidationError):
        client.messages.parse(model=MODEL, max_tokens=1024, output_format=Invoice,
                              messages=ask("contoso_ct-7781.txt"))


def test_the_production_version_prints_one_line_per_document(server, tmp_path):
    done = run_production_cell("13_structured_outputs.ipynb", server.url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "contoso_ct-7781.txt: 389.00 USD: ok",
        "fabrikam_fb-0093.txt: -: rejected: total: Input should be greater than or equal to 0",
        "northwind_nw-0412.txt: 1240.50 EUR: ok",
        "northwind_nw-0412_reminder.txt: 1240.50 EUR: duplicate of NW-0412",
        "tailspin_tt-2291.txt: 560.00 EUR: dated 2026-12-20, after the batch arrived",
    ]
    sent = [record for record in server.requests if record.path == "/v1/messages"]
    assert len(sent) == 5


def test_the_production_version_turns_a_refusal_and_a_cut_into_reasons(server, tmp_path):
    server.refuse_next(category="general_harms")
    server.reply_next(content=[{"type": "text", "text": '{"vendor": "Fabri'}], stop_reason="max_tokens")
    done = run_production_cell("13_structured_outputs.ipynb", server.url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "contoso_ct-7781.txt: -: rejected: refused (general_harms)",
        "fabrikam_fb-0093.txt: -: rejected: reply cut (max_tokens); raise max_tokens",
    ]
