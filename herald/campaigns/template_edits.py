"""Editing a template's files, checked by the one renderer before anything is written.

Unsaved edits are rendered from a staging copy of the templates (``staged_renderer``), so previews and checks go
through exactly the code the preparation and the senders use; saving loads and compiles the staged template
first and then replaces only the files that changed, each atomically.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from herald.campaigns.catalog import Catalog
from herald.content.render import Renderer
from herald.errors import TemplateError
from herald.files import write_atomic
from herald.project import Project

TEMPLATE_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}\.(yml|yaml|html|txt|j2)$")
# Folders every template may include from; not templates themselves.
SHARED_FOLDERS = ("_blocks", "_layouts")


def template_names(project: Project) -> list[str]:
    folder = Catalog.of(project).templates_dir
    return sorted(p.parent.name for p in folder.glob("*/template.yml") if p.parent.name not in SHARED_FOLDERS)


def template_files(project: Project, name: str) -> dict[str, str]:
    """The template's editable files (template.yml first), name → text."""
    folder = Catalog.of(project).templates_dir / name
    files = sorted(p for p in folder.iterdir() if p.is_file() and TEMPLATE_FILE.match(p.name))
    files.sort(key=lambda p: p.name != "template.yml")
    return {p.name: p.read_text(encoding="utf-8") for p in files}


@contextmanager
def staged_renderer(project: Project, name: str, files: Mapping[str, str]) -> Iterator[Renderer]:
    """The one renderer, over a copy of the templates where template ``name`` has ``files``."""
    source = Catalog.of(project).templates_dir
    with tempfile.TemporaryDirectory(prefix="herald-template-") as tmp:
        root = Path(tmp)
        for shared in SHARED_FOLDERS:
            if (source / shared).is_dir():
                shutil.copytree(source / shared, root / shared)
        folder = root / name
        shutil.copytree(source / name, folder)
        for file, text in files.items():
            if not TEMPLATE_FILE.match(file):
                raise TemplateError(f"template {name}: {file!r} is not a template file name")
            (folder / file).write_text(text, encoding="utf-8")
        yield Renderer(root)


def save_template(project: Project, name: str, files: Mapping[str, str]) -> None:
    """Write the changed files of template ``name``; TemplateError (with the renderer's message, and nothing
    written) when the template would not load or compile."""
    with staged_renderer(project, name, files) as renderer:
        renderer.load(name)
        renderer.fields(name)
    folder = Catalog.of(project).templates_dir / name
    for file, text in files.items():
        path = folder / file
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text)


def specs_token(project: Project, template: str) -> str:
    """A digest of the files a rendering of ``template`` reads (and of the plans: the sample context), for keys
    of cached renderings."""
    catalog = Catalog.of(project)
    h = hashlib.sha256()
    folders = [catalog.templates_dir / template, *(catalog.templates_dir / s for s in SHARED_FOLDERS)]
    files = [p for f in folders if f.is_dir() for p in sorted(f.rglob("*")) if p.is_file()]
    files += sorted(catalog.plans_dir.glob("*.yml"))
    for path in files:
        h.update(str(path).encode())
        h.update(path.read_bytes())
    return h.hexdigest()
