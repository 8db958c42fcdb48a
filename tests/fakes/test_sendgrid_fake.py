"""The strict SendGrid fake, driven through the official ``sendgrid`` client as the senders drive the real API."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from python_http_client.exceptions import (
    BadRequestsError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnauthorizedError,
)
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Bcc,
    Category,
    Cc,
    CustomArg,
    From,
    Header,
    Mail,
    MailSettings,
    Personalization,
    ReplyTo,
    SandBoxMode,
    SendAt,
    Substitution,
    To,
)

from tests.fakes.sendgrid import ACTIVITY_ROW_FIELDS, FakeSendGrid

KEY = "SG.test-key.secret"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key=KEY) as server:
        yield server


@pytest.fixture
def sg(fake: FakeSendGrid) -> SendGridAPIClient:
    return client(fake.url)


def client(url: str, key: str = KEY) -> SendGridAPIClient:
    sg = SendGridAPIClient(key, host=url)
    sg.client.timeout = 5
    return sg


def person(i: int, message_id: str | None = None, **subs: str) -> Personalization:
    p = Personalization()
    p.add_to(To(f"user{i}@example.com", f"User {i}"))
    p.add_substitution(Substitution("-name-", f"User {i}"))
    for key, value in subs.items():
        p.add_substitution(Substitution(key, value))
    p.add_custom_arg(CustomArg("message_id", message_id or f"m-{i}"))
    return p


def mail(n: int = 2, first: int = 0) -> Mail:
    """A valid mail to ``n`` recipients; ``add_personalization`` prepends, so personalization k is recipient
    ``first + n - 1 - k``."""
    m = Mail(
        from_email=From("news@herald.example", "Herald"),
        subject="Hello -name-",
        plain_text_content="Hi -name-, your code is -code-.",
        html_content="<p>Hi <b>-name-</b></p>",
    )
    m.custom_arg = CustomArg("run_id", "run-7")
    m.header = Header("X-Campaign", "spring")
    m.category = Category("welcome")
    for i in range(first, first + n):
        m.add_personalization(person(i, **{"-code-": f"C{i:03d}"}))
    return m


def error_fields(exc: pytest.ExceptionInfo[Any]) -> list[str | None]:
    body = json.loads(exc.value.body)
    for error in body["errors"]:
        assert set(error) == {"message", "field", "help"} and error["message"]
    return [e["field"] for e in body["errors"]]


def control(fake: FakeSendGrid, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(fake.url + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


# ---------------------------------------------------------------------------------------------------- accepted


def test_a_valid_mail_is_accepted_and_recorded_with_substitutions_applied(
    fake: FakeSendGrid, sg: SendGridAPIClient
) -> None:
    m = mail(3)
    own = person(9, **{"-code-": "C009"})
    own.subject = "Just for you, -name-"
    own.add_header(Header("X-Campaign", "override"))
    own.add_custom_arg(CustomArg("run_id", "run-8"))
    m.add_personalization(own)

    response = sg.send(m)

    assert response.status_code == 202
    assert response.body == b""
    x_message_id = response.headers["X-Message-Id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", x_message_id)
    assert fake.accepted_ids() == {"m-0", "m-1", "m-2", "m-9"}
    assert all(fake.deliveries(i) == 1 for i in ("m-0", "m-1", "m-2", "m-9"))
    assert fake.deliveries("m-3") == 0

    [one] = fake.messages["m-1"]
    assert one.to == ("user1@example.com",)
    assert one.subject == "Hello User 1"
    assert one.text == "Hi User 1, your code is C001."
    assert one.html == "<p>Hi <b>User 1</b></p>"
    assert one.headers == {"X-Campaign": "spring"}
    assert one.categories == ("welcome",)
    assert one.custom_args == {"run_id": "run-7", "message_id": "m-1"}
    assert one.from_email == "news@herald.example"
    assert one.x_message_id == x_message_id
    assert one.send_at is None

    [nine] = fake.messages["m-9"]
    assert nine.subject == "Just for you, User 9"  # the personalization's subject wins
    assert nine.text == "Hi User 9, your code is C009."
    assert nine.headers == {"X-Campaign": "override"}
    assert nine.custom_args == {"run_id": "run-8", "message_id": "m-9"}  # the personalization's wins

    assert fake.duplicates() == {}
    assert fake.invalid_requests() == []
    stats = control(fake, "/_fake/stats")
    assert stats["accepted_requests"] == 1 and stats["messages"] == 4 and stats["distinct_message_ids"] == 4
    assert stats["requests"] == 1 and stats["invalid_requests"] == 0 and stats["duplicates"] == 0


def test_substitutions_are_one_pass_and_prefer_the_longest_key(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    m = Mail(from_email=From("news@herald.example"), subject="-a- -ab-", plain_text_content="-a- then -ab-")
    p = Personalization()
    p.add_to(To("x@example.com"))
    p.add_substitution(Substitution("-a-", "-ab-"))  # a value holding another key is not substituted again
    p.add_substitution(Substitution("-ab-", "AB"))
    p.add_custom_arg(CustomArg("message_id", "once"))
    m.add_personalization(p)
    sg.send(m)
    [sent] = fake.messages["once"]
    assert sent.subject == "-ab- AB"
    assert sent.text == "-ab- then AB"


def test_the_same_ids_sent_twice_are_reported_as_duplicates(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    sg.send(mail(2))
    sg.send(mail(3, first=1))
    assert fake.duplicates() == {"m-1": 2}
    assert fake.deliveries("m-1") == 2 and fake.deliveries("m-0") == 1 and fake.deliveries("m-3") == 1
    assert {m.x_message_id for m in fake.messages["m-1"]} != {fake.messages["m-0"][0].x_message_id}
    assert control(fake, "/_fake/stats")["duplicates"] == 1


def test_a_message_without_message_id_is_counted(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    m = Mail(from_email=From("news@herald.example"), subject="s", plain_text_content="t")
    p = Personalization()
    p.add_to(To("x@example.com"))
    m.add_personalization(p)
    sg.send(m)
    assert fake.missing_message_id == 1
    [generated] = fake.accepted_ids()
    assert fake.messages[generated][0].to == ("x@example.com",)
    assert control(fake, "/_fake/stats")["missing_message_id"] == 1


def test_a_wrong_key_is_unauthorized_and_nothing_is_recorded(fake: FakeSendGrid) -> None:
    with pytest.raises(UnauthorizedError) as exc:
        client(fake.url, key="SG.wrong").send(mail(1))
    assert json.loads(exc.value.body)["errors"][0]["message"]
    assert fake.sent == [] and fake.accepted_ids() == set()
    assert [r.status for r in fake.request_log] == [401]


def test_sandbox_mode_validates_answers_200_and_records_nothing(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    m = mail(2)
    settings = MailSettings()
    settings.sandbox_mode = SandBoxMode(True)
    m.mail_settings = settings
    response = sg.send(m)
    assert response.status_code == 200 and response.body == b""
    assert fake.sent == [] and fake.accepted_ids() == set()
    assert control(fake, "/_fake/stats")["sandbox_requests"] == 1

    body = m.get()
    body["personalizations"][0]["to"][0]["email"] = "nobody"
    with pytest.raises(BadRequestsError) as exc:
        sg.send(body)
    assert error_fields(exc) == ["personalizations.0.to.0.email"]


# ---------------------------------------------------------------------------------------------------- refused


def _bcc_crowd(m: Mail) -> None:
    for k in range(2):
        p = person(100 + k)
        for j in range(600):
            p.add_bcc(Bcc(f"crowd{k}-{j}@example.com"))
        m.add_personalization(p)


def _to_and_cc_alike(m: Mail) -> None:
    p = person(50)
    p.add_cc(Cc("user50@example.com"))
    m.add_personalization(p)


def _same_address_twice(m: Mail) -> None:
    m.add_personalization(person(0, message_id="m-again"))


def _merged_custom_args_too_big(m: Mail) -> None:
    m.custom_arg = CustomArg("big_top", "t" * 6000)  # fine alone
    m.personalizations[0].add_custom_arg(CustomArg("big_own", "o" * 4000))  # fine alone, not merged


def _custom_arg_number(m: Mail) -> None:
    m.personalizations[0].add_custom_arg(CustomArg("attempt", 2))


def _top_custom_arg_number(m: Mail) -> None:
    m.custom_arg = CustomArg("attempt", 2)


def _substitutions_too_big(m: Mail) -> None:
    m.personalizations[0].add_substitution(Substitution("-big-", "x" * 10_001))


def _send_at_too_far(m: Mail) -> None:
    m.send_at = SendAt(int(time.time()) + 73 * 3600)


def _personal_send_at_too_far(m: Mail) -> None:
    m.personalizations[1].send_at = int(time.time()) + 80 * 3600


def _eleven_categories(m: Mail) -> None:
    for k in range(10):
        m.category = Category(f"extra-{k}")


def _long_category(m: Mail) -> None:
    m.category = Category("c" * 256)  # the helper puts it first


def _repeated_category(m: Mail) -> None:
    m.category = Category("welcome")


def _reply_to_both(m: Mail) -> None:
    m.reply_to = ReplyTo("help@herald.example")
    m.reply_to_list = [ReplyTo("a@herald.example"), ReplyTo("b@herald.example")]


def _name_with_semicolon(m: Mail) -> None:
    p = person(70)
    p.add_cc(Cc("boss@example.com", "Doe; Jane"))
    m.add_personalization(p)


def _unicode_from(m: Mail) -> None:
    m.from_email = From("news@herald.example", "Héraut")


def _reserved_header(m: Mail) -> None:
    m.header = Header("dkim-signature", "forged")


def _reserved_personal_header(m: Mail) -> None:
    m.personalizations[1].add_header(Header("X-SG-ID", "forged"))


LIMITS: dict[str, tuple[Callable[[Mail], None], str]] = {
    "more than 1000 recipients": (_bcc_crowd, "personalizations"),
    "one address in to and cc": (_to_and_cc_alike, "personalizations.0.cc.0.email"),
    "one address in two personalizations": (_same_address_twice, "personalizations.2.to.0.email"),
    "merged custom_args of 10,000 bytes": (_merged_custom_args_too_big, "personalizations.0.custom_args"),
    "a number in custom_args": (_custom_arg_number, "personalizations.0.custom_args.attempt"),
    "a number in top custom_args": (_top_custom_arg_number, "custom_args.attempt"),
    "substitutions over 10,000 bytes": (_substitutions_too_big, "personalizations.0.substitutions"),
    "send_at beyond 72 h": (_send_at_too_far, "send_at"),
    "a personalization's send_at beyond 72 h": (_personal_send_at_too_far, "personalizations.1.send_at"),
    "eleven categories": (_eleven_categories, "categories"),
    "a category of 256 characters": (_long_category, "categories.0"),
    "a repeated category": (_repeated_category, "categories.1"),
    "reply_to with reply_to_list": (_reply_to_both, "reply_to_list"),
    "a ';' in a cc name": (_name_with_semicolon, "personalizations.0.cc.0.name"),
    "unicode in from": (_unicode_from, "from.name"),
    "a reserved header": (_reserved_header, "headers.dkim-signature"),
    "a reserved personalization header": (_reserved_personal_header, "personalizations.1.headers.X-SG-ID"),
}


@pytest.mark.parametrize("edit, field", LIMITS.values(), ids=list(LIMITS))
def test_each_documented_limit_is_refused_naming_its_field(
    fake: FakeSendGrid, sg: SendGridAPIClient, edit: Callable[[Mail], None], field: str
) -> None:
    m = mail(2)
    edit(m)
    with pytest.raises(BadRequestsError) as exc:
        sg.send(m)
    assert field in error_fields(exc)
    assert fake.sent == []
    [record] = fake.invalid_requests()
    assert record.status == 400 and field in [p["field"] for p in record.problems]
    assert record.body == json.loads(json.dumps(m.get()))


BODY_EDITS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "an empty subject": (lambda b: b.update(subject=""), "subject"),
    "no subject anywhere": (lambda b: b.pop("subject"), "subject"),
    "a malformed address": (
        lambda b: b["personalizations"][1]["to"][0].update(email="user0.example.com"),
        "personalizations.1.to.0.email",
    ),
    "top custom_args as a string": (lambda b: b.update(custom_args="run-7"), "custom_args"),
    "no personalization": (lambda b: b.update(personalizations=[]), "personalizations"),
    "a personalization without to": (lambda b: b["personalizations"][0].pop("to"), "personalizations.0.to"),
    "html before plain text": (lambda b: b["content"].reverse(), "content.1.type"),
    "no content": (lambda b: b.pop("content"), "content"),
    "no from": (lambda b: b.pop("from"), "from"),
    "1001 personalizations": (
        lambda b: b.update(personalizations=[person(i).get() for i in range(1001)]),
        "personalizations",
    ),
    "a send_at as a string": (lambda b: b.update(send_at="tomorrow"), "send_at"),
}


@pytest.mark.parametrize("edit, field", BODY_EDITS.values(), ids=list(BODY_EDITS))
def test_schema_violations_are_refused(
    fake: FakeSendGrid, sg: SendGridAPIClient, edit: Callable[[dict[str, Any]], None], field: str
) -> None:
    body = mail(2).get()
    edit(body)
    with pytest.raises(BadRequestsError) as exc:
        sg.send(body)
    assert field in error_fields(exc)
    assert fake.sent == [] and len(fake.invalid_requests()) == 1


def test_every_problem_is_listed_at_once(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    body = mail(3).get()
    body["subject"] = ""
    body["personalizations"][2]["to"][0]["email"] = "broken"
    body["personalizations"][1]["custom_args"]["attempt"] = 1
    body["personalizations"][0]["to"].append({"email": "user1@example.com"})
    body["headers"]["To"] = "someone@example.com"
    with pytest.raises(BadRequestsError) as exc:
        sg.send(body)
    assert sorted(map(str, error_fields(exc))) == sorted(
        [
            "subject",
            "personalizations.2.to.0.email",
            "personalizations.1.custom_args.attempt",
            "personalizations.1.to.0.email",  # user1, already added to personalization 0
            "headers.To",
        ]
    )


def test_a_body_over_30_mb_is_too_large(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    m = mail(1)
    m.add_content("x" * 30_000_000, "text/calendar")
    with pytest.raises(PayloadTooLargeError) as exc:
        sg.send(m)
    assert json.loads(exc.value.body)["errors"][0]["message"]
    assert fake.sent == [] and [r.status for r in fake.invalid_requests()] == [413]


def test_a_body_that_is_not_json_is_refused(fake: FakeSendGrid) -> None:
    raw = client(fake.url)
    with pytest.raises(BadRequestsError) as exc:
        raw.client.mail.send.post(request_body="{not json", request_headers={"Content-Type": "text/plain"})
    assert error_fields(exc) == [None]
    assert fake.invalid_requests()[0].body is None


def test_the_quick_check_agrees_with_jsonschema(fake: FakeSendGrid) -> None:
    valid = mail(1000).get()
    assert fake._quick_valid(valid) and list(fake.validator.iter_errors(valid)) == []
    for name, (edit, _) in BODY_EDITS.items():
        body = mail(2).get()
        edit(body)
        schema_ok = not list(fake.validator.iter_errors(body))
        assert fake._quick_valid(body) == schema_ok, name
    odd = mail(1).get()
    odd["categories"] = ["a", "a"]  # uniqueItems
    odd["asm"] = {"group_id": 1, "groups_to_display": list(range(26))}
    odd["personalizations"][0]["to"][0]["name"] = "a,b"
    assert not fake._quick_valid(odd)
    fields = {".".join(map(str, e.absolute_path)) for e in fake.validator.iter_errors(odd)}
    assert fields == {"categories", "asm.groups_to_display", "personalizations.0.to.0.name"}


def test_a_valid_body_never_reaches_the_slow_validator(fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(body: Any) -> list[dict[str, Any]]:
        raise AssertionError("jsonschema ran on a valid body")

    monkeypatch.setattr(fake, "_schema_problems", slow)
    body = mail(1000).get()
    assert fake.validate(body) == []
    body["subject"] = ""
    with pytest.raises(AssertionError):
        fake.validate(body)


# ---------------------------------------------------------------------------------------------------- faults


def test_an_injected_429_carries_retry_after_and_records_nothing(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    fake.inject("429")
    with pytest.raises(TooManyRequestsError) as exc:
        sg.send(mail(1))
    assert exc.value.headers["Retry-After"] == "1"
    assert int(exc.value.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert fake.sent == []
    sg.send(mail(1))
    assert fake.deliveries("m-0") == 1


def test_accept_drop_records_the_message_but_the_client_sees_no_answer(
    fake: FakeSendGrid, sg: SendGridAPIClient
) -> None:
    fake.inject("accept_drop")
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        sg.send(mail(2))
    assert fake.accepted_ids() == {"m-0", "m-1"}
    assert fake.faults_served == {"accept_drop": 1}
    sg.send(mail(2))  # the blind retry a sender must not make
    assert fake.duplicates() == {"m-0": 2, "m-1": 2}


def test_faults_can_be_driven_over_http_without_the_control_calls_using_them(
    fake: FakeSendGrid, sg: SendGridAPIClient
) -> None:
    answer = control(fake, "/_fake/faults", {"inject": ["503"], "latency": 0.01})
    assert answer["queued"] == ["503"] and answer["latency"] == 0.01
    assert control(fake, "/_fake/stats")["faults_served"] == {}  # the stats call did not take the fault
    with pytest.raises(ServiceUnavailableError):
        sg.send(mail(1))
    stats = control(fake, "/_fake/stats")
    assert stats["faults_served"] == {"503": 1} and stats["requests"] == 1 and stats["messages"] == 0
    control(fake, "/_fake/faults", {"storm": {"rate": 1.0, "kinds": ["500"]}})
    assert fake.fault_rate == 1.0 and fake.fault_kinds == ("500",)
    with pytest.raises(urllib.error.HTTPError) as exc:
        control(fake, "/_fake/faults", {"inject": ["meteor"]})
    assert exc.value.code == 400


# ---------------------------------------------------------------------------------------------------- activity


ACTIVITY_CONTRACT = ROOT.parent / "shared/contracts/sendgrid/email_activity_v3.openapi.json"


def activity_validator(status: int) -> Draft202012Validator:
    """A validator of ``GET /v3/messages`` answers with ``status``, from the official OpenAPI document (its
    ``$ref``s resolved in place), with every object closed: a field the contract does not list is an error."""
    document = json.loads(ACTIVITY_CONTRACT.read_text())
    pointer = f"/paths/~1v3~1messages/get/responses/{status}/content/application~1json/schema"
    registry: Registry[Any] = Registry().with_resource("urn:activity", DRAFT202012.create_resource(document))
    schema = _closed(registry.resolver().lookup(f"urn:activity#{pointer}").contents, document)
    return Draft202012Validator(schema, registry=registry)


def _closed(schema: Any, document: dict[str, Any]) -> Any:
    if isinstance(schema, list):
        return [_closed(s, document) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:  # local refs, resolved here so the closed copy stays self-contained
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **target}
    out = {k: _closed(v, document) for k, v in schema.items()}
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
    return out


def activity(sg: SendGridAPIClient, query: str, limit: int = 50) -> list[dict[str, Any]]:
    response = sg.client.messages.get(query_params={"query": query, "limit": limit})
    assert response.status_code == 200
    body = json.loads(response.body)
    errors = sorted(str(e.message) for e in activity_validator(200).iter_errors(body))
    assert errors == [], errors
    rows: list[dict[str, Any]] = body["messages"]
    for row in rows:
        assert tuple(row) == ACTIVITY_ROW_FIELDS  # exactly the documented row: no custom args, no categories
    return rows


def test_the_contract_validator_is_strict() -> None:
    row = dict.fromkeys(ACTIVITY_ROW_FIELDS, "x") | {"status": "delivered", "opens_count": 0, "clicks_count": 0}
    assert activity_validator(200).is_valid({"messages": [row]})
    assert not activity_validator(200).is_valid({"messages": [{**row, "unique_args": {"message_id": "m-1"}}]})
    assert not activity_validator(200).is_valid({"messages": [{**row, "status": "sent"}]})
    assert not activity_validator(200).is_valid({"messages": [{k: v for k, v in row.items() if k != "msg_id"}]})
    assert not activity_validator(400).is_valid({"errors": [{"field": "query"}]})


def by_address(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["to_email"]: r for r in rows}


def test_the_activity_lookup_filters_on_custom_args_and_answers_documented_rows(
    fake: FakeSendGrid, sg: SendGridAPIClient
) -> None:
    sg.send(mail(4))
    rows = activity(sg, "unique_args['message_id']=\"m-1\" OR unique_args['message_id']=\"m-3\"")
    assert set(by_address(rows)) == {"user1@example.com", "user3@example.com"}
    row = by_address(rows)["user1@example.com"]
    assert row["status"] == "delivered" and row["subject"] == "Hello User 1"
    assert row["msg_id"] == fake.messages["m-1"][0].msg_id

    assert activity(sg, "unique_args['message_id']=\"m-9\"") == []
    assert activity(sg, "(unique_args['message_id']=\"m-9\") OR (unique_args['message_id']=\"m-9b\")") == []
    assert [r["msg_id"] for r in activity(sg, 'to_email="user2@example.com"')] == [fake.messages["m-2"][0].msg_id]
    pinned = activity(sg, 'unique_args[\'run_id\']="run-7" AND unique_args[\'message_id\'] IN ("m-0", "m-2")')
    assert set(by_address(pinned)) == {"user0@example.com", "user2@example.com"}
    assert activity(sg, 'unique_args[\'run_id\']="run-8" AND unique_args[\'message_id\'] IN ("m-0", "m-2")') == []
    assert len(activity(sg, "unique_args['run_id']=\"run-7\"", limit=3)) == 3
    assert len(activity(sg, "NOT unique_args['message_id']=\"m-0\"")) == 3


def test_the_activity_lookup_shows_each_delivery_of_a_duplicate(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    sg.send(mail(1))
    sg.send(mail(1))
    rows = activity(sg, "unique_args['message_id']=\"m-0\"")
    assert len(rows) == 2 and rows[0]["msg_id"] != rows[1]["msg_id"]


def test_the_activity_lookup_lags_the_send(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    fake.activity_lag = 3600.0
    sg.send(mail(2))
    assert activity(sg, "unique_args['run_id']=\"run-7\"") == []
    fake.activity_lag = 0.0
    assert len(activity(sg, "unique_args['run_id']=\"run-7\"")) == 2
    assert control(fake, "/_fake/faults", {"activity_lag": 60})["activity_lag"] == 60.0
    assert activity(sg, "unique_args['run_id']=\"run-7\"") == []


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"query": "unique_args['message_id']=m-1"}, "invalid"),  # unquoted value
        ({"query": 'message_id="m-1"'}, "invalid"),  # not a field of the query language
        ({"query": 'unique_args="m-1"'}, "invalid"),  # a custom arg needs its name
        ({"query": 'msg_id="x" AND'}, "invalid"),
        ({"limit": 10}, "invalid"),  # the contract requires a query
        ({"query": 'msg_id="x"', "limit": 1001}, "limit"),
        ({"query": 'msg_id="x"', "limit": 0}, "limit"),
    ],
)
def test_the_activity_lookup_refuses_what_the_contract_does_not_allow(
    fake: FakeSendGrid, sg: SendGridAPIClient, params: dict[str, Any], said: str
) -> None:
    with pytest.raises(BadRequestsError) as exc:
        sg.client.messages.get(query_params=params)
    body = json.loads(exc.value.body)
    assert [e["message"].split(" ", 1)[0] for e in body["errors"]] == [said]
    assert sorted(str(e.message) for e in activity_validator(400).iter_errors(body)) == []


def test_the_activity_lookup_needs_the_key(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    with pytest.raises(UnauthorizedError):
        client(fake.url, key="SG.wrong").client.messages.get(query_params={"query": 'msg_id="x"'})


def test_an_unknown_path_is_404_with_the_error_shape(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    with pytest.raises(NotFoundError) as exc:
        sg.client.templates.get()
    assert error_fields(exc) == [None]


# ---------------------------------------------------------------------------------------------------- process


def test_it_runs_as_a_process_until_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.sendgrid", "--port", "0", "--latency", "0.01", "--api-key", KEY],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        url = match.group(1)
        assert client(url).send(mail(2)).status_code == 202
        with urllib.request.urlopen(url + "/_fake/stats", timeout=5) as response:
            stats = json.loads(response.read())
        assert stats["messages"] == 2 and stats["accepted_requests"] == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_recorded_body_is_the_parsed_request(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    m = mail(1)
    sg.send(m)
    [record] = fake.request_log
    assert (record.method, record.path, record.status, record.problems) == ("POST", "/v3/mail/send", 202, ())
    assert record.body == m.get()
