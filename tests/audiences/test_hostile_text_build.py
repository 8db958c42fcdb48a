"""Hostile text in every free-text field of many audiences at once, through real dbt builds on DuckDB.

The builds pass (the old code failed every build after ``VIP {% if true %}only{% endif %}``), dbt's manifest
carries each description and owner verbatim and no value of the environment, and each audience has the members
and groups the compiler gives without dbt, so its values and salt reached the SQL unchanged. Two builds: the
known-bad texts, and one batch drawn by hypothesis (test_hostile_text_in_dbt.py checks thousands without dbt).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from herald.audiences.library import AudienceLibrary
from herald.audiences.live import open_live
from herald.audiences.models import model_name
from herald.audiences.spec import parse_spec
from herald.build import build_audiences
from herald.project import Project
from tests.audiences.test_hostile_text_in_dbt import expected_description
from tests.conftest import make_scratch_project
from tests.hostile_text import CANARY_VALUE, CANARY_VARIABLE, KNOWN_BAD, hostile_text


@pytest.fixture
def canary() -> Iterator[None]:
    """A value in dbt's environment that a rendered ``env_var`` would copy into the manifest."""
    saved = os.environ.get(CANARY_VARIABLE)
    os.environ[CANARY_VARIABLE] = CANARY_VALUE
    yield
    if saved is None:
        del os.environ[CANARY_VARIABLE]
    else:
        os.environ[CANARY_VARIABLE] = saved


@pytest.mark.slow
@settings(
    max_examples=1,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),  # a failure reports its batch; shrinking would rebuild many times
    suppress_health_check=list(HealthCheck),
)
@example(texts=list(KNOWN_BAD))
@given(texts=st.lists(hostile_text, min_size=10, max_size=10))
def test_hostile_audiences_build_and_dbt_gets_their_text_verbatim(
    demo_project: Project, tmp_path_factory: pytest.TempPathFactory, canary: None, texts: list[str]
) -> None:
    project = make_scratch_project(tmp_path_factory.mktemp("hostile-build"), demo_project)
    library = AudienceLibrary.of(project)
    n = len(texts)
    specs = []
    for i, text in enumerate(texts):
        spec = parse_spec(
            {
                "name": f"hostile_{i}",
                "description": text,
                "owner": texts[(i + 1) % n],
                "where": {"first_name": {"not_in": [texts[(i + 2) % n], texts[(i + 3) % n]]}},
                "split": {"groups": {"a": 30, "b": 70}, "salt": texts[(i + 4) % n]},
            }
        )
        library.save(spec)
        assert library.get(spec.name) == spec
        specs.append(spec)

    build_audiences(project, quiet=True)

    manifest_text = (project.warehouse_dir / "dbt" / "target" / "manifest.json").read_text(encoding="utf-8")
    assert CANARY_VALUE not in manifest_text
    nodes = json.loads(manifest_text)["nodes"]
    with open_live(project) as live:
        for spec in specs:
            node = nodes[f"model.herald.{model_name(spec.name)}"]
            assert node["description"] == expected_description(spec)
            assert node["config"]["meta"].get("owner", "") == spec.owner
            assert node["meta"].get("owner", "") == spec.owner
            built = dict(
                [
                    tuple(r.values())
                    for r in live.reader.arrow(
                        f"select audience_group, count(*) as n from {model_name(spec.name)} group by 1"
                    ).to_pylist()
                ]
            )
            # The compiler's query run directly, without dbt's Jinja: the same members in the same groups.
            assert built == {g: n for g, n in live.count(spec).groups if n}
            assert sum(built.values()) > 0
