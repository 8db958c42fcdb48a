"""The in-app provider and the inbox store: atomic parts, exact lookups, read / dismiss, profiles kept apart."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from herald.project import Project
from senders.errors import ProviderConfigError
from senders.inbox import Inbox, InboxError, encode_message, message_heads, messages_dir, write_atomic
from senders.providers.base import OutgoingMessage, RequestRejected, TransientFault
from senders.providers.inbox import InboxProvider


def msg(i: int, profile: str = "P1", run: str = "r1", **changes: Any) -> OutgoingMessage:
    m = OutgoingMessage(
        message_id=f"m{i:04d}",
        run_id=run,
        recipient_id=profile,
        channel="in_app",
        address=profile,
        title=f"Title {i}",
        text=f"Text {i}",
        html=f"<p>{i}</p>",
        data={"cta": "https://example.com/x"},
    )
    return replace(m, **changes)


def test_send_writes_one_part_and_lookup_reads_it(project: Project) -> None:
    provider = InboxProvider(project)
    outcomes = provider.send([msg(1), msg(2, "P2"), msg(3)])
    assert [o.status for o in outcomes] == ["accepted"] * 3
    parts = list((messages_dir(project) / "r1").iterdir())
    assert [p.name for p in parts] == ["m0001-3.jsonl"]
    assert {o.provider_id for o in outcomes} == {"m0001-3.jsonl"}
    lines = [json.loads(line) for line in parts[0].read_text().splitlines()]
    assert lines[1] == {
        "message_id": "m0002",
        "profile_id": "P2",
        "created_at": lines[1]["created_at"],
        "expires_at": None,
        "run_id": "r1",
        "title": "Title 2",
        "text": "Text 2",
        "html": "<p>2</p>",
        "data": {"cta": "https://example.com/x"},
    }
    # A fresh instance (another process after a crash) answers from the disk alone, with or without the run.
    for fresh in (InboxProvider(project), InboxProvider(project, run_id="r1")):
        assert fresh.lookup(["m0001", "m0003", "m0009"]) == {"m0001": True, "m0003": True, "m0009": False}


def test_send_again_stores_nothing_twice(project: Project) -> None:
    provider = InboxProvider(project)
    provider.send([msg(1), msg(2)])
    again = InboxProvider(project).send([msg(2), msg(3), msg(3)])
    assert [(o.status, o.provider_id) for o in again] == [
        ("accepted", "m0001-2.jsonl"),
        ("accepted", "m0003-1.jsonl"),
        ("accepted", "m0003-1.jsonl"),
    ]
    assert [m.message_id for m in Inbox(project).messages("P1")] == ["m0003", "m0002", "m0001"]


def test_bad_messages_fail_alone_and_a_call_holds_one_run(project: Project) -> None:
    provider = InboxProvider(project)
    outcomes = provider.send([msg(1, address=""), msg(2, channel="push"), msg(3)])
    assert [o.status for o in outcomes] == ["failed", "failed", "accepted"]
    assert "no profile id" in outcomes[0].reason and "push" in outcomes[1].reason
    with pytest.raises(RequestRejected, match="one run"):
        provider.send([msg(4), msg(5, run="r2")])
    with pytest.raises(RequestRejected, match="folder"):
        provider.send([msg(6, run="../escape")])
    with pytest.raises(ProviderConfigError, match="folder"):
        InboxProvider(project, run_id="../escape")


def test_part_names_are_never_hidden_or_paths(project: Project) -> None:
    outcomes = InboxProvider(project).send([msg(1, message_id="../.x/y z")])
    assert outcomes[0].provider_id == "_.x_y_z-1.jsonl"
    assert InboxProvider(project).lookup(["../.x/y z"]) == {"../.x/y z": True}
    assert Inbox(project).messages("P1")[0].message_id == "../.x/y z"


def test_an_unrenamed_part_is_invisible(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed after writing its temporary file and before the rename left nothing visible."""

    class Killed(BaseException):
        pass

    def die(*args: object) -> None:
        raise Killed

    provider = InboxProvider(project)
    provider.send([msg(1)])
    monkeypatch.setattr(os, "link", die)
    with pytest.raises(Killed):
        provider.send([msg(2), msg(3)])
    monkeypatch.undo()
    run_dir = messages_dir(project) / "r1"
    # What the kill leaves behind: the finished temporary file under its hidden name.
    leftover = run_dir / ".m0002-2.jsonl.123.abcd.partial"
    leftover.write_bytes(encode_message({"message_id": "m0002", "profile_id": "P1", "created_at": "x"}))
    assert InboxProvider(project).lookup(["m0001", "m0002", "m0003"]) == {"m0001": True, "m0002": False, "m0003": False}
    assert [m.message_id for m in Inbox(project).messages("P1")] == ["m0001"]


def test_a_failed_write_is_transient_and_leaves_nothing(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(TransientFault, match="No space"):
        InboxProvider(project).send([msg(1)])
    monkeypatch.undo()
    assert list((messages_dir(project) / "r1").iterdir()) == []
    assert InboxProvider(project).lookup(["m0001"]) == {"m0001": False}


def test_write_atomic_never_replaces_without_clobber(tmp_path: Path) -> None:
    first = write_atomic(tmp_path / "a.jsonl", b"1\n", clobber=False)
    second = write_atomic(tmp_path / "a.jsonl", b"2\n", clobber=False)
    assert first.read_bytes() == b"1\n" and second.read_bytes() == b"2\n" and second != first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, second.name])


def test_lookup_cache_sees_parts_written_by_others(project: Project) -> None:
    mine = InboxProvider(project)
    assert mine.lookup(["m0001"]) == {"m0001": False}
    InboxProvider(project).send([msg(1)])
    assert mine.lookup(["m0001"]) == {"m0001": True}


def test_message_heads_handle_escaped_ids() -> None:
    plain = encode_message({"message_id": "m1", "profile_id": "P1", "created_at": "t", "run_id": "r"})
    odd = encode_message({"message_id": 'm"2', "profile_id": "Pé", "created_at": "t", "expires_at": "u"})
    heads = list(message_heads(plain + odd))
    assert heads == [(0, "m1", "P1", "t", None), (len(plain), 'm"2', "Pé", "t", "u")]


def test_read_and_dismiss_flow(project: Project) -> None:
    InboxProvider(project).send([msg(1), msg(2), msg(3, "P2")])
    InboxProvider(project).send([msg(4, run="r2")])
    inbox = Inbox(project)
    assert [m.message_id for m in inbox.messages("P1")] == ["m0004", "m0002", "m0001"]
    assert inbox.unread_count("P1") == 3

    event = inbox.record("P1", "m0002", "read")
    assert (event.message_id, event.profile_id, event.event) == ("m0002", "P1", "read")
    day = event.occurred_at.strftime("%Y-%m-%d")
    assert (project.warehouse_dir / "inbox" / "events" / day / f"{event.event_id}.jsonl").is_file()
    inbox.record("P1", "m0001", "opened_link")
    inbox.record("P1", "m0004", "dismissed")

    listed = {m.message_id: (m.read, m.dismissed) for m in inbox.messages("P1")}
    assert listed == {"m0002": (True, False), "m0001": (True, False)}
    everything = {m.message_id: (m.read, m.dismissed) for m in inbox.messages("P1", include_dismissed=True)}
    assert everything["m0004"] == (False, True)
    assert inbox.unread_count("P1") == 0
    assert inbox.unread_count("P2") == 1
    # Another reader (the app, another process) derives the same flags from the files.
    assert [(m.message_id, m.read) for m in Inbox(project).messages("P1")] == [("m0002", True), ("m0001", True)]


def test_a_profile_cannot_read_or_mark_another_profiles_message(project: Project) -> None:
    InboxProvider(project).send([msg(1, "P1"), msg(2, "P2")])
    inbox = Inbox(project)
    assert [m.message_id for m in inbox.messages("P2")] == ["m0002"]
    with pytest.raises(InboxError, match="profile P2 has no in-app message m0001"):
        inbox.record("P2", "m0001", "read")
    with pytest.raises(InboxError, match="profile P2 has no in-app message nope"):
        inbox.record("P2", "nope", "read")
    with pytest.raises(InboxError, match="unknown inbox event"):
        inbox.record("P1", "m0001", "deleted")
    assert not (project.warehouse_dir / "inbox" / "events").exists()
    # An event file naming the wrong profile (not written by record) does not mark the owner's message.
    write_atomic(
        project.warehouse_dir / "inbox" / "events" / "2026-01-01" / "forged.jsonl",
        json.dumps({"message_id": "m0001", "profile_id": "P2", "event": "read", "occurred_at": "x"}).encode(),
    )
    assert [m.read for m in Inbox(project).messages("P1")] == [False]


def test_expired_messages_are_not_listed(project: Project) -> None:
    InboxProvider(project, ttl=dt.timedelta(seconds=-1)).send([msg(1)])
    InboxProvider(project, ttl=dt.timedelta(days=7)).send([msg(2)])
    listed = Inbox(project).messages("P1")
    assert [m.message_id for m in listed] == ["m0002"]
    assert listed[0].expires_at is not None and listed[0].expires_at > listed[0].created_at
    assert Inbox(project).unread_count("P1") == 1


def test_limit_reads_only_the_newest(project: Project) -> None:
    provider = InboxProvider(project)
    provider.send([msg(i) for i in range(1, 21)])  # more lines of one part than the seek-per-line path reads
    provider.send([msg(30, run="r2")])
    inbox = Inbox(project)
    assert [m.message_id for m in inbox.messages("P1", limit=3)] == ["m0030", "m0020", "m0019"]
    everything = inbox.messages("P1")
    assert len(everything) == 21 and everything[-1].title == "Title 1"
    assert inbox.messages("P1", limit=0) == []


def test_a_settled_folder_that_gains_a_file_is_read_again(project: Project) -> None:
    """Folders whose mtime is old are not listed again, until a new file moves their mtime."""
    InboxProvider(project).send([msg(1)])
    inbox = Inbox(project)
    inbox.record("P1", "m0001", "read")
    day = next((project.warehouse_dir / "inbox" / "events").iterdir())
    old = 1_600_000_000
    os.utime(day, (old, old))
    os.utime(messages_dir(project) / "r1", (old, old))
    assert inbox.unread_count("P1") == 0  # settles both folders
    InboxProvider(project).send([msg(2)])
    other = Inbox(project)
    other.record("P1", "m0002", "dismissed")
    assert [(m.message_id, m.read, m.dismissed) for m in inbox.messages("P1", include_dismissed=True)] == [
        ("m0002", False, True),
        ("m0001", True, False),
    ]
