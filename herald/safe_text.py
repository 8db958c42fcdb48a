"""Free text from specs, carried safely into the files Herald generates for dbt.

What a user types (an audience's description and owner, a value in a condition) ends up in files dbt reads:
model YAML and model SQL. dbt renders both with Jinja, and YAML has a syntax of its own, so text copied in
as is would run as template code (``{{ env_var('SECRET') }}`` lands in the manifest) or break every later
build (``{% if true %}`` without its ``endif``). Every generator goes through this module, nowhere else:

    jinja_inert(text)        text that Jinja renders back to exactly ``text``
    yaml_for_dbt(doc)        YAML of ``doc`` with every string in it made Jinja-inert (a file dbt reads)
    yaml_text(doc)           YAML of ``doc`` that loads back equal (a spec file Herald writes)
    free_text(value, ...)    the check every spec parser applies to a free-text field

How text is made inert: each ``{`` becomes the expression ``{{ '{' }}``, which prints that one character; with
no ``{`` left, no ``{{``, ``{%`` or ``{#`` can open, and a literal ``{% endraw %}`` is as harmless as any other
text (which is why this does not wrap text in a ``raw`` block). Jinja also rewrites two things in its template
text: it turns ``\\r\\n`` and ``\\r`` into ``\\n`` and drops one final newline; so a ``\\r`` and a final ``\\n``
are printed by expressions too. The result renders to the original, character for character, whichever way dbt
renders it: descriptions as text, and only when they hold a delimiter; ``config`` and ``meta`` values always,
as native values (a single piece of text stays text). Text without ``{``, ``\\r`` or a final newline is left as
it is, so ordinary text reads the same in the generated file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import yaml

# (where, problem) → the calling parser's own error, e.g. PlanError(f"{where}: {problem}").
Fail = Callable[[str, str], Exception]

# The longest free text a spec field takes: a description of a few pages, not a data dump.
MAX_TEXT_LENGTH = 10_000

_BRACE = "{{ '{' }}"
_CR = "{{ '\\r' }}"
_FINAL_NEWLINE = "{{ '\\n' }}"


def failing_with(error: Callable[[str], Exception]) -> Fail:
    """A ``Fail`` raising ``error("<where>: <problem>")``, the message shape of every spec parser."""
    return lambda where, problem: error(f"{where}: {problem}")


def jinja_inert(text: str) -> str:
    """``text`` in a form Jinja renders back to exactly ``text`` (the same text when it holds no ``{``, no
    ``\\r`` and no final newline)."""
    final_newline = text.endswith("\n")
    body = text[:-1] if final_newline else text
    # Braces first: the expressions that print "\r" and "\n" hold braces of their own.
    out = body.replace("{", _BRACE).replace("\r", _CR)
    return out + _FINAL_NEWLINE if final_newline else out


def inert_tree(value: Any) -> Any:
    """``value`` with every string in it (keys too, in mappings and lists) made Jinja-inert."""
    if isinstance(value, str):
        return jinja_inert(value)
    if isinstance(value, Mapping):
        return {inert_tree(k): inert_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [inert_tree(v) for v in value]
    return value


def yaml_for_dbt(doc: Any, *, width: int = 110) -> str:
    """YAML text of ``doc`` for a file dbt reads, every string in it Jinja-inert: dbt gets back each string as
    given. Only for documents that hold no Jinja of their own."""
    return yaml_text(inert_tree(doc), width=width)


def yaml_text(doc: Any, *, width: int = 110) -> str:
    """YAML text of ``doc`` (plain data) that loads back equal: ``yaml.safe_dump`` quotes what YAML would misread
    (``: ``, ``#``, ``---``, line breaks, ``yes``), keeps non-ASCII text readable, and escapes NEL (below)."""
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=width)


class _Dumper(yaml.SafeDumper):
    """``safe_dump``'s dumper, except that a string holding NEL (U+0085) is written double-quoted, where it is
    escaped: in other styles PyYAML writes it as is, and reads it back as a line break."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"' if "\x85" in data else None)


_Dumper.add_representer(str, _represent_str)


def free_text(value: object, where: str, fail: Fail, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """A free-text spec field: any text, with Jinja delimiters, quotes and line breaks welcome (``yaml_for_dbt`` and
    ``jinja_inert`` carry them), but not what no file can hold: NUL, or a lone surrogate (which a YAML escape such
    as ``"\\uD800"`` produces and UTF-8 cannot encode). None is the empty text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fail(where, f"expected text, got {_shown(value)}")
    if len(value) > max_length:
        raise fail(where, f"expected at most {max_length:,} characters, got {len(value):,}")
    if "\x00" in value:
        raise fail(where, "text cannot contain a NUL character")
    bad = next((ch for ch in value if "\ud800" <= ch <= "\udfff"), None)
    if bad is not None:
        raise fail(where, f"text cannot contain the lone surrogate {bad!r} (it has no UTF-8 form)")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
