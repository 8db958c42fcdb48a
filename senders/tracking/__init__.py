"""Tracking: ``herald serve``, the public endpoints that bring events and consent back into the warehouse.

    context.py        ServeContext: the project, link signing and the secrets the endpoints check
    server.py         the ASGI app (Starlette) and ``serve()`` (uvicorn)
    webhooks.py       SendGrid's signed Event Webhook: verify, normalize, write durably, answer
    spool.py          durable, group-committed event spool, compacted into landing batches
    callbacks.py      SMS (Twilio) and push status callbacks; in-app read / dismiss
    consent_pages.py  one-click unsubscribe, preference pages, subscription forms with double opt-in
"""
