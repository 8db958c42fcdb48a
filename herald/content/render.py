"""The one message renderer: preview, proof, preparation checks and the real send all call ``Renderer.render``.

A template is a folder ``specs/templates/<name>/`` with ``template.yml``::

    channel: email
    subject: "{{ first_name | default('Hello') }}, the winter sale is on"
    preheader: Up to 40 % off until Sunday
    html: body.html            # files in the same folder (or in specs/templates/_blocks / _layouts)
    text: body.txt
    locales:                   # optional per-locale overrides, chosen by the recipient's language_code
      fr: {subject: "{{ first_name | default('Bonjour') }}, les soldes d'hiver", html: body.fr.html, text: body.fr.txt}

SMS templates give ``text``; push templates ``title`` and ``text``; in-app ``title``, ``text`` and optionally
``html``; direct mail ``text`` (the letter's body). Templates are jinja2 in a sandbox with ``StrictUndefined``:
a field the recipient lacks is an error unless the template gives a fallback (``| default(...)``). A missing
value (null in the warehouse) counts as lacking. HTML parts are autoescaped. Blocks and layouts come from
``specs/templates/_blocks/`` and ``_layouts/`` with ``{% include %}`` / ``{% extends %}``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from herald.errors import TemplateError

PARTS = ("subject", "preheader", "title", "text", "html")
_FILE_PARTS = ("text", "html")  # parts that may name a file instead of holding the template inline
TEMPLATE_CHANNELS = ("email", "sms", "push", "in_app", "direct_mail")


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One recipient's message; parts a channel does not use are empty."""

    subject: str = ""
    preheader: str = ""
    title: str = ""
    text: str = ""
    html: str = ""


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """A loaded template: its sources per locale ('' is the default) and a hash of everything it reads."""

    name: str
    channel: str
    sources: Mapping[str, Mapping[str, str]]  # locale → part → jinja source
    content_hash: str

    def parts(self, locale: str = "") -> Mapping[str, str]:
        return self.sources.get(locale) or self.sources[""]


class Renderer:
    """Loads templates from ``specs/templates`` and renders them for recipients. Templates compile once."""

    def __init__(self, templates_dir: Path) -> None:
        self.dir = templates_dir
        self._env = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # set per part: html parts are compiled with autoescape on (see _compile)
            keep_trailing_newline=True,
        )
        self._html_env = self._env.overlay(autoescape=True)
        self._compiled: dict[tuple[str, str, str], jinja2.Template] = {}
        self._specs: dict[str, TemplateSpec] = {}

    # ------------------------------------------------------------------ loading

    def load(self, name: str) -> TemplateSpec:
        if name in self._specs:
            return self._specs[name]
        folder = self.dir / name
        path = folder / "template.yml"
        if not path.is_file():
            known = sorted(p.parent.name for p in self.dir.glob("*/template.yml"))
            raise TemplateError(f"no template {name!r} (looked for {path}); templates: {', '.join(known) or 'none'}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise TemplateError(f"template {name}: template.yml is not valid YAML: {exc}") from exc
        if not isinstance(data, Mapping):
            raise TemplateError(f"template {name}: template.yml must be a mapping")
        unknown = sorted(set(data) - {*PARTS, "channel", "locales"})
        if unknown:
            raise TemplateError(f"template {name}: unknown key(s) {', '.join(unknown)}")
        channel = data.get("channel")
        if channel not in TEMPLATE_CHANNELS:
            raise TemplateError(f"template {name}: channel must be one of {', '.join(TEMPLATE_CHANNELS)}")
        digest = hashlib.sha256(path.read_bytes())
        sources: dict[str, dict[str, str]] = {"": self._parts(name, folder, data, digest)}
        for locale, override in (data.get("locales") or {}).items():
            if not isinstance(override, Mapping):
                raise TemplateError(f"template {name}: locales.{locale} must be a mapping of parts")
            sources[str(locale)] = {**sources[""], **self._parts(name, folder, override, digest)}
        for shared in ("_blocks", "_layouts"):  # includes and layouts are part of the content too
            for p in sorted((self.dir / shared).glob("*")) if (self.dir / shared).is_dir() else []:
                digest.update(p.name.encode())
                digest.update(p.read_bytes())
        spec = TemplateSpec(name=name, channel=channel, sources=sources, content_hash=digest.hexdigest()[:16])
        for locale, parts in sources.items():
            for part, source in parts.items():
                self._compile(spec, locale, part, source)
        self._specs[name] = spec
        return spec

    def _parts(self, name: str, folder: Path, data: Mapping[str, Any], digest: Any) -> dict[str, str]:
        parts: dict[str, str] = {}
        for part in PARTS:
            value = data.get(part)
            if value is None:
                continue
            if not isinstance(value, str):
                raise TemplateError(f"template {name}: {part} must be text or a file name")
            file = folder / value
            if part in _FILE_PARTS and "\n" not in value and value.endswith((".html", ".txt", ".j2")):
                if not file.is_file():
                    raise TemplateError(f"template {name}: {part} names {value}, which does not exist")
                value = file.read_text(encoding="utf-8")
            digest.update(part.encode())
            digest.update(value.encode())
            parts[part] = value
        return parts

    def _compile(self, spec: TemplateSpec, locale: str, part: str, source: str) -> jinja2.Template:
        key = (spec.name, locale, part)
        if key not in self._compiled:
            env = self._html_env if part == "html" else self._env
            try:
                self._compiled[key] = env.from_string(source)
            except jinja2.TemplateSyntaxError as exc:
                where = f"{spec.name}/{part}" + (f" ({locale})" if locale else "")
                raise TemplateError(f"template {where}, line {exc.lineno}: {exc.message}") from exc
        return self._compiled[key]

    def environment(self, part: str) -> jinja2.Environment:
        """The environment a part compiles in (HTML parts autoescape); for tools that analyse templates."""
        return self._html_env if part == "html" else self._env

    def compiled(self, name: str, locale: str, part: str) -> jinja2.Template | None:
        """The compiled template of one part for one locale ('' is the default), or None if it has none."""
        spec = self.load(name)
        locale = locale if locale in spec.sources else ""
        source = spec.parts(locale).get(part)
        return None if source is None else self._compile(spec, locale, part, source)

    @staticmethod
    def locale_of(spec: TemplateSpec, recipient: Mapping[str, Any]) -> str:
        language = str(recipient.get("language_code") or "")
        return language if language in spec.sources else ""

    # ------------------------------------------------------------------ rendering

    def fields(self, name: str) -> set[str]:
        """Names the template reads from the recipient and context (every locale, every part)."""
        spec = self.load(name)
        found: set[str] = set()
        for parts in spec.sources.values():
            for part, source in parts.items():
                env = self._html_env if part == "html" else self._env
                found |= meta.find_undeclared_variables(env.parse(source))
        return found

    def render(
        self, name: str, recipient: Mapping[str, Any], context: Mapping[str, Any] | None = None, *, label: str = ""
    ) -> RenderedMessage:
        """Render template ``name`` for one recipient. ``recipient`` values that are None count as missing.

        Raises TemplateError naming the template, part, line and recipient (``label``) on any failure."""
        spec = self.load(name)
        locale = self.locale_of(spec, recipient)
        values = {k: v for k, v in recipient.items() if v is not None}
        values.update(context or {})
        out: dict[str, str] = {}
        for part, source in spec.parts(locale).items():
            template = self._compile(spec, locale, part, source)
            try:
                out[part] = template.render(values)
            except jinja2.UndefinedError as exc:
                raise TemplateError(
                    f"template {name}/{part}{_line(exc, template)}: {exc.message} for recipient {label or '?'} "
                    "(give a fallback with | default(...) or fix the data)"
                ) from exc
            except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
                raise TemplateError(
                    f"template {name}/{part}{_line(exc, template)}: {exc} for recipient {label or '?'}"
                ) from exc
        return RenderedMessage(**{k: v.strip() if k != "html" else v for k, v in out.items()})


def _line(exc: BaseException, template: jinja2.Template) -> str:
    # jinja2 rewrites the traceback so that frames of the template carry its own line numbers.
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == (template.filename or "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f", line {line}" if line else ""
