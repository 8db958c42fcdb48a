"""Unknown messages are an operator's problem, made visible: `herald send` exits non-zero when messages end
unknown, landed provider events settle them without a decision, and `herald resolve` records an operator's
decision for the rest, only past a settling age, never under a running sender's feet."""

from __future__ import annotations

import argparse
import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from herald import clock
from herald.project import Project
from senders import cli, ledger
from senders.job import SendSummary
from senders.resolve import parse_age, resolve_unknown

RUN = "r20261128T090000000000Z-winter_sale_email"


def _old(hours: float) -> str:
    return (clock.now() - dt.timedelta(hours=hours)).isoformat(timespec="microseconds")


def _entry(mid: str, state: ledger.State, at: str, reason: str = "") -> ledger.Entry:
    return ledger.Entry(mid, state, 1, RUN, recipient_id=f"p-{mid}", channel="email", reason=reason, at=at)


@pytest.fixture
def unknowns(project: Project) -> list[str]:
    """A run of two shards: five messages left unknown by a killed sender (four 5 h ago, one just now), one
    accepted. Returns the message ids in that order."""
    ledger.shard_count(project, RUN, 2)
    mids = [f"m{i:031x}" for i in range(6)]
    by_shard: dict[int, list[ledger.Entry]] = {0: [], 1: []}
    for i, mid in enumerate(mids):
        at = _old(5) if i < 4 else _old(0.1)
        state: ledger.State = "accepted" if i == 5 else "unknown"
        reason = "" if state == "accepted" else "the sender stopped during the provider call"
        by_shard[ledger.shard_of(mid, 2)] += [_entry(mid, "claimed", at), _entry(mid, state, at, reason)]
    for index, entries in by_shard.items():
        with ledger.Shard(project, RUN, index) as shard:
            assert shard.try_lock()
            shard.append(entries)
    return mids


def _land_events(project: Project, rows: list[tuple[str, str]]) -> None:
    folder = project.landing_dir / "esp_events"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "message_id": [m for m, _ in rows],
            "event": [e for _, e in rows],
            "occurred_at": pa.array([dt.datetime(2026, 11, 28, 9, 0, 1)] * len(rows), pa.timestamp("us")),
        }
    )
    pq.write_table(table, folder / "20261128T100000000000Z-test.parquet")


def _states(project: Project) -> dict[str, ledger.Entry]:
    return ledger.read_run(project, RUN)


def test_landed_provider_events_settle_unknowns_and_nothing_else_without_a_decision(
    project: Project, unknowns: list[str]
) -> None:
    ids = unknowns
    _land_events(project, [(ids[0], "delivered"), (ids[4], "processed"), ("m-not-ours", "open")])
    r = resolve_unknown(project, RUN, by="anna")
    assert (r.from_events, r.decided, r.still_unknown) == (2, 0, 3)
    latest = _states(project)
    assert latest[ids[0]].state == "accepted" and "delivered at 2026-11-28 09:00:01" in latest[ids[0]].reason
    assert latest[ids[4]].state == "accepted"  # evidence needs no settling age
    assert [latest[m].state for m in ids[1:4]] == ["unknown"] * 3


def test_a_decision_settles_only_messages_older_than_the_threshold_and_records_who(
    project: Project, unknowns: list[str]
) -> None:
    ids = unknowns
    r = resolve_unknown(
        project, RUN, by="anna", decision="not-sent", older_than=dt.timedelta(hours=2), reason="absent in logs"
    )
    assert (r.from_events, r.decided, r.still_unknown) == (0, 4, 1)
    latest = _states(project)
    assert [latest[m].state for m in ids] == ["released"] * 4 + ["unknown", "accepted"]
    assert latest[ids[0]].reason == "resolved as not-sent by anna: absent in logs"
    # Resolving again changes nothing that is settled; the young one waits for its age.
    again = resolve_unknown(project, RUN, by="ben", decision="failed", older_than=dt.timedelta(hours=2))
    assert (again.decided, again.still_unknown) == (0, 1)


def test_a_shard_held_by_a_running_sender_is_left_alone(project: Project, unknowns: list[str]) -> None:
    held = ledger.Shard(project, RUN, 0)
    assert held.try_lock()
    try:
        r = resolve_unknown(project, RUN, by="anna", decision="sent", older_than=dt.timedelta(0))
    finally:
        held.release()
    assert r.busy_shards == (0,)
    in_shard_0 = [m for m in unknowns if ledger.shard_of(m, 2) == 0]
    latest = _states(project)
    assert all(latest[m].state in ("unknown", "accepted") for m in in_shard_0)
    assert not any(latest[m].reason.startswith("resolved") for m in in_shard_0)


def test_send_exits_6_when_messages_end_unknown_and_says_what_to_do(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def summary(states: dict[str, int]) -> SendSummary:
        return SendSummary(RUN, sum(states.values()), states, {}, 0, 0.1)

    args = argparse.Namespace(
        run=RUN,
        dry_run=False,
        sandbox=False,
        concurrency=1,
        batch_size=None,
        max_per_hour=None,
        window=None,
        quiet=True,
    )
    codes = {}
    for name, states in {
        "clean": {"accepted": 10},
        "unknown": {"accepted": 8, "unknown": 2},
        "pending": {"accepted": 8, "pending": 1, "unknown": 1},
    }.items():
        monkeypatch.setattr(cli.SendJob, "run", lambda self, s=states: summary(s))
        codes[name] = cli.cmd_send(args, project)
    assert codes == {"clean": 0, "unknown": 6, "pending": 5}
    out = capsys.readouterr().out
    assert f"herald resolve {RUN} --by NAME" in out and "2 message(s) unknown" in out


def test_resolve_command_exit_codes(project: Project, unknowns: list[str]) -> None:
    base = {"run": RUN, "by": "anna", "reason": None}
    assert cli.cmd_resolve(argparse.Namespace(**base, as_=None, older_than="2h"), project) == 6
    assert cli.cmd_resolve(argparse.Namespace(**base, as_="not-sent", older_than="0m"), project) == 0
    assert cli.cmd_resolve(argparse.Namespace(**base, as_="sent", older_than="soon"), project) == 2


def test_ages() -> None:
    assert parse_age("90m") == dt.timedelta(minutes=90)
    assert parse_age("2") == dt.timedelta(hours=2)
    assert parse_age("1d") == dt.timedelta(days=1)
    for bad in ("", "2w", "-1h", "400d"):
        with pytest.raises(ValueError):
            parse_age(bad)


def test_nothing_to_resolve_writes_nothing(project: Project) -> None:
    r = resolve_unknown(project, RUN, by="anna", decision="not-sent")
    assert (r.from_events, r.decided, r.still_unknown) == (0, 0, 0)
    assert not ledger.run_dir(project, RUN).exists()
