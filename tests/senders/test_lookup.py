"""Looking messages up in SendGrid's Email Activity: matched only by what the documented rows carry, and an
absence believed only after the settling time. Against the strict fake (documented rows, its query language)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from herald import clock
from herald.campaigns.plans import Sender
from senders.dispatch import Gate, RetryPolicy, call
from senders.errors import ProviderConfigError
from senders.providers.base import Doubt, OutgoingMessage
from senders.providers.sendgrid import DEFAULT_SETTLE, SendGridProvider, SendGridSettings, match_rows, settled
from tests.fakes.sendgrid import FakeSendGrid

KEY = "SG.lookup-test-key"
RUN = "r20261203T120000Z-news"
SETTLE = 600.0


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key=KEY) as server:
        yield server


def provider(fake: FakeSendGrid, *, run_id: str = RUN, **settings: object) -> SendGridProvider:
    options = {"host": fake.url, "timeout": 5.0, "lookup_settle": SETTLE, **settings}
    return SendGridProvider(
        SendGridSettings(api_key=KEY, **options),  # type: ignore[arg-type]
        sender=Sender("Shop", "news@shop.example"),
        run_id=run_id,
        delivery_id="news",
    )


def message(i: int, address: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=f"m{i:031x}",
        run_id=RUN,
        recipient_id=f"R{i}",
        channel="email",
        address=address or f"user{i}@example.com",
        subject="Hello",
        text="Hi",
    )


def doubts(messages: list[OutgoingMessage], age: float) -> dict[str, Doubt]:
    since = clock.now() - dt.timedelta(seconds=age)
    return {m.message_id: Doubt(m.message_id, m.address, since) for m in messages}


def ids(messages: list[OutgoingMessage]) -> list[str]:
    return [m.message_id for m in messages]


# ---------------------------------------------------------------------------------------------------- the rules


def test_a_found_row_is_accepted_whenever_it_is_asked() -> None:
    now = clock.now()
    assert settled(True, Doubt("m1", "a@example.com", now), now, SETTLE) is True
    assert settled(True, None, now, SETTLE) is True


def test_an_absence_releases_only_after_the_settling_time() -> None:
    now = clock.now()
    fresh = Doubt("m1", "a@example.com", now - dt.timedelta(seconds=SETTLE - 1))
    old = Doubt("m1", "a@example.com", now - dt.timedelta(seconds=SETTLE))
    assert settled(False, fresh, now, SETTLE) is None  # before settling: unknown
    assert settled(False, old, now, SETTLE) is False  # after settling: may be sent again
    assert settled(False, None, now, SETTLE) is None  # in doubt since when? then never
    assert settled(False, Doubt("m1"), now, SETTLE) is None
    assert settled(None, old, now, SETTLE) is None


def test_rows_are_matched_by_an_address_that_occurs_once() -> None:
    addresses = {"m1": "a@example.com", "m2": "B@example.com", "m3": "c@example.com"}
    rows = [{"to_email": "a@example.com"}, {"to_email": "b@example.com"}]
    assert match_rows(["m1", "m2", "m3"], addresses, rows, 1000) == {"m1": True, "m2": True, "m3": False}
    assert match_rows(["m1", "m2"], addresses, [], 1000) == {"m1": False, "m2": False}


def test_an_address_shared_within_the_query_cannot_be_matched() -> None:
    addresses = {"m1": "same@example.com", "m2": "same@example.com", "m3": "c@example.com"}
    rows = [{"to_email": "same@example.com"}]
    assert match_rows(["m1", "m2", "m3"], addresses, rows, 1000) == {"m1": None, "m2": None, "m3": False}
    # no row shows the shared address: neither message is there
    assert match_rows(["m1", "m2", "m3"], addresses, [{"to_email": "c@example.com"}], 1000) == {
        "m1": False,
        "m2": False,
        "m3": True,
    }


def test_rows_that_cannot_be_explained_or_a_cut_answer_prove_no_absence() -> None:
    addresses = {"m1": "a@example.com", "m2": "b@example.com"}
    stray = [{"to_email": "a@example.com"}, {"to_email": "someone@example.net"}]
    assert match_rows(["m1", "m2"], addresses, stray, 1000) == {"m1": True, "m2": None}
    assert match_rows(["m1", "m2"], addresses, [{"to_email": "a@example.com"}], 1) == {"m1": True, "m2": None}
    assert match_rows(["m1", "m2"], {}, [{"to_email": "a@example.com"}], 1000) == {"m1": None, "m2": None}
    assert match_rows(["m1"], addresses, [{"msg_id": "x"}], 1000) == {"m1": None}


def test_the_settling_time_is_a_setting() -> None:
    base = {"SENDGRID_API_KEY": "k"}
    assert SendGridSettings.from_env(base).lookup_settle == DEFAULT_SETTLE >= 1800
    assert SendGridSettings.from_env({**base, "HERALD_SENDGRID_LOOKUP_SETTLE": "3600"}).lookup_settle == 3600
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(ProviderConfigError, match="HERALD_SENDGRID_LOOKUP_SETTLE"):
            SendGridSettings.from_env({**base, "HERALD_SENDGRID_LOOKUP_SETTLE": bad})


# ---------------------------------------------------------------------------------------------------- against the fake


def test_the_lookup_finds_what_was_sent_and_settles_the_rest_by_age(fake: FakeSendGrid) -> None:
    sg = provider(fake)
    sent, never = [message(i) for i in range(5)], [message(i) for i in range(5, 8)]
    assert {o.status for o in sg.send(sent)} == {"accepted"}
    everything = sent + never
    assert sg.lookup(ids(everything), doubts=doubts(everything, 5)) == {
        **dict.fromkeys(ids(sent), True),
        **dict.fromkeys(ids(never), None),  # not there yet, but Activity may lag: unknown
    }
    assert sg.lookup(ids(everything), doubts=doubts(everything, SETTLE + 1)) == {
        **dict.fromkeys(ids(sent), True),
        **dict.fromkeys(ids(never), False),
    }
    # one query per chunk, none per message: every address is unique
    assert len([r for r in fake.request_log if r.method == "GET"]) == 2
    # without the addresses, rows cannot be matched: every message is asked on its own
    assert sg.lookup(ids(everything)) == {**dict.fromkeys(ids(sent), True), **dict.fromkeys(ids(never), None)}
    queries = [r.path for r in fake.request_log if r.method == "GET"]
    assert len(queries) == 2 + 1 + len(everything)
    assert all("run_id" in q and "message_id" in q for q in queries)  # every query pins the run and the messages
    assert fake.invalid_requests() == []


def test_another_runs_message_is_not_this_runs(fake: FakeSendGrid) -> None:
    provider(fake, run_id="r-other").send([message(1)])
    mine = [message(1)]
    assert provider(fake).lookup(ids(mine), doubts=doubts(mine, SETTLE + 1)) == {mine[0].message_id: False}


def test_a_shared_address_is_asked_one_message_at_a_time(fake: FakeSendGrid) -> None:
    sg = provider(fake)
    twins = [message(1, "family@example.com"), message(2, "family@example.com")]
    sg.send(twins[:1])
    assert sg.lookup(ids(twins), doubts=doubts(twins, SETTLE + 1)) == {
        twins[0].message_id: True,
        twins[1].message_id: False,
    }
    assert len([r for r in fake.request_log if r.method == "GET"]) == 3  # the chunk, then each twin


def test_a_lagging_feed_never_releases_a_message_it_has(fake: FakeSendGrid) -> None:
    fake.activity_lag = 3600.0
    sg = provider(fake)
    sent = [message(i) for i in range(3)]
    sg.send(sent)
    assert sg.lookup(ids(sent), doubts=doubts(sent, 1)) == dict.fromkeys(ids(sent))
    fake.activity_lag = 0.0
    assert sg.lookup(ids(sent), doubts=doubts(sent, 1)) == dict.fromkeys(ids(sent), True)


def test_without_the_add_on_or_a_quotable_run_nothing_can_be_told(fake: FakeSendGrid) -> None:
    sent = [message(1)]
    provider(fake).send(sent)
    assert provider(fake, lookup=False).lookup(ids(sent), doubts=doubts(sent, SETTLE + 1)) == {ids(sent)[0]: None}
    odd = provider(fake, run_id='r"1')
    assert odd.lookup(ids(sent), doubts=doubts(sent, SETTLE + 1)) == {ids(sent)[0]: None}


def test_an_ambiguous_send_stays_unknown_until_settled_and_is_never_sent_twice(fake: FakeSendGrid) -> None:
    """The sender's three answers after a timeout: found → accepted; absent before settling → unknown (never
    re-sent at once); absent after settling (settle 0) → sent again."""
    policy = RetryPolicy(base_delay=0.01, max_delay=0.02)
    fake.timeout_hold = 1.0
    sg = provider(fake, timeout=0.3)

    fake.inject("accept_drop")
    [found] = call(sg, [message(1)], Gate(), policy)
    assert (found.state, found.provider_id) == ("accepted", "lookup")

    fake.inject("timeout")  # nothing recorded, and Activity cannot prove it yet
    [unsure] = call(sg, [message(2)], Gate(), policy)
    assert unsure.state == "unknown"

    fake.inject("timeout")
    [retried] = call(provider(fake, timeout=0.3, lookup_settle=0.0), [message(3)], Gate(), policy)
    assert retried.state == "accepted"
    assert fake.duplicates() == {} and fake.deliveries(message(2).message_id) == 0
