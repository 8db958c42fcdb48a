"""Live previews of a delivery's message: its template, saved or being edited, rendered for one real profile.

The recipient's data is what ``herald prepare`` would store for that profile (the profile columns the template
reads, as JSON), read from the published warehouse; the message comes from the one renderer, so a preview shows
what the send would.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from herald import warehouse
from herald.campaigns.catalog import DeliveryRef
from herald.campaigns.prepare import sample_context
from herald.campaigns.template_edits import staged_renderer
from herald.content.render import RenderedMessage
from herald.errors import TemplateError
from herald.project import Project


@dataclass(frozen=True, slots=True)
class Preview:
    """The rendered message, or why there is none; ``recipient``: the data it was rendered with."""

    message: RenderedMessage | None
    error: str | None
    recipient: Mapping[str, Any] = field(default_factory=dict)


def recipient(db: Path, profile_id: str, fields: set[str]) -> dict[str, Any] | None:
    """The payload ``herald prepare`` would store for ``profile_id`` in the published file ``db``: the profile
    columns the template reads and ``language_code``, as JSON (so values have the types the senders see). None:
    no such profile."""
    with warehouse.open_published(db) as con:
        columns = [r[0] for r in con.execute("select column_name from (describe profiles)").fetchall()]
        wanted = [c for c in columns if c in fields or c in ("profile_id", "language_code")]
        pairs = ", ".join(f"'{c}', \"{c}\"" for c in wanted)  # allow-listed column names only
        row = con.execute(
            f"select cast(json_object({pairs}) as varchar) from profiles where profile_id = ?", [profile_id]
        ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def preview(
    db: Path,
    project: Project,
    ref: DeliveryRef,
    template: str,
    files: Mapping[str, str],
    profile_id: str,
    variant: str | None = None,
) -> Preview:
    """Template ``template`` with ``files`` rendered for ``profile_id``'s data in the published file ``db``."""
    try:
        with staged_renderer(project, template, files) as renderer:
            fields = renderer.fields(template)
            data = recipient(db, profile_id, fields)
            if data is None:
                return Preview(None, f"No profile {profile_id!r} in the published warehouse.")
            context = sample_context(ref.delivery, ref.campaign.id, variant)
            message = renderer.render(template, data, context, label=profile_id)
            return Preview(message, None, data)
    except TemplateError as exc:
        return Preview(None, str(exc))


def preview_profiles(db: Path, ref: DeliveryRef, limit: int = 20) -> list[str]:
    """Profiles to preview with: the delivery's test profiles, then members of its latest run's send list (or,
    before any run, the first profiles)."""
    with warehouse.open_published(db) as con:
        rows: list[tuple[Any, ...]] = []
        if "send_lists" in warehouse.mart_tables(con):
            rows = con.execute(
                "select profile_id from send_lists where delivery_id = ? and profile_id is not null and run_id ="
                " (select max(run_id) from delivery_runs where delivery_id = ?) order by recipient_id limit ?",
                [ref.delivery.id, ref.delivery.id, limit],
            ).fetchall()
        if not rows:
            rows = con.execute("select profile_id from profiles order by profile_id limit ?", [limit]).fetchall()
    return list(dict.fromkeys([*ref.delivery.test_profiles, *(str(r[0]) for r in rows)]))


def html_document(html: str) -> str:
    """An email's HTML for an iframe: a data URL (an origin of its own, so nothing in it can reach the viewer)
    that forbids scripts, as email clients do."""
    policy = "<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'; object-src 'none'\">"
    text = re.sub(r"(<head[^>]*>)", r"\1" + policy, html, count=1, flags=re.IGNORECASE)
    if text == html:
        text = policy + html
    return "data:text/html;charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")
