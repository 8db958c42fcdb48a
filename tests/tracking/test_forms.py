"""Subscription forms: spec errors that name file and field, input checked field by field, robots and floods
turned away, and double opt-in — one confirmation email per pending subscription through the strict fake
SendGrid, a confirm link that only a POST uses, and expiry."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from herald import warehouse
from herald.project import Project
from herald.raw_schema import CRM_CONTACTS
from senders.errors import TrackingError
from senders.tracking.forms import check_submission, load_forms, parse_form
from senders.tracking.subscriptions import new_contact_key
from tests.conftest import ROOT, make_scratch_project
from tests.fakes.sendgrid import FakeSendGrid, SentMessage
from tests.tracking.consent_support import (
    PUBLIC_URL,
    Clock,
    Pages,
    files_under,
    landed,
    latest_batch,
    serve_context,
    serving,
)

API_KEY = "SG.forms-test-key"

# The shipped newsletter form, with no minimum fill time and a rate limit no test reaches: most tests use it.
QUICK = (ROOT / "specs/forms/newsletter.yml").read_text(encoding="utf-8")
QUICK = re.sub(r"min_fill_seconds: .*", "min_fill_seconds: 0", QUICK)
QUICK = re.sub(r"rate_limit: .*", "rate_limit: {per_minute: 600, burst: 100}", QUICK)

VALID = {"email": "new.reader@example.org", "first_name": "Ada", "language_code": "en", "terms": "1"}


# ---------------------------------------------------------------------------------------------------- specs


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "News",
        "topic": "newsletter",
        "fields": [{"name": "email", "type": "email", "label": "Email", "required": True}],
        "confirmation": {"template": "newsletter_confirmation", "sender": {"from_email": "news@shop.example"}},
        "messages": {"confirm": "Check your inbox.", "thank_you": "Thanks."},
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        (
            {
                "fields": [
                    {"name": "email", "type": "email", "label": "E", "required": True},
                    {"name": "x", "type": "radio", "label": "X"},
                ]
            },
            "fields[1].type",
        ),
        (
            {
                "fields": [
                    {"name": "email", "type": "email", "label": "E", "required": True},
                    {"name": "Bad Name", "label": "X"},
                ]
            },
            "fields[1].name",
        ),
        (
            {
                "fields": [
                    {"name": "email", "type": "email", "label": "E", "required": True},
                    {"name": "c", "type": "choice", "label": "C"},
                ]
            },
            "fields[1].choices",
        ),
        ({"fields": [{"name": "first_name", "label": "Name"}]}, "fields"),
        (
            {
                "fields": [
                    {"name": "email", "type": "email", "label": "E", "required": True},
                    {"name": "email", "type": "email", "label": "F"},
                ]
            },
            "fields[1].name",
        ),
        (
            {"fields": [{"name": "email", "type": "email", "label": "E", "required": True, "colour": "red"}]},
            "fields[0]",
        ),
        ({"channel": "sms"}, "channel"),
        ({"topic": "all"}, "topic"),
        ({"allowed_origins": ["https://shop.example/path"]}, "allowed_origins[0]"),
        ({"rate_limit": {"per_minute": 0}}, "rate_limit.per_minute"),
        ({"confirmation": {"template": "t", "sender": {"from_email": "nobody"}}}, "confirmation.sender.from_email"),
        ({"messages": {"confirm": "ok"}}, "messages.thank_you"),
        ({"honeypot": True}, "(top level)"),
    ],
)
def test_every_spec_error_names_its_file_and_field(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(TrackingError) as caught:
        parse_form(spec(**changes), name="signup", source="specs/forms/signup.yml")
    assert str(caught.value).startswith(f"specs/forms/signup.yml: {where}: "), str(caught.value)


def test_the_confirmation_template_is_checked_with_the_spec(tmp_path: Path) -> None:
    project = make_scratch_project(tmp_path)
    form = project.specs_dir / "forms" / "broken.yml"
    form.write_text(QUICK.replace("template: newsletter_confirmation", "template: no_such_template"), encoding="utf-8")
    with pytest.raises(TrackingError, match=r"^specs/forms/broken.yml: confirmation.template: no template"):
        load_forms(project)
    form.write_text(QUICK.replace("template: newsletter_confirmation", "template: winter_sale_email"), encoding="utf-8")
    with pytest.raises(TrackingError, match=r"broken.yml: confirmation.template: .* never uses confirm_url"):
        load_forms(project)
    form.write_text("title: [unclosed", encoding="utf-8")
    with pytest.raises(TrackingError, match=r"^specs/forms/broken.yml: not valid YAML"):
        load_forms(project)


def test_the_shipped_form_loads() -> None:
    forms = load_forms(Project(root=ROOT, warehouse_dir=ROOT / "warehouse"))
    newsletter = forms["newsletter"]
    assert (newsletter.channel, newsletter.topic, newsletter.template) == (
        "email",
        "newsletter",
        "newsletter_confirmation",
    )
    assert newsletter.field("email") is not None and newsletter.min_fill_seconds > 0


def test_input_is_checked_field_by_field() -> None:
    [newsletter] = load_forms(Project(root=ROOT, warehouse_dir=ROOT / "warehouse")).values()
    ok = check_submission(newsletter, {**VALID, "email": "  Ada.Reader@Example.ORG "})
    assert ok.ok and ok.values["email"] == "ada.reader@example.org"
    bad = check_submission(
        newsletter,
        {
            "email": "ada@@example",
            "first_name": "<b>Ada</b>",
            "last_name": "x" * 61,
            "favourite_category": "shoes\u202ereversed",
            "language_code": "xx",
        },
    )
    assert set(bad.errors) == {"email", "first_name", "last_name", "favourite_category", "language_code", "terms"}
    assert "valid email address" in bad.errors["email"]
    assert "markup" in bad.errors["first_name"]
    assert "at most 60 characters" in bad.errors["last_name"]
    assert "control characters" in bad.errors["favourite_category"]
    assert "tick this box" in bad.errors["terms"]
    assert check_submission(newsletter, {**VALID, "first_name": "Zoë-Ann O'Neil"}).ok


# ---------------------------------------------------------------------------------------------------- the pages


@dataclass(frozen=True)
class FormsWorld:
    project: Project
    clock: Clock
    fake: FakeSendGrid


@pytest.fixture(scope="module")
def forms_world(tmp_path_factory: pytest.TempPathFactory, demo_project: Project) -> Iterator[FormsWorld]:
    project = make_scratch_project(tmp_path_factory.mktemp("forms"), demo_project)
    (project.specs_dir / "forms" / "quick.yml").write_text(QUICK, encoding="utf-8")
    with FakeSendGrid(api_key=API_KEY) as fake:
        yield FormsWorld(project, Clock(), fake)
    shutil.rmtree(project.warehouse_dir, ignore_errors=True)


@pytest.fixture
def pages(forms_world: FormsWorld) -> Iterator[Pages]:
    """A fresh server (and so fresh rate limits) per test, over one project and one fake SendGrid."""
    env = {"SENDGRID_API_KEY": API_KEY, "HERALD_SENDGRID_HOST": forms_world.fake.url, "HERALD_SENDGRID_TIMEOUT": "5"}
    with serving(serve_context(forms_world.project, forms_world.clock, **env)) as p:
        yield p


def stamp_of(text: str) -> str:
    m = re.search(r'name="form_started" value="([^"]+)"', text)
    assert m is not None
    return m.group(1)


def submit(pages: Pages, form: str, values: dict[str, str], **kw: Any) -> Any:
    """Fill in the form as a person does: fetch it, then post it with its stamp."""
    stamp = stamp_of(pages.get(f"/forms/{form}").text)
    return pages.post(f"/forms/{form}", {"form_started": stamp, **values}, **kw)


def emails_to(fake: FakeSendGrid, address: str) -> list[SentMessage]:
    return [m for m in list(fake.sent) if address in m.to]


def confirm_link(message: SentMessage) -> str:
    m = re.search(rf"({re.escape(PUBLIC_URL)}/confirm/\S+)", message.text or "")
    assert m is not None
    return m.group(1)


@pytest.mark.slow
def test_the_form_page(pages: Pages) -> None:
    r = pages.get("/forms/newsletter")
    assert r.status == 200
    for label in ("Email address", "First name", "Language", "Français", "I agree to receive the newsletter"):
        assert label in r.text
    assert 'name="website"' in r.text and 'name="form_started"' in r.text  # honeypot and stamp
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://shop.example https://www.shop.example" in csp
    assert "default-src 'none'" in csp
    assert pages.get("/forms/no_such_form").status == 404
    assert pages.get("/forms/..%2F..%2Fetc").status == 404


@pytest.mark.slow
def test_invalid_input_is_answered_on_the_form_and_sends_nothing(forms_world: FormsWorld, pages: Pages) -> None:
    before = len(forms_world.fake.sent)
    r = submit(
        pages,
        "quick",
        {
            "email": "not-an-address",
            "first_name": "<script>alert(1)</script>",
            "last_name": "L" * 5000,
            "favourite_category": "bags\x00\x07",
        },
    )
    assert r.status == 422
    assert "Please correct the fields marked below." in r.text
    for field in ("email", "first_name", "last_name", "favourite_category", "terms"):
        assert f'id="error-{field}"' in r.text
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "L" * 100 not in r.text  # a huge value is not echoed back
    assert "Traceback" not in r.text
    assert len(forms_world.fake.sent) == before


@pytest.mark.slow
def test_a_robot_filling_the_honeypot_is_told_nothing_and_nothing_happens(
    forms_world: FormsWorld, pages: Pages
) -> None:
    before, batch = len(forms_world.fake.sent), latest_batch(forms_world.project)
    r = submit(pages, "quick", {**VALID, "email": "robot@example.org", "website": "http://spam.example"})
    assert r.status == 200 and "Check your inbox" in r.text
    assert len(forms_world.fake.sent) == before
    assert landed(forms_world.project, CRM_CONTACTS, since=batch) == []
    assert not any("robot" in p.read_text() for p in files_under(forms_world.project.warehouse_dir / "subscriptions"))


@pytest.mark.slow
def test_too_fast_is_a_robot_and_an_expired_or_missing_stamp_is_refused(forms_world: FormsWorld, pages: Pages) -> None:
    before = len(forms_world.fake.sent)
    form = pages.get("/forms/newsletter").text
    r = pages.post("/forms/newsletter", {"form_started": stamp_of(form), **VALID, "email": "quick@example.org"})
    assert r.status == 400 and "That was quick" in r.text
    assert 'value="quick@example.org"' in r.text  # what was typed is kept
    assert pages.post("/forms/newsletter", {**VALID, "email": "quick@example.org"}).status == 400  # no stamp
    assert len(forms_world.fake.sent) == before
    forms_world.clock.advance(3)
    r = pages.post("/forms/newsletter", {"form_started": stamp_of(form), **VALID, "email": "quick@example.org"})
    assert r.status == 200 and "We have sent you an email" in r.text
    assert len(emails_to(forms_world.fake, "quick@example.org")) == 1


@pytest.mark.slow
def test_a_flood_from_one_address_gets_429_with_retry_after(forms_world: FormsWorld, pages: Pages) -> None:
    replies = [pages.post("/forms/newsletter", {"email": "flood@example.org"}) for _ in range(4)]
    assert [r.status for r in replies[:3]] == [400, 400, 400]  # burst 3: answered (no stamp), not limited
    assert replies[3].status == 429
    assert int(replies[3].headers["retry-after"]) >= 1 and "Too many attempts" in replies[3].text
    forms_world.clock.advance(11)  # 6 a minute: one more after 10 s
    assert pages.post("/forms/newsletter", {"email": "flood@example.org"}).status == 400
    assert pages.post("/forms/newsletter", {"email": "flood@example.org"}).status == 429


@pytest.mark.slow
def test_a_post_from_another_site_is_refused(forms_world: FormsWorld, pages: Pages) -> None:
    values = {**VALID, "email": "origin@example.org"}
    r = submit(pages, "quick", values, headers={"Origin": "https://evil.example"})
    assert r.status == 403
    assert emails_to(forms_world.fake, "origin@example.org") == []
    assert submit(pages, "quick", values, headers={"Origin": "https://shop.example"}).status == 200


@pytest.mark.slow
def test_duplicate_submissions_send_one_confirmation_and_create_one_contact(
    forms_world: FormsWorld, pages: Pages
) -> None:
    address = "twice@example.org"
    batch = latest_batch(forms_world.project)
    first = submit(pages, "quick", {**VALID, "email": address})
    assert first.status == 200 and "We have sent you an email" in first.text
    # The same address again (as typed differently), and five at once: the same answer, no second email.
    again = submit(pages, "quick", {**VALID, "email": "  TWICE@example.org "})
    assert again.status == 200 and again.text == first.text
    replies: list[int] = []
    threads = [
        threading.Thread(target=lambda: replies.append(submit(pages, "quick", {**VALID, "email": address}).status))
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert replies == [200] * 5
    [email] = emails_to(forms_world.fake, address)
    assert forms_world.fake.duplicates() == {} and forms_world.fake.invalid_requests() == []
    assert email.subject == "Ada, please confirm your subscription"
    assert email.from_email == "news@shop.example"
    assert confirm_link(email) in (email.html or "")
    # A new address: one new contact, under a key derived from the form and the address.
    [contact] = landed(forms_world.project, CRM_CONTACTS, since=batch)
    assert contact["external_key"] == new_contact_key("quick", address)
    assert (contact["email"], contact["first_name"], contact["language_code"]) == (address, "Ada", "en")
    assert '"signup_form": "quick"' in contact["attributes"] and '"terms": "true"' in contact["attributes"]


@pytest.mark.slow
def test_the_confirm_link_needs_a_post_and_opts_in_once(forms_world: FormsWorld, pages: Pages) -> None:
    address = "confirm.me@example.org"
    assert submit(pages, "quick", {**VALID, "email": address}).status == 200
    [email] = emails_to(forms_world.fake, address)
    link = confirm_link(email)
    batch = latest_batch(forms_world.project)
    page = pages.get(link)
    assert page.status == 200 and "Confirm my subscription" in page.text and "c•••@e•••.org" in page.text
    assert address not in page.text
    assert landed(forms_world.project, since=batch) == []  # a GET (a scanner) confirms nothing

    done = pages.post(link)
    assert done.status == 200 and "Your subscription is confirmed" in done.text
    [event] = landed(forms_world.project, since=batch)
    assert event["external_key"] == new_contact_key("quick", address)
    assert (event["channel"], event["topic"], event["status"], event["source"]) == (
        "email",
        "newsletter",
        "opt_in",
        "web_form",
    )
    assert event["evidence_id"].startswith("form:quick/") and event["ip_address"] == "127.0.0.1"
    assert pages.post(link).status == 200 and pages.get(link).status == 200  # again: the same page, no event
    assert len(landed(forms_world.project, since=batch)) == 1

    forged = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    assert pages.post(forged).status == 404 and pages.get(forged).status == 404
    assert landed(forms_world.project, since=batch) == [event]


@pytest.mark.slow
def test_a_known_address_updates_its_own_contact_only_once_confirmed(forms_world: FormsWorld, pages: Pages) -> None:
    con = warehouse.connect(forms_world.project)
    try:
        key, email, phone = con.execute(
            "select c.external_key, c.email, p.phone from profile_identities c join profiles p using (profile_id)"
            " where c.is_survivor and p.phone is not null and p.email is not null order by 1 limit 1"
        ).fetchone() or ("", "", "")
    finally:
        con.close()
    batch = latest_batch(forms_world.project)
    assert submit(pages, "quick", {**VALID, "email": email.upper(), "first_name": "Mallory"}).status == 200
    assert (
        landed(forms_world.project, CRM_CONTACTS, since=batch) == []
    )  # nobody can rename a contact by typing its address
    [message] = emails_to(forms_world.fake, email)
    assert pages.post(confirm_link(message)).status == 200
    [contact] = landed(forms_world.project, CRM_CONTACTS, since=batch)
    [event] = landed(forms_world.project, since=batch)
    assert contact["external_key"] == key == event["external_key"]
    assert contact["first_name"] == "Mallory"
    assert contact["phone"] is not None  # the rest of the contact is kept, not blanked
    assert phone


@pytest.mark.slow
def test_an_expired_link_confirms_nothing(forms_world: FormsWorld, pages: Pages) -> None:
    address = "too.late@example.org"
    assert submit(pages, "quick", {**VALID, "email": address}).status == 200
    [email] = emails_to(forms_world.fake, address)
    batch = latest_batch(forms_world.project)
    forms_world.clock.advance(49 * 3600)
    for method in ("GET", "POST"):
        r = pages.request(method, confirm_link(email))
        assert r.status == 410 and "expired" in r.text and "/forms/quick" in r.text
    assert landed(forms_world.project, since=batch) == []


@pytest.mark.slow
def test_a_failed_confirmation_email_can_be_asked_for_again(forms_world: FormsWorld, pages: Pages) -> None:
    address = "unlucky@example.org"
    forms_world.fake.inject("500")
    r = submit(pages, "quick", {**VALID, "email": address})
    assert r.status == 503 and "could not send" in r.text
    assert emails_to(forms_world.fake, address) == []
    assert submit(pages, "quick", {**VALID, "email": address}).status == 200  # surely not sent: sent now
    assert len(emails_to(forms_world.fake, address)) == 1
