"""The saved audiences: one YAML file per audience under ``specs/audiences/``."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from herald.audiences.spec import NAME_PATTERN, AudienceSpec, dump_spec, load_spec
from herald.errors import AudienceNotFound, AudienceSpecError
from herald.files import write_atomic
from herald.project import Project


@dataclass(frozen=True, slots=True)
class AudienceLibrary:
    """Reads and writes the audience files of one project."""

    folder: Path

    @classmethod
    def of(cls, project: Project) -> AudienceLibrary:
        return cls(project.specs_dir / "audiences")

    def path(self, name: str) -> Path:
        if not NAME_PATTERN.match(name):
            raise AudienceNotFound(f"{name!r} is not an audience name (lower-case letters, digits, underscores)")
        return self.folder / f"{name}.yml"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.yml")) if self.folder.is_dir() else []

    def get(self, name: str) -> AudienceSpec:
        """The saved spec ``name``; AudienceNotFound (with close names) when there is none."""
        path = self.path(name)
        if not path.is_file():
            names = self.names()
            hint = difflib.get_close_matches(name, names, n=3)
            suggestion = f" Did you mean {', '.join(hint)}?" if hint else ""
            known = f" Saved audiences: {', '.join(names)}." if names else " No audience is saved yet."
            raise AudienceNotFound(f"no audience {name!r}.{suggestion}{known}")
        return load_spec(path)

    def all(self) -> list[AudienceSpec]:
        return [self.get(n) for n in self.names()]

    def save(self, spec: AudienceSpec) -> Path:
        """Write ``spec`` in canonical form, atomically (a reader sees the old file or the new one)."""
        path = self.path(spec.name)
        write_atomic(path, dump_spec(spec))
        return path

    def with_dependents(self, names: list[str]) -> list[str]:
        """``names`` and every saved audience that reads one of them, directly or not (they must rebuild too)."""
        specs = {s.name: s for s in self.all()}
        wanted = list(dict.fromkeys(names))
        changed = True
        while changed:
            changed = False
            for spec in specs.values():
                if spec.name not in wanted and any(n in wanted for n in spec.referenced_audiences()):
                    wanted.append(spec.name)
                    changed = True
        return wanted

    def resolve_file_or_name(self, ref: str) -> AudienceSpec:
        """A spec from a saved name or from a path to a YAML file (for `herald audience count FILE`)."""
        candidate = Path(ref)
        if candidate.suffix in (".yml", ".yaml") or os.sep in ref:
            if not candidate.is_file():
                raise AudienceSpecError(f"{ref}: no such file")
            return load_spec(candidate)
        return self.get(ref)
