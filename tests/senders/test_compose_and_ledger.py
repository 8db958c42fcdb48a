"""Fast checks of the pieces under `herald send`: the shared form of a template gives exactly what the renderer
gives, for any recipient data; the journal survives a torn write; the run plan is fixed once; the throttle keeps
its rate; signed links verify."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.content.render import Renderer
from herald.content.shared import shared_form
from herald.project import Project
from senders import ledger
from senders.compose import Composer, Recipient
from senders.links import Links
from senders.pacing import Throttle

TEMPLATE = {
    "template.yml": (
        "channel: email\n"
        "subject: \"{{ first_name | default('Hello') }}, news for {{ city | default('you') }}\"\n"
        "preheader: \"Picked for {{ first_name | default('you') }}\"\n"
        "html: body.html\ntext: body.txt\n"
        "locales:\n  fr: {subject: 'Bonjour {{ first_name | default(\"\") }}', text: body.fr.txt}\n"
    ),
    "body.html": (
        "<html><body><p>Hi {{ first_name | default('there') }} {{ last_name | default('') | upper }}</p>"
        "<p>{{ city | default('Your town') }} &amp; more</p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>"
        "</body></html>\n"
    ),
    "body.txt": "{{ first_name | default('') }}\n\nNews for {{ city | default('you') }}.\n{{ unsubscribe_url }}\n",
    "body.fr.txt": "{{ first_name | default('') }} — {{ city | default('') }}\n",
}

text = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from(list("ab <>&\"' \n\t-%é\x1eA{}")), max_size=12),
)


_COMPOSERS: dict[Path, Composer] = {}


def _composer(tmp: Path) -> Composer:
    if tmp in _COMPOSERS:  # one per test: hypothesis runs many examples with the same tmp_path
        return _COMPOSERS[tmp]
    folder = tmp / "templates" / "news"
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in TEMPLATE.items():
        (folder / name).write_text(body, encoding="utf-8")
    links = Links(public_url="https://l.example", secret=b"s", unsubscribe_mailto="u@shop.example")
    composer = Composer(
        Renderer(tmp / "templates"), "news", run_id="r1", channel="email", delivery_id="d", campaign_id="c", links=links
    )
    _COMPOSERS[tmp] = composer
    return composer


def _apply(body: str, subs: dict[str, str]) -> str:
    for k, v in subs.items():
        body = body.replace(k, v)
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=text, last=text, city=text, lang=st.sampled_from([None, "fr", "de"]))
def test_the_shared_form_gives_exactly_what_the_renderer_gives(
    tmp_path: Path, first: str | None, last: str | None, city: str | None, lang: str | None
) -> None:
    composer = _composer(tmp_path)
    payload = {"first_name": first, "last_name": last, "city": city, "language_code": lang}
    r = Recipient("m1", "p1", "p1", "a@b.example", "target", "", payload)
    whole = composer.compose(r)
    shared = composer.compose_shared(r)
    if shared is None:  # edge cases (an empty value at the edge of a stripped part) use the renderer itself
        return
    assert shared.subject == whole.subject and shared.preheader == whole.preheader
    assert _apply(shared.html, dict(shared.substitutions)) == whole.html
    assert _apply(shared.text, dict(shared.substitutions)) == whole.text
    assert shared.headers == whole.headers


def test_ordinary_recipients_share_one_body(tmp_path: Path) -> None:
    composer = _composer(tmp_path)
    forms = [
        composer.compose_shared(Recipient(f"m{i}", "p", "p", "a@b.example", "target", "", {"first_name": n}))
        for i, n in enumerate(["Ann", "Bob", "Chloé <3"])
    ]
    assert all(f is not None for f in forms)
    assert len({(f.html, f.text) for f in forms if f is not None}) == 1


def test_per_recipient_logic_has_no_shared_form(tmp_path: Path) -> None:
    folder = tmp_path / "logic"
    folder.mkdir()
    (folder / "template.yml").write_text('channel: email\nsubject: Hi\ntext: "{% if vip %}VIP{% endif %}"\n')
    assert shared_form(Renderer(tmp_path), "logic", "") is None


def test_a_torn_last_line_is_dropped_and_the_rest_is_kept(tmp_path: Path) -> None:
    project = Project(root=tmp_path, warehouse_dir=tmp_path / "w")
    with ledger.Shard(project, "r1", 0) as shard:
        assert shard.try_lock()
        shard.append([ledger.Entry("m1", "claimed", 1, "r1"), ledger.Entry("m1", "accepted", 1, "r1")])
    path = ledger.run_dir(project, "r1") / "shard-000.jsonl"
    with open(path, "ab") as fh:
        fh.write(b'{"message_id": "m2", "state": "cla')  # a kill in the middle of a write
    assert ledger.read_run(project, "r1")["m1"].state == "accepted"  # readers ignore the fragment
    with ledger.Shard(project, "r1", 0) as shard:
        assert shard.try_lock()
        assert set(shard.last) == {"m1"}
        shard.append([ledger.Entry("m2", "claimed", 1, "r1")])
    assert path.read_bytes().count(b"\n") == 3 and path.read_bytes().endswith(b"\n")
    assert [e.state for e in ledger.read_history(project, "r1")] == ["claimed", "accepted", "claimed"]


def test_a_shard_has_one_writer(tmp_path: Path) -> None:
    project = Project(root=tmp_path, warehouse_dir=tmp_path / "w")
    first, second = ledger.Shard(project, "r1", 3), ledger.Shard(project, "r1", 3)
    assert first.try_lock()
    pid = os.fork()
    if pid == 0:  # another process: the lock is per open file description, so test across processes
        os._exit(0 if not ledger.Shard(project, "r1", 3).try_lock() else 1)
    assert os.waitpid(pid, 0)[1] == 0
    first.release()
    assert second.try_lock()
    second.release()


def test_the_first_sender_fixes_the_shard_count(tmp_path: Path) -> None:
    project = Project(root=tmp_path, warehouse_dir=tmp_path / "w")
    assert ledger.shard_count(project, "r1", 4) == 4
    assert ledger.shard_count(project, "r1", 9) == 4
    ids = [ledger.message_id("r1", f"p{i}", "email") for i in range(1000)]
    assert len(set(ids)) == 1000 and ids[0] == ledger.message_id("r1", "p0", "email")
    assert {ledger.shard_of(m, 4) for m in ids} == {0, 1, 2, 3}


def test_the_throttle_keeps_its_hourly_rate() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    throttle = Throttle(3600, clock=lambda: clock[0], sleep=sleep)  # one per second, a minute's burst
    for _ in range(10):
        throttle.take(30)
    assert clock[0] == (10 * 30 - 60) * 1.0  # 300 messages, 60 of them in the burst


def test_links_are_signed_per_message() -> None:
    links = Links(public_url="https://l.example", secret=b"secret")
    token = links.token("m123")
    assert links.verify(token) == "m123"
    assert links.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert links.verify("m124." + token.split(".")[1]) is None
    headers = links.list_unsubscribe_headers("m123")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"] == f"<https://l.example/u/{token}>"


def test_a_subject_with_logic_beside_shared_bodies_is_rendered_whole(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "mixed"
    folder.mkdir(parents=True)
    (folder / "template.yml").write_text(
        "channel: email\n"
        'subject: "{% if first_name | default('
        ') %}{{ first_name }}, {% endif %}news"\n'
        "preheader: \"  For {{ city | default('you') }}  \"\n"
        "html: '<p>{{ first_name | default(\"there\") }}</p>'\n"
        "text: \"{{ first_name | default('') }}\"\n",
        encoding="utf-8",
    )
    links = Links(public_url="https://l.example", secret=b"s")
    composer = Composer(
        Renderer(tmp_path / "templates"),
        "mixed",
        run_id="r1",
        channel="email",
        delivery_id="d",
        campaign_id="c",
        links=links,
    )
    for i, payload in enumerate([{"first_name": "Ann", "city": "Lyon"}, {"first_name": None}, {"first_name": "<b>"}]):
        r = Recipient(f"m{i}", "p1", "p1", "a@b.example", "target", "", payload)
        whole, shared = composer.compose(r), composer.compose_shared(r)
        assert shared is not None
        assert (shared.subject, shared.preheader) == (whole.subject, whole.preheader)
        assert _apply(shared.html, dict(shared.substitutions)) == whole.html
        assert _apply(shared.text, dict(shared.substitutions)) == whole.text


_piece_text = st.text(alphabet=st.sampled_from(list("a \n\t")), max_size=4)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(_piece_text, st.none()), min_size=1, max_size=5), st.data())
def test_the_strip_shortcut_agrees_with_stripping_the_whole(shape: list[str | None], data: st.DataObject) -> None:
    from herald.content.shared import SharedForm, _strip_commutes

    pieces: list[str | int] = []
    for p in shape:
        pieces.append(p if p is not None else sum(1 for x in pieces if isinstance(x, int)))
    got = [data.draw(_piece_text) for p in pieces if isinstance(p, int)]
    whole = "".join(p if isinstance(p, str) else got[p] for p in pieces).strip()
    shared = SharedForm._assemble(tuple(pieces), lambda i: got[i], strip_edges=True)
    assert _strip_commutes(tuple(pieces), got) == (whole == shared)


_ESCAPING_TEMPLATE = {
    "template.yml": (
        "channel: email\nsubject: \"{{ first_name | default('') | replace('a', '<&>') }}\"\nhtml: body.html\n"
    ),
    "body.html": (
        "<p>{{ first_name | default('') | replace('a', '<&>') }}|{{ [city | default(''), '<i>'] | join(' & ') }}|"
        "{{ '%s<' | format(last_name | default('')) }}|{{ (first_name | default('')) ~ '<' }}</p>\n"
    ),
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=text, last=text, city=text)
def test_filters_that_escape_give_the_same_values_in_the_shared_form(
    tmp_path: Path, first: str | None, last: str | None, city: str | None
) -> None:
    folder = tmp_path / "templates" / "escaping"
    if not folder.exists():
        folder.mkdir(parents=True)
        for name, body in _ESCAPING_TEMPLATE.items():
            (folder / name).write_text(body, encoding="utf-8")
    links = Links(public_url="https://l.example", secret=b"s")
    composer = Composer(
        Renderer(tmp_path / "templates"),
        "escaping",
        run_id="r",
        channel="email",
        delivery_id="d",
        campaign_id="c",
        links=links,
    )
    r = Recipient("m1", "p1", "p1", "a@b.example", "target", "", {"first_name": first, "last_name": last, "city": city})
    whole, shared = composer.compose(r), composer.compose_shared(r)
    if shared is None:  # only a value holding the separator goes alone (this template strips no body)
        assert any("\x1e" in (v or "") for v in (first, last, city))
        return
    assert shared.subject == whole.subject
    assert _apply(shared.html, dict(shared.substitutions)) == whole.html
