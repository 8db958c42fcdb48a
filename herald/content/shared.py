"""The shared form of a template: one body for many recipients, plus each recipient's values.

When every recipient-dependent piece of a part is an output expression (``{{ first_name | default('there') }}``,
``{{ unsubscribe_url }}``) and nothing decides *which* text appears (no ``if``, ``for``, ``include``, macro or
assignment), recipients' messages differ only in those values. The email sender then sends up to 1,000 of them
in one provider request: the body with a token where each expression stood, and per recipient the token's
value, computed by the same compiled expressions the renderer uses (so escaping and fallbacks are identical).
Anything else is per-recipient logic and goes through ``Renderer.render`` one message at a time.

The subject and preheader travel per recipient; when they are output expressions too, their text comes from the
same evaluation (``SharedForm.render``): every expression of the template is evaluated by one template render
per recipient (the HTML part's inside an autoescape scope, as the renderer's autoescaping environment does).

``SharedForm.render`` (and ``substitutions``) returns None for a recipient whose values would not give exactly what
``Renderer.render`` gives (a missing field, whitespace at the edges of a stripped part): that recipient is
rendered on its own, so the shared path is an optimisation, never a second behaviour.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes

from herald.content.render import Renderer

_SEP = "\x1e"
SHARED_PARTS = ("text", "html")  # parts sent once per request, with tokens where the values go
INLINE_PARTS = ("subject", "preheader")  # parts that travel per recipient, computed from the same values


@dataclass(frozen=True, slots=True)
class _Part:
    pieces: tuple[str | int, ...]  # literal text, or the index of an expression among the part's values
    group: str  # the environment the part's expressions are evaluated in ("html" autoescapes)
    first: int  # where the part's values start in the values template's output
    count: int  # how many values the part has
    strip: bool  # the renderer strips this part
    edges_fixed: bool  # literal non-space text at both edges: stripping never reaches a value


class SharedForm:
    """The shared bodies of one template in one locale (see the module docstring)."""

    def __init__(
        self,
        template: str,
        locale: str,
        parts: Mapping[str, _Part],
        prefix: str,
        *,
        inline: Mapping[str, _Part] | None = None,
        values: tuple[jinja2.Template, int] | None = None,
    ) -> None:
        self.template = template
        self.locale = locale
        self._parts = dict(parts)
        self._inline = dict(inline or {})
        self._values = values
        # The names every render sees besides the recipient's (range, dict, ...): the template's globals, read
        # once. A render then starts from one merged dict instead of copying the values and walking the globals'
        # chain (what ``Template.render`` does); the evaluation itself is the template's own.
        self._globals: dict[str, Any] = dict(values[0].globals) if values is not None else {}
        self._prefix = prefix
        self._tokens = {part: [self.token(part, i) for i in range(p.count)] for part, p in self._parts.items()}
        self.bodies: dict[str, str] = {
            part: self._assemble(p.pieces, lambda i, part=part: self.token(part, i), strip_edges=p.strip)
            for part, p in self._parts.items()
        }
        # Inline parts with per-recipient logic (an ``if`` in the subject) are rendered whole by the caller.
        self.inline_parts: frozenset[str] = frozenset(self._inline)

    def token(self, part: str, index: int) -> str:
        return f"{self._prefix}{part[0]}{index}%"

    @staticmethod
    def _assemble(pieces: tuple[str | int, ...], value: Any, *, strip_edges: bool) -> str:
        out = [p if isinstance(p, str) else value(p) for p in pieces]
        if strip_edges and out:
            if isinstance(pieces[0], str):
                out[0] = out[0].lstrip()
            if isinstance(pieces[-1], str):
                out[-1] = out[-1].rstrip()
        return "".join(out)

    def render(self, values: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]] | None:
        """One recipient's substitutions (token → value) and inline parts (``subject`` / ``preheader`` → text,
        stripped as the renderer strips them; parts with logic are left out), from one evaluation of every
        expression; or None when this recipient must be rendered on its own.

        ``values``: recipient fields without nulls, plus context."""
        got: list[str] = []
        if self._values is not None:
            template, expected = self._values
            names = dict(self._globals)
            names.update(values)
            try:
                context = template.new_context(names, shared=True)
                rendered = template.environment.concat(template.root_render_func(context))
            except Exception:  # any failure: the renderer will say exactly what, with template and line
                return None
            got = rendered.split(_SEP)
            if len(got) != expected:
                return None  # a value contained the separator
        subs: dict[str, str] = {}
        for part, p in self._parts.items():
            if not p.count:
                continue
            vals = got[p.first : p.first + p.count]
            if p.strip and not p.edges_fixed and not _strip_commutes(p.pieces, vals):
                return None
            subs.update(zip(self._tokens[part], vals, strict=True))
        inline: dict[str, str] = {}
        for part, p in self._inline.items():
            vals = got[p.first : p.first + p.count] if p.count else []
            inline[part] = "".join(x if isinstance(x, str) else vals[x] for x in p.pieces).strip()
        return subs, inline

    def substitutions(self, values: Mapping[str, Any]) -> dict[str, str] | None:
        """Token → value for one recipient (``values``: recipient fields without nulls, plus context), or None
        when this recipient must be rendered on its own."""
        got = self.render(values)
        return None if got is None else got[0]


def _strip_commutes(pieces: tuple[str | int, ...], got: list[str]) -> bool:
    """The renderer strips the whole message; the shared body was stripped before the values went in. Both
    agree unless a value sits at an edge (or next to a literal that stripping empties): check it exactly, unless
    each edge is plainly safe (a value with no space at its outer end, beside a blank literal or none)."""
    if _edge_safe(pieces, got, 0) and _edge_safe(pieces, got, -1):
        return True
    whole = "".join(p if isinstance(p, str) else got[p] for p in pieces).strip()
    shared = SharedForm._assemble(pieces, lambda i: got[i], strip_edges=True)
    return whole == shared


def _edge_safe(pieces: tuple[str | int, ...], got: list[str], end: int) -> bool:
    """Whether stripping the whole text stops inside the edge piece that the shared body stripped itself: a
    literal with text, or a non-empty value not starting (ending) with a space, alone or after a blank literal."""
    piece = pieces[end]
    if isinstance(piece, str):
        if piece.strip():
            return True
        if len(pieces) < 2:
            return False
        piece = pieces[1 if end == 0 else -2]
        if isinstance(piece, str):
            return False
    value = got[piece]
    return bool(value) and not value[end].isspace()


def _outputs(tree: nodes.Template) -> tuple[list[str | int], list[nodes.Expr]] | None:
    """A part's literal pieces and expressions, or None when anything but output decides its text."""
    pieces: list[str | int] = []
    exprs: list[nodes.Expr] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None  # if / for / set / include / extends / macro: the text itself depends on data
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                pieces.append(child.data)
            else:
                pieces.append(len(exprs))
                exprs.append(child)
    return pieces, exprs


def shared_form(renderer: Renderer, name: str, locale: str) -> SharedForm | None:
    """The shared form of template ``name`` in ``locale``, or None if a body part has per-recipient logic."""
    spec = renderer.load(name)
    locale = locale if locale in spec.sources else ""
    sources = spec.parts(locale)
    analysed: dict[str, tuple[list[str | int], list[nodes.Expr]]] = {}
    inline_analysed: dict[str, tuple[list[str | int], list[nodes.Expr]]] = {}
    for part in (*SHARED_PARTS, *INLINE_PARTS):
        source = sources.get(part)
        if source is None:
            if part in INLINE_PARTS:
                inline_analysed[part] = ([], [])  # the renderer gives "" for a part the template lacks
            continue
        found = _outputs(renderer.environment(part).parse(source))
        if found is None:
            if part in SHARED_PARTS:
                return None
            continue  # an inline part with logic: rendered whole per recipient
        (analysed if part in SHARED_PARTS else inline_analysed)[part] = found
    literals = [piece for pieces, _ in analysed.values() for piece in pieces if isinstance(piece, str)]
    prefix = "%hrl"
    while any(prefix in text for text in literals):
        prefix += "x"
    # One values template per environment: every expression of its parts, joined by the separator.
    exprs_of: dict[str, list[nodes.Expr]] = {}

    def place(part: str, pieces: list[str | int], exprs: list[nodes.Expr], strip: bool) -> _Part:
        group = "html" if part == "html" else "plain"
        bucket = exprs_of.setdefault(group, [])
        first = len(bucket)
        bucket.extend(exprs)
        edges = bool(pieces) and all(isinstance(edge, str) and edge.strip() for edge in (pieces[0], pieces[-1]))
        return _Part(tuple(pieces), group, first, len(exprs), strip, edges)

    parts = {part: place(part, pieces, exprs, part != "html") for part, (pieces, exprs) in analysed.items()}
    inline = {part: place(part, pieces, exprs, True) for part, (pieces, exprs) in inline_analysed.items()}
    # One values template for every expression: the plain parts' first, then the HTML part's inside an autoescape
    # scope (``{% autoescape true %}``: compiled exactly as the renderer's autoescaping environment compiles it).
    plain, html = exprs_of.get("plain", []), exprs_of.get("html", [])
    parts = {k: _moved(p, len(plain)) for k, p in parts.items()}
    inline = {k: _moved(p, len(plain)) for k, p in inline.items()}
    body: list[nodes.Node] = []
    if plain:
        body.append(nodes.Output(_joined(plain), lineno=1))
    if html:
        if plain:
            body.append(nodes.Output([nodes.TemplateData(_SEP, lineno=1)], lineno=1))
        autoescape = [nodes.Keyword("autoescape", nodes.Const(True, lineno=1), lineno=1)]
        body.append(nodes.ScopedEvalContextModifier(autoescape, [nodes.Output(_joined(html), lineno=1)], lineno=1))
    values = None
    if body:
        tree = nodes.Template(body, lineno=1)
        values = (renderer.environment("text").from_string(tree), len(plain) + len(html))
    return SharedForm(name, locale, parts, prefix, inline=inline, values=values)


def _joined(exprs: list[nodes.Expr]) -> list[nodes.Node]:
    body: list[nodes.Node] = []
    for i, e in enumerate(exprs):
        if i:
            body.append(nodes.TemplateData(_SEP, lineno=e.lineno))
        body.append(e)
    return body


def _moved(p: _Part, html_offset: int) -> _Part:
    """``p`` with its values' position in the one values template (HTML values come after the plain ones)."""
    return dataclasses.replace(p, first=p.first + html_offset) if p.group == "html" else p
