"""Delivery editor: a delivery's audience (with its live size), typology, control group and schedule, saved into
its plan file; its template's files with a live preview rendered for a real profile by the one renderer.

Unsaved edits live in the widgets, keyed by delivery (settings) or template and file (content), and persist
for the session, so switching files, deliveries or pages keeps them until they are saved or discarded.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import cast

import streamlit as st

from app.campaign_pages import delivery_page
from app.data import audiences as audience_data
from app.ui import channel_label, plain
from app.widgets import forget, seed
from herald import clock
from herald.campaigns.catalog import Catalog, DeliveryRef
from herald.campaigns.plan_edits import DeliverySettings, ScheduleKind, save_settings, settings_of
from herald.campaigns.plan_files import Plans, has_comments, raw_delivery
from herald.campaigns.previews import html_document, preview, preview_profiles
from herald.campaigns.template_edits import save_template, template_files, template_names
from herald.campaigns.typology import load_typology
from herald.content.checks import push_payload_bytes, sms_size
from herald.errors import HeraldError
from herald.project import Project

PICK = "cmp_pick_editor"
SCHEDULE_LABELS = {"manual": "Manual", "once": "Once", "recurring": "Recurring", "triggered": "Triggered"}
PREVIEW_HEIGHT = 520


# ---------------------------------------------------------------------------------------------- settings


def _audience_size(db: str, project: Project, name: str, channel: str) -> None:
    token = audience_data.library_token(project)
    saved = audience_data.saved_audiences(project, token)
    spec = saved.specs.get(name)
    if spec is None:
        st.error(plain(saved.broken.get(name, f"No saved audience {name}.")), icon=":material/error:")
        return
    evaluation = audience_data.evaluate(db, project, token, spec, {})
    if evaluation.count is None:
        message = evaluation.problem.message if evaluation.problem else "cannot be counted"
        st.error(plain(message), icon=":material/error:")
        return
    reach = audience_data.reachability(db, project, token, spec)
    reachable = dict(zip(reach["channel"], reach["members"], strict=True)).get(channel)
    st.metric(
        "Audience size",
        f"{evaluation.count.total:,}",
        delta=None if reachable is None else f"{reachable:,} reachable by {channel_label(channel)}",
        delta_color="off",
        delta_arrow="off",
        border=True,
        help="Members now, counted live on the published build; reachable: a valid address, consent for the "
        "channel and no quarantine (before the typology's rules).",
    )


def _settings(db: str, project: Project, ref: DeliveryRef, plans: Plans) -> DeliverySettings:
    d = ref.delivery
    path = plans.path_of(d.id)
    assert path is not None
    saved = settings_of(d, raw_delivery(path, d.id))
    k = f"cmp.set.{d.id}."
    catalog = Catalog.of(project)
    audiences = catalog.audiences.names()
    typologies = sorted(p.stem for p in catalog.typologies_dir.glob("*.yml"))
    templates = template_names(project)

    left, right = st.columns([3, 2], gap="large")
    with left:
        seed(k + "audience", saved.audience)
        audience = st.selectbox("Audience", audiences, key=k + "audience", persist_state="session")
        a, b = st.columns(2)
        with a:
            seed(k + "typology", saved.typology)
            typology = st.selectbox("Typology", typologies, key=k + "typology", persist_state="session")
        with b:
            seed(k + "control", float(saved.control_percent))
            control = st.number_input(
                "Control group %", min_value=0.0, max_value=100.0, step=1.0, key=k + "control",
                help="Share of the eligible members held out to measure the lift (below 100).", persist_state="session",
            )  # fmt: skip
        try:
            st.caption(plain(load_typology(catalog.typologies_dir / f"{typology}.yml").description))
        except HeraldError as exc:
            st.error(plain(str(exc)), icon=":material/error:")
        seed(k + "template", saved.template)
        template = st.selectbox(
            "Template", templates, key=k + "template", help="The content, edited below.", persist_state="session"
        )
    with right:
        if audience:
            _audience_size(db, project, audience, d.channel)

    st.markdown("**Schedule**")
    seed(k + "kind", saved.schedule_kind)
    kind = st.segmented_control(
        "When", list(SCHEDULE_LABELS), format_func=lambda v: SCHEDULE_LABELS[str(v)], key=k + "kind", required=True,
        label_visibility="collapsed", persist_state="session",
    )  # fmt: skip
    at_date, at_time, cron, trigger = saved.at_date, saved.at_time, saved.cron, saved.trigger_audience
    zone = saved.time_zone
    if kind != "manual":
        a, b, c = st.columns(3)
        if kind == "once":
            seed(k + "date", saved.at_date or clock.today())
            seed(k + "time", saved.at_time or dt.time(9, 0))
            at_date = a.date_input("Date", key=k + "date", format="YYYY-MM-DD", persist_state="session")
            at_time = b.time_input("Local time", key=k + "time", step=dt.timedelta(minutes=15), persist_state="session")
        elif kind == "recurring":
            seed(k + "cron", saved.cron or "0 9 * * MON")
            cron = a.text_input(
                "Cron", key=k + "cron", help="minute hour day month weekday, e.g. 0 9 * * MON", persist_state="session"
            )
        else:
            seed(k + "trigger", saved.trigger_audience or saved.audience)
            trigger = a.selectbox("When a profile enters", audiences, key=k + "trigger", persist_state="session")
        zones = sorted(zoneinfo.available_timezones())
        seed(k + "zone", saved.time_zone if saved.time_zone in zones else "UTC")
        zone = c.selectbox("Time zone", zones, key=k + "zone", persist_state="session")

    with st.expander("More settings (YAML): sender, A/B test, seeds, test profiles, approval, weight, priority"):
        seed(k + "more", saved.more_yaml)
        more = st.text_area(
            "More settings", key=k + "more", height=220, label_visibility="collapsed", persist_state="session"
        )

    settings = DeliverySettings(
        audience=str(audience),
        template=str(template),
        typology=str(typology),
        control_percent=float(control or 0),
        schedule_kind=cast(ScheduleKind, kind or "manual"),
        at_date=at_date if isinstance(at_date, dt.date) else None,
        at_time=at_time if isinstance(at_time, dt.time) else None,
        cron=str(cron or ""),
        time_zone=str(zone),
        trigger_audience=trigger,
        more_yaml=str(more or ""),
    )
    changed = settings != saved
    button, note = st.columns([1, 3], vertical_alignment="center")
    with button:
        clicked = st.button("Save settings", type="primary", key="cmp_save_settings", icon=":material/save:")
    with note:
        if has_comments(path):
            st.caption(f"Saving rewrites {plain(path.name)}: its comments are not kept.")
        elif changed:
            st.caption(":material/edit: Unsaved changes.")
        else:
            st.caption(f"Saved in specs/plans/{plain(path.name)}.")
    if clicked:
        _save_settings(project, path, d.id, settings, k)
    if st.session_state.get("cmp_saved_settings") == d.id:
        st.success(f"Saved the settings of {plain(d.id)}.", icon=":material/check_circle:")
        del st.session_state["cmp_saved_settings"]
    return settings


def _save_settings(project: Project, path: Path, delivery_id: str, settings: DeliverySettings, keys: str) -> None:
    try:
        save_settings(project, path, delivery_id, settings)
    except HeraldError as exc:
        st.error("Not saved: the plan would not be valid.", icon=":material/error:")
        st.code(str(exc), language="text", wrap_lines=True)
        return
    forget(keys)  # the widgets take the saved settings afresh
    st.session_state["cmp_saved_settings"] = delivery_id
    st.rerun()


# ---------------------------------------------------------------------------------------------- content


def _file_key(template: str, file: str) -> str:
    return f"cmp.tpl.{template}/{file}"


def _drafts(project: Project, template: str) -> tuple[dict[str, str], dict[str, str]]:
    """The template's saved files and their drafts (the edited text where the file was edited)."""
    saved = template_files(project, template)
    return saved, {f: str(st.session_state.get(_file_key(template, f), text)) for f, text in saved.items()}


def _editor(project: Project, template: str, plans: Plans) -> dict[str, str]:
    saved, drafts = _drafts(project, template)
    files = list(saved)
    pick = f"cmp.tpl.{template}.file"
    seed(pick, files[0])
    if st.session_state[pick] not in files:
        st.session_state[pick] = files[0]
    edited = [f for f in files if drafts[f] != saved[f]]
    file = st.pills(
        "File", files, key=pick, required=True, format_func=lambda f: f"{f} •" if f in edited else f,
        persist_state="session",
    )  # fmt: skip
    key = _file_key(template, str(file))
    seed(key, saved[str(file)])
    height = 420 if str(file).endswith(".html") else 260
    st.text_area(str(file), key=key, height=height, label_visibility="collapsed", persist_state="session")
    drafts[str(file)] = str(st.session_state[key])
    edited = [f for f in files if drafts[f] != saved[f]]

    users = plans.template_users(template)
    save, discard, note = st.columns([1.5, 1, 2.5], vertical_alignment="center")
    with save:
        clicked = st.button(
            "Save template", type="primary", key="cmp_save_template", icon=":material/save:", disabled=not edited
        )
    with discard:
        if st.button("Discard", key="cmp_discard_template", disabled=not edited):
            forget(f"cmp.tpl.{template}/")
            st.rerun()
    with note:
        shared = f"Used by {', '.join(users)}." if users else "Used by no delivery."
        st.caption(plain(f"{'Unsaved: ' + ', '.join(edited) + '. ' if edited else ''}{shared}"))
    if clicked:
        try:
            save_template(project, template, drafts)
        except HeraldError as exc:
            st.error(f"Not saved: {plain(str(exc))}", icon=":material/error:")
        else:
            st.session_state["cmp_saved_template"] = template
            st.rerun()
    if st.session_state.get("cmp_saved_template") == template:
        st.success(f"Saved template {plain(template)}.", icon=":material/check_circle:")
        del st.session_state["cmp_saved_template"]
    return drafts


def _preview(db: str, project: Project, ref: DeliveryRef, template: str, files: dict[str, str]) -> None:
    d = ref.delivery
    options = preview_profiles(Path(db), ref)
    key = f"cmp.preview.{d.id}.profile"
    seed(key, options[0] if options else None)
    a, b = st.columns([2, 1])
    with a:
        profile = st.selectbox(
            "Preview for profile", options, key=key, accept_new_options=True, persist_state="session",
            help="The delivery's test profiles, then recipients of its latest run; type any profile id.",
        )  # fmt: skip
    variant = None
    if d.ab_test is not None:
        with b:
            names = [name for name, _ in d.ab_test.variants]
            variant = st.segmented_control("Variant", names, default=names[0], key=f"cmp.preview.{d.id}.variant")
    if not profile:
        st.caption("Pick a profile to preview the message.")
        return
    shown = preview(Path(db), project, ref, template, files, str(profile), variant)
    if shown.error is not None or shown.message is None:
        st.error(plain(shown.error or "Nothing rendered."), icon=":material/error:")
        return
    m = shown.message
    if d.channel == "email":
        sender = d.sender
        if sender is not None:
            st.markdown(f"**From:** {plain(f'{sender.from_name} <{sender.from_email}>')}")
        st.markdown(f"**Subject:** {plain(m.subject)}")
        if m.preheader:
            st.caption(f"Preheader: {plain(m.preheader)}")
    elif m.title:
        st.markdown(f"**Title:** {plain(m.title)}")
    tabs = [t for t, body in (("HTML", m.html), ("Text", m.text), ("HTML source", m.html)) if body]
    for tab, name in zip(st.tabs(tabs, key=f"cmp.preview.{d.id}.tab"), tabs, strict=True):
        with tab:
            if name == "HTML":
                st.iframe(html_document(m.html), height=PREVIEW_HEIGHT)
            elif name == "Text":
                st.code(m.text, language="text", wrap_lines=True)
            else:
                st.code(m.html, language="html", wrap_lines=True)
    if d.channel == "sms":
        size = sms_size(m.text)
        st.caption(f"{size.units} {size.encoding} units: {size.segments} SMS segment(s).")
    if d.channel == "push":
        st.caption(f"Push payload: {push_payload_bytes(m.title, m.text)} bytes.")
    with st.expander("Data used"):
        st.json(dict(shown.recipient), expanded=True)


# ---------------------------------------------------------------------------------------------- the page


def main() -> None:
    page = delivery_page("Delivery", PICK, show_broken=True)
    if page is None:
        return
    db, project, plans, ref = page.db, page.project, page.plans, page.ref
    d = ref.delivery
    facts = [f"{ref.program.name} › {ref.campaign.name}", channel_label(d.channel)]
    if d.topic:
        facts.append(f"topic {d.topic}")
    if d.sender is not None:
        facts.append(f"from {d.sender.from_name} <{d.sender.from_email}>")
    st.caption(plain(" · ".join(facts)))

    st.subheader("Settings")
    settings = _settings(db, project, ref, plans)
    template = settings.template

    st.subheader("Content")
    edit, show = st.columns(2, gap="large")
    with edit:
        st.caption(f"Template `{template}` (specs/templates/{plain(template)}/)")
        files = _editor(project, template, plans)
    with show:
        _preview(db, project, ref, template, files)


main()
