"""Tracking: ``herald serve``, the public endpoints that bring events and consent back into the warehouse.

context.py        ServeContext: the project, link signing and the secrets the endpoints check
server.py         the ASGI app (Starlette) and ``serve()`` (uvicorn)
webhooks.py       SendGrid's signed Event Webhook: verify the signature, check the body, spool it, answer
normalize.py      provider events → raw rows (SendGrid's quirks), shared by the spool and ``herald ingest``
spool.py          durable, group-committed event spool, compacted into landing batches; read by suppression
callbacks.py      SMS (Twilio) and push status callbacks; the in-app inbox (list, read / dismiss)
ingest.py         ``herald ingest events FILE``: provider exports through the same normalizer
consent_pages.py  the consent routes: one-click unsubscribe, preference pages, subscription forms, confirmation
messages.py       which message (run, profile, channel, topic) a signed link came from: published marts, then ledger
consents.py       a profile's current consent: the published marts plus consent batches landed since
forms.py          subscription form specs (specs/forms/) and the checks every submission passes
guards.py         signed form stamps (CSRF, minimum fill time), per-IP rate limits, hostile-input checks
subscriptions.py  double opt-in: pending subscriptions, the confirmation email (once), the confirmation
transactional.py  POST /messages/{event}: one message now, exactly once (transactional_specs.py, _journal.py)
templates/        the pages' HTML (jinja2, autoescaped)
"""
