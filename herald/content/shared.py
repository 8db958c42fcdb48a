"""The shared form of a template: one body for many recipients, plus each recipient's values.

When every recipient-dependent piece of a part is an output expression (``{{ first_name | default('there') }}``,
``{{ unsubscribe_url }}``) and nothing decides *which* text appears (no ``if``, ``for``, ``include``, macro or
assignment), recipients' messages differ only in those values. The email sender then sends up to 1,000 of them
in one provider request: the body with a token where each expression stood, and per recipient the token's
value, computed by the same compiled expressions the renderer uses (so escaping and fallbacks are identical).
Anything else is per-recipient logic and goes through ``Renderer.render`` one message at a time.

``SharedForm.substitutions`` returns None for a recipient whose values would not give exactly what
``Renderer.render`` gives (a missing field, whitespace at the edges of a stripped part): that recipient is
rendered on its own, so the shared path is an optimisation, never a second behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes

from herald.content.render import Renderer

_SEP = "\x1e"
SHARED_PARTS = ("text", "html")  # subject and preheader travel per recipient, not as shared bodies


@dataclass(frozen=True, slots=True)
class _Part:
    pieces: tuple[str | int, ...]  # literal text, or the index of an expression in the values template
    values: jinja2.Template | None  # renders every expression of the part, joined by _SEP
    strip: bool  # the renderer strips this part


class SharedForm:
    """The shared bodies of one template in one locale (see the module docstring)."""

    def __init__(self, template: str, locale: str, parts: Mapping[str, _Part], prefix: str) -> None:
        self.template = template
        self.locale = locale
        self._parts = dict(parts)
        self._prefix = prefix
        self.bodies: dict[str, str] = {
            part: self._assemble(p.pieces, lambda i, part=part: self.token(part, i), strip_edges=p.strip)
            for part, p in self._parts.items()
        }

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

    def substitutions(self, values: Mapping[str, Any]) -> dict[str, str] | None:
        """Token → value for one recipient (``values``: recipient fields without nulls, plus context), or None
        when this recipient must be rendered on its own."""
        subs: dict[str, str] = {}
        for part, p in self._parts.items():
            if p.values is None:
                continue
            try:
                rendered = p.values.render(values)
            except Exception:  # any failure: the renderer will say exactly what, with template and line
                return None
            got = rendered.split(_SEP)
            expected = sum(1 for piece in p.pieces if isinstance(piece, int))
            if len(got) != expected:
                return None  # a value contained the separator
            if p.strip and not _strip_commutes(p.pieces, got):
                return None
            for i, v in enumerate(got):
                subs[self.token(part, i)] = v
        return subs


def _strip_commutes(pieces: tuple[str | int, ...], got: list[str]) -> bool:
    """The renderer strips the whole message; the shared body was stripped before the values went in. Both
    agree unless a value sits at an edge (or next to a literal that stripping empties): check it exactly."""
    whole = "".join(p if isinstance(p, str) else got[p] for p in pieces).strip()
    shared = SharedForm._assemble(pieces, lambda i: got[i], strip_edges=True)
    return whole == shared


def shared_form(renderer: Renderer, name: str, locale: str) -> SharedForm | None:
    """The shared form of template ``name`` in ``locale``, or None if a part has per-recipient logic."""
    spec = renderer.load(name)
    locale = locale if locale in spec.sources else ""
    sources = spec.parts(locale)
    literals: list[str] = []
    analysed: dict[str, tuple[list[str | int], list[nodes.Expr]]] = {}
    for part in SHARED_PARTS:
        source = sources.get(part)
        if source is None:
            continue
        env = renderer.environment(part)
        tree = env.parse(source)
        pieces: list[str | int] = []
        exprs: list[nodes.Expr] = []
        for node in tree.body:
            if not isinstance(node, nodes.Output):
                return None  # if / for / set / include / extends / macro: the text itself depends on data
            for child in node.nodes:
                if isinstance(child, nodes.TemplateData):
                    pieces.append(child.data)
                    literals.append(child.data)
                else:
                    pieces.append(len(exprs))
                    exprs.append(child)
        analysed[part] = (pieces, exprs)
    prefix = "%hrl"
    while any(prefix in text for text in literals):
        prefix += "x"
    parts: dict[str, _Part] = {}
    for part, (found, exprs) in analysed.items():
        values = None
        if exprs:
            body: list[nodes.Node] = []
            for i, e in enumerate(exprs):
                if i:
                    body.append(nodes.TemplateData(_SEP, lineno=e.lineno))
                body.append(e)
            tree = nodes.Template([nodes.Output(body, lineno=1)], lineno=1)
            values = renderer.environment(part).from_string(tree)
        parts[part] = _Part(pieces=tuple(found), values=values, strip=part != "html")
    return SharedForm(name, locale, parts, prefix)
