"""Audiences as dbt models, generated from their specs by the one compiler.

For each saved audience ``specs/audiences/<name>.yml`` this writes ``aud_<name>.sql`` (its members: one row
per profile, with its group) and its YAML (grain, key, tests, group shares), plus ``audience_memberships.sql``,
the incremental mart that keeps every build's membership, into the project's ``generated_dir``: inside Herald's
dbt package in this repository, ``generated/audiences/`` in a project of its own (built as part of the package,
``herald.package.assemble_package``, so the same text works in both). Generated files carry the spec's
version; a test regenerates them and fails on any difference, so a model never drifts from its spec.

The model holds the compiled SQL of each supported engine in a ``target.type`` branch. Names in it come from
the allow-list; user values are literals. dbt renders the model and its YAML with Jinja, so the SQL and every
string of the YAML (the description, the owner) go through ``herald.safe_text``: dbt gets the user's text back
character for character and none of it runs as Jinja. When
the compiler answers some conditions from ``profile_rollups``, each engine has two branches: that
query, taken when the rollup was built at the build's ``as_of()`` (macro ``profile_rollups_are_current``),
and the query without it, taken otherwise (a build of audience models alone, at a later ``as_of``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp

from herald.audiences.compiler import DIALECTS, Compiler
from herald.audiences.library import AudienceLibrary
from herald.audiences.schema import AUDIENCE_TABLES, PROFILE_ROLLUPS, Schema, from_contracts
from herald.audiences.spec import AudienceSpec, dump_spec
from herald.errors import AudienceSpecError
from herald.files import write_atomic
from herald.project import Project
from herald.safe_text import jinja_inert, yaml_for_dbt

MODEL_PREFIX = "aud_"
# Where this repository keeps its generated models; a project's own folder is ``Project.generated_dir``.
GENERATED_DIR = Path("dbt_project/models/marts/audiences/generated")
MEMBERSHIPS = "audience_memberships"
BUILDS = "audience_builds"
_REF = "__herald_ref_{}__"
_AS_OF = "__herald_as_of__"
_HEADER = "-- Generated from specs/audiences/{name}.yml by `herald audience generate`. Do not edit: edit the spec.\n"


def model_name(audience: str) -> str:
    return f"{MODEL_PREFIX}{audience}"


def spec_version(spec: AudienceSpec) -> str:
    """A short hash of the canonical spec: equal specs have equal versions, whatever their formatting."""
    return hashlib.sha256(dump_spec(spec).encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    path: Path  # relative to the project root
    text: str


def dbt_compiler(schema: Schema, library: AudienceLibrary, *, rollups: bool = True) -> Compiler:
    """The compiler as models use it: tables are ``ref()``s and the reference time is the build's ``as_of()``."""
    return Compiler(
        schema=schema,
        resolve=library.get,
        as_of=exp.column(_AS_OF),
        table=lambda name: exp.to_table(_REF.format(name)),
        rollups=rollups,
    )


def generate(project: Project) -> list[GeneratedFile]:
    """Every generated file for the project's saved audiences (compiling each one; errors name the spec)."""
    library = AudienceLibrary.of(project)
    schema = from_contracts(project)
    compilers = (dbt_compiler(schema, library), dbt_compiler(schema, library, rollups=False))
    specs = library.all()
    folder = project.generated_dir.relative_to(project.root)
    files = []
    for spec in specs:
        try:
            files.append(GeneratedFile(folder / f"{model_name(spec.name)}.sql", _model_sql(*compilers, spec)))
        except AudienceSpecError as exc:
            raise AudienceSpecError(f"audience {spec.name}: {exc}") from exc
    files.append(GeneratedFile(folder / "_audiences__models.yml", _models_yaml(specs)))
    files.append(GeneratedFile(folder / f"{MEMBERSHIPS}.sql", _memberships_sql(specs)))
    files.append(GeneratedFile(folder / f"{BUILDS}.sql", _builds_sql(specs)))
    return files


def write(project: Project) -> list[Path]:
    """Write the generated files and delete generated models of audiences that no longer exist."""
    files = generate(project)
    folder = project.generated_dir
    folder.mkdir(parents=True, exist_ok=True)
    keep = {project.root / f.path for f in files}
    for stale in folder.glob("*"):
        if stale.is_file() and stale not in keep:
            stale.unlink()
    changed = []
    for f in files:
        target = project.root / f.path
        if not target.is_file() or target.read_text(encoding="utf-8") != f.text:
            # Replaced whole: a dbt parse running beside this write never reads half a model.
            write_atomic(target, f.text)
            changed.append(f.path)
    return changed


def drift(project: Project) -> list[str]:
    """Generated files that differ from what the specs generate now (missing, stale or edited by hand)."""
    files = generate(project)
    folder = project.generated_dir
    expected = {project.root / f.path: f.text for f in files}
    problems = []
    for path, text in expected.items():
        if not path.is_file():
            problems.append(f"{path.relative_to(project.root)} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.relative_to(project.root)} differs from its spec")
    if folder.is_dir():
        problems += [f"{p.relative_to(project.root)} has no spec" for p in folder.glob("*") if p not in expected]
    return problems


# ---------------------------------------------------------------------------------------------- rendering


def render_for_dbt(query: exp.Expr, dialect: str) -> str:
    """SQL text of ``query`` for one engine, with refs and the reference time as dbt Jinja."""
    safe = query.copy().transform(_placeholder_free_literal)
    # The SQL holds no Jinja of ours yet: made inert whole, the values in its literals render back unchanged.
    text = jinja_inert(safe.sql(dialect=dialect, pretty=True))
    for table in AUDIENCE_TABLES:
        text = text.replace(_REF.format(table), "{{ ref('" + table + "') }}")
    return text.replace(_AS_OF, "{{ as_of() }}")


def _placeholder_free_literal(node: exp.Expr) -> exp.Expr:
    # A literal holding one of our placeholders would be replaced by a ref: split such text into concatenated
    # pieces that cut the placeholder, so the model never contains it while the value stays the same.
    if not (isinstance(node, exp.Literal) and node.is_string):
        return node
    value = node.this
    if "__herald_" not in value:
        return node
    pieces: list[str] = []
    current = ""
    for ch in value:
        current += ch
        if current.endswith("__her"):
            pieces.append(current)
            current = ""
    pieces.append(current)
    parts: list[exp.Expr] = [exp.Literal.string(p) for p in pieces if p != ""]
    return exp.paren(exp.Concat(expressions=parts, safe=True)) if len(parts) > 1 else parts[0]


def _model_sql(with_rollups: Compiler, without_rollups: Compiler, spec: AudienceSpec) -> str:
    plain = without_rollups.query(spec)
    rolled_up = with_rollups.query(spec)
    # (query, extra Jinja condition) per branch: the rollup's query first, when it differs.
    variants: list[tuple[exp.Select, str]] = [(plain, "")]
    lines = [_HEADER.format(name=spec.name), f"-- spec version {spec_version(spec)}\n"]
    if rolled_up != plain:
        variants.insert(0, (rolled_up, " and rollups_current"))
        lines.append(f"-- depends_on: {{{{ ref('{PROFILE_ROLLUPS}') }}}}\n")
    lines.append("{{ config(materialized='table', tags=['audience']) }}\n\n")
    if len(variants) == 2:
        lines.append("{%- set rollups_current = profile_rollups_are_current() %}\n\n")
    first = True
    for dialect in DIALECTS:
        for query, condition in variants:
            keyword = "if" if first else "elif"
            first = False
            lines.append(f"{{% {keyword} target.type == '{dialect}'{condition} %}}\n\n")
            lines.append(render_for_dbt(query, dialect) + "\n\n")
    lines.append("{% else %}\n\n")
    lines.append(
        "{{ exceptions.raise_compiler_error('audience models are compiled for "
        + ", ".join(DIALECTS)
        + "; add the engine to herald.audiences.compiler.DIALECTS and regenerate') }}\n\n"
    )
    lines.append("{% endif %}\n")
    return "".join(lines)


def _models_yaml(specs: list[AudienceSpec]) -> str:
    models: list[dict[str, Any]] = []
    for spec in specs:
        tests: list[Any] = [
            {"accepted_values": {"arguments": {"values": list(spec.groups)}}},
        ]
        if spec.split:
            tests.append(
                {"audience_group_shares": {"arguments": {"shares": {g.name: g.percent / 100 for g in spec.split}}}}
            )
        # The user's text as written (yaml_for_dbt keeps it exact in the manifest), or ours when there is none.
        description = spec.description if spec.description.strip() else f"Members of audience {spec.name}."
        meta = {
            "audience": spec.name,
            "spec_version": spec_version(spec),
            **({"owner": spec.owner} if spec.owner else {}),
        }
        models.append(
            {
                "name": model_name(spec.name),
                "description": (
                    f"{description}\n\nGrain: one row per member profile. Key: profile_id. "
                    f"Generated from specs/audiences/{spec.name}.yml (version {spec_version(spec)})."
                ),
                "config": {"tags": ["audience"], "meta": meta},
                "columns": [
                    {
                        "name": "profile_id",
                        "description": "The member profile.",
                        "data_tests": [
                            "not_null",
                            "unique",
                            {"relationships": {"arguments": {"to": "ref('profiles')", "field": "profile_id"}}},
                        ],
                    },
                    {
                        "name": "audience_group",
                        "description": "The member's group: a split group, or `target` without a split.",
                        "data_tests": ["not_null", *tests],
                    },
                ],
            }
        )
    doc = {"version": 2, "models": models}
    return "# Generated by `herald audience generate` from specs/audiences/. Do not edit.\n" + yaml_for_dbt(doc)


def _memberships_sql(specs: list[AudienceSpec]) -> str:
    head = (
        "-- Generated by `herald audience generate` from specs/audiences/. Do not edit.\n"
        "-- Every build appends the membership of every audience, so past membership stays answerable.\n"
        "{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail', "
        "tags=['audience']) }}\n\n"
        '{%- set build_id = "\'" ~ herald_build_id() ~ "\'" %}\n\n'
        "with\n\nmembers as (\n\n"
    )
    selects = [
        f"    select '{spec.name}' as audience_name, profile_id, audience_group,"
        f" '{spec_version(spec)}' as spec_version\n"
        f"    from {{{{ ref('{model_name(spec.name)}') }}}}"
        for spec in specs
    ] or [
        "    select cast(null as {{ dbt.type_string() }}) as audience_name, profile_id,"
        " profile_id as audience_group, profile_id as spec_version\n"
        "    from {{ ref('profiles') }}\n    where 1 = 0"
    ]
    tail = (
        "\n\n),\n\nfinal as (\n\n"
        "    select\n"
        "        {{ dbt.concat(['audience_name', \"':'\", 'profile_id', \"':'\", build_id]) }}"
        " as audience_membership_id,\n"
        "        cast(audience_name as {{ dbt.type_string() }}) as audience_name,\n"
        "        cast(profile_id as {{ dbt.type_string() }}) as profile_id,\n"
        "        cast(audience_group as {{ dbt.type_string() }}) as audience_group,\n"
        "        cast(spec_version as {{ dbt.type_string() }}) as spec_version,\n"
        "        cast({{ build_id }} as {{ dbt.type_string() }}) as build_id,\n"
        "        cast({{ as_of() }} as {{ dbt.type_timestamp() }}) as built_at\n"
        "    from members\n\n)\n\nselect * from final\n"
    )
    return head + "\n\n    union all\n\n".join(selects) + tail


def _builds_sql(specs: list[AudienceSpec]) -> str:
    head = (
        "-- Generated by `herald audience generate` from specs/audiences/. Do not edit.\n"
        "-- Every build appends one row per audience: its size and spec version, also when it has no members.\n"
        "{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail', "
        "tags=['audience']) }}\n\n"
        '{%- set build_id = "\'" ~ herald_build_id() ~ "\'" %}\n\n'
        "with\n\ncounts as (\n\n"
    )
    selects = [
        f"    select '{spec.name}' as audience_name, '{spec_version(spec)}' as spec_version, count(*) as member_count\n"
        f"    from {{{{ ref('{model_name(spec.name)}') }}}}"
        for spec in specs
    ] or [
        "    select cast(null as {{ dbt.type_string() }}) as audience_name, profile_id as spec_version,"
        " 0 as member_count\n    from {{ ref('profiles') }}\n    where 1 = 0"
    ]
    tail = (
        "\n\n),\n\nfinal as (\n\n"
        "    select\n"
        "        {{ dbt.concat(['audience_name', \"':'\", build_id]) }} as audience_build_id,\n"
        "        cast(audience_name as {{ dbt.type_string() }}) as audience_name,\n"
        "        cast(spec_version as {{ dbt.type_string() }}) as spec_version,\n"
        "        cast(member_count as {{ dbt.type_bigint() }}) as member_count,\n"
        "        cast({{ build_id }} as {{ dbt.type_string() }}) as build_id,\n"
        "        cast({{ as_of() }} as {{ dbt.type_timestamp() }}) as built_at\n"
        "    from counts\n\n)\n\nselect * from final\n"
    )
    return head + "\n\n    union all\n\n".join(selects) + tail
