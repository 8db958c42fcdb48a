"""Herald's one email policy (herald/emails.py) and the entry points that use it: the importer, forms, specs."""

from __future__ import annotations

import random
import string
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from herald.emails import ALLOW_TEST_DOMAINS_ENV, RESERVED_DOMAIN_PATTERN, EmailVerdict, check_email, is_reserved_domain
from herald.importing import import_file
from herald.importing.values import parse_email
from herald.project import Project
from senders.tracking.forms import check_submission, parse_form
from tests.conftest import ROOT
from tests.importing.helpers import rejects_by_line, write_text


def test_international_addresses_are_kept_in_their_normalized_form() -> None:
    assert check_email("zoë.6@example.com") == EmailVerdict("zoë.6@example.com", "zoë.6@example.com", None)
    assert check_email(" Stanisław.Wójcik@Example.COM\t").normalized == "stanisław.wójcik@example.com"
    assert check_email("a@xn--bcher-kva.example").normalized == "a@bücher.example"
    assert check_email("Zoe\u0308@example.com").normalized == "zoë@example.com"  # NFC: one code point for ë


@pytest.mark.parametrize(
    ("domain", "reserved"),
    [
        ("example.com", True),
        ("gmail.example.com", True),
        ("yahoo-co-uk.example.com", True),
        ("Shop.Example.NET.", True),
        (" mail.example.org\t", True),
        ("shop.test", True),
        ("box.localhost", True),
        ("herald.invalid", True),
        ("bücher.example", True),
        ("gmail.com", False),
        ("telenet.be", False),
        ("example.com.evil.io", False),
        ("notexample.com", False),
        ("exampleXcom", False),
        ("test.com", False),
        ("shop.example.co.uk", False),
    ],
)
def test_reserved_domains_are_those_of_rfc_2606_and_6761(domain: str, reserved: bool) -> None:
    assert is_reserved_domain(domain) is reserved
    # The warehouse checks the same pattern (the synthetic_recipients control rule).
    name = domain.strip().rstrip(".").lower()
    assert duckdb.sql("select regexp_full_match(?, ?)", params=[name, RESERVED_DOMAIN_PATTERN]).fetchone() == (
        reserved,
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("l" * 65 + "@example.com", "too long before the @-sign"),
        ("a@" + "d" * 64 + ".com", "periods cannot be separated by so many characters"),
        ("l" * 64 + "@" + ".".join(["a" * 63, "b" * 63, "c" * 58]) + ".com", "the email address is too long"),
        ("a@herald.invalid", "special-use or reserved name"),
        ("a@box.localhost", "special-use or reserved name"),
        ("a@printer.local", "special-use or reserved name"),
        ("a@hidden.onion", "special-use or reserved name"),
        ("a@example.test", "special-use or reserved name"),
        ("a@1.in-addr.arpa", "special-use or reserved name"),
        ("   ", "is empty"),
    ],
)
def test_what_no_standard_allows_is_refused_with_a_reason(value: str, problem: str) -> None:
    verdict = check_email(value, allow_test_domains=False)
    assert not verdict.is_valid and verdict.problem is not None and problem in verdict.problem


def test_the_test_switch_allows_dot_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_TEST_DOMAINS_ENV, raising=False)
    assert not check_email("qa@shop.test").is_valid
    monkeypatch.setenv(ALLOW_TEST_DOMAINS_ENV, "true")
    assert check_email("qa@shop.test").normalized == "qa@shop.test"
    assert not check_email("qa@shop.invalid").is_valid and not check_email("qa@x.localhost").is_valid
    assert check_email("news@shop.example", allow_test_domains=False).is_valid  # documentation names always pass


def test_import_rejects_with_the_column_and_the_value(project: Project, tmp_path: Path) -> None:
    long_local = "l" * 65 + "@example.com"
    source = write_text(
        tmp_path / "c.csv",
        f"external_key,email\n1,zoë.6@example.com\n2,{long_local}\n3,ann@shop.invalid\n4,a@{'d' * 64}.com\n",
    )
    report = import_file(project, "profiles", source)
    assert (report.rows_inserted, report.rows_rejected) == (1, 3)
    assert report.rejects_path is not None
    reasons = rejects_by_line(report.rejects_path)
    assert reasons[3].startswith('email: "lllll') and "too long before the @-sign" in reasons[3]
    assert reasons[4] == (
        'email: "ann@shop.invalid" is not an email address: the part after the @-sign is a special-use or reserved '
        "name that cannot be used with email"
    )
    assert "periods cannot be separated by so many characters" in reasons[5]


def _plain_ascii(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "._+-@"
    local = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 70)))
    tld = rng.choice(["com", "de", "test", "invalid", "c", "x1", "local", "example", "arpa", "onion"])
    return f"{local}.{tld}" if rng.random() < 0.9 else local


def _international(rng: random.Random) -> str:
    # Lower- and upper-case letters of other scripts, a decomposed accent (not NFC), a title-case letter, a digit
    # of another script; ASCII and international domains, special-use and over-long ones.
    alphabet = string.ascii_lowercase + "éłßçüøäÄÉ用户٣ǅ._+-@\u0301"
    local = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 70)))
    domain = rng.choice(["example.com", "exämple.com", "b.de", "x.test", "a--b.com", "c.invalid", "d" * 64 + ".com"])
    return f"{local}@{domain}" if rng.random() < 0.9 else local


def test_the_importer_fast_path_agrees_with_the_library() -> None:
    rng = random.Random(19)
    values = [_plain_ascii(rng) for _ in range(4000)] + [_international(rng) for _ in range(4000)]
    values += ["zoë.6@example.com", "用户@example.com", "Zoë@example.com", "zoe\u0301@example.com", "ǅ@example.com"]
    values += [f"{'a' * n}@{'b' * m}.com" for n in (63, 64, 65) for m in (62, 63, 64)]
    values += ["a@ab--cd.com", "a@exa--mple.com", "x@" + ".".join(["d" * 63] * 3) + ".com"]
    parsed = parse_email("email", pa.array(values))
    for value, stored in zip(values, parsed.values.to_pylist(), strict=True):
        assert stored == check_email(value).normalized, value


# ---------------------------------------------------------------------------------------------------- forms


def _form(sender: str = "news@shop.example") -> object:
    return parse_form(
        {
            "title": "News",
            "topic": "newsletter",
            "fields": [{"name": "email", "type": "email", "label": "Email", "required": True}],
            "confirmation": {"template": "newsletter_confirmation", "sender": {"from_email": sender}},
            "messages": {"confirm": "Check your inbox.", "thank_you": "Thanks."},
        },
        name="signup",
    )


@pytest.mark.parametrize(
    "value", ["zoë.6@example.com", " Stanisław.Wójcik@Example.com ", "a@" + "d" * 64 + ".com", "x@y.invalid", "a@b"]
)
def test_forms_use_the_same_policy(value: str) -> None:
    submission = check_submission(_form(), {"email": value})  # type: ignore[arg-type]
    verdict = check_email(value)
    if verdict.is_valid:
        assert submission.ok and submission.values["email"] == verdict.normalized
    else:
        assert verdict.problem is not None and verdict.problem in submission.errors["email"]


def test_a_form_sender_on_a_special_use_domain_is_refused() -> None:
    with pytest.raises(Exception, match="special-use or reserved name"):
        _form("news@shop.invalid")


def test_every_shipped_spec_address_passes_the_policy() -> None:
    import re

    found = {
        m
        for path in (ROOT / "specs").rglob("*.yml")
        for m in re.findall(r"[\w.+'-]+@[\w.-]+\.\w+", path.read_text(encoding="utf-8"))
    }
    assert found and all(check_email(a, allow_test_domains=False).is_valid for a in found), found
