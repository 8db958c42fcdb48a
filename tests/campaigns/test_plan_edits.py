"""Editing a delivery's settings in its plan file, without Streamlit: an edit is written only when the plan it
makes is valid, names specs that exist and keeps delivery ids unique across plans; otherwise the file is left
exactly as it was and the refusal says why."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from herald.campaigns.plan_edits import DeliverySettings, save_settings, settings_of
from herald.campaigns.plan_files import load_plans, raw_delivery
from herald.campaigns.plans import load_program
from herald.errors import HeraldError, PlanError
from herald.project import Project
from tests.conftest import make_scratch_project

EMAIL = "winter_sale_email"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_scratch_project(tmp_path)


def _plan(project: Project) -> Path:
    return project.specs_dir / "plans" / "winter_2026.yml"


def _settings(project: Project, delivery_id: str = EMAIL) -> DeliverySettings:
    ref = load_plans(project).ref(delivery_id)
    assert ref is not None
    return settings_of(ref.delivery, raw_delivery(_plan(project), delivery_id))


def _refused(project: Project, settings: DeliverySettings) -> str:
    """The refusal of saving ``settings``, after checking that the plan file did not change."""
    before = _plan(project).read_text(encoding="utf-8")
    with pytest.raises(HeraldError) as refused:
        save_settings(project, _plan(project), EMAIL, settings)
    assert _plan(project).read_text(encoding="utf-8") == before
    return str(refused.value)


def test_an_edit_changes_its_settings_and_nothing_else(project: Project) -> None:
    before = yaml.safe_load(_plan(project).read_text(encoding="utf-8"))
    edited = dataclasses.replace(
        _settings(project), control_percent=15.0, schedule_kind="recurring", cron="0 9 * * MON"
    )
    save_settings(project, _plan(project), EMAIL, edited)

    after = yaml.safe_load(_plan(project).read_text(encoding="utf-8"))
    delivery = after["campaigns"][0]["deliveries"][0]
    assert delivery["control_percent"] == 15  # a whole number is written as one
    assert delivery["schedule"] == {"cron": "0 9 * * MON", "time_zone": "Europe/Paris"}
    old = before["campaigns"][0]["deliveries"][0]
    assert list(delivery) == list(old)  # keys keep their written order
    assert {k: v for k, v in delivery.items() if k not in ("schedule", "control_percent")} == {
        k: v for k, v in old.items() if k not in ("schedule", "control_percent")
    }
    assert after["campaigns"][0]["deliveries"][1] == before["campaigns"][0]["deliveries"][1]
    # Reading the file back gives the settings saved (a recurring send has no date).
    assert _settings(project) == dataclasses.replace(edited, at_date=None, at_time=None)


def test_text_in_the_plan_round_trips_through_a_save(project: Project) -> None:
    # A line separator YAML would read back as a line break, a colon and a hash that could start a comment.
    tricky = "Winter\x85sale: 50% off #1 — « déjà » ‘quoted’"
    text = _plan(project).read_text(encoding="utf-8")
    _plan(project).write_text(text.replace("name: Winter sale\n", f"name: {json.dumps(tricky)}\n"), encoding="utf-8")
    assert load_program(_plan(project)).campaigns[0].name == tricky
    save_settings(project, _plan(project), EMAIL, dataclasses.replace(_settings(project), control_percent=12.5))
    program = load_program(_plan(project))
    assert program.campaigns[0].name == tricky
    assert program.campaigns[0].deliveries[0].control_percent == 12.5


def test_a_delivery_id_another_plan_uses_is_refused(project: Project) -> None:
    other = project.specs_dir / "plans" / "spring_2027.yml"
    plan = yaml.safe_load(_plan(project).read_text(encoding="utf-8"))
    plan["program"] = "spring_2027"
    plan["campaigns"][0]["id"] = "spring_sale"
    plan["campaigns"][0]["deliveries"] = [plan["campaigns"][0]["deliveries"][1]]  # winter_sale_sms, again
    other.write_text(yaml.safe_dump(plan), encoding="utf-8")
    assert not load_plans(project).broken  # each plan is valid on its own

    message = _refused(project, dataclasses.replace(_settings(project), control_percent=20.0))
    assert message == "winter_2026.yml: delivery ids also used in another plan: winter_sale_sms"


@pytest.mark.parametrize(
    ("more", "expected"),
    [
        ("id: winter_sale_email_2\n", "more settings: set id with the fields above, not here"),
        ("audience: staff\npriority: 2\n", "more settings: set audience with the fields above, not here"),
        ("- priority\n", "more settings: expected a mapping of delivery keys, e.g. `priority: 1`"),
        ("priority: [1\n", "more settings: not valid YAML"),
    ],
)
def test_more_settings_cannot_change_the_id_or_a_form_field(project: Project, more: str, expected: str) -> None:
    message = _refused(project, dataclasses.replace(_settings(project), more_yaml=more))
    assert message.startswith(expected), message


def test_an_invalid_plan_is_refused_with_the_parsers_message(project: Project) -> None:
    message = _refused(project, dataclasses.replace(_settings(project), schedule_kind="recurring", cron="every monday"))
    assert f"({EMAIL}): schedule: `cron` needs five fields" in message and "'every monday'" in message
    message = _refused(project, dataclasses.replace(_settings(project), schedule_kind="once", at_date=None))
    assert message == "schedule: pick the date and the time of the send"


def test_an_edit_naming_a_spec_that_does_not_exist_is_refused(project: Project) -> None:
    message = _refused(project, dataclasses.replace(_settings(project), audience="nobody"))
    assert message == f"delivery {EMAIL}: no saved audience 'nobody' (specs/audiences/nobody.yml)"
    message = _refused(project, dataclasses.replace(_settings(project), template="gone"))
    assert message == f"delivery {EMAIL}: no template 'gone' (specs/templates/gone/template.yml)"
    with pytest.raises(PlanError, match="no typology 'strict'"):
        save_settings(project, _plan(project), EMAIL, dataclasses.replace(_settings(project), typology="strict"))


def test_a_schedule_at_a_time_is_written_in_the_plans_format(project: Project) -> None:
    edited = dataclasses.replace(
        _settings(project), schedule_kind="once", at_date=dt.date(2026, 12, 5), at_time=dt.time(8, 30)
    )
    save_settings(project, _plan(project), EMAIL, edited)
    delivery = yaml.safe_load(_plan(project).read_text(encoding="utf-8"))["campaigns"][0]["deliveries"][0]
    assert delivery["schedule"] == {"at": "2026-12-05 08:30", "time_zone": "Europe/Paris"}
    schedule = load_program(_plan(project)).campaigns[0].deliveries[0].schedule
    assert schedule.at == dt.datetime(2026, 12, 5, 8, 30)
