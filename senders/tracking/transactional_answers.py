"""What ``POST /messages/{event}`` answers: the request's parts checked field by field, and each answer's status,
body and headers (``senders.tracking.transactional``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from senders import ledger
from senders.tracking.transactional_specs import MessageType

MAX_KEY_CHARS = 255
UNKNOWN_RETRY_AFTER = 30  # seconds: a provider's lookup (SendGrid's Activity feed) lags behind its sends


@dataclass(frozen=True, slots=True)
class Answer:
    """What a request gets: an HTTP status and a JSON body, plus headers (Retry-After). Equal when all three are."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class Refused(Exception):
    """A request that cannot be served as it is; carries its answer."""

    def __init__(self, status: int, error: str, *, fields: Mapping[str, str] | None = None, retry_after: int = 0):
        super().__init__(error)
        body: dict[str, Any] = {"error": error}
        if fields:
            body["fields"] = dict(fields)
        self.answer = Answer(status, body, {"Retry-After": str(retry_after)} if retry_after else {})


def request_parts(
    mt: MessageType, body: Mapping[str, Any], header_key: str | None
) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """The recipient, payload and idempotency key of a request body; Refused (422) naming every field that does
    not fit."""
    problems: dict[str, str] = {}
    unknown = sorted(set(body) - {"recipient", "payload", "idempotency_key"})
    for name in unknown:
        problems[name] = "unknown field (known: idempotency_key, payload, recipient)"
    recipient = body.get("recipient")
    if not isinstance(recipient, dict):
        problems["recipient"] = "an object with profile_id, external_key or address is required"
        recipient = {}
    else:
        for name in sorted(set(recipient) - {"profile_id", "external_key", "address"}):
            problems[f"recipient.{name}"] = "unknown field (known: address, external_key, profile_id)"
        for name in ("profile_id", "external_key", "address"):
            value = recipient.get(name)
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 320):
                problems[f"recipient.{name}"] = "must be a non-empty string"
        if "profile_id" in recipient and "external_key" in recipient:
            problems["recipient"] = "give profile_id or external_key, not both"
        elif not {"profile_id", "external_key", "address"} & set(recipient):
            problems["recipient"] = "name a profile_id, an external_key or an address"
    payload = body.get("payload", {})
    problems.update(mt.check(payload))
    key = body.get("idempotency_key", header_key)
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS):
        problems["idempotency_key"] = f"must be a string of 1 to {MAX_KEY_CHARS} characters"
    if header_key is not None and key != header_key:
        problems["idempotency_key"] = "differs from the Idempotency-Key header"
    if problems:
        first = next(iter(problems))
        raise Refused(422, f"{first}: {problems[first]}", fields=problems)
    return dict(recipient), dict(payload), key


def answer_for(
    status: int,
    mt: MessageType,
    entry: ledger.Entry,
    state: str,
    *,
    reason: str = "",
    replay: bool = False,
    timing: Mapping[str, float] | None = None,
    retry_after: int = 0,
) -> Answer:
    body = {
        "message_id": entry.message_id,
        "event": mt.event,
        "run_id": entry.run_id,
        "state": state,
        "provider_id": entry.provider_id or None,
        "replay": replay,
        "reason": reason or None,
        "timing_ms": dict(timing or {}),
    }
    return Answer(status, body, {"Retry-After": str(retry_after)} if retry_after else {})


def unknown_answer(mt: MessageType, entry: ledger.Entry) -> Answer:
    answer = answer_for(
        504,
        mt,
        entry,
        "unknown",
        reason="the provider may have it and cannot say yet: retry with the same idempotency key later",
        retry_after=UNKNOWN_RETRY_AFTER,
    )
    return Answer(504, {"error": answer.body["reason"], **answer.body}, answer.headers)


def in_progress_answer(mid: str, run: str) -> Answer:
    return Answer(
        409,
        {"error": "this message is being sent by another request: retry shortly", "message_id": mid, "run_id": run},
        {"Retry-After": "1"},
    )
