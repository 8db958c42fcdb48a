"""A warehouse with runs big enough to kill a sender in the middle of: 18,000 generated profiles, built once per
session, with three deliveries prepared through dbt. Tests send from private copies (``send_project``), each
with its own ledger, against a strict fake SendGrid in this process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from herald import landing
from herald.build import build
from herald.campaigns.prepare import prepare
from herald.generate.core import generate
from herald.project import Project
from senders import ledger
from tests.conftest import make_scratch_project
from tests.fakes.sendgrid import FakeSendGrid

API_KEY = "SG.canary-7f3c9e21d4b8a6f0.key-that-must-never-leak"
LINK_SECRET = "link-secret-for-tests"

SPECS: dict[str, str] = {
    "audiences/everyone.yml": "name: everyone\ndescription: Every profile.\n",
    "audiences/some.yml": "name: some\ndescription: 2,500 profiles.\nlimit: {count: 2500}\n",
    "typologies/bulk.yml": """
name: bulk
filtering:
  consent: required
  quarantine: true
  duplicate_address: true
control:
  require_subject: true
  require_unsubscribe: true
  allowed_from_domains: [shop.example]
""",
    "plans/send_tests.yml": """
program: send_tests
campaigns:
- id: news
  deliveries:
  - id: bulk_email
    channel: email
    topic: newsletter
    audience: everyone
    template: bulk_news
    sender: {from_name: Herald Shop, from_email: news@shop.example}
    typology: bulk
    seeds: [qa@shop.example]
    test_profiles: [C0000003, C0000004]
  - id: sms_promo
    channel: sms
    topic: promotions
    audience: everyone
    template: sms_news
    typology: bulk
  - id: push_news
    channel: push
    topic: product_updates
    audience: everyone
    template: push_news
    typology: bulk
  - id: inapp_news
    channel: in_app
    topic: product_updates
    audience: everyone
    template: inapp_news
    typology: bulk
  - id: letter
    channel: direct_mail
    topic: newsletter
    audience: everyone
    template: letter
    typology: bulk
  - id: logic_email
    channel: email
    topic: newsletter
    audience: some
    template: logic_news
    sender: {from_name: Herald Shop, from_email: news@shop.example}
    typology: bulk
""",
    "templates/bulk_news/template.yml": """
channel: email
subject: "{{ first_name | default('Hello') }}, this week's news"
preheader: "Fresh picks for {{ city | default('you') }}"
html: body.html
text: body.txt
locales:
  fr:
    subject: "{{ first_name | default('Bonjour') }}, les nouvelles"
    html: body.fr.html
    text: body.fr.txt
""",
    "templates/bulk_news/body.html": """<!doctype html>
<html><body>
<p>Hello {{ first_name | default('there') }} {{ last_name | default('') }},</p>
<p>News for {{ city | default('your town') }} & friends <b>this week</b>.</p>
<p><a href="https://shop.example/news?c={{ campaign_id }}&m={{ message_id }}">Read</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · <a href="{{ preferences_url }}">Preferences</a></p>
</body></html>
""",
    "templates/bulk_news/body.txt": """Hello {{ first_name | default('there') }},

News for {{ city | default('your town') }} this week: https://shop.example/news

Unsubscribe: {{ unsubscribe_url }}
""",
    "templates/bulk_news/body.fr.html": """<!doctype html>
<html><body>
<p>Bonjour {{ first_name | default('') }},</p>
<p>Les nouvelles de {{ city | default('chez vous') }}.</p>
<p><a href="{{ unsubscribe_url }}">Se désinscrire</a></p>
</body></html>
""",
    "templates/bulk_news/body.fr.txt": """Bonjour {{ first_name | default('') }},
Se désinscrire : {{ unsubscribe_url }}
""",
    "templates/sms_news/template.yml": """
channel: sms
text: "Shop: {{ first_name | default('Hi') }}, -20% this week. STOP to opt out"
""",
    "templates/push_news/template.yml": """
channel: push
title: "New for {{ first_name | default('you') }}"
text: "Fresh picks in {{ city | default('your town') }}"
""",
    "templates/inapp_news/template.yml": """
channel: in_app
title: "Hello {{ first_name | default('there') }}"
text: "Your weekly picks are ready."
""",
    "templates/letter/template.yml": """
channel: direct_mail
text: "Dear {{ first_name | default('customer') }}, your winter catalogue is enclosed."
""",
    "templates/logic_news/template.yml": """
channel: email
subject: "{{ first_name | default('Hello') }}, picked for you"
html: body.html
text: body.txt
""",
    "templates/logic_news/body.html": """<html><body>
{% if order_count | default(0) > 2 %}
<p>Thanks for your {{ order_count }} orders, {{ first_name | default('friend') }}!</p>
{% else %}<p>Welcome, {{ first_name | default('friend') }}.</p>{% endif %}
<ul>{% for n in range([order_count | default(0), 4] | min) %}
<li>Pick {{ n + 1 }} for {{ city | default('you') }}</li>{% endfor %}</ul>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>
""",
    "templates/logic_news/body.txt": """{% if order_count | default(0) > 2 %}Thanks for your orders!
{% else %}Welcome.{% endif %}
Unsubscribe: {{ unsubscribe_url }}
""",
}


# SMS and in-app go through the job exactly as push (one message per call) and direct mail (batched calls) do;
# their providers are tested against their fake and store in test_sms_push_providers.py and test_inbox.py.
CHANNEL_DELIVERIES = ("push_news", "letter")


@dataclass(frozen=True)
class SendWorld:
    project: Project
    runs: dict[str, str]  # delivery id → run id


@pytest.fixture(scope="session")
def send_world(tmp_path_factory: pytest.TempPathFactory) -> SendWorld:
    # HERALD_TEST_SEND_WORLD=<dir> keeps the world between runs while working on the senders (delete the folder
    # after changing models or these specs). CI never sets it.
    cache = os.environ.get("HERALD_TEST_SEND_WORLD")
    if cache and (Path(cache) / "runs.json").exists():
        runs = json.loads((Path(cache) / "runs.json").read_text())
        return SendWorld(Project(root=Path(cache) / "project", warehouse_dir=Path(cache) / "warehouse"), runs)
    tmp = Path(cache) if cache else tmp_path_factory.mktemp("sendworld")
    tmp.mkdir(parents=True, exist_ok=True)
    project = make_scratch_project(tmp)
    for name, text in SPECS.items():
        path = project.specs_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    landing.ensure_initialized(project)
    generate(project.landing_dir, profiles=18_000, events_per_profile=3)
    build(project, quiet=True)
    runs = {d: prepare(project, d).run_id for d in ("bulk_email", "logic_email")}
    (tmp / "runs.json").write_text(json.dumps(runs))
    return SendWorld(project, runs)


@pytest.fixture(scope="session")
def channel_runs(send_world: SendWorld) -> dict[str, str]:
    """Runs of the SMS, push, in-app and direct-mail deliveries, prepared on the world when first needed."""
    cached = send_world.project.warehouse_dir.parent / "channel_runs.json"
    if cached.exists():
        return dict(json.loads(cached.read_text()))
    runs = {d: prepare(send_world.project, d).run_id for d in CHANNEL_DELIVERIES}
    cached.write_text(json.dumps(runs))
    return runs


def copy_world(world: SendWorld, dest: Path) -> Project:
    """A private copy of the world's project root and warehouse: its own ledger, its own specs."""
    root = dest / "project"
    shutil.copytree(world.project.root, root, ignore=shutil.ignore_patterns("target", "logs", "__pycache__"))
    shutil.copytree(world.project.warehouse_dir, dest / "warehouse", ignore=shutil.ignore_patterns("locks", "ledger"))
    return Project(root=root, warehouse_dir=dest / "warehouse")


@pytest.fixture
def send_project(send_world: SendWorld, tmp_path: Path) -> Project:
    return copy_world(send_world, tmp_path)


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key=API_KEY) as fake:
        yield fake


def sender_env(project: Project, fake: FakeSendGrid) -> dict[str, str]:
    return {
        "SENDGRID_API_KEY": API_KEY,
        "HERALD_SENDGRID_HOST": fake.url,
        "HERALD_SENDGRID_TIMEOUT": "2",
        "HERALD_LINK_SECRET": LINK_SECRET,
        "HERALD_PUBLIC_URL": "https://links.shop.example",
        "HERALD_UNSUBSCRIBE_MAILTO": "unsubscribe@shop.example",
        "HERALD_HOME": str(project.root),
        "HERALD_WAREHOUSE_DIR": str(project.warehouse_dir),
    }


def send_until_settled(
    cmd: list[str], env: Mapping[str, str], project: Project, run_id: str, *, deadline: float = 600.0
) -> list[subprocess.CompletedProcess[str]]:
    """Run ``cmd`` (a ``herald send``) again and again until no message of the run is left ``unknown``: a lookup
    releases a message the provider does not have only once it has been in doubt for the settling time, so a
    later run settles what an earlier one could not. Returns every run's result; fails after ``deadline``
    seconds (a bound for a stuck sender, not a timing the test relies on)."""
    done: list[subprocess.CompletedProcess[str]] = []
    stop = time.monotonic() + deadline
    while True:
        done.append(subprocess.run(cmd, env=dict(env), capture_output=True, text=True, timeout=deadline))
        latest = ledger.read_run(project, run_id)
        if not any(e.state in ("unknown", "claimed") for e in latest.values()):
            return done
        assert time.monotonic() < stop, f"messages still unknown after {deadline} s: {done[-1].stdout}"
        time.sleep(1.0)


def send_cmd(run_id: str, *extra: str) -> list[str]:
    """A quiet ``herald send`` of ``run_id`` in a process of its own."""
    return [sys.executable, "-m", "herald.cli", "send", run_id, "--quiet", *extra]


def ledger_lines(project: Project, run_id: str) -> int:
    return sum(p.read_bytes().count(b"\n") for p in ledger.run_dir(project, run_id).glob("shard-*.jsonl"))


def kill_once_ledger_holds(
    cmd: list[str], env: Mapping[str, str], project: Project, run_id: str, lines: int, *, within: float
) -> bool:
    """Start ``cmd`` (a ``herald send`` of ``run_id``) and SIGKILL it once the run's ledger holds ``lines`` lines,
    unless it ends or ``within`` seconds pass first. True when it was killed while still sending; either way its
    output must not show the API key."""
    proc = subprocess.Popen(cmd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + within
    while proc.poll() is None and ledger_lines(project, run_id) < lines and time.monotonic() < deadline:
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate()
    assert API_KEY.encode() not in out + err
    return killed
