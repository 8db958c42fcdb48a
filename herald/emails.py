"""Herald's one email policy: what counts as an address, and the form it is stored, compared and sent in.

Every entry point (the importer, subscription forms, sender and reply-to addresses in specs) calls
``check_email``; the warehouse applies the same rules in SQL (dbt macros ``normalize_email`` / ``email_problem``),
and a shared set of vectors (``dbt_project/tests/fixtures/email_vectors*.csv``) proves both give the same verdict.

The rules are those of ``email-validator`` (no DNS look-up):

- surrounding whitespace (space, tab, line breaks) is removed; then one ``@`` with a dot-atom local part
  (letters, digits, ``!#$%&'*+/=?^_`{|}~-`` and any safe non-ASCII character, dots only between them) and a
  domain of labels (letters, digits, inner hyphens; internationalized labels allowed);
- at most 64 characters before the ``@``, 63 per domain label, 253 for the domain (IDNA form) and 254 bytes
  (UTF-8) for the whole address;
- the domain needs a dot and a top-level domain ending with a letter; special-use names are refused:
  ``.arpa``, ``.invalid``, ``.local``, ``.localhost``, ``.onion`` and ``.test`` (RFC 6761 and successors);
- the stored form is the library's normalized form (Unicode NFC, the domain in lower case and in Unicode rather
  than ``xn--`` Punycode), then lower-cased as a whole: Herald treats addresses as case-insensitive, as every
  large mailbox provider does, so ``Anna@Example.com`` and ``anna@example.com`` are one contact.

Test and demo data: ``.test`` addresses are refused unless ``allow_test_domains`` is true, which defaults to the
environment variable ``HERALD_EMAIL_ALLOW_TEST_DOMAINS`` (``1``/``true``/``yes``); the dbt build reads the same
variable, so a project that allows them allows them everywhere. ``.invalid``, ``.localhost`` and the rest stay
refused even then: they can never receive mail. Documentation domains (``example.com``/``.net``/``.org`` and the
``.example`` top-level domain) are ordinary domains to the policy and always pass.

Reserved domains: ``is_reserved_domain`` says whether a domain is one that no real person's mailbox can be under
(``example.com``/``.net``/``.org`` and their subdomains, RFC 2606; the top-level domains ``.test``, ``.invalid``,
``.example`` and ``.localhost``, RFC 2606 and 6761). Demo and generated contacts use only these, and a run to such
contacts refuses any other domain; ``RESERVED_DOMAIN_PATTERN`` is the same rule for SQL's
``regexp_full_match``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

ALLOW_TEST_DOMAINS_ENV = "HERALD_EMAIL_ALLOW_TEST_DOMAINS"
# Reserved for testing (RFC 6761 6.2); the only special-use name the test switch lets through.
TEST_DOMAINS: tuple[str, ...] = ("test",)
SPECIAL_USE_DOMAINS: tuple[str, ...] = tuple(SPECIAL_USE_DOMAIN_NAMES)
# Names reserved for examples and testing (RFC 2606, RFC 6761): the domains, with any subdomain, and the
# top-level domains. Nobody outside the project can own a mailbox under them.
RESERVED_EXAMPLE_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org")
RESERVED_TOP_LEVEL_DOMAINS: tuple[str, ...] = ("test", "invalid", "example", "localhost")
# A whole-domain match (Python's re.fullmatch, SQL's regexp_full_match): written in the syntax both share.
RESERVED_DOMAIN_PATTERN = (
    r"(?:.*\.)?(?:" + "|".join(re.escape(d) for d in (*RESERVED_EXAMPLE_DOMAINS, *RESERVED_TOP_LEVEL_DOMAINS)) + ")"
)
_RESERVED_DOMAIN = re.compile(RESERVED_DOMAIN_PATTERN)
MAX_LOCAL_PART = 64
MAX_LABEL = 63
MAX_DOMAIN = 253
MAX_ADDRESS_BYTES = 254
# What is trimmed around an address; the warehouse trims the same characters.
SURROUNDING_WHITESPACE = " \t\n\r\f\v"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class EmailVerdict:
    """The policy's judgement of one value: equal when the value, its normalized form and the problem are equal.

    ``normalized`` is the address to store, compare and send to (None when the value is not usable);
    ``problem`` says why it is not (None when it is usable).
    """

    value: str
    normalized: str | None
    problem: str | None

    @property
    def is_valid(self) -> bool:
        return self.normalized is not None


def allow_test_domains_default() -> bool:
    """Whether ``.test`` addresses are accepted by default (``HERALD_EMAIL_ALLOW_TEST_DOMAINS``)."""
    return os.environ.get(ALLOW_TEST_DOMAINS_ENV, "").strip().lower() in _TRUE


def check_email(value: str, *, allow_test_domains: bool | None = None) -> EmailVerdict:
    """Judge ``value`` by Herald's email policy (eager, pure, no network).

    >>> check_email(" Zoë.6@Example.COM ").normalized
    'zoë.6@example.com'
    >>> check_email("ann@shop.invalid").problem
    'the part after the @-sign is a special-use or reserved name that cannot be used with email'
    """
    allow = allow_test_domains_default() if allow_test_domains is None else allow_test_domains
    text = value.strip(SURROUNDING_WHITESPACE)
    if not text:
        return EmailVerdict(value, None, "is empty")
    try:
        result = validate_email(
            text,
            check_deliverability=False,
            strict=True,  # enforces the 64-character local part
            test_environment=allow,
            allow_smtputf8=True,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as exc:
        return EmailVerdict(value, None, _sentence(str(exc)))
    return EmailVerdict(value, result.normalized.lower(), None)


def normalize_email(value: str, *, allow_test_domains: bool | None = None) -> str | None:
    """The stored form of ``value``, or None when the policy refuses it."""
    return check_email(value, allow_test_domains=allow_test_domains).normalized


def _sentence(message: str) -> str:
    """The library's message as a clause that reads after ``is not an email address:``."""
    message = message.strip().rstrip(".")
    return message[:1].lower() + message[1:] if message[:2] != message[:2].upper() else message


def is_email(value: str) -> bool:
    """Whether ``value``, exactly as written (no surrounding whitespace), is an address the policy accepts."""
    return value == value.strip(SURROUNDING_WHITESPACE) and check_email(value).is_valid


def is_reserved_domain(domain: str) -> bool:
    """Whether ``domain`` (the part after the ``@``) is reserved for examples and testing, so that no real
    person's mailbox can be under it. Case, surrounding whitespace and a trailing root dot do not matter.

    >>> is_reserved_domain("gmail.example.com"), is_reserved_domain("shop.test"), is_reserved_domain("gmail.com")
    (True, True, False)
    >>> is_reserved_domain("example.com.evil.io")
    False
    """
    name = domain.strip(SURROUNDING_WHITESPACE).rstrip(".").lower()
    return _RESERVED_DOMAIN.fullmatch(name) is not None
