"""Which raw tables a project reads from relations of its own (``vars: herald_sources`` in its dbt_project.yml).

The dbt side (``macros/sources/herald_source.sql``) reads them; the Python side only needs to know which they are,
so that nothing lands where no build will read it (docs/your-tables.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from herald.errors import ConfigError
from herald.project import Project


def own_tables(project: Project) -> Mapping[str, str]:
    """Raw table name → what it is read from (``model:customers``), for every table the project maps."""
    path = project.root / "dbt_project.yml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    sources = (doc.get("vars") or {}).get("herald_sources") or {}
    if not isinstance(sources, dict):
        raise ConfigError(f"{path}: vars.herald_sources must be a mapping of raw table names")
    return {str(name): _label(entry) for name, entry in sources.items()}


def _label(entry: object) -> str:
    if isinstance(entry, dict):
        for key in ("model", "source", "table"):
            if entry.get(key):
                value = entry[key]
                return f"{key}:{'.'.join(map(str, value)) if isinstance(value, list) else value}"
    return "a relation of the project"
