"""Everything users authored for campaigns, loaded and cross-checked: plans, typologies, templates, audiences."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from herald.audiences.library import AudienceLibrary
from herald.campaigns.plans import Campaign, Delivery, Program, load_program
from herald.campaigns.typology import Typology, load_typology
from herald.errors import DeliveryNotFound, PlanError
from herald.project import Project


@dataclass(frozen=True, slots=True)
class DeliveryRef:
    """A delivery with the campaign and program it belongs to."""

    program: Program
    campaign: Campaign
    delivery: Delivery


@dataclass(frozen=True, slots=True)
class Catalog:
    plans_dir: Path
    typologies_dir: Path
    templates_dir: Path
    audiences: AudienceLibrary

    @classmethod
    def of(cls, project: Project) -> Catalog:
        specs = project.specs_dir
        return cls(specs / "plans", specs / "typologies", specs / "templates", AudienceLibrary.of(project))

    def programs(self) -> list[Program]:
        return [load_program(p) for p in sorted(self.plans_dir.glob("*.yml"))] if self.plans_dir.is_dir() else []

    def deliveries(self) -> list[DeliveryRef]:
        return [DeliveryRef(p, c, d) for p in self.programs() for c in p.campaigns for d in c.deliveries]

    def delivery(self, delivery_id: str) -> DeliveryRef:
        found = [r for r in self.deliveries() if r.delivery.id == delivery_id]
        if len(found) > 1:
            raise PlanError(
                f"delivery id {delivery_id!r} is used in several plans: {', '.join(r.program.id for r in found)}"
            )
        if not found:
            ids = [r.delivery.id for r in self.deliveries()]
            hint = difflib.get_close_matches(delivery_id, ids, n=3)
            suggestion = f" Did you mean {', '.join(hint)}?" if hint else ""
            raise DeliveryNotFound(f"no delivery {delivery_id!r} in specs/plans/.{suggestion}")
        return found[0]

    def typology(self, name: str) -> Typology:
        path = self.typologies_dir / f"{name}.yml"
        if not path.is_file():
            known = sorted(p.stem for p in self.typologies_dir.glob("*.yml")) if self.typologies_dir.is_dir() else []
            raise PlanError(f"no typology {name!r} in specs/typologies/ (known: {', '.join(known) or 'none'})")
        return load_typology(path)

    def check(self, ref: DeliveryRef) -> Typology:
        """The delivery's typology, after checking that everything the delivery names exists."""
        d = ref.delivery
        where = f"delivery {d.id}"
        typology = self.typology(d.typology)
        names = [d.audience, *typology.exclude_audiences, *(r.audience for r in typology.custom)]
        if d.schedule.enters_audience:
            names.append(d.schedule.enters_audience)
        for name in names:
            if not self.audiences.path(name).is_file():
                raise PlanError(f"{where}: no saved audience {name!r} (specs/audiences/{name}.yml)")
        if not (self.templates_dir / d.template / "template.yml").is_file():
            raise PlanError(f"{where}: no template {d.template!r} (specs/templates/{d.template}/template.yml)")
        return typology
