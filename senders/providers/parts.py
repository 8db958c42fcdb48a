"""What the providers that store messages as files share (the inbox, direct mail): each ``send`` writes the
messages of its call as one part file, in one atomic step, and what is in the visible parts is what was sent.

``part_name`` names a part after its first message; ``write_part`` makes it appear whole and says, when that
fails, whether it may be there anyway; ``outcomes`` answers a call from its problems and the stored parts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from herald.files import write_new
from senders.providers.base import AmbiguousFault, Outcome, OutgoingMessage, TransientFault

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]")


def part_name(first_message_id: str, count: int, suffix: str, *, fallback: str) -> str:
    """``<first message id>-<count><suffix>``, the id in a file-name form: never hidden (no leading "."), never
    a path, not too long; ``fallback`` when nothing of it is left."""
    first = _UNSAFE.sub("_", first_message_id).lstrip(".")[:80] or fallback
    return f"{first}-{count}{suffix}"


def write_part(target: Path, data: bytes, *, what: str) -> Path:
    """Make ``data`` appear whole and durably under ``target``, or under a free ``<stem>-<random>`` beside it
    when that is taken; returns the path written. ``what`` names the part in the fault a failure raises:
    ``AmbiguousFault`` when a part of that name is there all the same, else ``TransientFault``."""
    try:
        return write_new(target, data, durable=True)
    except OSError as exc:
        if any(target.parent.glob(f"{target.stem}*{target.suffix}")):
            # The rename may have happened before the failure (e.g. syncing the folder).
            raise AmbiguousFault(f"{what} may be stored: {exc}") from exc
        raise TransientFault(f"could not store {what}: {exc}") from exc


def outcomes(
    messages: Sequence[OutgoingMessage], problems: Mapping[str, str], stored_in: Mapping[str, str]
) -> list[Outcome]:
    """One outcome per message: failed with its problem, else accepted with the part that holds it (by message
    id in ``stored_in``) as its provider id."""
    return [
        Outcome(m.message_id, "failed", reason=problems[m.message_id])
        if m.message_id in problems
        else Outcome(m.message_id, "accepted", provider_id=stored_in[m.message_id])
        for m in messages
    ]
