"""`herald prepare DELIVERY`: a new, frozen delivery run built through dbt, checked, and published.

specs (plan, typology, audience, template)
    │ control rules on the content (subject, unsubscribe link, sender domain, fields)  → refuse early
    ▼
dbt build --select delivery_run_recipients+   (HERALD_DELIVERY_RUN={...}; the audiences too if their specs changed)
    │ filtering and fatigue rules in SQL: one exclusion reason per member, groups by salted hash
    ▼
control rules on the data (every field resolves, links, SMS segments, push size, synthetic recipients) → herald_meta
    ▼
publish: the run is readable by the app, the CLI and the sender jobs; it never changes again
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from herald import clock, warehouse
from herald.audiences.compiler import HASH_SPACE
from herald.audiences.entries import EntryWindow
from herald.audiences.models import spec_version
from herald.audiences.schema import PROFILES, from_contracts
from herald.build import ALL_AUDIENCES, build_on_published
from herald.campaigns.catalog import Catalog, DeliveryRef
from herald.campaigns.plans import Delivery
from herald.campaigns.typology import Typology
from herald.content.checks import invalid_link, links, push_payload_bytes, sms_size
from herald.content.render import Renderer, TemplateSpec
from herald.emails import RESERVED_DOMAIN_PATTERN
from herald.errors import ControlRuleFailed, PlanError, TemplateError
from herald.project import Project
from herald.raw_schema import CRM_CONTACTS

# Fields the renderer supplies itself (per message), so templates may use them without a profile column.
CONTEXT_FIELDS = frozenset(
    {"unsubscribe_url", "preferences_url", "message_id", "delivery_id", "campaign_id", "variant"}
)
SAMPLE_UNSUBSCRIBE = "https://example.invalid/unsubscribe/sample"
_SAMPLES_PER_CHECK = 20
# Batch tags of synthetic contacts: the demo seeds (herald.generate.seeds.DEMO_BATCH_TAG) and `herald generate`
# (its default batch_tag). A batch id ends with ``-<tag>``, and so does the file it lands as.
SYNTHETIC_BATCH_TAGS = ("demo", "gen")
_MAIN_BUILD = "herald_build"


@dataclass(frozen=True, slots=True)
class ControlResult:
    rule: str
    passed: bool
    message: str


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """What one preparation produced; equal runs have equal ``digest``."""

    run_id: str
    delivery_id: str
    build_id: str
    audience_size: int
    send_count: int
    control_count: int
    excluded_count: int
    seed_count: int
    digest: str
    controls: tuple[ControlResult, ...]
    seconds: float

    @property
    def blocked(self) -> bool:
        return any(not c.passed for c in self.controls)


def sample_context(delivery: Delivery, campaign_id: str, variant: str | None = None) -> dict[str, Any]:
    """The per-message fields for previews and checks (the real send sets real ones)."""
    return {
        "unsubscribe_url": SAMPLE_UNSUBSCRIBE,
        "preferences_url": SAMPLE_UNSUBSCRIBE.replace("unsubscribe", "preferences"),
        "message_id": "sample",
        "delivery_id": delivery.id,
        "campaign_id": campaign_id,
        "variant": variant or "",
    }


def content_hash(template: TemplateSpec, delivery: Delivery) -> str:
    """What the recipients will receive, apart from their data: template files, sender and channel."""
    sender = delivery.sender
    text = json.dumps(
        [
            template.content_hash,
            delivery.channel,
            delivery.topic,
            sender and [sender.from_name, sender.from_email, sender.reply_to],
        ],
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def content_controls(
    ref: DeliveryRef, typology: Typology, renderer: Renderer, profile_columns: set[str]
) -> list[ControlResult]:
    """Control rules that need only the specs; a failure here means nothing is prepared."""
    d = ref.delivery
    template = renderer.load(d.template)
    parts = template.parts()
    out: list[ControlResult] = []

    def check(rule: str, passed: bool, ok: str, failure: str) -> None:
        out.append(ControlResult(rule, passed, ok if passed else failure))

    check(
        "template_channel",
        template.channel == d.channel,
        f"template for {d.channel}",
        f"template {template.name} is for {template.channel}, the delivery is {d.channel}",
    )
    if d.channel == "email" and typology.require_subject:
        check(
            "subject",
            bool(parts.get("subject", "").strip()),
            "subject present",
            f"template {template.name} has no subject",
        )
    if d.channel == "push":
        check(
            "subject", bool(parts.get("title", "").strip()), "title present", f"template {template.name} has no title"
        )
    if d.channel == "email" and typology.require_unsubscribe:
        bodies = [b for b in (parts.get("html", ""), parts.get("text", "")) if b]
        check(
            "unsubscribe_link",
            bool(bodies) and all("unsubscribe_url" in b for b in bodies),
            "every body links to unsubscribe_url; the sender adds List-Unsubscribe and List-Unsubscribe-Post",
            f"template {template.name}: every body part must link to {{{{ unsubscribe_url }}}} (marketing email)",
        )
    if d.sender is not None and typology.allowed_from_domains:
        domain = d.sender.from_email.rsplit("@", 1)[-1].lower()
        check(
            "from_domain",
            domain in typology.allowed_from_domains,
            f"from domain {domain} is allowed",
            f"from address domain {domain} is not allowed by typology {typology.name} "
            f"({', '.join(typology.allowed_from_domains)})",
        )
    unknown = sorted(renderer.fields(d.template) - profile_columns - CONTEXT_FIELDS)
    check(
        "fields_exist",
        not unknown,
        "every field is a profile column or a message field",
        f"template {template.name} reads {', '.join(unknown)}, which are neither profile columns nor message "
        f"fields ({', '.join(sorted(CONTEXT_FIELDS))})",
    )
    return out


def run_vars(
    ref: DeliveryRef,
    typology: Typology,
    run_id: str,
    digest_of_content: str,
    fields: list[str],
    audience_version: str,
    entered: EntryWindow | None = None,
) -> dict[str, Any]:
    """The run the delivery models read from HERALD_DELIVERY_RUN (see dbt_project/macros/deliveries/)."""
    d = ref.delivery
    return {
        "run_id": run_id,
        "delivery_id": d.id,
        "campaign_id": ref.campaign.id,
        "program_id": ref.program.id,
        "channel": d.channel,
        "topic": d.topic,
        "audience": d.audience,
        "audience_version": audience_version,
        "plan_version": ref.program.version,
        "content_hash": digest_of_content,
        "require_consent": typology.require_consent,
        "exclude_quarantined": typology.exclude_quarantined,
        "dedupe_address": typology.dedupe_address,
        "exclude_audiences": list(typology.exclude_audiences),
        "custom_rules": [{"reason": r.reason, "audience": r.audience} for r in typology.custom],
        "fatigue": [
            {"name": r.name, "channel": r.channel, "max": r.max, "period_days": r.period_days} for r in typology.fatigue
        ],
        "weight": d.weight,
        "priority": d.priority,
        "salt": d.id,
        "buckets": buckets(d),
        "seeds": list(d.seeds),
        "payload_fields": fields,
        # Only the profiles that entered the audience in this window (a triggered delivery), else every member.
        "entered": None if entered is None else {"build_id": entered.build_id, "baseline_id": entered.baseline_id},
    }


def buckets(d: Delivery) -> list[dict[str, str | None]]:
    """Groups in hash order with the exclusive upper bound of each (the last takes the rest)."""
    shares: list[tuple[str, str | None, float]] = []
    if d.control_percent:
        shares.append(("control", None, d.control_percent))
    rest = 100 - d.control_percent
    if d.ab_test is not None:
        tested = rest * d.ab_test.test_percent / 100
        shares += [("variant", name, tested * p / 100) for name, p in d.ab_test.variants]
        if d.ab_test.test_percent < 100:
            shares.append(("target", None, rest - tested))
    else:
        shares.append(("target", None, rest))
    out: list[dict[str, str | None]] = []
    total = 0.0
    for i, (group, variant, share) in enumerate(shares):
        total += share
        upper = None if i == len(shares) - 1 else f"{round(total / 100 * HASH_SPACE):08x}"
        out.append({"group": group, "variant": variant, "upper": upper})
    return out


def prepare(
    project: Project, delivery_id: str, *, quiet: bool = True, entered: EntryWindow | None = None
) -> PreparedRun:
    """Prepare a new run of ``delivery_id`` and publish it. Eager. Raises ControlRuleFailed (nothing prepared)
    when a content rule fails; data rules that fail are recorded with the run, which is then blocked.

    With ``entered`` (a window of the delivery's audience), the run targets only the profiles that entered the
    audience in that window; a delivery scheduled ``trigger: {enters_audience}`` is prepared only that way."""
    started = time.monotonic()
    catalog = Catalog.of(project)
    ref = catalog.delivery(delivery_id)
    _check_entry(ref.delivery, entered)
    typology = catalog.check(ref)
    renderer = Renderer(catalog.templates_dir)
    profile_columns = set(from_contracts(project.root).columns(PROFILES))
    controls = content_controls(ref, typology, renderer, profile_columns)
    failed = [c for c in controls if not c.passed]
    if failed:
        raise ControlRuleFailed(
            f"delivery {delivery_id} is blocked by its control rules; nothing was prepared:\n"
            + "\n".join(f"  {c.rule}: {c.message}" for c in failed)
        )
    template = renderer.load(ref.delivery.template)
    digest_of_content = content_hash(template, ref.delivery)
    fields = sorted((renderer.fields(ref.delivery.template) & profile_columns) | {"language_code"})
    audience = catalog.audiences.get(ref.delivery.audience)
    run_id = "r" + clock.now().strftime("%Y%m%dT%H%M%S%fZ") + "-" + delivery_id
    run = run_vars(ref, typology, run_id, digest_of_content, fields, spec_version(audience), entered)
    # The run's models and their tests, not the engagement marts further down (metrics over every message): they
    # take the new run in at the next build, and rebuilding them here would cost minutes on a large warehouse.
    select = (f"delivery_run_recipients+,{project.delivery_models_selector}",)
    results: list[ControlResult] = []

    def record_data_controls(con: duckdb.DuckDBPyConnection, build_id: str) -> None:
        results.extend(data_controls(con, run_id, ref, typology, renderer, fields))
        if ref.delivery.channel == "email":
            results.append(synthetic_recipients_control(con, project, run_id))
        record_controls(con, run_id, [*controls, *results])

    build = build_on_published(
        project,
        select,
        # Audiences as the published build computed them (its reference time, the counts the app showed),
        # unless their specs changed since.
        audiences=ALL_AUDIENCES,
        extra_env={"HERALD_DELIVERY_RUN": json.dumps(run)},
        before_publish=record_data_controls,
        quiet=quiet,
    )
    row = _run_row(project, run_id)
    return PreparedRun(
        run_id=run_id,
        delivery_id=delivery_id,
        build_id=build.build_id,
        audience_size=int(row.get("audience_size") or 0),
        send_count=int(row.get("send_count") or 0),
        control_count=int(row.get("control_count") or 0),
        excluded_count=int(row.get("excluded_count") or 0),
        seed_count=int(row.get("seed_count") or 0),
        digest=str(row.get("send_list_digest") or ""),
        controls=(*controls, *results),
        seconds=time.monotonic() - started,
    )


def _check_entry(d: Delivery, entered: EntryWindow | None) -> None:
    trigger = d.schedule.enters_audience
    if entered is None and trigger:
        raise PlanError(
            f"delivery {d.id} goes to profiles entering audience {trigger}: a workflow with "
            f"`trigger: {{enters_audience: {trigger}}}` prepares it, one run per window of entrants"
        )
    if entered is not None and entered.audience != d.audience:
        raise PlanError(
            f"delivery {d.id} targets audience {d.audience}; entrants of {entered.audience} cannot be sent it"
        )


def _run_row(project: Project, run_id: str) -> Mapping[str, Any]:
    con = warehouse.connect(project)
    try:
        rows = con.execute("select * from delivery_runs where run_id = ?", [run_id]).to_arrow_table().to_pylist()
    finally:
        con.close()
    return rows[0] if rows else {}


def record_controls(con: duckdb.DuckDBPyConnection, run_id: str, controls: list[ControlResult]) -> None:
    """Keep the control results with the run, in the build's herald_meta (published with it)."""
    con.executemany(
        "insert into herald_meta.delivery_run_controls values (?, ?, ?, ?, now()::timestamp)",
        [[run_id, c.rule, c.passed, c.message] for c in controls],
    )


def data_controls(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    ref: DeliveryRef,
    typology: Typology,
    renderer: Renderer,
    fields: list[str],
) -> list[ControlResult]:
    """Control rules over the prepared recipients: render one recipient per pattern of missing fields (and the
    recipients with the longest data) and check what the renderer produced."""
    d = ref.delivery
    null_flags = ", ".join(f"json_extract_string(payload, '$.{f}') is null as {f}" for f in fields) or "1 as none_"
    patterns = (
        con.execute(
            f"select {null_flags}, count(*) as members, min(recipient_id) as sample from main.send_lists"
            " where run_id = ? and is_sendable and profile_id is not null group by all",
            [run_id],
        )
        .to_arrow_table()
        .to_pylist()
    )
    longest = [
        r[0]
        for r in con.execute(
            "select recipient_id from main.send_lists where run_id = ? and is_sendable and profile_id is not null"
            " order by length(payload) desc, recipient_id limit ?",
            [run_id, _SAMPLES_PER_CHECK],
        ).fetchall()
    ]
    samples = {str(p["sample"]): int(p["members"]) for p in patterns}
    for rid in longest:
        samples.setdefault(str(rid), 1)
    payloads = dict(
        con.execute(
            "select recipient_id, payload from main.send_lists where run_id = ? and recipient_id in (select unnest(?))",
            [run_id, list(samples)],
        ).fetchall()
    )
    out: list[ControlResult] = []
    failing_members = 0
    messages: list[str] = []
    worst_sms = None
    worst_push = 0
    bad_links: set[str] = set()
    for rid, members in samples.items():
        recipient = json.loads(payloads.get(rid) or "{}")
        try:
            message = renderer.render(d.template, recipient, sample_context(d, ref.campaign.id), label=rid)
        except TemplateError as exc:
            failing_members += members
            messages.append(f"{members} recipient(s) like {rid}: {exc}")
            continue
        for url in links(message.html, message.text):
            if "{{" not in url and (why := invalid_link(url)):
                bad_links.add(f"{url} ({why})")
        if d.channel == "sms":
            size = sms_size(message.text)
            if worst_sms is None or size.segments > worst_sms.segments:
                worst_sms = size
        if d.channel == "push":
            worst_push = max(worst_push, push_payload_bytes(message.title, message.text))
    out.append(
        ControlResult(
            "personalization",
            failing_members == 0,
            "every recipient's message renders" if not messages else "; ".join(messages[:5]),
        )
    )
    out.append(
        ControlResult(
            "links",
            not bad_links,
            "links are valid URLs" if not bad_links else "invalid links: " + ", ".join(sorted(bad_links)[:5]),
        )
    )
    if worst_sms is not None:
        out.append(
            ControlResult(
                "sms_segments",
                worst_sms.segments <= typology.max_sms_segments,
                f"longest message: {worst_sms.units} {worst_sms.encoding} units, "
                f"{worst_sms.segments} segment(s); the typology allows {typology.max_sms_segments}",
            )
        )
    if d.channel == "push":
        out.append(
            ControlResult(
                "push_size",
                worst_push <= typology.max_push_bytes,
                f"largest payload {worst_push} bytes; the typology allows {typology.max_push_bytes}",
            )
        )
    return out


def synthetic_recipients_control(con: duckdb.DuckDBPyConnection, project: Project, run_id: str) -> ControlResult:
    """The ``synthetic_recipients`` rule of an email run: no sendable recipient whose profile merges a demo or
    generated contact may have an address outside the domains reserved for examples (herald.emails), since a
    real provider key would otherwise email whoever owns that address.

    ``con`` is the delivery-runs build file; the profiles' contacts are read from the main build file (attached
    read-only under the build lock) and the synthetic batches' landed files, so a project with none costs one
    directory listing."""
    rule = "synthetic_recipients"
    files = [
        str(path)
        for path in sorted((project.landing_dir / CRM_CONTACTS.name).glob("*.parquet"))
        if path.stem.endswith(tuple(f"-{tag}" for tag in SYNTHETIC_BATCH_TAGS))
    ]
    if not files:
        return ControlResult(rule, True, "no demo or generated contacts landed")
    build_file = str(project.build_path).replace("'", "''")
    con.execute(f"attach '{build_file}' as {_MAIN_BUILD} (read_only)")
    try:
        row = con.execute(
            f"""
            with synthetic_contacts as (
                select distinct external_key from read_parquet(?, union_by_name = true)
            ),
            synthetic_profiles as (
                select distinct identities.profile_id
                from {_MAIN_BUILD}.main.profile_identities as identities
                inner join synthetic_contacts
                    on synthetic_contacts.external_key = identities.external_key
            )
            select count(*), min(send_lists.address)
            from main.send_lists
            inner join synthetic_profiles
                on synthetic_profiles.profile_id = send_lists.profile_id
            where send_lists.run_id = ?
                and send_lists.is_sendable
                and not regexp_full_match(lower(split_part(send_lists.address, '@', -1)), ?)
            """,
            [files, run_id, RESERVED_DOMAIN_PATTERN],
        ).fetchone()
    finally:
        con.execute(f"detach {_MAIN_BUILD}")
    count, example = (0, None) if row is None else (int(row[0]), row[1])
    if count == 0:
        return ControlResult(rule, True, "synthetic recipients use reserved domains only")
    return ControlResult(
        rule,
        False,
        f"{count} recipient(s) from demo or generated data have an address outside the domains reserved for "
        f"examples (example.com/.net/.org, .test, .invalid, .example, .localhost), e.g. {example}: "
        "a real provider would deliver to whoever owns it",
    )
