"""`herald send` end to end: a dbt-prepared send list, the real sendgrid client over HTTP, a strict fake SendGrid.

Every message the fake records must be exactly what the one renderer gives for that recipient, every request
must validate against SendGrid's official schema, and the ledger must account for every recipient."""

from __future__ import annotations

import json
import random

import pytest

from herald import warehouse
from herald.content.render import Renderer
from herald.project import Project
from senders import ledger
from senders.compose import Composer, Recipient
from senders.job import SendJob, load_run
from senders.links import Links
from senders.options import SendOptions
from senders.proof import send_proofs
from senders.runs import run_composer
from tests.fakes.sendgrid import FakeSendGrid
from tests.senders.conftest import SendWorld, sender_env

pytestmark = pytest.mark.slow


def _expected(project: Project, run_id: str, env: dict[str, str]) -> tuple[list[Recipient], Composer]:
    info, recipients = load_run(project, run_id)
    return recipients, run_composer(Renderer(project.specs_dir / "templates"), info, Links.from_env(env))


@pytest.mark.parametrize("delivery", ["bulk_email", "logic_email"])
def test_a_run_is_sent_once_exactly_as_rendered(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid, delivery: str
) -> None:
    run_id = send_world.runs[delivery]
    env = sender_env(send_project, fake_sendgrid)
    summary = SendJob(send_project, run_id, SendOptions(concurrency=4), env=env).run()

    recipients, composer = _expected(send_project, run_id, env)
    ids = {r.message_id for r in recipients}
    assert len(ids) == len(recipients) > 1_000
    assert summary.complete and summary.states == {"accepted": len(recipients)}, summary
    assert fake_sendgrid.accepted_ids() == ids
    assert fake_sendgrid.duplicates() == {}
    assert fake_sendgrid.invalid_requests() == []
    stats = fake_sendgrid.stats()
    if delivery == "bulk_email":  # shared bodies: up to 1,000 recipients per request
        assert len(recipients) / stats["accepted_requests"] > 300
    else:  # per-recipient logic: one request per recipient
        assert stats["accepted_requests"] == len(recipients)

    # What arrived is what the renderer gives, including fallbacks, escaping, locales and signed links.
    sample = random.Random(7).sample(recipients, 300) + [r for r in recipients if r.group == "seed"]
    for r in sample:
        expected = composer.compose(r)
        [got] = fake_sendgrid.messages[r.message_id]
        assert got.to == (r.address,)
        assert got.subject == expected.subject
        assert got.html == expected.html
        assert got.text == expected.text
        assert got.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert got.headers["List-Unsubscribe"] == expected.headers["List-Unsubscribe"]
        assert "mailto:unsubscribe@shop.example" in got.headers["List-Unsubscribe"]
        assert Links.from_env(env).unsubscribe_url(r.message_id) in got.html
        # Correlation ids only: nothing personal travels in custom args or categories.
        assert got.custom_args == {"message_id": r.message_id, "run_id": run_id, "delivery_id": delivery}
        assert r.address not in json.dumps(got.categories)

    # The ledger keeps the lineage: run, recipient, content hash, and the provider's id for the request.
    latest = ledger.read_run(send_project, run_id)
    assert {e.state for e in latest.values()} == {"accepted"}
    some = latest[sample[0].message_id]
    assert some.run_id == run_id and some.recipient_id == sample[0].recipient_id
    info, _ = load_run(send_project, run_id)
    assert some.provider_id and some.content_hash == info.content_hash

    # A second send finds everything settled and sends nothing.
    again = SendJob(send_project, run_id, SendOptions(concurrency=4), env=env).run()
    assert again.sent_now == 0 and fake_sendgrid.duplicates() == {}


def test_the_ledger_reads_as_a_source_while_a_sender_appends(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["bulk_email"]
    SendJob(send_project, run_id, SendOptions(), env=sender_env(send_project, fake_sendgrid)).run()
    con = warehouse.connect(send_project)
    try:
        rows = con.execute(
            "select state, count(*) from read_json(?, format='newline_delimited', ignore_errors=true) group by state",
            [ledger.ledger_glob(send_project)],
        ).fetchall()
    finally:
        con.close()
    counts = dict(rows)
    assert counts["accepted"] == counts["claimed"] == len(fake_sendgrid.accepted_ids())


def test_proofs_go_only_to_seeds_and_test_profiles_and_stay_out_of_the_run(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["bulk_email"]
    env = sender_env(send_project, fake_sendgrid)
    results = send_proofs(send_project, "bulk_email", requested_by="anna", env=env)
    assert [r.data_of for r in results] == ["seed:1", "test:C0000003", "test:C0000004"]
    assert results[0].address == "qa@shop.example" and results[1].address
    # A test profile without an email address gets no proof, and says so.
    assert [(r.state, r.reason) for r in results] == [("accepted", "")] * 2 + [("failed", "no address")]
    con = warehouse.connect(send_project)
    try:
        first = con.execute("select first_name from profiles where profile_id = 'C0000003'").fetchone()
    finally:
        con.close()
    for r in results[:2]:
        [got] = fake_sendgrid.messages[r.message_id]
        assert got.to == (r.address,) and got.subject and got.subject.startswith("[Proof] ")
    assert first is not None and first[0] and first[0] in (fake_sendgrid.messages[results[1].message_id][0].html or "")
    assert ledger.read_run(send_project, run_id) == {}  # the run itself is untouched
    recorded = (ledger.run_dir(send_project, run_id) / "proofs.jsonl").read_text().splitlines()
    assert len(recorded) == 3 and all(json.loads(line)["requested_by"] == "anna" for line in recorded)
