"""From a recipient to the message its provider receives, through the one renderer: every message Herald sends.

Runs, journeys, proofs, transactional messages and double opt-in confirmations all compose here, so the
preheader, the signed links, the ``List-Unsubscribe`` one-click headers and the channel's extras are built in one
place. ``Composer.compose`` renders one recipient's whole message with ``Renderer.render``;
``Composer.compose_shared`` gives the same message as a shared body plus substitutions when the template allows
it (herald.content.shared), or None so the caller falls back to ``compose``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import escape

from herald.content.render import RenderedMessage, Renderer
from herald.content.shared import SharedForm, shared_form
from senders.links import Links
from senders.providers.base import OutgoingMessage

_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
PREHEADER_TOKEN_PART = "preheader"
MAX_SUBSTITUTION_BYTES = 9000  # SendGrid allows 10,000 per personalization; leave room for the preheader
POSTAL_FIELDS = ("full_name", "address_line1", "address_line2", "postal_code", "city", "country_code")


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a message (a send-list row, a journey's profile, a transactional or confirmation
    recipient), with what the sender needs beside it. Equal when every field is equal."""

    message_id: str
    recipient_id: str
    profile_id: str | None
    address: str
    group: str
    variant: str
    payload: Mapping[str, Any]
    time_zone: str = ""
    extras: Mapping[str, str] = field(default_factory=dict)  # postal fields (direct mail)
    label: str = ""  # how a template error names the recipient (default: its recipient id)

    @classmethod
    def from_row(cls, message_id: str, row: Mapping[str, Any]) -> Recipient:
        payload = row.get("payload")
        return cls(
            message_id=message_id,
            recipient_id=str(row["recipient_id"]),
            profile_id=None if row.get("profile_id") is None else str(row["profile_id"]),
            address=str(row.get("address") or ""),
            group=str(row.get("recipient_group") or ""),
            variant=str(row.get("variant") or ""),
            payload=json.loads(payload) if isinstance(payload, str) and payload else {},
            time_zone=str(row.get("time_zone") or ""),
            extras={k: str(row[k]) for k in POSTAL_FIELDS if row.get(k) is not None},
        )

    @classmethod
    def from_columns(cls, message_ids: Sequence[str], columns: Mapping[str, Sequence[Any]]) -> list[Recipient]:
        """``from_row`` for every row of a table given as columns (name → values, as ``pyarrow`` gives them with
        ``to_pylist``): the same recipients, without a dict per row."""
        n = len(message_ids)
        none: list[Any] = [None] * n

        def column(name: str) -> Sequence[Any]:
            return columns.get(name, none)

        postal = [(k, columns[k]) for k in POSTAL_FIELDS if k in columns]
        loads = _json_object
        out = []
        rows = zip(
            message_ids,
            column("recipient_id"),
            column("profile_id"),
            column("address"),
            column("recipient_group"),
            column("variant"),
            column("payload"),
            column("time_zone"),
            strict=True,
        )
        for i, (message_id, recipient_id, profile_id, address, group, variant, payload, time_zone) in enumerate(rows):
            out.append(
                cls(
                    message_id=message_id,
                    recipient_id=str(recipient_id),
                    profile_id=None if profile_id is None else str(profile_id),
                    address=str(address or ""),
                    group=str(group or ""),
                    variant=str(variant or ""),
                    payload=loads(payload) if isinstance(payload, str) and payload else {},
                    time_zone=str(time_zone or ""),
                    extras={k: str(values[i]) for k, values in postal if values[i] is not None} if postal else {},
                )
            )
        return out


_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json_object(text: str) -> Any:
    """``json.loads(text)``; JSON that is exactly one value (as the warehouse writes it) skips the whitespace
    checks around it."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)  # leading whitespace, or not JSON: json.loads says which
    return value if end == len(text) else json.loads(text)


def with_preheader(html: str, preheader_html: str) -> str:
    """Put the preheader where inboxes look for it: hidden text first in the body."""
    if not preheader_html:
        return html
    hidden = f'<div style="display:none;max-height:0;overflow:hidden">{preheader_html}</div>'
    m = _BODY_TAG.search(html)
    return html[: m.end()] + hidden + html[m.end() :] if m else hidden + html


class Composer:
    """Composes the messages of one template for one ledger run: a delivery run, a journey step, a transactional
    message type's day, a form's confirmations or a proof.

    What the template sees besides the recipient's values: ``message_id``, the signed ``unsubscribe_url`` and
    ``preferences_url``, and ``context`` — by default a run's ``delivery_id`` and ``campaign_id`` with each
    recipient's ``variant``; a transactional type gives its ``event`` instead, a confirmation nothing more.
    ``list_unsubscribe``: email carries the RFC 8058 headers (not a receipt or a confirmation: nothing to opt out
    of). ``mark`` goes before the subject and the title (proofs)."""

    def __init__(
        self,
        renderer: Renderer,
        template: str,
        *,
        run_id: str,
        channel: str,
        delivery_id: str,
        links: Links,
        campaign_id: str = "",
        context: Mapping[str, Any] | None = None,
        list_unsubscribe: bool = True,
        mark: str = "",
    ) -> None:
        self.renderer = renderer
        self.template = template
        self.spec = renderer.load(template)
        self.run_id = run_id
        self.channel = channel
        self.delivery_id = delivery_id
        self.campaign_id = campaign_id
        self.links = links
        self.shared_context = (
            {"delivery_id": delivery_id, "campaign_id": campaign_id} if context is None else dict(context)
        )
        self.variants = context is None  # a run's recipients see their A/B variant
        self.list_unsubscribe = list_unsubscribe
        self.mark = mark
        self._forms: dict[str, SharedForm | None] = {}
        self._html_cache: dict[tuple[int, str], str] = {}

    def batches(self, *, one_body: bool) -> bool:
        """Whether this run's messages can share provider calls: always, unless each call carries one body
        (SendGrid) and the template has per-recipient logic."""
        if not one_body:
            return True
        return shared_form(self.renderer, self.template, "") is not None

    def context(self, r: Recipient, token: str | None = None) -> dict[str, Any]:
        token = token or self.links.token(r.message_id)  # signed once per message, used by every link
        values = {
            "unsubscribe_url": self.links.unsubscribe_url(r.message_id, token),
            "preferences_url": self.links.preferences_url(r.message_id, token),
            "message_id": r.message_id,
            **self.shared_context,
        }
        if self.variants:
            values["variant"] = r.variant
        return values

    def _headers(self, r: Recipient, token: str | None = None) -> dict[str, str]:
        if self.channel != "email" or not self.list_unsubscribe:
            return {}
        return self.links.list_unsubscribe_headers(r.message_id, token or self.links.token(r.message_id))

    def _data(self, r: Recipient) -> dict[str, str]:
        if self.channel == "direct_mail":
            return dict(r.extras)
        if self.channel == "push":
            return {"message_id": r.message_id, "delivery_id": self.delivery_id}
        return {}

    def _marked(self, text: str) -> str:
        return self.mark + text if text and self.mark else text

    def _outgoing(
        self,
        r: Recipient,
        token: str | None,
        rendered: RenderedMessage,
        substitutions: Mapping[str, str] | None = None,
    ) -> OutgoingMessage:
        """``rendered`` for ``r``, with what every message of this composer carries: ids, marks, headers, extras."""
        return OutgoingMessage(
            message_id=r.message_id,
            run_id=self.run_id,
            recipient_id=r.recipient_id,
            channel=self.channel,
            address=r.address,
            subject=self._marked(rendered.subject),
            preheader=rendered.preheader,
            title=self._marked(rendered.title),
            text=rendered.text,
            html=rendered.html,
            headers=self._headers(r, token),
            data=self._data(r),
            substitutions=substitutions or {},
        )

    def message(self, r: Recipient, rendered: RenderedMessage, token: str | None = None) -> OutgoingMessage:
        if self.channel == "email" and rendered.html:  # a text-only email gets no HTML part for its preheader
            html = with_preheader(rendered.html, str(escape(rendered.preheader)))
            rendered = dataclasses.replace(rendered, html=html)
        return self._outgoing(r, token, rendered)

    def compose(self, r: Recipient) -> OutgoingMessage:
        """The whole message for ``r``; raises TemplateError naming template, part, line and recipient."""
        token = self.links.token(r.message_id)
        context = self.context(r, token)
        rendered = self.renderer.render(self.template, r.payload, context, label=r.label or r.recipient_id)
        return self.message(r, rendered, token)

    def compose_any(self, r: Recipient) -> OutgoingMessage:
        """The shared form of ``r``'s message when there is one, else the whole message."""
        return self.compose_shared(r) or self.compose(r)

    def compose_shared(self, r: Recipient) -> OutgoingMessage | None:
        """The same message as a shared body plus substitutions (email only), or None to use ``compose``."""
        if self.channel != "email":
            return None
        locale = Renderer.locale_of(self.spec, r.payload)
        if locale not in self._forms:
            self._forms[locale] = shared_form(self.renderer, self.template, locale)
        form = self._forms[locale]
        if form is None:
            return None
        link_token = self.links.token(r.message_id)
        values = {k: v for k, v in r.payload.items() if v is not None}
        values.update(self.context(r, link_token))
        got = form.render(values)
        if got is None:
            return None
        subs, inline = got
        # At most 4 bytes a character: count the bytes only when the limit may be reached.
        chars = sum(map(len, subs)) + sum(map(len, subs.values()))
        if (
            chars * 4 > MAX_SUBSTITUTION_BYTES
            and sum(len(k) + len(v.encode()) for k, v in subs.items()) > MAX_SUBSTITUTION_BYTES
        ):
            return None
        try:
            subject = inline["subject"] if "subject" in inline else self._render_part(locale, "subject", values)
            preheader = inline["preheader"] if "preheader" in inline else self._render_part(locale, "preheader", values)
        except Exception:
            return None  # compose() will raise the renderer's precise error
        token = form.token(PREHEADER_TOKEN_PART, 0)
        html = form.bodies.get("html", "")
        if preheader and html:
            html = self._shared_html(form, token)
            subs[token] = str(escape(preheader))
        shared = RenderedMessage(subject=subject, preheader=preheader, text=form.bodies.get("text", ""), html=html)
        return self._outgoing(r, link_token, shared, subs)

    def _render_part(self, locale: str, part: str, values: Mapping[str, Any]) -> str:
        compiled = self.renderer.compiled(self.template, locale, part)
        return "" if compiled is None else str(compiled.render(values)).strip()

    def _shared_html(self, form: SharedForm, token: str) -> str:
        # One string object per form, so messages of one form share it and group by it cheaply.
        key = (id(form), token)
        if key not in self._html_cache:
            self._html_cache[key] = with_preheader(form.bodies["html"], token)
        return self._html_cache[key]
