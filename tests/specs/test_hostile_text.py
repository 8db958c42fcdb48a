"""Hostile text in the free-text fields of plans, typologies, workflows, journeys and forms (property tests).

None of these fields reaches a file dbt reads: a delivery run reaches dbt as JSON data (HERALD_DELIVERY_RUN),
and the test shows that it carries ids and checked values only, never the free text. Form texts are shown
on the consent pages as values of an autoescaping template: printed literally, never run. Every field keeps its
text as written, and what no file can hold is refused naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from herald.campaigns.catalog import DeliveryRef
from herald.campaigns.plans import load_program
from herald.campaigns.prepare import run_vars
from herald.campaigns.typology import load_typology
from herald.errors import HeraldError
from herald.safe_text import yaml_text
from orchestration.spec import load_journey, load_workflow
from senders.tracking.forms import HONEYPOT, load_form
from tests.hostile_text import KNOWN_BAD, hostile_text

_TEMPLATES = Path(__file__).resolve().parents[2] / "senders" / "tracking" / "templates"
_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
texts = st.lists(hostile_text, min_size=12, max_size=12)


def write(folder: Path, name: str, doc: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml_text(doc), encoding="utf-8")
    return path


@_SETTINGS
@example(list(KNOWN_BAD[:12]))
@given(texts)
def test_plan_and_typology_texts_are_kept_and_never_reach_dbt(tmp_path: Path, hostile: list[str]) -> None:
    # Each text is marked, so that finding it (and not some common word such as null) is unambiguous.
    t = [f"«{i}»{text}" for i, text in enumerate(hostile)]
    plan = {
        "program": "p",
        "name": t[0],
        "owner": t[1],
        "campaigns": [
            {
                "id": "c",
                "name": t[2],
                "objective": t[3],
                "owner": t[4],
                "deliveries": [
                    {
                        "id": "d",
                        "channel": "email",
                        "audience": "a",
                        "template": "t",
                        "typology": "ty",
                        "sender": {"from_name": t[5], "from_email": "news@shop.example"},
                        "test_profiles": [t[6]],
                        "approval": {"required": True, "approvers": [t[7]]},
                    }
                ],
            }
        ],
    }
    program = load_program(write(tmp_path / "plans", "p.yml", plan))
    campaign = program.campaigns[0]
    delivery = campaign.deliveries[0]
    assert (program.name, program.owner) == (t[0], t[1])
    assert (campaign.name, campaign.objective, campaign.owner) == (t[2], t[3], t[4])
    assert delivery.sender is not None and delivery.sender.from_name == t[5]
    assert delivery.test_profiles == (t[6],) and delivery.approval.approvers == (t[7],)
    typology = load_typology(write(tmp_path / "typologies", "ty.yml", {"name": "ty", "description": t[8]}))
    assert typology.description == t[8]

    # The whole of what a preparation hands dbt: ids, channel, rules and numbers, none of the texts above.
    run = run_vars(DeliveryRef(program, campaign, delivery), typology, "r1", "h", [], "v1")
    assert "«" not in json.dumps(run, ensure_ascii=False)


@_SETTINGS
@example(list(KNOWN_BAD[:12]))
@given(texts)
def test_workflow_and_journey_texts_are_kept(tmp_path: Path, t: list[str]) -> None:
    flow = load_workflow(
        write(
            tmp_path,
            "w.yml",
            {"workflow": "w", "description": t[0], "trigger": "api", "activities": [{"id": "e", "type": "end"}]},
        )
    )
    assert flow.description == t[0]
    journey = load_journey(
        write(
            tmp_path,
            "j.yml",
            {
                "journey": "j",
                "description": t[1],
                "start": "2026-01-01",
                "steps": [{"id": "s", "day": 0, "channel": "sms", "template": "t"}],
            },
        )
    )
    assert journey.description == t[1]


def _form(t: list[str]) -> dict[str, Any]:
    return {
        "title": t[0],
        "intro": t[1],
        "topic": "newsletter",
        "fields": [
            {"name": "email", "type": "email", "label": t[2], "required": True, "help": t[3]},
            {"name": "colour", "type": "choice", "label": t[4], "choices": {"red": t[5], "blue": t[6]}},
        ],
        "confirmation": {"template": "t", "sender": {"from_name": t[7], "from_email": "news@shop.example"}},
        "messages": {"confirm": t[8], "thank_you": t[9]},
    }


@_SETTINGS
@example(list(KNOWN_BAD[:12]))
@given(texts.map(lambda t: [x if x.strip() else "x" + x for x in t]))
def test_form_texts_are_printed_literally_on_the_form_page(tmp_path: Path, t: list[str]) -> None:
    spec = load_form(write(tmp_path / "specs" / "forms", "news.yml", _form(t)))
    assert (spec.title, spec.intro, spec.confirm_message, spec.thank_you_message) == (
        t[0].strip(),
        t[1].strip(),
        t[8].strip(),
        t[9].strip(),
    )
    assert spec.sender.from_name == t[7].strip()
    # The consent pages' environment: the texts are values of the template, never part of it.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True, undefined=jinja2.StrictUndefined
    )
    page = env.get_template("form.html").render(
        title=spec.title, form=spec, values={}, errors={}, problem="", stamp="s", honeypot=HONEYPOT
    )
    for text in (spec.title, spec.intro, *(f.label for f in spec.fields), spec.fields[0].help, t[5], t[6]):
        assert str(escape(text)) in page


@pytest.mark.parametrize(
    ("loader", "name", "doc", "message"),
    [
        (load_program, "p.yml", {"program": "p", "owner": "a\x00b"}, r"p\.yml: owner: text cannot contain a NUL"),
        (
            load_program,
            "p.yml",
            {"program": "p", "campaigns": [{"id": "c", "objective": "x" * 10_001}]},
            r"objective: expected at most 10,000 characters",
        ),
        (load_typology, "ty.yml", {"name": "ty", "description": "\ud800"}, r"ty\.yml: description: text cannot"),
        (
            load_workflow,
            "w.yml",
            {"workflow": "w", "description": "\udfff", "trigger": "api", "activities": [{"id": "e", "type": "end"}]},
            r"w\.yml: description: text cannot contain the lone surrogate",
        ),
        (load_form, "news.yml", {**_form(["x"] * 12), "title": "a\x00"}, r"news\.yml: title: text cannot"),
    ],
)
def test_text_no_file_can_hold_is_refused_naming_file_and_field(
    tmp_path: Path, loader: Any, name: str, doc: dict[str, Any], message: str
) -> None:
    path = tmp_path / "specs" / name
    path.parent.mkdir()
    # Written with YAML escapes, as a user could: "\x00" and "\ud800" are valid YAML.
    path.write_text(yaml.safe_dump(doc, allow_unicode=False), encoding="utf-8")
    with pytest.raises(HeraldError, match=message):
        loader(path)
