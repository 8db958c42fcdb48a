"""The value domains dbt tests are the ones the importer enforces: one definition, herald/domains.py."""

from __future__ import annotations

import re
from typing import Any

import yaml

from herald import dbt_sources
from herald.domains import DOMAINS, RANGES
from tests.conftest import ROOT

MODELS = ROOT / "dbt_project" / "models"


def test_committed_value_domain_macros_equal_the_rendered_definition() -> None:
    committed = (ROOT / dbt_sources.VALUE_DOMAINS_PATH).read_text(encoding="utf-8")
    assert committed == dbt_sources.render_value_domains(), "run `herald dev render-dbt-yaml` and commit the result"


def _column_tests() -> list[tuple[str, str, str, Any]]:
    """(file, model, column, test) for every generic test with arguments on a model column."""
    found = []
    for path in sorted(MODELS.rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            for column in model.get("columns") or []:
                for test in column.get("data_tests") or []:
                    if isinstance(test, dict):
                        found.append((path.name, model["name"], column["name"], test))
    return found


def _arguments(test: dict[str, Any]) -> dict[str, Any]:
    (body,) = test.values()
    return dict(body.get("arguments") or body)


def test_no_model_yaml_spells_out_a_domain_the_definition_holds() -> None:
    """A literal list equal to a domain would drift from it: the YAML must read the domain instead."""
    domains = {frozenset(d.values): d.name for d in DOMAINS}
    literal = [
        (file, model, column, domains[frozenset(values)])
        for file, model, column, test in _column_tests()
        if "accepted_values" in test
        and isinstance(values := _arguments(test)["values"], list)
        and frozenset(map(str, values)) in domains
    ]
    assert literal == [], "use values: \"{{ herald_value_domain('<name>') }}\""


def test_the_columns_imports_feed_read_their_domain() -> None:
    reads = {
        (model, column): _arguments(test)
        for _, model, column, test in _column_tests()
        if "accepted_values" in test or "accepted_range" in test
    }
    assert reads[("orders", "status")]["values"] == "{{ herald_value_domain('order_status') }}"
    assert reads[("orders", "sales_channel")]["values"] == "{{ herald_value_domain('sales_channel') }}"
    assert reads[("orders", "currency")]["values"] == "{{ herald_value_domain('currency') }}"
    assert reads[("profile_consents", "channel")]["values"] == "{{ herald_value_domain('channel') }}"
    assert reads[("orders", "total_amount")]["min_value"] == "{{ herald_value_range('amount')['min_value'] }}"
    assert reads[("order_lines", "quantity")]["min_value"] == "{{ herald_value_range('quantity')['min_value'] }}"
    assert reads[("order_lines", "unit_price")]["min_value"] == "{{ herald_value_range('amount')['min_value'] }}"


def test_every_domain_and_range_the_yaml_names_is_defined() -> None:
    names = {d.name for d in DOMAINS} | {r.name for r in RANGES}
    text = "\n".join(p.read_text(encoding="utf-8") for p in MODELS.rglob("*.yml"))
    used = set(re.findall(r"herald_value_(?:domain|range)\('([a-z_]+)'\)", text))
    assert used and used <= names
