"""Value domains, ranges and reference lists at import: nothing an import accepts may fail a build.

Each domain the warehouse tests is checked at import from the same definition (herald/domains.py): a documented
synonym lands as its value, a value outside the domain rejects the row naming column and value. Countries,
languages and time zones come from maintained datasets; an unknown one keeps the row, with one warning per value.
One real dbt build after importing every kind of out-of-domain value proves the next build is green.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.build import build
from herald.domains import COLUMN_DOMAINS, COLUMN_RANGES, ValueDomain, ValueRange
from herald.importing import MappingFileError, import_file
from herald.importing.countries import country_code, language_code, time_zone
from herald.importing.kinds import KIND_TABLES, Kind
from herald.project import Project
from herald.warehouse import connect
from tests.importing.helpers import latest, rejects_by_line, write_text

_KIND_OF = {table.name: kind for kind, table in KIND_TABLES.items()}
# A minimal valid record per table ({n}: the row's number); the column under test is added or replaced.
_RECORDS: dict[str, dict[str, str]] = {
    "shop_orders": {"order_id": "o{n}", "external_key": "c1", "ordered_at": "2026-01-02 10:00:00"},
    "shop_order_lines": {"order_line_id": "l{n}", "order_id": "o1"},
    "shop_payments": {"payment_id": "p{n}", "order_id": "o1", "status": "captured", "amount": "10",
                      "processed_at": "2026-01-02 10:00:00"},
    "consent_events": {"consent_event_id": "e{n}", "external_key": "c1", "channel": "email", "topic": "newsletter",
                       "status": "opt_in", "occurred_at": "2026-01-02 10:00:00"},
}  # fmt: skip


def _file(tmp_path: Path, table: str, column: str, values: list[str]) -> Path:
    base = _RECORDS[table]
    names = [*(name for name in base if name != column), column]
    lines = [",".join(names)]
    for n, value in enumerate(values):
        lines.append(",".join(value if name == column else base[name].format(n=n) for name in names))
    return write_text(tmp_path / f"{table}-{column}.csv", "\n".join(lines) + "\n")


def _id(value: object) -> str:
    return value.name if isinstance(value, ValueDomain | ValueRange) else ".".join(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("where", "domain"), COLUMN_DOMAINS.items(), ids=_id)
def test_every_tested_domain_maps_synonyms_and_rejects_the_rest(
    project: Project, tmp_path: Path, where: tuple[str, str], domain: ValueDomain
) -> None:
    table, column = where
    synonym, value = next(iter(domain.synonyms))
    source = _file(tmp_path, table, column, [domain.values[0], synonym.upper(), "not-a-value-42"])
    report = import_file(project, _KIND_OF[table], source)
    assert report.rejects_path is not None
    (reason,) = rejects_by_line(report.rejects_path).values()
    assert reason.startswith(f'{column}: "not-a-value-42" is not ')
    landed = sorted(r[column] for r in latest(project, table, _key(table)).values())
    assert landed == sorted([domain.values[0], value])


@pytest.mark.parametrize(("where", "bounds"), COLUMN_RANGES.items(), ids=_id)
def test_every_tested_range_rejects_numbers_outside_it(
    project: Project, tmp_path: Path, where: tuple[str, str], bounds: ValueRange
) -> None:
    table, column = where
    assert bounds.min_value == 0 and bounds.max_value is None
    report = import_file(project, _KIND_OF[table], _file(tmp_path, table, column, ["0", "3", "-1"]))
    assert report.rejects_path is not None
    assert list(rejects_by_line(report.rejects_path).values()) == [
        f'{column}: "-1" is below the minimum 0 ({bounds.name})'
    ]


def _key(table: str) -> str:
    return next(t.key for t in KIND_TABLES.values() if t.name == table)


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Chile", "CL"), ("Peru", "PE"), ("Colombia", "CO"), ("Vietnam", "VN"), ("Viet Nam", "VN"), ("Egypt", "EG"),
        ("Nigeria", "NG"), ("Thailand", "TH"), ("Indonesia", "ID"), ("Philippines", "PH"), ("Pakistan", "PK"),
        ("Saudi Arabia", "SA"), ("Hong Kong", "HK"), ("Taiwan", "TW"), ("Serbia", "RS"), ("Côte d'Ivoire", "CI"),
        ("Côte d’Ivoire", "CI"), ("COTE D IVOIRE", "CI"), ("CIV", "CI"), ("chl", "CL"), ("Deutschland", "DE"),
        ("Allemagne", "DE"), ("Spanien", "ES"), ("Elfenbeinküste", "CI"), ("Германия", "DE"), ("日本", "JP"),
        ("UK", "GB"), ("U.S.A.", "US"), ("Holland", "NL"), ("Kosovo", "XK"), ("XK", "XK"), ("EL", "GR"),
        ("Bolivia", "BO"), ("Korea", "KR"), ("Türkiye", "TR"), ("Osterreich", "AT"), ("Österreich", "AT"),
    ],
)  # fmt: skip
def test_real_world_countries(written: str, code: str) -> None:
    assert country_code(written) == code


@pytest.mark.parametrize(
    ("written", "code"),
    [("fr-CA", "fr"), ("pt_BR.UTF-8", "pt"), ("ENG", "en"), ("ger", "de"), ("Deutsch", "de"), ("Allemand", "de"),
     ("Französisch", "fr"), ("español", "es"), ("Castellano", "es"), ("Filipino", "fil"), ("zh-Hant-TW", "zh"),
     ("日本語", "ja"), ("Vietnamese", "vi")],
)  # fmt: skip
def test_real_world_languages(written: str, code: str) -> None:
    assert language_code(written) == code


@pytest.mark.parametrize(
    ("written", "zone"),
    [("europe/paris", "Europe/Paris"), ("America/New York", "America/New_York"), ("UTC", "UTC"),
     ("W. Europe Standard Time", "Europe/Berlin"), ("Eastern Time", "America/New_York"), ("UTC+2", "Etc/GMT-2"),
     ("GMT-5", "Etc/GMT+5")],
)  # fmt: skip
def test_real_world_time_zones(written: str, zone: str) -> None:
    assert time_zone(written) == zone


_CONTACTS = (
    "external_key,country_code,language_code,time_zone\n"
    "1,Chile,es-CL,America/Santiago\n"
    "2,Narnia,Elvish,Mars/Olympus\n"
    "3,narnia,en,UTC\n"
    "4,Untied States,en,UTC\n"
)


def test_an_unknown_country_language_or_time_zone_keeps_the_contact(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", _CONTACTS))
    assert (report.rows_inserted, report.rows_rejected) == (4, 0)
    rows = latest(project, "crm_contacts", "external_key")
    assert [rows[k]["country_code"] for k in "1234"] == ["CL", None, None, None]
    assert [rows[k]["language_code"] for k in "12"] == ["es", None]
    assert [rows[k]["time_zone"] for k in "12"] == ["America/Santiago", None]
    # One warning per distinct value, with its count (the spelling seen first, as cleaned).
    countries = [w for w in report.warnings if w.startswith("country_code:")]
    assert len(countries) == 3
    assert 'country_code: "Narnia" is not a known country: 1 row(s) landed with country_code empty' in countries[0]
    assert any('"Untied States"' in w for w in countries)
    assert any(w.startswith('language_code: "Elvish" is not a known language') for w in report.warnings)
    assert any(w.startswith('time_zone: "Mars/Olympus" is not a known time zone') for w in report.warnings)
    assert "warning: country_code:" in report.summary()


def test_a_mapping_file_maps_spellings_and_can_make_unknown_values_reject(project: Project, tmp_path: Path) -> None:
    mapping = write_text(
        tmp_path / "m.yml",
        'values:\n  country_code: {"Untied States": US, "narnia": null}\nunknown_values:\n  language_code: reject\n',
    )
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", _CONTACTS), mapping_path=mapping)
    assert (report.rows_inserted, report.rows_rejected) == (3, 1)
    assert report.rejects_path is not None
    assert rejects_by_line(report.rejects_path) == {3: 'language_code: "Elvish" is not a known language '
                                                       "(ISO 639 code or name, e.g. en)"}  # fmt: skip
    rows = latest(project, "crm_contacts", "external_key")
    assert (rows["3"]["country_code"], rows["4"]["country_code"]) == (None, "US")
    assert not any(w.startswith("country_code:") for w in report.warnings)


def test_a_mapping_file_maps_order_values_into_their_domain(project: Project, tmp_path: Path) -> None:
    mapping = write_text(tmp_path / "m.yml", "values:\n  sales_channel: {Marketplace: web}\n  status: {lost: null}\n")
    text = "order_id,external_key,ordered_at,status,sales_channel\n" + "".join(
        f"o{n},c1,2026-01-02 10:00:00,{status},{channel}\n"
        for n, (status, channel) in enumerate([("placed", "Marketplace"), ("lost", "web"), ("shipped", "kiosk")])
    )
    report = import_file(project, "orders", write_text(tmp_path / "o.csv", text), mapping_path=mapping)
    assert report.rejects_path is not None
    assert rejects_by_line(report.rejects_path) == {
        4: 'sales_channel: "kiosk" is not a sales channel (web, app, store)'
    }
    rows = latest(project, "shop_orders", "order_id")
    assert [(rows[k]["status"], rows[k]["sales_channel"]) for k in ("o0", "o1")] == [("pending", "web"), (None, "web")]


@pytest.mark.parametrize(
    ("kind", "mapping", "message"),
    [
        (
            "orders",
            "values:\n  status: {placed: ordered}\n",
            "values: status: 'placed' -> 'ordered': status: \"ordered\"",
        ),
        ("profiles", "values:\n  country_code: {x: Narnia}\n", "is not a known country"),
        ("profiles", "values:\n  country_code: [US]\n", "maps spellings to values"),
        ("profiles", "unknown_values:\n  country_code: drop\n", "must be one of reject, null"),
        ("profiles", "unknown_values:\n  first_name: reject\n", "first_name has no list of known values"),
        ("profiles", "values:\n  external_key: {a: b}\n", "the key external_key cannot be rewritten"),
    ],
)
def test_mapping_file_value_errors(project: Project, tmp_path: Path, kind: Kind, mapping: str, message: str) -> None:
    path = write_text(tmp_path / "m.yml", mapping)
    source = write_text(tmp_path / "c.csv", "external_key,order_id,ordered_at\n1,o1,2026-01-02\n")
    with pytest.raises(MappingFileError, match=message.replace("(", r"\(").replace("[", r"\[")):
        import_file(project, kind, source, mapping_path=path, unknown_columns="ignore")


def test_out_of_domain_values_never_break_the_next_build(scratch_project: Project, tmp_path: Path) -> None:
    """Every tested domain and range at once, then one real dbt build on DuckDB: green, with the values mapped."""
    project = scratch_project
    orders = "order_id,external_key,ordered_at,status,sales_channel,currency,total_amount\n" + "".join(
        f"x{n},c1,2026-01-02 10:00:00,{status},{channel},{currency},{amount}\n"
        for n, (status, channel, currency, amount) in enumerate([
            ("placed", "web", "EUR", "10"), ("return_pending", "app", "€", "12"), ("Shipped", "Online", "usd", "5"),
            ("exploded", "web", "EUR", "1"), ("completed", "marketplace", "EUR", "1"), ("completed", "web", "XYZ", "1"),
            ("completed", "web", "EUR", "-5"),
        ])
    )  # fmt: skip
    report = import_file(project, "orders", write_text(tmp_path / "orders.csv", orders))
    assert (report.rows_inserted, report.rows_rejected) == (3, 4)
    lines = "order_line_id,order_id,quantity,unit_price\nxl1,x0,2,5\nxl2,x0,-1,5\nxl3,x0,1,-2\n"
    report = import_file(project, "order_lines", write_text(tmp_path / "lines.csv", lines))
    assert (report.rows_inserted, report.rows_rejected) == (1, 2)
    consents = "consent_event_id,external_key,channel,topic,status,occurred_at\n" + "".join(
        f"xc{n},c1,{channel},newsletter,{status},2026-01-02 10:00:00\n"
        for n, (channel, status) in enumerate([("E-Mail", "Subscribed"), ("fax", "opt_in"), ("sms", "maybe")])
    )
    report = import_file(project, "consents", write_text(tmp_path / "consents.csv", consents))
    assert (report.rows_inserted, report.rows_rejected) == (1, 2)
    contacts = "external_key,email,country_code,language_code,time_zone\nxk1,x1@example.com,Narnia,Elvish,Mars/Base\n"
    report = import_file(project, "profiles", write_text(tmp_path / "contacts.csv", contacts))
    assert (report.rows_inserted, report.rows_rejected) == (1, 0)

    build(project, quiet=True)  # raises BuildError when any model or test fails

    with connect(project) as con:
        got = con.execute("select order_id, status, sales_channel, currency from orders where order_id like 'x%' "
                          "order by order_id").fetchall()  # fmt: skip
    assert got == [
        ("x0", "pending", "web", "EUR"),
        ("x1", "completed", "app", "EUR"),
        ("x2", "completed", "web", "USD"),
    ]
    # The tests dbt ran read the Python definition: the rendered order status test lists every value.
    compiled = project.warehouse_dir / "dbt" / "target" / "compiled"
    tests = [p.read_text(encoding="utf-8") for p in compiled.rglob("accepted_values_orders_*.sql")]
    (status_test,) = [sql for sql in tests if "select\n        status as value_field" in sql]
    assert "'completed','pending','cancelled','refunded'" in status_test
