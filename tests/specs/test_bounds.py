"""Every number a spec accepts is bounded: out of range, the error names the file, the field and the range.

Before, most of these passed parsing and failed later, far from the file (``limit: {count: 10^30}`` crashed
``herald audience count`` with a traceback); the few already checked did not say which value was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from herald.audiences.spec import load_spec
from herald.bounds import Bound, bounded
from herald.campaigns.plans import load_program
from herald.campaigns.typology import load_typology
from herald.cli import main
from herald.errors import HeraldError
from herald.project import Project
from herald.safe_text import failing_with
from orchestration.spec import load_journey, load_workflow
from senders.tracking.forms import load_form
from tests.conftest import ROOT

HUGE = "1" + "0" * 30  # 10^30, as a YAML integer
# Digits of 10^30 must never be echoed whole, and the message must say what is allowed.
_WHOLE = "a whole number"

_PLAN = """\
program: p
campaigns:
- id: c
  {campaign}
  deliveries:
  - id: d
    channel: sms
    audience: a
    template: t
    typology: ty
    {delivery}
"""
_WORKFLOW = "workflow: w\ntrigger: api\nactivities:\n- {activity}\n- {{id: e, type: end}}\n"
_JOURNEY = "journey: j\nstart: 2026-01-01\nsteps:\n- {{id: s, day: {day}, channel: sms, template: t}}\n"
_FORM = """\
title: News
topic: newsletter
fields:
- {{name: email, type: email, label: Email, required: true}}
- {{name: first_name, type: text, label: Name, max_length: {max_length}}}
confirmation: {{template: t, sender: {{from_email: news@shop.example}}, expires_hours: {expires}}}
messages: {{confirm: Check your inbox., thank_you: Thanks.}}
rate_limit: {{per_minute: 6, burst: {burst}}}
"""


def plan(campaign: str = "", delivery: str = "") -> str:
    return _PLAN.format(campaign=campaign or "name: C", delivery=delivery or "priority: 0")


def form(max_length: Any = 60, expires: Any = 48, burst: Any = 3) -> str:
    return _FORM.format(max_length=max_length, expires=expires, burst=burst)


Loader = Callable[[Path], object]
CASES: list[tuple[str, Loader, str, str, str]] = [
    # (file name, loader, text, field as the error names it, range as the error says it)
    (
        "aud.yml",
        load_spec,
        f"name: aud\nlimit: {{count: {HUGE}}}\n",
        "limit.count",
        f"{_WHOLE} from 1 to 1,000,000,000",
    ),
    ("aud.yml", load_spec, f"name: aud\nlimit: {HUGE}\n", "limit.count", f"{_WHOLE} from 1 to 1,000,000,000"),
    (
        "aud.yml",
        load_spec,
        "name: aud\nwhere: {events: {type: page_view, at_least: 10000000000}}\n",
        "condition where.events.at_least",
        f"{_WHOLE} from 1 to 1,000,000,000",
    ),
    (
        "aud.yml",
        load_spec,
        f"name: aud\nwhere: {{orders: {{count: {{gte: {HUGE}}}}}}}\n",
        "condition where.orders.count.gte",
        "a number from -1,000,000,000,000,000 to 1,000,000,000,000,000",
    ),
    (
        "aud.yml",
        load_spec,
        "name: aud\nwhere: {lifetime_value: {gt: 1.0e+300}}\n",
        "condition where.lifetime_value",
        "a number from -1,000,000,000,000,000 to 1,000,000,000,000,000",
    ),
    (
        "aud.yml",
        load_spec,
        "name: aud\nwhere: {lifetime_value: {between: [0, .inf]}}\n",
        "condition where.lifetime_value",
        "a number from -1,000,000,000,000,000 to 1,000,000,000,000,000",
    ),
    (
        "aud.yml",
        load_spec,
        "name: aud\nwhere: {last_order_at: {in_last_days: 100000}}\n",
        "condition where.last_order_at.in_last_days",
        f"{_WHOLE} of days from 0 to 36,600, got 100000",
    ),
    (
        "aud.yml",
        load_spec,
        "name: aud\nsplit: {groups: {a: 0, b: 100}}\n",
        "split: group 'a': percent",
        "a number above 0 and at most 100, got 0",
    ),
    ("p.yml", load_program, plan(campaign=f"budget: {HUGE}"), "(c): budget", "a number from 0 to 1,000,000,000,000"),
    (
        "p.yml",
        load_program,
        plan(campaign="expected: {revenue: -5}"),
        "(c): expected.revenue",
        "a number from 0 to 1,000,000,000,000,000, got -5",
    ),
    ("p.yml", load_program, plan(delivery=f"weight: {HUGE}"), "(d): weight", f"{_WHOLE} from 1 to 1,000"),
    ("p.yml", load_program, plan(delivery=f"priority: {HUGE}"), "(d): priority", f"{_WHOLE} from -1,000 to 1,000"),
    (
        "p.yml",
        load_program,
        plan(delivery="control_percent: 100"),
        "(d): control_percent",
        "a number at least 0 and below 100, got 100",
    ),
    (
        "p.yml",
        load_program,
        plan(delivery="ab_test: {variants: {A: -50, B: 150}}"),
        "(d): ab_test: variants.A",
        "a number above 0 and at most 100, got -50",
    ),
    (
        "p.yml",
        load_program,
        plan(delivery="ab_test: {variants: {A: 50, B: 50}, winner_after_hours: 1000000}"),
        "(d): ab_test: winner_after_hours",
        f"{_WHOLE} of hours from 1 to 720",
    ),
    (
        "ty.yml",
        load_typology,
        f"name: ty\nfatigue: [{{name: w, max: {HUGE}, period_days: 7}}]\n",
        "fatigue[0]: max",
        f"{_WHOLE} from 0 to 10,000",
    ),
    (
        "ty.yml",
        load_typology,
        f"name: ty\nfatigue: [{{name: w, max: 3, period_days: {HUGE}}}]\n",
        "fatigue[0]: period_days",
        f"{_WHOLE} of days from 1 to 36,600",
    ),
    (
        "ty.yml",
        load_typology,
        "name: ty\ncontrol: {max_sms_segments: 1000000}\n",
        "control.max_sms_segments",
        f"{_WHOLE} from 1 to 255",
    ),
    (
        "ty.yml",
        load_typology,
        "name: ty\ncontrol: {max_push_bytes: 1000000000000}\n",
        "control.max_push_bytes",
        f"{_WHOLE} from 1 to 65,536",
    ),
    (
        "w.yml",
        load_workflow,
        _WORKFLOW.format(activity=f"{{id: t, type: test, audience: a, min: {HUGE}, then: e, else: e}}"),
        "activity 't': min",
        f"{_WHOLE} from 0 to 1,000,000,000",
    ),
    (
        "w.yml",
        load_workflow,
        _WORKFLOW.format(activity="{id: t, type: wait, hours: 1000000000}"),
        "activity 't': hours",
        "a number of hours from 0 to 8,760",
    ),
    (
        "w.yml",
        load_workflow,
        _WORKFLOW.format(activity=f"{{id: t, type: deliver, delivery: d, breakers: {{max_source_age_hours: {HUGE}}}}}"),
        "activity 't': breakers.max_source_age_hours",
        "a number of hours above 0 and at most 8,760",
    ),
    ("j.yml", load_journey, _JOURNEY.format(day=HUGE), "step 's': day", f"{_WHOLE} of days from 0 to 36,600"),
    ("news.yml", load_form, form(expires=HUGE), "confirmation.expires_hours", "a number from 1 to 720"),
    ("news.yml", load_form, form(burst=0), "rate_limit.burst", "a number from 1 to 10,000, got 0"),
    ("news.yml", load_form, form(max_length=HUGE), "fields[1].max_length", "a number from 1 to 2,000"),
]


@pytest.mark.parametrize(("file", "loader", "text", "field", "allowed"), CASES)
def test_a_number_out_of_range_is_refused_naming_file_field_and_range(
    tmp_path: Path, file: str, loader: Loader, text: str, field: str, allowed: str
) -> None:
    path = tmp_path / "specs" / file
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HeraldError) as caught:
        loader(path)
    message = str(caught.value)
    shown = "specs/" + file if loader is load_form else str(path)
    assert message.startswith(f"{shown}: "), message
    assert f"{field}: expected {allowed}" in message, message
    assert HUGE not in message, message


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(1, True), (1000, True), (3.0, True), (0, False), (1001, False), (2.5, False), (True, False), ("5", False)],
)
def test_a_whole_number_bound_takes_whole_numbers_inside_it(value: object, accepted: bool) -> None:
    bound = Bound(1, 1000)
    if accepted:
        assert bounded(value, bound, "f.yml: n", failing_with(ValueError)) == value
    else:
        with pytest.raises(ValueError, match=r"^f\.yml: n: expected a whole number from 1 to 1,000, got "):
            bounded(value, bound, "f.yml: n", failing_with(ValueError))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinities_are_never_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="expected a number from 0 to 1"):
        bounded(value, Bound(0, 1, whole=False), "f.yml: x", failing_with(ValueError))


# ------------------------------------------------------------------------------------ the CLI, on real data


@pytest.fixture
def on_demo(demo_project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("HERALD_HOME", str(ROOT))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(demo_project.warehouse_dir))
    return demo_project


@pytest.mark.slow
def test_audience_count_with_a_limit_of_ten_to_the_thirty_says_why_and_exits_2(
    on_demo: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The old code accepted the spec, and DuckDB could not cast the LIMIT: a ConversionException traceback.
    path = tmp_path / "too_many.yml"
    path.write_text(f"name: too_many\nwhere: {{country_code: FR}}\nlimit: {{count: {HUGE}}}\n", encoding="utf-8")
    assert main(["audience", "count", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        f"herald: error: {path}: limit.count: expected a whole number from 1 to 1,000,000,000, "
        "got a number of 31 digits"
    )
    # The largest limit allowed counts (and is no limit on the demo data).
    path.write_text("name: too_many\nwhere: {country_code: FR}\nlimit: {count: 1000000000}\n", encoding="utf-8")
    assert main(["audience", "count", str(path)]) == 0
    assert capsys.readouterr().out.startswith("too_many: ")
