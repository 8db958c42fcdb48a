"""Audiences as dbt models: generated files match their specs, builds materialize what the live count says,
membership is kept per build, and an audience-only build publishes in seconds on top of the last build."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald import warehouse
from herald.audiences.compiler import hash_key, split_thresholds
from herald.audiences.library import AudienceLibrary
from herald.audiences.live import open_live
from herald.audiences.models import GENERATED_DIR, drift, generate
from herald.audiences.schema import from_contracts, from_warehouse
from herald.audiences.service import build_and_report, list_audiences, save_audience
from herald.audiences.spec import parse_spec
from herald.build import published_build, read_build
from herald.errors import AudienceSpecError
from herald.project import Project

ROOT = Path(__file__).resolve().parents[2]


def rows(project: Project, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    con = warehouse.connect(project)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_generated_models_match_their_specs() -> None:
    problems = drift(Project(root=ROOT, warehouse_dir=ROOT / "warehouse"))
    assert problems == [], "run `herald audience generate`: " + "; ".join(problems)


def test_every_saved_audience_has_a_model_and_the_examples_cover_the_language() -> None:
    project = Project(root=ROOT, warehouse_dir=ROOT / "warehouse")
    names = {f.path.name for f in generate(project)}
    specs = AudienceLibrary.of(project).all()
    assert {f"aud_{s.name}.sql" for s in specs} <= names
    # The shipped examples show a split, set algebra and related data.
    assert any(s.split for s in specs) and any(s.union or s.exclude for s in specs)


def test_the_contracts_promise_the_schema_the_warehouse_has(demo_project: Project) -> None:
    con = warehouse.connect(demo_project)
    try:
        assert from_warehouse(con) == from_contracts(ROOT)
    finally:
        con.close()


def test_materialized_audiences_equal_the_live_count(demo_project: Project) -> None:
    with open_live(demo_project) as live:
        for spec in live.library.all():
            count = live.count(spec)
            table = rows(demo_project, f"select audience_group, count(*) from aud_{spec.name} group by 1")
            assert dict(table) == {g: n for g, n in count.groups if n}, spec.name
            latest = rows(
                demo_project,
                "select count(*) from audience_memberships where audience_name = ? and build_id = ?",
                [spec.name, live.build_id],
            )
            assert latest[0][0] == count.total, spec.name
    assert all(r.is_current for r in list_audiences(demo_project))


def test_split_groups_are_the_salted_hash_anyone_can_recompute(demo_project: Project) -> None:
    spec = AudienceLibrary.of(demo_project).get("winter_sale_test")
    bounds = split_thresholds(tuple(g.percent for g in spec.split))
    members = rows(demo_project, "select profile_id, audience_group from aud_winter_sale_test")
    assert len(members) > 300
    for profile_id, group in members:
        bucket = int(hash_key(spec.effective_salt, str(profile_id)), 16)
        expected = next((g.name for g, b in zip(spec.split, bounds, strict=False) if bucket < b), spec.split[-1].name)
        assert group == expected


def test_saving_an_invalid_spec_writes_nothing(scratch_project: Project) -> None:
    before = sorted(p.name for p in (scratch_project.specs_dir / "audiences").iterdir())
    with pytest.raises(AudienceSpecError, match=r"unknown column 'lifetime_valu'"):
        save_audience(scratch_project, parse_spec({"name": "bad", "where": {"lifetime_valu": {"gt": 1}}}))
    assert sorted(p.name for p in (scratch_project.specs_dir / "audiences").iterdir()) == before
    assert drift(scratch_project) == []


@pytest.mark.slow
def test_audience_builds_keep_history_and_publish_without_a_full_build(scratch_project: Project) -> None:
    project = scratch_project
    first = published_build(project)
    assert first is not None
    hostile = "{{ run_query('drop table profiles') }}'; drop table profiles; --"
    spec = parse_spec(
        {
            "name": "fr_or_hostile",
            "where": {"any": [{"country_code": {"eq": "FR"}}, {"first_name": {"eq": hostile}}]},
            "split": {"groups": {"A": 50, "B": 50}},
        }
    )
    save_audience(project, spec)
    assert (project.root / GENERATED_DIR / "aud_fr_or_hostile.sql").is_file()
    result = build_and_report(project, ["fr_or_hostile"])
    assert result.published_path is not None

    fr = rows(project, "select count(*) from profiles where country_code = 'FR'")[0][0]
    assert rows(project, "select count(*) from aud_fr_or_hostile")[0][0] == fr > 0
    # Only the audience and the memberships were rebuilt: the other marts are the first build's tables.
    con = read_build(project)
    try:
        built = con.execute("select build_id from herald_meta.build_info").fetchone()
    finally:
        con.close()
    assert built == (result.build_id,)
    memberships = rows(
        project, "select build_id, count(*) from audience_memberships where audience_name = 'recent_buyers' group by 1"
    )
    assert len(memberships) == 2 and memberships[0][1] == memberships[1][1]  # kept per build

    # Change the spec: the new build has the new membership, the old one is still answerable.
    save_audience(project, parse_spec({**{"name": "fr_or_hostile"}, "where": {"country_code": {"eq": "DE"}}}))
    second = build_and_report(project, ["fr_or_hostile"])
    history = dict(
        rows(
            project,
            "select build_id, count(*) from audience_memberships where audience_name = 'fr_or_hostile' group by 1",
        )
    )
    de = rows(project, "select count(*) from profiles where country_code = 'DE'")[0][0]
    assert history == {result.build_id: fr, second.build_id: de}
    versions = rows(
        project, "select count(distinct spec_version) from audience_memberships where audience_name = 'fr_or_hostile'"
    )
    assert versions == [(2,)]
    assert next(r for r in list_audiences(project) if r.name == "fr_or_hostile").is_current
