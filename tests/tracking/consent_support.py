"""What the consent page tests share: the pages served by a real uvicorn in a thread, a clock tests can move,
a tiny HTTP client, and readers of what landed."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import duckdb
import uvicorn
from starlette.applications import Starlette

from herald.landing import table_dir
from herald.project import Project
from herald.raw_schema import CONSENT_EVENTS, CRM_CONTACTS
from senders.tracking.consent_pages import consent_routes
from senders.tracking.context import ServeContext

LINK_SECRET = "consent-pages-secret"
PUBLIC_URL = "https://links.shop.example"


class Clock:
    """Real time plus an offset a test can advance."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    text: str


class Pages:
    """The consent routes on a free local port."""

    def __init__(self, ctx: ServeContext) -> None:
        self.ctx = ctx
        app = Starlette(routes=consent_routes(ctx))
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the consent pages did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def request(
        self,
        method: str,
        url: str,
        form: Mapping[str, str] | None = None,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """``url`` may be a public link (its path is used) or a path."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        sent = dict(headers or {})
        if form is not None:
            body = urlencode(form).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            con.request(method, path, body=body, headers=sent)
            r = con.getresponse()
            return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode())
        finally:
            con.close()

    def get(self, url: str, **kw: Any) -> Reply:
        return self.request("GET", url, **kw)

    def post(self, url: str, form: Mapping[str, str] | None = None, **kw: Any) -> Reply:
        return self.request("POST", url, form if form is not None else {}, **kw)


def serve_context(project: Project, clock: Clock, **env: str) -> ServeContext:
    return ServeContext.from_env(
        project,
        {"HERALD_LINK_SECRET": LINK_SECRET, "HERALD_PUBLIC_URL": PUBLIC_URL, **env},
        clock=clock,
    )


@contextmanager
def serving(ctx: ServeContext) -> Iterator[Pages]:
    pages = Pages(ctx)
    try:
        yield pages
    finally:
        pages.stop()


def landed(project: Project, table: Any = CONSENT_EVENTS, since: str = "") -> list[dict[str, Any]]:
    """Rows of ``table`` in batches whose id sorts after ``since``, oldest batch first."""
    files = [str(p) for p in sorted(table_dir(project, table).glob("*.parquet")) if p.stem > since]
    if not files:
        return []
    con = duckdb.connect()
    try:
        rel = con.execute("select * from read_parquet(?, union_by_name = true) order by _batch_id", [files])
        names = [d[0] for d in rel.description or []]
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
    finally:
        con.close()


def latest_batch(project: Project) -> str:
    """The newest consent or contact batch id so far: pass it as ``since`` to see only what comes after."""
    stems = [p.stem for t in (CONSENT_EVENTS, CRM_CONTACTS) for p in table_dir(project, t).glob("*.parquet")]
    return max(stems, default="")


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
