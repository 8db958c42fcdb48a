"""The router and the Profiles page, run headlessly with AppTest against a published warehouse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from herald import clock
from herald.warehouse import deliveries_path

APP = Path(__file__).resolve().parents[2] / "app"
ROUTER = str(APP / "streamlit_app.py")
PAGE = str(APP / "views" / "profiles.py")
# LIKE wildcards are covered in test_profiles_data.py: "_" legitimately matches addresses such as a_b@x.
HOSTILE = [
    "'; drop table profiles; --",
    "%",
    "\\",
    "' or '1'='1",
    '") or 1=1 --',
]

# Deprecations inside ibis 12 under duckdb 1.5 / pandas 3, not in Herald's code.
pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated"),
]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _search(at: AppTest, text: str) -> AppTest:
    at.text_input(key="profile_search").input(text).run()
    assert not at.exception, at.exception
    return at


def _page(app_env) -> AppTest:  # type: ignore[no-untyped-def]
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def _profile_with_orders(wh) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    """A profile with a valid email and the most orders: (profile_id, email, order rows)."""
    row = wh.rows(
        "select p.profile_id, p.email, count(o.order_id) as n from profiles p join orders o using (profile_id) "
        "where p.email is not null group by all order by n desc, p.profile_id limit 1"
    )[0]
    return str(row[0]), str(row[1]), int(row[2])


def test_router_shows_the_profiles_page_and_the_published_build(app_env) -> None:  # type: ignore[no-untyped-def]
    at = AppTest.from_file(ROUTER, default_timeout=60).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Profiles"]
    build_id = app_env.value("select build_id from herald_meta.build_info")
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert f"Build `{build_id}`" in sidebar


def test_totals_equal_the_published_counts(app_env) -> None:  # type: ignore[no-untyped-def]
    metrics = _metrics(_page(app_env))
    assert _number(metrics["Profiles"]) == app_env.value("select count(*) from profiles")
    for key, label in [
        ("email", "Email"),
        ("sms", "SMS"),
        ("push", "Push"),
        ("in_app", "In-app"),
        ("direct_mail", "Direct mail"),
    ]:
        expected = app_env.value(f"select count(*) from profiles where is_{key}_reachable")
        assert _number(metrics[label]) == expected, key


def test_breakdowns_are_titled_altair_charts(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _page(app_env)
    charts = at.get("vega_lite_chart")
    titles = {json.loads(c.proto.spec)["title"]["text"] for c in charts}
    assert {"Profiles by country", "Consent by channel", "Quarantined addresses", "RFM segments"} <= titles


def test_data_quality_counts_every_refused_address(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _page(app_env)
    refused = app_env.value("select count(*) from contact_email_problems")
    assert refused > 0  # the demo seeds carry broken addresses ("bob@", "fischer@gmail", "rlee@@verizon.example.com")
    assert _number(_metrics(at)["Contacts with an unusable email address"]) == refused
    shown = {str(v) for frame in at.dataframe for v in frame.value.get("Problem", [])}
    expected = {r[0] for r in app_env.rows("select distinct email_problem from contact_email_problems")}
    assert expected <= shown


def test_search_by_email_opens_the_profile_360(app_env) -> None:  # type: ignore[no-untyped-def]
    profile_id, email, orders = _profile_with_orders(app_env)
    at = _search(_page(app_env), email.upper())
    assert at.selectbox(key="profile_pick").value == profile_id
    metrics = _metrics(at)
    assert _number(metrics["Orders"]) == orders
    messages = app_env.value("select count(*) from messages where profile_id = ?", [profile_id])
    assert _number(metrics["Messages received"]) == messages
    # The timeline chart is drawn for a profile with orders.
    assert len(at.get("vega_lite_chart")) == 5


def test_search_by_external_key_prefix_is_case_insensitive(app_env) -> None:  # type: ignore[no-untyped-def]
    profile_id, key = app_env.rows("select profile_id, external_key from profiles order by profile_id limit 1")[0]
    at = _search(_page(app_env), key.lower())
    assert at.selectbox(key="profile_pick").value == profile_id


def test_search_by_a_merged_contacts_key_finds_the_survivor(app_env) -> None:  # type: ignore[no-untyped-def]
    rows = app_env.rows("select external_key, profile_id from profile_identities where not is_survivor limit 1")
    if not rows:
        pytest.skip("the warehouse has no merged contacts")
    key, profile_id = rows[0]
    survivor = app_env.value("select external_key from profiles where profile_id = ?", [profile_id])
    at = _search(_page(app_env), key)
    # Options are shown as "email · name · external key".
    assert any(o.endswith(f" · {survivor}") for o in at.selectbox(key="profile_pick").options)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_search_text_matches_nothing_and_changes_nothing(app_env, text: str) -> None:  # type: ignore[no-untyped-def]
    before = app_env.value("select count(*) from profiles")
    at = _search(_page(app_env), text)
    assert not at.selectbox, "a hostile string matched profiles"
    assert any("No profile has an email or external key containing" in i.value for i in at.info)
    assert app_env.value("select count(*) from profiles") == before


def test_no_match_is_a_friendly_message(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _search(_page(app_env), "nobody-has-this-address@nowhere.invalid")
    assert not at.selectbox
    # Markdown-escaped, so the text shows literally rather than as a mailto link.
    expected = r"nobody\-has\-this\-address\@nowhere\.invalid"
    assert [i.value for i in at.info] == [f"No profile has an email or external key containing “{expected}”."]


def test_without_a_published_warehouse_the_app_says_what_to_run(no_warehouse) -> None:  # type: ignore[no-untyped-def]
    at = AppTest.from_file(ROUTER, default_timeout=60).run()
    assert not at.exception, at.exception
    message = " ".join(i.value for i in at.info)
    assert "make demo" in message and "herald build" in message
    assert not at.metric
    assert "None yet" in " ".join(c.value for c in at.sidebar.caption)


def test_a_new_publish_is_shown_without_restarting(own_warehouse) -> None:  # type: ignore[no-untyped-def]
    at = AppTest.from_file(ROUTER, default_timeout=60).run()
    before = own_warehouse.value("select count(*) from profiles")
    assert _number(_metrics(at)["Profiles"]) == before

    # Publish a second build the way herald.build does: a new versioned file, then CURRENT names it.
    name = f"herald-{clock.now():%Y%m%dT%H%M%S%f}Z-next.duckdb"
    target = own_warehouse.dir / "published" / name
    shutil.copyfile(own_warehouse.path, target)
    shutil.copyfile(deliveries_path(own_warehouse.path), deliveries_path(target))
    con = duckdb.connect(str(target))
    con.execute("delete from profiles where profile_id = (select min(profile_id) from profiles)")
    con.execute("checkpoint")
    con.close()
    con = duckdb.connect(str(deliveries_path(target)))
    con.execute("update herald_meta.build_info set build_id = 'next-build'")
    con.execute("checkpoint")
    con.close()
    (own_warehouse.dir / "CURRENT").write_text(name + "\n", encoding="utf-8")

    at.run()
    assert not at.exception, at.exception
    assert _number(_metrics(at)["Profiles"]) == before - 1
    assert "Build `next-build`" in " ".join(c.value for c in at.sidebar.caption)


def test_an_empty_published_warehouse_shows_notes_instead_of_charts(own_warehouse) -> None:  # type: ignore[no-untyped-def]
    con = duckdb.connect(str(own_warehouse.path))
    for table in ("profiles", "profile_identities", "profile_consents", "address_quarantines"):
        con.execute(f"delete from {table}")
    con.execute("checkpoint")
    con.close()

    at = AppTest.from_file(ROUTER, default_timeout=60).run()
    assert not at.exception, at.exception
    assert _metrics(at)["Profiles"] == "0"
    assert not at.get("vega_lite_chart")
    notes = " ".join(c.value for c in at.caption)
    for note in ("No profiles yet.", "No consent has been recorded yet.", "No address has failed yet."):
        assert note in notes
    _search(at, "anyone")
    assert not at.selectbox


def test_the_360_view_shows_identities_consents_and_custom_attributes(app_env) -> None:  # type: ignore[no-untyped-def]
    # A merged profile with consents and custom attributes exercises every table of the view.
    profile_id, email, attributes = app_env.rows(
        "select p.profile_id, p.email, p.attributes from profiles p "
        "where p.merged_contact_count > 1 and p.email is not null and p.attributes is not null "
        "and exists (select 1 from profile_consents c where c.profile_id = p.profile_id) "
        "order by p.profile_id limit 1"
    )[0]
    at = _search(_page(app_env), email)
    assert at.selectbox(key="profile_pick").value == profile_id
    frames = [d.value for d in at.dataframe]

    keys = {
        k for (k,) in app_env.rows("select external_key from profile_identities where profile_id = ?", [profile_id])
    }
    assert len(keys) > 1
    assert any("match_rule" in f.columns and set(f["external_key"]) == keys for f in frames)

    evidence = app_env.rows(
        "select channel, topic, evidence_id from profile_consents where profile_id = ? order by all", [profile_id]
    )
    consents = next(f for f in frames if "evidence_id" in f.columns and "topic" in f.columns)
    shown = sorted(consents[["channel", "topic", "evidence_id"]].itertuples(index=False, name=None), key=str)
    assert shown == sorted(evidence, key=str)

    custom = next(f for f in frames if list(f.columns) == ["attribute", "value"])
    assert set(custom["attribute"]) == set(json.loads(attributes))
