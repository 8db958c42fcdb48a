"""``herald serve``: the ASGI app (Starlette) behind the public endpoints, run by uvicorn.

``create_app(ctx)`` mounts ``GET /healthz`` and the routes of each factory in ``ROUTE_FACTORIES`` (the Event
Webhook, the callbacks and inbox, the consent pages, transactional messages). A factory is ``(ServeContext) ->
list[BaseRoute]``; handlers reach the shared spool and inbox through ``request.app.state``. Routes of the layers
above (orchestration's workflow starts) are passed in by ``herald serve``: the server never imports them.

Around the app: one JSON line per request on stderr (method, route pattern — never the path, which can hold a
signed token —, status, milliseconds, plus what the handler adds: events, bytes, outcome); no addresses, no
client IPs, no secrets. A background task compacts the spool into landing batches every ``compact_every``
seconds, in a separate process (normalizing is CPU work that would otherwise delay acknowledgements), and once
more in-process at shutdown, after the writers have sealed their segments.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TextIO

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.project import Project
from senders.errors import TrackingError
from senders.inbox import Inbox
from senders.tracking.callbacks import callback_routes
from senders.tracking.context import ServeContext
from senders.tracking.spool import DEFAULT_ROLL_SECONDS, Spool, compact
from senders.tracking.webhooks import MAX_BODY_BYTES, verifier_for, webhook_routes

RouteFactory = Callable[[ServeContext], Sequence[BaseRoute]]


def consent_routes(ctx: ServeContext) -> Sequence[BaseRoute]:
    """The consent pages' routes (``senders.tracking.consent_pages``), imported when the app is built."""
    from senders.tracking.consent_pages import consent_routes as routes

    mounted: Sequence[BaseRoute] = routes(ctx)
    return mounted


def transactional_routes(ctx: ServeContext) -> Sequence[BaseRoute]:
    """``POST /messages/{event}`` (``senders.tracking.transactional``), imported when the app is built."""
    from senders.tracking.transactional import transactional_routes as routes

    return routes(ctx)


ROUTE_FACTORIES: tuple[RouteFactory, ...] = (
    webhook_routes,
    callback_routes,
    consent_routes,
    transactional_routes,
)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """How the server runs; equal when every option is equal."""

    insecure_unsigned_webhook: bool = False  # development only: accept unsigned Event Webhook posts
    compact_every: float | None = 5.0  # seconds between background compactions; None: only at shutdown
    compact_in_process: bool = False  # compact in the server process (tests) instead of a worker process
    group_commit: bool = True  # False: one sync per request (the benchmark's baseline)
    roll_seconds: float = DEFAULT_ROLL_SECONDS
    max_webhook_bytes: int = MAX_BODY_BYTES


class JsonLog:
    """One JSON object per line on a stream (stderr by default), thread-safe."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, default=str)
        with self._lock:
            stream = self.stream or sys.stderr
            stream.write(line + "\n")
            stream.flush()


def create_app(
    ctx: ServeContext,
    options: ServeOptions | None = None,
    *,
    route_factories: Sequence[RouteFactory] = ROUTE_FACTORIES,
    log: JsonLog | None = None,
) -> Starlette:
    """The app for ``ctx``. Raises TrackingError when no webhook key is configured and unsigned posts were not
    explicitly allowed, or when the key is not a P-256 public key."""
    options = options or ServeOptions()
    log = log or JsonLog()
    if verifier_for(ctx) is None and not options.insecure_unsigned_webhook:
        raise TrackingError(
            "HERALD_SENDGRID_WEBHOOK_KEY is not set: the Event Webhook cannot be verified. Set it to the "
            "verification key SendGrid shows, or pass --insecure-unsigned-webhook (development only)"
        )
    spool = Spool(ctx.project, group_commit=options.group_commit, roll_seconds=options.roll_seconds)
    routes: list[BaseRoute] = [Route("/healthz", _healthz, methods=["GET"])]
    for factory in route_factories:
        routes.extend(factory(ctx))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log(
            "serve_started",
            routes=sorted({getattr(r, "path", "") for r in routes} - {""}),
            twilio_callbacks=bool(ctx.twilio_auth_token),
            push_callbacks=bool(ctx.callback_token),
            group_commit=options.group_commit,
        )
        if options.insecure_unsigned_webhook and verifier_for(ctx) is None:
            log("warning", detail="INSECURE: unsigned Event Webhook posts are accepted (development only)")
        task = asyncio.create_task(_compact_forever(ctx.project, options, log)) if options.compact_every else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.to_thread(spool.close)  # seals the open segments
            report = await asyncio.to_thread(compact, ctx.project)
            log("compacted", when="shutdown", **report.as_dict())
            log("serve_stopped", spool=spool.stats())

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(AccessLog, log=log)])
    app.state.ctx = ctx
    app.state.spool = spool
    app.state.inbox = Inbox(ctx.project)
    app.state.insecure_unsigned_webhook = options.insecure_unsigned_webhook
    app.state.max_webhook_bytes = options.max_webhook_bytes
    return app


async def _healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _compact_forever(project: Project, options: ServeOptions, log: JsonLog) -> None:
    assert options.compact_every
    pool = None if options.compact_in_process else _worker_pool()
    loop = asyncio.get_running_loop()
    try:
        while True:
            await asyncio.sleep(options.compact_every)
            try:
                if pool is None:
                    report = (await asyncio.to_thread(compact, project)).as_dict()
                else:
                    report = await loop.run_in_executor(pool, compact_summary, project)
            except Exception as exc:  # keep serving: the segments stay in the spool for the next round
                log("compaction_failed", error=type(exc).__name__, detail=str(exc)[:300])
                continue
            if report["segments"]:
                log("compacted", when="background", **report)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _worker_pool() -> ProcessPoolExecutor:
    # spawn, not fork: the server process has threads (spool writers) that a fork would copy mid-state. Niced:
    # acknowledging comes first; under a sustained overload landing lags and the durable spool holds the rest.
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=os.nice, initargs=(10,)
    )


def compact_summary(project: Project) -> dict[str, Any]:
    """``compact`` for a worker process: the report as plain data."""
    return compact(project).as_dict()


class AccessLog:
    """ASGI middleware: one JSON line per HTTP request, with the route pattern instead of the path."""

    def __init__(self, app: ASGIApp, log: JsonLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            self.log(
                "request",
                method=scope["method"],
                route=getattr(route, "path", None) or "(unmatched)",
                status=status or 500,
                ms=round((time.perf_counter() - started) * 1000, 2),
                **scope.get("herald.log", {}),
            )


def serve(
    ctx: ServeContext,
    *,
    host: str,
    port: int,
    options: ServeOptions | None = None,
    route_factories: Sequence[RouteFactory] = ROUTE_FACTORIES,
) -> None:
    """Run the server until SIGINT / SIGTERM (then: finish requests, seal the spool, compact). Blocking.

    ``route_factories``: the routes to mount; ``herald serve`` adds orchestration's workflow starts to these."""
    import uvicorn

    log = JsonLog()
    app = create_app(ctx, options, route_factories=route_factories, log=log)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # uvicorn's would print full paths (signed tokens) and client addresses
        lifespan="on",
        timeout_keep_alive=75,  # longer than SendGrid's and load balancers' idle reuse
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    server = uvicorn.Server(config)
    log("serve_listening", host=host, port=port)
    server.run()
