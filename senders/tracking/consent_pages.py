"""The public consent pages: one-click unsubscribe, the preference page, subscription forms with double opt-in.

    GET  /u/{token}        a page with an Unsubscribe button; never unsubscribes (mail scanners fetch links)
    POST /u/{token}        unsubscribes: RFC 8058 one-click (``List-Unsubscribe=One-Click``) or the page's button
    GET  /p/{token}        the profile's subscriptions per channel and topic, and a form to change them
    POST /p/{token}        saves them (or "unsubscribe from everything"); needs the page's signed, timed stamp
    GET  /forms/{name}     a subscription form (specs/forms/<name>.yml)
    POST /forms/{name}     checks it, records the contact, sends the confirmation email (double opt-in)
    GET  /confirm/{token}  a page with a Confirm button; never confirms
    POST /confirm/{token}  opts the address in

``/u`` and ``/p`` tokens are the signed message ids every email carries (``senders.links``): the signature is
the only key, so a page shows and changes only the consent of the profile the message went to, and shows no
more of it than a first name and a masked address. An invalid token, an unknown message or a seed address get
the same "not found" page. Each change lands as one ``consent_events`` batch with its evidence (source, message
or form id, IP, time); a change that would change nothing (a second click) lands nothing. Forms are guarded by a
rate limit per IP, a honeypot field, a minimum fill time and an origin check (``senders.tracking.guards``).

Every page is rendered by jinja2 with autoescape and served with a strict Content-Security-Policy, no referrer
(the URLs hold tokens) and no caching. Errors never show a stack trace.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import math
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from herald import warehouse
from herald.content.render import Renderer
from herald.errors import WarehouseNotReady
from herald.raw_schema import CHANNELS, CONSENT_TOPICS
from senders.tracking.consents import ALL, ConsentBook, ConsentEvent, Consents, Status, event_id, land_events
from senders.tracking.context import ServeContext
from senders.tracking.forms import HONEYPOT, FormSpec, check_submission, load_forms
from senders.tracking.guards import BadForm, BodyTooLarge, RateLimiter, Stamps, client_ip, origin_of, read_form
from senders.tracking.messages import MessageDirectory, SentMessage
from senders.tracking.subscriptions import Subscriptions

log = logging.getLogger("herald.tracking.consent")

PREFERENCES_MAX_AGE = 2 * 3600  # seconds a preference page may be posted after it was served
FORM_MAX_AGE = 6 * 3600  # seconds a subscription form may be posted after it was served
CHANNEL_LABELS = {
    "email": "Email",
    "sms": "Text messages (SMS)",
    "push": "Push notifications",
    "in_app": "Messages in the app",
    "direct_mail": "Post",
}
_TOPIC = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TEMPLATES = Path(__file__).resolve().parent / "templates"


def consent_routes(ctx: ServeContext) -> list[BaseRoute]:
    """The routes of the consent pages, for ``create_app``. Loads and checks every form spec now (a bad spec
    raises TrackingError naming its file and field)."""
    pages = ConsentPages(ctx)
    return [
        Route("/u/{token}", pages.unsubscribe, methods=["GET", "POST"], name="unsubscribe"),
        Route("/p/{token}", pages.preferences, methods=["GET", "POST"], name="preferences"),
        Route("/forms/{name}", pages.form, methods=["GET", "POST"], name="subscription_form"),
        Route("/confirm/{token}", pages.confirm, methods=["GET", "POST"], name="confirm_subscription"),
    ]


Method = Callable[["ConsentPages", Request], Awaitable[Response]]


def _guarded(handler: Method) -> Method:
    """Answer every failure with a page, never a stack trace."""

    @functools.wraps(handler)
    async def run(self: ConsentPages, request: Request) -> Response:
        try:
            return await handler(self, request)
        except WarehouseNotReady:
            log.warning("consent page %s: no published warehouse yet", request.url.path.split("/")[1])
            return self.message(503, "Please try again later", "This page is not available right now.")
        except Exception:
            log.exception("consent page %s failed", request.url.path.split("/")[1])
            return self.message(500, "Something went wrong", "Please try again in a few minutes.")

    return run


class ConsentPages:
    """The handlers; one instance per server, shared by every request (all state is thread-safe)."""

    def __init__(self, ctx: ServeContext) -> None:
        self.ctx = ctx
        project = ctx.project
        self.renderer = Renderer(project.specs_dir / "templates")
        self.forms: dict[str, FormSpec] = load_forms(project, self.renderer)
        self.messages = MessageDirectory(project)
        self.book = ConsentBook(project)
        self.subscriptions = Subscriptions(project, ctx.links, ctx.env, self.renderer)
        self.limiter = RateLimiter(clock=ctx.clock)
        self.preference_stamps = Stamps(ctx.links, "preferences", max_age=PREFERENCES_MAX_AGE, clock=ctx.clock)
        self.form_stamps = Stamps(ctx.links, "form", max_age=FORM_MAX_AGE, clock=ctx.clock)
        self._locks = [threading.Lock() for _ in range(64)]
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    # ------------------------------------------------------------------ one-click unsubscribe

    @_guarded
    async def unsubscribe(self, request: Request) -> Response:
        message_id = self.ctx.links.verify(request.path_params["token"])
        if message_id is None:
            return self.not_found()
        if request.method != "POST":  # GET and HEAD only show the button
            found = await run_in_threadpool(self.messages.find, message_id)
            if found is None:
                return self.not_found()
            return self.page(
                "unsubscribe.html",
                title="Unsubscribe",
                what=_describe(found.channel, found.topic),
                preferences_url=self.ctx.links.preferences_url(message_id),
            )
        try:
            fields = await read_form(request)
        except BodyTooLarge:
            return self.message(413, "Too much data", "This request is too large.")
        except BadForm:
            fields = {}  # RFC 8058 asks only for a POST: an odd body still means "unsubscribe"
        source = "unsubscribe_page" if fields.get("action") == "unsubscribe" else "one_click_unsubscribe"
        found = await run_in_threadpool(self._unsubscribe, message_id, source, client_ip(request))
        if found is None:
            return self.not_found()
        return self.message(
            200,
            "You are unsubscribed",
            f"You will no longer receive {_describe(found.channel, found.topic)}.",
            link_url=self.ctx.links.preferences_url(message_id),
            link_text="Manage your other subscriptions",
        )

    def _unsubscribe(self, message_id: str, source: str, ip: str) -> SentMessage | None:
        found = self.messages.find(message_id)
        if found is None or not found.profile_id:
            return found  # a seed address belongs to nobody: there is no consent to record
        with self._profile_lock(found.profile_id):
            consents = self.book.of(found.profile_id)
            if consents.blocked(found.channel, found.topic):
                return found  # already out: a second click changes nothing and records nothing
            now = self.ctx.clock()
            land_events(
                self.ctx.project,
                [
                    ConsentEvent(
                        consent_event_id=event_id(source, message_id, repr(now)),
                        external_key=found.profile_id,
                        channel=found.channel,
                        topic=found.topic or ALL,
                        status="opt_out",
                        source=source,
                        evidence_id=message_id,
                        ip_address=ip or None,
                        occurred_at=_utc(now),
                    )
                ],
                source_file=f"herald-serve/{source}",
            )
        log.info("unsubscribed: message %s (%s)", message_id, source)
        return found

    # ------------------------------------------------------------------ preference page

    @_guarded
    async def preferences(self, request: Request) -> Response:
        token = request.path_params["token"]
        message_id = self.ctx.links.verify(token)
        if message_id is None:
            return self.not_found()
        if request.method == "POST":
            try:
                fields = await read_form(request)
            except (BodyTooLarge, BadForm):
                return self.message(400, "This did not work", "Please reload the page and try again.")
            if await run_in_threadpool(self._profile_of, message_id) is None:
                return self.not_found()
            stamp = self.preference_stamps.check(fields.get("csrf", ""), message_id)
            if stamp is None:
                return self.message(
                    403,
                    "This page has expired",
                    "Nothing was changed. Please open the page again and make your choices there.",
                    link_url=self.ctx.links.preferences_url(message_id, token),
                    link_text="Open my preferences",
                )
            ok = await run_in_threadpool(self._save_preferences, message_id, fields, client_ip(request))
            if not ok:
                return self.not_found()
            return RedirectResponse(
                self.ctx.links.preferences_url(message_id, token) + "?saved=1", status_code=303, headers=_HEADERS
            )
        view = await run_in_threadpool(self._preferences_view, message_id)
        if view is None:
            return self.not_found()
        return self.page(
            "preferences.html",
            title="Your subscriptions",
            saved=request.query_params.get("saved") == "1",
            csrf=self.preference_stamps.issue(message_id),
            **view,
        )

    def _profile_of(self, message_id: str) -> SentMessage | None:
        found = self.messages.find(message_id)
        return found if found is not None and found.profile_id else None

    def _preferences_view(self, message_id: str) -> dict[str, Any] | None:
        found = self._profile_of(message_id)
        if found is None:
            return None
        consents = self.book.of(found.profile_id)
        con = warehouse.connect(self.ctx.project)
        try:
            row = con.execute(
                "select first_name, email from profiles where profile_id = ?", [found.profile_id]
            ).fetchone()
        finally:
            con.close()
        first_name, email = (str(v) if v else "" for v in (row or ("", "")))
        channels = [
            {
                "name": channel,
                "label": CHANNEL_LABELS.get(channel, channel),
                "topics": [
                    {"topic": t, "label": _topic_label(t), "subscribed": consents.subscribed(channel, t)}
                    for t in topics
                ],
            }
            for channel, topics in _grid(consents, found).items()
        ]
        return {"first_name": first_name, "masked_email": mask_email(email), "channels": channels}

    def _save_preferences(self, message_id: str, fields: Mapping[str, str], ip: str) -> bool:
        found = self._profile_of(message_id)
        if found is None:
            return False
        with self._profile_lock(found.profile_id):
            consents = self.book.of(found.profile_id)
            grid = _grid(consents, found)
            # Only what the served page showed, and only what is still on it: nothing else can be injected.
            shown = {(c, t) for c, topics in grid.items() for t in topics if fields.get(f"shown.{c}.{t}")}
            wanted = {(c, t) for c, t in shown if fields.get(f"sub.{c}.{t}")}
            everything = fields.get("action") == "unsubscribe_all"
            changes = plan_changes(consents, shown, wanted, everything=everything, channels=list(grid))
            if not changes:
                return True
            now = self.ctx.clock()
            land_events(
                self.ctx.project,
                [
                    ConsentEvent(
                        consent_event_id=event_id("preference_center", message_id, channel, topic, repr(now)),
                        external_key=found.profile_id,
                        channel=channel,
                        topic=topic,
                        status=status,
                        source="preference_center",
                        evidence_id=message_id,
                        ip_address=ip or None,
                        occurred_at=_utc(now),
                    )
                    for channel, topic, status in changes
                ],
                source_file="herald-serve/preference_center",
            )
        log.info("preferences saved: message %s, %d change(s)", message_id, len(changes))
        return True

    # ------------------------------------------------------------------ subscription forms

    @_guarded
    async def form(self, request: Request) -> Response:
        spec = self.forms.get(request.path_params["name"])
        if spec is None:
            return self.not_found()
        if request.method != "POST":
            return self._form_page(spec)
        ip = client_ip(request)
        wait = self.limiter.take(
            f"{spec.name}|{ip}", burst=spec.rate_limit.burst, per_second=spec.rate_limit.per_minute / 60
        )
        if wait > 0:
            retry = str(max(1, math.ceil(wait)))
            return self.message(
                429, "Too many attempts", f"Please wait {retry} seconds and try again.", headers={"Retry-After": retry}
            )
        try:
            fields = await read_form(request)
        except BodyTooLarge:
            return self._form_page(spec, status=413, problem="This is too much text; please shorten your answers.")
        except BadForm:
            return self._form_page(spec, status=400, problem="This form could not be read; please send it again.")
        origin = request.headers.get("origin")
        if origin and origin.lower() not in self._origins(spec, request):
            return self.message(403, "Not allowed", "This form cannot be sent from another site.")
        if fields.get(HONEYPOT):
            log.info("form %s: honeypot filled from %s; nothing recorded", spec.name, ip)
            return self._check_inbox(spec)  # a robot learns nothing
        stamp = self.form_stamps.check(fields.get("form_started", ""), spec.name)
        submission = check_submission(spec, fields)
        kept = {f.name: fields.get(f.name, "")[: f.max_length + 1] for f in spec.fields}
        if stamp is None:
            return self._form_page(spec, kept, status=400, problem="This form has expired; please send it again.")
        if stamp.age < spec.min_fill_seconds:
            return self._form_page(
                spec, kept, status=400, problem="That was quick! Please check your details and send the form again."
            )
        if not submission.ok:
            return self._form_page(
                spec, kept, submission.errors, status=422, problem="Please correct the fields marked below."
            )
        result = await run_in_threadpool(
            self.subscriptions.submit, spec, submission.values, ip=ip, now=self.ctx.clock()
        )
        if result == "failed":
            return self.message(
                503, "Please try again", "We could not send the confirmation email just now. Please try again later."
            )
        return self._check_inbox(spec)  # the same answer for a duplicate: nobody learns who is subscribed

    def _form_page(
        self,
        spec: FormSpec,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        *,
        status: int = 200,
        problem: str = "",
    ) -> Response:
        ancestors = " ".join(["'self'", *spec.allowed_origins])
        return self.page(
            "form.html",
            status=status,
            frame_ancestors=ancestors,
            title=spec.title,
            form=spec,
            values=dict(values or {}),
            errors=dict(errors or {}),
            problem=problem,
            stamp=self.form_stamps.issue(spec.name),
            honeypot=HONEYPOT,
        )

    def _origins(self, spec: FormSpec, request: Request) -> set[str]:
        own = {origin_of(self.ctx.links.public_url), origin_of(str(request.base_url))}
        return {o.lower() for o in (*spec.allowed_origins, *own) if o}

    def _check_inbox(self, spec: FormSpec) -> Response:
        return self.message(200, "Check your inbox", spec.confirm_message)

    # ------------------------------------------------------------------ confirmation (double opt-in)

    @_guarded
    async def confirm(self, request: Request) -> Response:
        pending = await run_in_threadpool(self.subscriptions.pending, request.path_params["token"])
        spec = self.forms.get(pending.form) if pending is not None else None
        if pending is None or spec is None:
            return self.not_found()
        now = self.ctx.clock()
        if request.method == "POST":
            result = await run_in_threadpool(self.subscriptions.confirm, spec, pending, ip=client_ip(request), now=now)
        elif pending.confirmed_at is not None:
            result = "already_confirmed"
        elif now > pending.expires_at:
            result = "expired"
        else:
            return self.page(
                "confirm.html",
                title=spec.title,
                what=_describe(spec.channel, spec.topic),
                masked_email=mask_email(pending.email),
            )
        if result in ("confirmed", "already_confirmed"):
            return self.message(200, "You are subscribed", spec.thank_you_message)
        if result == "expired":
            return self.message(
                410,
                "This link has expired",
                "Confirmation links work for a limited time. Please subscribe again to get a new one.",
                link_url=f"{self.ctx.links.public_url}/forms/{spec.name}",
                link_text=spec.title,
            )
        return self.not_found()

    # ------------------------------------------------------------------ pages

    def page(
        self,
        template: str,
        *,
        status: int = 200,
        frame_ancestors: str = "'none'",
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> Response:
        html = self._env.get_template(template).render(**context)
        csp = (
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
            f"frame-ancestors {frame_ancestors}"
        )
        return HTMLResponse(
            html, status_code=status, headers={**_HEADERS, "Content-Security-Policy": csp, **(headers or {})}
        )

    def message(
        self,
        status: int,
        title: str,
        *paragraphs: str,
        link_url: str = "",
        link_text: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        return self.page(
            "message.html",
            status=status,
            headers=headers,
            title=title,
            paragraphs=paragraphs,
            link_url=link_url,
            link_text=link_text,
        )

    def not_found(self) -> Response:
        """The one answer for a forged token, an unknown message or form, or a seed: it reveals nothing."""
        return self.message(404, "This link is not valid", "Please check that you copied the whole link.")

    @contextmanager
    def _profile_lock(self, profile_id: str) -> Iterator[None]:
        """One change per profile at a time in this process (a double click lands one event, not two)."""
        lock = self._locks[int(hashlib.sha256(profile_id.encode()).hexdigest()[:8], 16) % len(self._locks)]
        with lock:
            yield


_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}


def _grid(consents: Consents, message: SentMessage) -> dict[str, list[str]]:
    """Channels and topics the page offers: the profile's channels with a record, and the message's own;
    the standard topics and any other topic with a record."""
    channels = [c for c in CHANNELS if c in {*consents.channels(), message.channel}]
    grid: dict[str, list[str]] = {}
    for channel in channels:
        topics = set(CONSENT_TOPICS) | set(consents.topics(channel))
        if message.channel == channel and message.topic:
            topics.add(message.topic)
        grid[channel] = sorted(t for t in topics if _TOPIC.match(t) and t != ALL)
    return grid


def plan_changes(
    consents: Consents,
    shown: set[tuple[str, str]],
    wanted: set[tuple[str, str]],
    *,
    everything: bool,
    channels: list[str],
) -> list[tuple[str, str, Status]]:
    """The events that make the profile's consent what the page asked: (channel, topic, opt_in | opt_out).

    Nothing for what already is. To subscribe to a topic after "unsubscribe from everything", the channel's
    switch is lifted (an ``all`` opt-in) and every topic the person did not tick is opted out in the same
    instant, so no opt-in from before the switch comes back to life."""
    if everything:
        return [(c, ALL, "opt_out") for c in channels if not consents.blocked(c, None)]
    changes: list[tuple[str, str, Status]] = []
    for channel in sorted({c for c, _ in shown}):
        switch = consents.standings.get((channel, ALL))
        lift = switch is not None and not switch.opted_in and any(c == channel for c, _ in wanted)
        if lift:
            changes.append((channel, ALL, "opt_in"))
        for c, topic in sorted(shown):
            if c != channel:
                continue
            standing = consents.standings.get((c, topic))
            if (c, topic) in wanted:
                if not consents.subscribed(c, topic):
                    changes.append((c, topic, "opt_in"))
            elif consents.subscribed(c, topic) or (lift and standing is not None and standing.opted_in):
                changes.append((c, topic, "opt_out"))
    return changes


def mask_email(email: str) -> str:
    """``g•••@g•••.com``: enough for a person to recognise their address, not enough to learn someone's."""
    local, at, domain = email.partition("@")
    if not at or not local or not domain:
        return ""
    host, dot, tld = domain.rpartition(".")
    return f"{local[0]}•••@{(host or tld)[0]}•••{dot}{tld if dot else ''}"


def _topic_label(topic: str) -> str:
    return topic.replace("_", " ").capitalize()


def _describe(channel: str, topic: str | None) -> str:
    kind = {"email": "emails", "sms": "text messages", "push": "push notifications", "in_app": "in-app messages"}
    noun = kind.get(channel, "mail")
    return f"{_topic_label(topic).lower()} {noun}" if topic and topic != ALL else f"any {noun} from us"


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)
