"""Editing a template's files, without Streamlit: the edit is checked by the one renderer before anything is
written, only changed files are replaced, and a preview renders unsaved edits the way the send would."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from herald.campaigns.previews import html_document
from herald.campaigns.template_edits import save_template, specs_token, staged_renderer, template_files
from herald.errors import TemplateError
from herald.project import Project
from tests.conftest import make_scratch_project

SMS = "winter_sale_sms"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_scratch_project(tmp_path)


def _folder(project: Project) -> Path:
    return project.specs_dir / "templates" / SMS


def test_a_template_that_does_not_compile_is_refused_and_nothing_is_written(project: Project) -> None:
    saved = template_files(project, SMS)
    (name, text), *_ = [(n, t) for n, t in saved.items() if "{{" in t]
    with pytest.raises(TemplateError, match=f"template {SMS}"):
        save_template(project, SMS, {**saved, name: text.replace("{{", "{{ (", 1)})
    assert template_files(project, SMS) == saved


def test_a_file_name_outside_the_template_is_refused(project: Project) -> None:
    with pytest.raises(TemplateError, match="is not a template file name"):
        save_template(project, SMS, {"../../plans/winter_2026.yml": "program: x\n"})


def test_only_changed_files_are_written_and_the_digest_follows_them(project: Project) -> None:
    saved = template_files(project, SMS)
    token = specs_token(project, SMS)
    save_template(project, SMS, saved)
    assert specs_token(project, SMS) == token
    edited = {**saved, "template.yml": saved["template.yml"] + "# edited\n"}
    save_template(project, SMS, edited)
    assert template_files(project, SMS) == edited
    assert specs_token(project, SMS) != token
    assert not list(_folder(project).glob(".*.partial"))


def test_unsaved_edits_render_from_a_staging_copy(project: Project) -> None:
    saved = template_files(project, SMS)
    with staged_renderer(project, SMS, saved) as renderer:
        fields = renderer.fields(SMS)
    assert fields  # the SMS reads the recipient's data
    assert template_files(project, SMS) == saved  # staging never touches the specs


def _html(url: str) -> str:
    assert url.startswith("data:text/html;charset=utf-8;base64,")
    return base64.b64decode(url.split(",", 1)[1]).decode("utf-8")


def test_an_email_preview_forbids_scripts() -> None:
    policy = "<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'; object-src 'none'\">"
    page = "<html><head><title>x</title></head><body><script>alert(1)</script></body></html>"
    assert _html(html_document(page)) == page.replace("<head>", "<head>" + policy)
    assert _html(html_document("<p>no head</p>")) == policy + "<p>no head</p>"
