"""The plan files as an editor sees them: every program that loads, keyed by its file, and why the others do not.

``Catalog`` (``herald.campaigns.catalog``) stops at the first plan that does not load, as ``herald prepare`` must;
an editor lists the rest, so one broken file never hides the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from herald.campaigns.catalog import Catalog, DeliveryRef
from herald.campaigns.plans import Program, load_program
from herald.errors import PlanError
from herald.project import Project


@dataclass(frozen=True, slots=True)
class Plans:
    """The plan files that load, keyed by file, and why the others do not."""

    programs: dict[Path, Program]
    broken: dict[Path, str]

    def refs(self) -> list[DeliveryRef]:
        return [DeliveryRef(p, c, d) for p in self.programs.values() for c in p.campaigns for d in c.deliveries]

    def ids(self) -> list[str]:
        return [r.delivery.id for r in self.refs()]

    def ref(self, delivery_id: str) -> DeliveryRef | None:
        return next((r for r in self.refs() if r.delivery.id == delivery_id), None)

    def path_of(self, delivery_id: str) -> Path | None:
        for path, program in self.programs.items():
            if any(d.id == delivery_id for c in program.campaigns for d in c.deliveries):
                return path
        return None

    def template_users(self, template: str) -> list[str]:
        """The deliveries that send template ``template``."""
        return [r.delivery.id for r in self.refs() if r.delivery.template == template]


def load_plans(project: Project) -> Plans:
    """Every plan file; one that does not load is reported and does not hide the others."""
    folder = Catalog.of(project).plans_dir
    programs: dict[Path, Program] = {}
    broken: dict[Path, str] = {}
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        try:
            programs[path] = load_program(path)
        except PlanError as exc:
            broken[path] = str(exc)
    return Plans(programs, broken)


def read_plan(path: Path) -> dict[str, Any]:
    """The plan file's mapping as written (PlanError when it is not YAML)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PlanError(f"{path}: expected a mapping with `program` and `campaigns`")
    return data


def written_deliveries(data: dict[str, Any]) -> list[tuple[list[Any], int]]:
    """Where each delivery mapping of a plan's ``data`` is written: (its campaign's list, its index)."""
    found = []
    for campaign in data.get("campaigns") or []:
        deliveries = campaign.get("deliveries") or [] if isinstance(campaign, dict) else []
        found += [(deliveries, i) for i, d in enumerate(deliveries) if isinstance(d, dict)]
    return found


def raw_delivery(path: Path, delivery_id: str) -> dict[str, Any]:
    """The delivery's mapping as written in its plan file."""
    for deliveries, i in written_deliveries(read_plan(path)):
        if deliveries[i].get("id") == delivery_id:
            return dict(deliveries[i])
    raise PlanError(f"{path}: no delivery {delivery_id!r}")


def has_comments(path: Path) -> bool:
    """Whether the plan file has comments, which saving (a YAML rewrite) does not keep."""
    return any(line.lstrip().startswith("#") for line in path.read_text(encoding="utf-8").splitlines())
