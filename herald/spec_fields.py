"""Checks every spec parser (plans, typologies, workflows) applies the same way, raising the parser's own error.

Each takes a ``Fail`` (``herald.safe_text.failing_with(PlanError)``), so a message reads
``<where>: <problem>`` whichever file it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from herald.safe_text import Fail


def mapping_with_known_keys(data: object, where: str, known: set[str], fail: Fail) -> Mapping[str, Any]:
    """``data`` as a mapping whose keys are all in ``known`` (a misspelt key is an error, never ignored)."""
    if not isinstance(data, Mapping):
        raise fail(where, "expected a mapping")
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise fail(where, f"unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    return cast(Mapping[str, Any], data)


def flag(value: object, where: str, fail: Fail) -> bool:
    """A YAML boolean (``yes`` / ``no`` load as booleans too; ``"true"`` in quotes is text, refused)."""
    if not isinstance(value, bool):
        raise fail(where, f"expected true or false, got {value!r}")
    return value
