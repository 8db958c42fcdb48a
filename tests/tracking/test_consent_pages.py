"""The consent pages over a real server: one-click unsubscribe (RFC 8058), the preference page, and, end to end,
an unsubscribe that takes a profile off the next prepared send list of every delivery on the channel and topic.

The fast tests resolve messages through the send ledger (messages sent after the last build): a run of the demo
plan's ``winter_sale_email`` (email, topic promotions) to a few demo profiles, journaled as a sender would."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from herald import warehouse
from herald.campaigns.prepare import prepare
from herald.project import Project
from senders import ledger
from senders.job import SendJob
from senders.links import Links
from senders.options import SendOptions
from senders.suppression import Suppressions
from tests.conftest import make_scratch_project
from tests.fakes.sendgrid import FakeSendGrid
from tests.tracking.consent_support import (
    LINK_SECRET,
    PUBLIC_URL,
    Clock,
    Pages,
    landed,
    latest_batch,
    serve_context,
    serving,
)

pytestmark = pytest.mark.slow

RUN = "r20261129T000000000000Z-winter_sale_email"


def rows(project: Project, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = warehouse.connect(project)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@dataclass(frozen=True)
class World:
    project: Project
    links: Links
    clock: Clock
    messages: dict[str, str]  # profile id → message id (winter_sale_email, email, promotions)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, demo_project: Project) -> Iterator[World]:
    project = make_scratch_project(tmp_path_factory.mktemp("consent_pages"), demo_project)
    profiles = [
        str(r[0])
        for r in rows(
            project,
            "select c.profile_id from profile_consents c join profiles p using (profile_id)"
            " where c.channel = 'email' and c.topic = 'promotions' and c.is_opted_in and p.first_name is not null"
            " and p.email is not null and not exists (select 1 from profile_consents a where a.profile_id ="
            " c.profile_id and a.channel = 'email' and (a.topic = 'all' or a.topic = 'newsletter' and a.is_opted_in))"
            " order by c.profile_id limit 4",
        )
    ]
    assert len(profiles) == 4
    messages = {p: ledger.message_id(RUN, p, "email") for p in profiles}
    shards = ledger.shard_count(project, RUN, 2)
    for p, mid in messages.items():
        with ledger.Shard(project, RUN, ledger.shard_of(mid, shards)) as shard:
            assert shard.try_lock()
            shard.append(
                [
                    ledger.Entry(mid, "claimed", 1, RUN, p, p, "email", "winter_sale_email"),
                    ledger.Entry(mid, "accepted", 1, RUN, p, p, "email", "winter_sale_email", provider_id="x"),
                ]
            )
    yield World(
        project, Links.from_env({"HERALD_LINK_SECRET": LINK_SECRET, "HERALD_PUBLIC_URL": PUBLIC_URL}), Clock(), messages
    )
    shutil.rmtree(project.warehouse_dir, ignore_errors=True)


@pytest.fixture
def pages(world: World) -> Iterator[Pages]:
    with serving(serve_context(world.project, world.clock)) as p:
        yield p


def profile(world: World, index: int) -> tuple[str, str]:
    """(profile id, message id) of the index-th profile of the run."""
    pid = sorted(world.messages)[index]
    return pid, world.messages[pid]


# ---------------------------------------------------------------------------------------------------- tokens


def test_forged_and_unknown_links_get_one_page_that_reveals_nothing(world: World, pages: Pages) -> None:
    _, mid = profile(world, 0)
    good = world.links.token(mid)
    forged = [
        f"{mid}.AAAAAAAAAAAAAAAAAAAAAA",  # someone else's id with a made-up signature
        Links(PUBLIC_URL, b"another-secret").token(mid),  # signed with the wrong secret
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # one character off
        "nothing-here",
        world.links.token("m" + "0" * 31),  # well signed, but no such message was ever sent
        world.links.scoped_token("confirm", mid),  # signed for another purpose
    ]
    before = latest_batch(world.project)
    bodies = set()
    for token in forged:
        for path in (f"/u/{token}", f"/p/{token}"):
            for method in ("GET", "POST"):
                r = pages.request(method, path, {"List-Unsubscribe": "One-Click"} if method == "POST" else None)
                assert r.status == 404, (path, method)
                assert r.headers["referrer-policy"] == "no-referrer"
                bodies.add(r.text)
    assert len(bodies) == 1
    [body] = bodies
    assert "Traceback" not in body and mid not in body
    assert landed(world.project, since=before) == []


def test_a_seed_addresses_links_show_the_pages_and_record_nothing(world: World, pages: Pages) -> None:
    """A seed (a QA inbox on every real send) belongs to no profile: its unsubscribe link shows what a recipient
    sees, so the team can check it, and records nothing; its preference link has no profile to show (404)."""
    mid = ledger.message_id(RUN, "seed:qa@shop.example", "email")
    with ledger.Shard(world.project, RUN, ledger.shard_of(mid, ledger.shard_count(world.project, RUN, 2))) as shard:
        assert shard.try_lock()
        shard.append([ledger.Entry(mid, "accepted", 1, RUN, "seed:qa@shop.example", "", "email", "winter_sale_email")])
    before = latest_batch(world.project)
    assert pages.get(world.links.unsubscribe_url(mid)).status == 200
    r = pages.request("POST", world.links.unsubscribe_url(mid), {"List-Unsubscribe": "One-Click"})
    assert r.status == 200 and "You are unsubscribed" in r.text
    assert pages.get(world.links.preferences_url(mid)).status == 404
    assert landed(world.project, since=before) == []


# ---------------------------------------------------------------------------------------------------- unsubscribe


def test_get_shows_a_button_and_never_unsubscribes(world: World, pages: Pages) -> None:
    _, mid = profile(world, 0)
    before = latest_batch(world.project)
    for method in ("GET", "HEAD", "GET"):
        r = pages.request(method, world.links.unsubscribe_url(mid))
        assert r.status == 200
    page = pages.get(world.links.unsubscribe_url(mid)).text
    assert 'method="post"' in page and "Unsubscribe" in page and "promotions emails" in page
    assert landed(world.project, since=before) == []


def test_one_click_post_unsubscribes_once_with_its_evidence(world: World, pages: Pages) -> None:
    pid, mid = profile(world, 1)
    before = latest_batch(world.project)
    url = world.links.unsubscribe_url(mid)
    r = pages.post(url, {"List-Unsubscribe": "One-Click"})
    assert r.status == 200 and "You are unsubscribed" in r.text
    [event] = landed(world.project, since=before)
    assert event["external_key"] == pid
    assert (event["channel"], event["topic"], event["status"]) == ("email", "promotions", "opt_out")
    assert (event["source"], event["evidence_id"], event["ip_address"]) == ("one_click_unsubscribe", mid, "127.0.0.1")
    assert event["occurred_at"] is not None

    # Again, as a mail client retrying, in multipart, or from the page's own button: nothing more lands.
    assert pages.post(url, {"List-Unsubscribe": "One-Click"}).status == 200
    boundary = "b0undary"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        f"One-Click\r\n--{boundary}--\r\n"
    ).encode()
    r = pages.request(
        "POST", url, body=multipart, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert r.status == 200
    assert pages.post(url, {"action": "unsubscribe"}).status == 200
    assert len(landed(world.project, since=before)) == 1


def test_the_pages_own_button_records_its_source(world: World, pages: Pages) -> None:
    pid, mid = profile(world, 2)
    before = latest_batch(world.project)
    assert pages.post(world.links.unsubscribe_url(mid), {"action": "unsubscribe"}).status == 200
    [event] = landed(world.project, since=before)
    assert (event["external_key"], event["source"], event["status"]) == (pid, "unsubscribe_page", "opt_out")
    # Re-subscribing on the preference page, then clicking the old link again: it unsubscribes again.
    p = pages.get(world.links.preferences_url(mid))
    csrf = re.search(r'name="csrf" value="([^"]+)"', p.text)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "action": "save", "shown.email.promotions": "1", "sub.email.promotions": "1"}
    assert pages.post(world.links.preferences_url(mid), form).status == 303
    world.clock.advance(1)
    assert pages.post(world.links.unsubscribe_url(mid), {"List-Unsubscribe": "One-Click"}).status == 200
    statuses = [(e["topic"], e["status"], e["source"]) for e in landed(world.project, since=before)]
    assert statuses == [
        ("promotions", "opt_out", "unsubscribe_page"),
        ("promotions", "opt_in", "preference_center"),
        ("promotions", "opt_out", "one_click_unsubscribe"),
    ]


# ---------------------------------------------------------------------------------------------------- preferences


def _csrf(text: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', text)
    assert m is not None
    return m.group(1)


def _checked(text: str) -> set[str]:
    return set(re.findall(r'name="sub\.([a-z_]+\.[a-z_]+)" value="1" checked', text))


def test_the_preference_page_shows_and_changes_only_its_own_profile(world: World, pages: Pages) -> None:
    a_pid, a_mid = profile(world, 3)
    b_pid, b_mid = profile(world, 0)
    (a_first, a_email), (b_first, b_email) = (
        rows(world.project, "select first_name, email from profiles where profile_id = ?", [p])[0]
        for p in (a_pid, b_pid)
    )
    a_url, b_url = world.links.preferences_url(a_mid), world.links.preferences_url(b_mid)
    page = pages.get(a_url)
    assert page.status == 200
    assert a_first in page.text and b_first not in page.text
    assert a_email not in page.text and b_email not in page.text  # masked: first letters only
    assert f"{a_email[0]}•••@" in page.text
    assert "email.promotions" in _checked(page.text)
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    off = "newsletter"  # not subscribed (see world): the change is "promotions off, newsletter on"
    before = latest_batch(world.project)
    a_csrf, b_csrf = _csrf(page.text), _csrf(pages.get(b_url).text)
    change = {"action": "save", "shown.email.promotions": "1", f"shown.email.{off}": "1", f"sub.email.{off}": "1"}
    # B's stamp cannot post A's page, nor A's stamp B's page: the stamp is bound to the link's message.
    assert pages.post(a_url, {**change, "csrf": b_csrf}).status == 403
    assert pages.post(b_url, {**change, "csrf": a_csrf}).status == 403
    assert pages.post(a_url, change).status == 403  # no stamp at all (a cross-site post)
    assert landed(world.project, since=before) == []

    # A's own page; a pair the page never showed is ignored.
    r = pages.post(a_url, {**change, "csrf": a_csrf, "shown.sms.evil_topic": "1", "sub.sms.evil_topic": "1"})
    assert r.status == 303 and r.headers["location"] == a_url + "?saved=1"
    events = landed(world.project, since=before)
    assert {e["external_key"] for e in events} == {a_pid}
    assert {(e["channel"], e["topic"], e["status"], e["source"]) for e in events} == {
        ("email", "promotions", "opt_out", "preference_center"),
        ("email", off, "opt_in", "preference_center"),
    }
    assert {e["evidence_id"] for e in events} == {a_mid} and {e["ip_address"] for e in events} == {"127.0.0.1"}

    # The change shows at once (landed batches newer than the build), and saving the same again lands nothing.
    again = pages.get(a_url + "?saved=1")
    assert "Your choices are saved" in again.text
    assert f"email.{off}" in _checked(again.text) and "email.promotions" not in _checked(again.text)
    assert pages.post(a_url, {**change, "csrf": _csrf(again.text)}).status == 303
    assert len(landed(world.project, since=before)) == 2
    assert "email.promotions" in _checked(pages.get(b_url).text)  # B untouched


def test_an_expired_stamp_changes_nothing(world: World, pages: Pages) -> None:
    _, mid = profile(world, 0)
    url = world.links.preferences_url(mid)
    csrf = _csrf(pages.get(url).text)
    before = latest_batch(world.project)
    world.clock.advance(3 * 3600)
    r = pages.post(url, {"csrf": csrf, "action": "unsubscribe_all"})
    assert r.status == 403 and "expired" in r.text
    assert landed(world.project, since=before) == []


def test_unsubscribe_from_everything_then_back_to_one_topic(world: World, pages: Pages) -> None:
    pid, mid = profile(world, 0)
    url = world.links.preferences_url(mid)
    before = latest_batch(world.project)
    page = pages.get(url).text
    assert pages.post(url, {"csrf": _csrf(page), "action": "unsubscribe_all"}).status == 303
    out = landed(world.project, since=before)
    assert out and {(e["topic"], e["status"]) for e in out} == {("all", "opt_out")}
    assert "email" in {e["channel"] for e in out}
    page = pages.get(url).text
    assert _checked(page) == set()

    # Ticking one topic lifts the switch, and no opt-in from before the switch comes back with it.
    world.clock.advance(1)
    shown = {f"shown.{pair}": "1" for pair in re.findall(r'name="shown\.([a-z_]+\.[a-z_]+)"', page)}
    mark = latest_batch(world.project)
    form = {**shown, "csrf": _csrf(page), "action": "save", "sub.email.newsletter": "1"}
    assert pages.post(url, form).status == 303
    back = {(e["channel"], e["topic"], e["status"]) for e in landed(world.project, since=mark)}
    assert ("email", "all", "opt_in") in back and ("email", "newsletter", "opt_in") in back
    assert ("email", "promotions", "opt_out") in back  # it was opted in before the switch: kept out
    assert {e["external_key"] for e in landed(world.project, since=mark)} == {pid}
    assert _checked(pages.get(url).text) == {"email.newsletter"}


# ---------------------------------------------------------------------------------------------------- end to end

E2E_SPECS = {
    "audiences/consent_e2e_few.yml": "name: consent_e2e_few\ndescription: A handful.\nlimit: {count: 40}\n",
    "audiences/consent_e2e_all.yml": "name: consent_e2e_all\ndescription: Everyone.\n",
    "typologies/consent_e2e.yml": "name: consent_e2e\nfiltering:\n  consent: required\n",
    "templates/consent_e2e/template.yml": (
        "channel: email\nsubject: \"Hi {{ first_name | default('there') }}\"\n"
        'text: "News. Unsubscribe: {{ unsubscribe_url }}"\n'
    ),
    "plans/consent_e2e.yml": """
program: consent_e2e
campaigns:
- id: consent_e2e
  deliveries:
  - id: e2e_small_news
    channel: email
    topic: newsletter
    audience: consent_e2e_few
    template: consent_e2e
    sender: {from_name: Shop, from_email: news@shop.example}
    typology: consent_e2e
  - id: e2e_news
    channel: email
    topic: newsletter
    audience: consent_e2e_all
    template: consent_e2e
    sender: {from_name: Shop, from_email: news@shop.example}
    typology: consent_e2e
""",
}


def _targets(project: Project, run_id: str) -> set[str]:
    return {
        str(r[0])
        for r in rows(
            project,
            "select profile_id from send_lists where run_id = ? and is_sendable and profile_id is not null",
            [run_id],
        )
    }


def test_one_click_takes_the_profile_off_every_next_send_list_of_the_topic_and_a_get_does_not(
    tmp_path: Path, demo_project: Project
) -> None:
    project = make_scratch_project(tmp_path, demo_project)
    for name, text in E2E_SPECS.items():
        path = project.specs_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    small = prepare(project, "e2e_small_news")
    assert small.send_count >= 2

    with FakeSendGrid(api_key="SG.test-key") as fake:
        env = {
            "SENDGRID_API_KEY": "SG.test-key",
            "HERALD_SENDGRID_HOST": fake.url,
            "HERALD_SENDGRID_TIMEOUT": "5",
            "HERALD_LINK_SECRET": LINK_SECRET,
            "HERALD_PUBLIC_URL": PUBLIC_URL,
        }
        summary = SendJob(project, small.run_id, SendOptions(concurrency=2), env=env).run()
        assert summary.complete and summary.states.get("accepted") == small.send_count
        sent = {m.custom_args["message_id"]: m for ms in fake.messages.values() for m in ms}

    entries = {e.profile_id: e.message_id for e in ledger.read_run(project, small.run_id).values() if e.profile_id}
    unsubscriber, visitor = sorted(entries)[:2]
    clicked = sent[entries[unsubscriber]]
    # The link in the email as received, and its RFC 8058 headers, are what the pages act on.
    assert clicked.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = re.search(r"<(https://[^>]+)>", clicked.headers["List-Unsubscribe"])
    assert one_click is not None
    visited = re.search(r"Unsubscribe: (\S+)", sent[entries[visitor]].text or "")
    assert visited is not None

    with serving(serve_context(project, Clock())) as pages:
        assert pages.get(visited.group(1)).status == 200  # a mail scanner, or a person who changes their mind
        assert pages.post(one_click.group(1), {"List-Unsubscribe": "One-Click"}).status == 200

    # The next preparation of any delivery on the channel and topic (here the everyone one) leaves them out,
    after = prepare(project, "e2e_news")
    targets = _targets(project, after.run_id)
    assert unsubscriber not in targets
    assert visitor in targets
    [(rule,)] = rows(
        project,
        "select exclusion_rule from send_list_exclusions where run_id = ? and profile_id = ?",
        [after.run_id, unsubscriber],
    )
    assert rule == "no_consent"
    # and so does every sender claiming a message of the topic now, the sent run's own included.
    claims = Suppressions(project, channel="email", topic="newsletter")
    assert claims.reason(unsubscriber, "x@example.com") == "opted_out"
    assert claims.reason(visitor, "y@example.com") is None
