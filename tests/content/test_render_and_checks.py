"""The renderer (sandbox, strict fields, autoescape, locales, errors that say where) and the content checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.campaigns.plans import parse_program
from herald.campaigns.typology import parse_typology
from herald.content.checks import invalid_link, links, push_payload_bytes, sms_size
from herald.content.render import Renderer
from herald.errors import PlanError, TemplateError


def template(tmp_path: Path, name: str, yml: str, files: dict[str, str] | None = None) -> Renderer:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / "template.yml").write_text(yml, encoding="utf-8")
    for file, text in (files or {}).items():
        (folder / file).write_text(text, encoding="utf-8")
    return Renderer(tmp_path)


def test_html_is_escaped_and_text_is_not(tmp_path: Path) -> None:
    r = template(
        tmp_path,
        "t",
        "channel: email\nsubject: 'Hi {{ name }}'\nhtml: b.html\ntext: b.txt\n",
        {"b.html": "<p>{{ name }}</p>", "b.txt": "{{ name }}"},
    )
    m = r.render("t", {"name": "<script>alert(1)</script> & Co"})
    assert m.html == "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</p>"
    assert m.text == "<script>alert(1)</script> & Co"
    assert m.subject == "Hi <script>alert(1)</script> & Co"


def test_a_missing_field_names_template_part_line_and_recipient(tmp_path: Path) -> None:
    r = template(tmp_path, "t", "channel: email\nsubject: x\ntext: b.txt\n", {"b.txt": "line one\n{{ city }}\n"})
    with pytest.raises(TemplateError, match=r"template t/text, line 2: 'city' is undefined for recipient P1"):
        r.render("t", {"city": None}, label="P1")  # null in the warehouse counts as missing
    assert r.render("t", {"city": "Lyon"}).text == "line one\nLyon"


def test_fallbacks_and_locales(tmp_path: Path) -> None:
    r = template(
        tmp_path,
        "t",
        "channel: sms\ntext: \"Hi {{ first_name | default('there') }}\"\n"
        "locales:\n  fr: {text: \"Salut {{ first_name | default('toi') }}\"}\n",
    )
    assert r.render("t", {}).text == "Hi there"
    assert r.render("t", {"language_code": "fr", "first_name": "Zoé"}).text == "Salut Zoé"
    assert r.render("t", {"language_code": "de"}).text == "Hi there"
    assert r.fields("t") == {"first_name"}


def test_the_sandbox_refuses_unsafe_attribute_access(tmp_path: Path) -> None:
    r = template(tmp_path, "t", "channel: sms\ntext: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"\n")
    with pytest.raises(TemplateError, match="template t/text"):
        r.render("t", {})


def test_a_syntax_error_names_the_line(tmp_path: Path) -> None:
    r = template(tmp_path, "t", "channel: email\nsubject: x\nhtml: b.html\n", {"b.html": "ok\n{% if %}\n"})
    with pytest.raises(TemplateError, match=r"template t/html, line 2"):
        r.load("t")


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("€" * 80, "GSM-7", 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 2),
        ("é" * 10, "GSM-7", 1),
        ("ê" * 70, "UCS-2", 1),
        ("ê" * 71, "UCS-2", 2),
        ("😀" * 35, "UCS-2", 1),  # one emoji is two UTF-16 units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_sms_encoding_and_segments(text: str, encoding: str, segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.segments) == (encoding, segments)


def test_links_and_push_size() -> None:
    found = links(
        '<a href="https://shop.example/x">x</a><img src="http://cdn.example/i.png">', "see https://a.example/b"
    )
    assert found == ["https://shop.example/x", "http://cdn.example/i.png", "https://a.example/b"]
    assert invalid_link("https://shop.example/x?a=1") is None
    assert invalid_link("mailto:help@shop.example") is None
    assert invalid_link("javascript:alert(1)") == "scheme javascript is not http or https"
    assert invalid_link("https://localhost") == "no valid host"
    assert push_payload_bytes("Hé", "x") == len('{"notification":{"title":"Hé","body":"x"},"data":{}}'.encode())


def test_plan_errors_name_the_spot() -> None:
    base = {
        "program": "p",
        "campaigns": [
            {
                "id": "c",
                "deliveries": [
                    {
                        "id": "d",
                        "channel": "email",
                        "audience": "a",
                        "template": "t",
                        "typology": "ty",
                        "sender": {"from_name": "S", "from_email": "s@shop.example"},
                    }
                ],
            }
        ],
    }
    assert parse_program(base).campaigns[0].deliveries[0].id == "d"
    bad = {**base}
    bad["campaigns"] = [
        {
            **base["campaigns"][0],
            "deliveries": [
                {
                    **base["campaigns"][0]["deliveries"][0],  # type: ignore[index]
                    "control_percent": 100,
                }
            ],
        }
    ]
    with pytest.raises(PlanError, match=r"campaigns\[0\] \(c\): deliveries\[0\] \(d\): control_percent"):
        parse_program(bad)
    with pytest.raises(PlanError, match=r"schedule: unknown time zone 'Mars/Olympus'"):
        d = {
            **base["campaigns"][0]["deliveries"][0],
            "schedule": {
                "at": "2026-12-01 09:00",  # type: ignore[index]
                "time_zone": "Mars/Olympus",
            },
        }
        parse_program({**base, "campaigns": [{"id": "c", "deliveries": [d]}]})
    with pytest.raises(PlanError, match="variant percents add up to 90, not 100"):
        d = {**base["campaigns"][0]["deliveries"][0], "ab_test": {"variants": {"A": 50, "B": 40}}}  # type: ignore[index]
        parse_program({**base, "campaigns": [{"id": "c", "deliveries": [d]}]})


def test_typology_errors_name_the_spot() -> None:
    with pytest.raises(PlanError, match=r"fatigue\[0\]: max: expected a whole number"):
        parse_typology({"name": "t", "fatigue": [{"name": "f", "max": "three", "period_days": 7}]})
    with pytest.raises(PlanError, match=r"filtering\.consent must be required or not_required"):
        parse_typology({"name": "t", "filtering": {"consent": "maybe"}})
    assert parse_typology({"name": "t"}).require_consent
