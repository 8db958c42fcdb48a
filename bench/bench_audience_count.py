"""Benchmark: the live audience count (the Streamlit page's "live count") on a built warehouse.

    .venv/bin/python bench/bench_audience_count.py [--warehouse PATH] [--runs 30] [--threads N]
    .venv/bin/python bench/bench_audience_count.py --sorted-copy /tmp/bench/sorted.duckdb   # + re-clustered marts

Measures the wall time of ``LiveWarehouse.count(spec)`` (compile the spec, run the compiled query on the
read-only DuckDB connection, fetch the group counts) for a realistic four-condition audience:

    country_code in [FR, DE, BE]
    and orders in the last 180 days summing to at least 50 EUR
    and at least 2 product views in the last 30 days
    and opted in to the email newsletter

The warehouse needs the ``profile_rollups`` model, the per-profile rollup the compiler answers the order, event
and consent conditions from. When the published build lacks it (or it was built at another ``as_of``), the
script first builds that model and its tests with dbt on top of the published build, at the build's own
``as_of``, and publishes the result as a new build of the same data (Herald's build lock, ``run_dbt`` and
``publish``; one to two minutes at 1M profiles). ``--no-build`` skips that step.

Beside it, in the same run and on the same connection, the same question answered by

* ``live.count`` without the rollup: the compiler's subquery form, aggregating ``orders`` and
  ``profile_events`` (what every live count ran before the rollup);
* that query with every ``coalesce(predicate, false)`` replaced by the bare predicate (what a compiler that
  wraps only negated leaves would send);
* hand-written DuckDB SQL on the raw marts: ``flat`` (one semi-join per condition, plain predicates; the
  baseline every ratio is against) and ``candidates-first`` (profile and consent conditions first, then each
  related aggregate only over the remaining candidates);
* pandas: the needed columns are loaded once (timed separately), each run then answers with pandas operations.

All methods must give the same count (asserted). The methods take turns, one round running each once, so load
from other work on a shared machine slows them alike: 2 untimed rounds, then ``--runs`` timed ones. The table
gives p50 / p95 / max wall milliseconds, the median process CPU milliseconds per run (DuckDB's threads
included) and the ratio of p50 / p95 to the hand-written baseline. The goal is p95 <= 100 ms at 1M profiles.

The reference time of every window is the build's ``as_of`` (the one the live count and the rollup use) when
the rollup is current; otherwise, as before the rollup existed, the newest event in the file (generated data
are relative to a fixed date). The warehouse file is opened read-only while timing.

``--sorted-copy PATH`` also builds (once; reused when the file exists) a copy of the four marts the query reads,
narrowed to the columns it reads and clustered on the columns audiences filter on (events by time, orders by
time, consents by channel and topic), plus a per-profile rollup table (event counts per type, order counts and
sums, for windows of 7 to 365 days; a flag per consent), and times the methods on it, the rollup answering
with one scan of one row per profile. ``--profile`` prints where the compiled query spends its time (DuckDB's
per-operator timings). No assertions on time: the figures go to BENCHMARKS.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from herald import warehouse  # noqa: E402
from herald.audiences.live import LiveWarehouse, build_as_of, open_live, rollups_as_of  # noqa: E402
from herald.audiences.schema import PROFILE_ROLLUPS  # noqa: E402
from herald.audiences.spec import AudienceSpec, Not, parse_spec, walk  # noqa: E402
from herald.build import build_on_published  # noqa: E402
from herald.files import replacing  # noqa: E402
from herald.project import Project  # noqa: E402

DEFAULT_WAREHOUSE = Path("/tmp/bench/warehouse/build/herald.duckdb")
WARMUPS = 2
GOAL_P95_MS = 100.0
ROLLUP = "bench_profile_rollup"
ROLLUP_DAYS = (7, 30, 90, 180, 365)

COUNTRIES = ("FR", "DE", "BE")
ORDER_DAYS, ORDER_MIN_EUR = 180, 50
EVENT_TYPE, EVENT_MIN, EVENT_DAYS = "product_view", 2, 30
CONSENT_CHANNEL, CONSENT_TOPIC = "email", "newsletter"

SPEC: dict[str, Any] = {
    "name": "bench_engaged_buyers",
    "description": "FR/DE/BE newsletter subscribers who spent 50 EUR in 180 days and viewed 2 products in 30 days",
    "where": {
        "all": [
            {"country_code": {"in": list(COUNTRIES)}},
            {"orders": {"within_days": ORDER_DAYS, "sum": {"column": "total_amount_eur", "gte": ORDER_MIN_EUR}}},
            {"events": {"type": EVENT_TYPE, "at_least": EVENT_MIN, "within_days": EVENT_DAYS}},
            {"consent": {"channel": CONSENT_CHANNEL, "topic": CONSENT_TOPIC}},
        ]
    },
}

# The marts the query reads, the columns it reads, and the clustering of the --sorted-copy.
COPY_TABLES: dict[str, tuple[str, str | None]] = {
    "profiles": ("profile_id, country_code", None),
    "orders": ("profile_id, ordered_at, total_amount_eur", "ordered_at"),
    "profile_events": ("profile_id, event_type, occurred_at", "occurred_at"),
    "profile_consents": ("profile_id, channel, topic, is_opted_in", "channel, topic"),
}


@dataclass(frozen=True)
class Timing:
    method: str
    wall_ms: list[float]
    cpu_ms: list[float]
    count: int

    def p(self, q: float) -> float:
        return float(np.percentile(self.wall_ms, q))


# ---------------------------------------------------------------------------------------------- hand-written SQL


def _window(column: str, as_of: dt.datetime, days: int) -> str:
    stamp = f"timestamp '{as_of.isoformat(sep=' ')}'"
    return f"{column} >= {stamp} - interval {days} day and {column} <= {stamp}"


def _in_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def sql_flat(as_of: dt.datetime) -> str:
    """One semi-join per condition on the raw marts, plain (not coalesced) predicates."""
    return f"""
        select count(*) from profiles p
        where p.country_code in ({_in_list(COUNTRIES)})
          and p.profile_id in (
            select o.profile_id from orders o
            where {_window("o.ordered_at", as_of, ORDER_DAYS)}
            group by o.profile_id having sum(o.total_amount_eur) >= {ORDER_MIN_EUR})
          and p.profile_id in (
            select e.profile_id from profile_events e
            where e.event_type = '{EVENT_TYPE}' and {_window("e.occurred_at", as_of, EVENT_DAYS)}
            group by e.profile_id having count(*) >= {EVENT_MIN})
          and p.profile_id in (
            select c.profile_id from profile_consents c
            where c.channel = '{CONSENT_CHANNEL}' and c.topic = '{CONSENT_TOPIC}' and c.is_opted_in)
    """


def sql_candidates_first(as_of: dt.datetime) -> str:
    """Row-level conditions first; each related aggregate then groups only the remaining candidates' rows."""
    return f"""
        with candidates as materialized (
            select p.profile_id from profiles p
            where p.country_code in ({_in_list(COUNTRIES)})
              and p.profile_id in (
                select c.profile_id from profile_consents c
                where c.channel = '{CONSENT_CHANNEL}' and c.topic = '{CONSENT_TOPIC}' and c.is_opted_in)
        ),
        buyers as materialized (
            select o.profile_id from orders o semi join candidates k on o.profile_id = k.profile_id
            where {_window("o.ordered_at", as_of, ORDER_DAYS)}
            group by o.profile_id having sum(o.total_amount_eur) >= {ORDER_MIN_EUR}
        )
        select count(*) from (
            select e.profile_id from profile_events e semi join buyers b on e.profile_id = b.profile_id
            where e.event_type = '{EVENT_TYPE}' and {_window("e.occurred_at", as_of, EVENT_DAYS)}
            group by e.profile_id having count(*) >= {EVENT_MIN}
        )
    """


# ---------------------------------------------------------------------------------------------- pandas


@dataclass(frozen=True)
class Frames:
    """The needed columns, profile ids replaced by their int32 row number in ``profiles``."""

    profiles: pd.DataFrame
    orders: pd.DataFrame
    events: pd.DataFrame
    consents: pd.DataFrame


def load_frames(con: duckdb.DuckDBPyConnection) -> Frames:
    ids = con.execute("select profile_id from profiles").to_arrow_table()["profile_id"]

    def fetch(sql: str) -> pd.DataFrame:
        table = con.execute(sql).to_arrow_table()
        keys = pc.index_in(table["profile_id"], value_set=ids.combine_chunks())
        table = table.drop_columns(["profile_id"]).append_column("pk", keys.cast(pa.int32()))
        return table.to_pandas(strings_to_categorical=True)

    return Frames(
        profiles=fetch("select profile_id, country_code from profiles"),
        orders=fetch("select profile_id, ordered_at, total_amount_eur from orders where profile_id is not null"),
        events=fetch("select profile_id, event_type, occurred_at from profile_events where profile_id is not null"),
        consents=fetch(
            "select profile_id, channel, topic, is_opted_in from profile_consents where profile_id is not null"
        ),
    )


def pandas_count(f: Frames, as_of: dt.datetime) -> int:
    now = pd.Timestamp(as_of)
    candidates = f.profiles.loc[f.profiles["country_code"].isin(COUNTRIES), "pk"]
    c = f.consents
    opted = c.loc[(c["channel"] == CONSENT_CHANNEL) & (c["topic"] == CONSENT_TOPIC) & c["is_opted_in"], "pk"]
    o = f.orders
    recent = o.loc[o["ordered_at"].between(now - pd.Timedelta(days=ORDER_DAYS), now), ["pk", "total_amount_eur"]]
    spent = recent.groupby("pk")["total_amount_eur"].sum()
    buyers = spent.index[spent >= ORDER_MIN_EUR]
    e = f.events
    viewed = e.loc[
        (e["event_type"] == EVENT_TYPE) & e["occurred_at"].between(now - pd.Timedelta(days=EVENT_DAYS), now), "pk"
    ]
    views = viewed.value_counts()
    viewers = views.index[views >= EVENT_MIN]
    members = candidates[candidates.isin(opted) & candidates.isin(buyers) & candidates.isin(viewers)]
    return int(members.nunique())


# ---------------------------------------------------------------------------------------------- timing


def timed(methods: dict[str, Callable[[], int]], runs: int) -> list[Timing]:
    """Every method once per round (round-robin), ``WARMUPS`` untimed rounds first: on a shared machine, other
    work then slows every method alike and the ratios stay fair."""
    for _ in range(WARMUPS):
        for run in methods.values():
            run()
    wall: dict[str, list[float]] = {m: [] for m in methods}
    cpu: dict[str, list[float]] = {m: [] for m in methods}
    counts: dict[str, set[int]] = {m: set() for m in methods}
    for _ in range(runs):
        for method, run in methods.items():
            c0, w0 = time.process_time(), time.perf_counter()
            counts[method].add(run())
            wall[method].append((time.perf_counter() - w0) * 1000)
            cpu[method].append((time.process_time() - c0) * 1000)
    for method, found in counts.items():
        assert len(found) == 1, f"{method}: the count changed between runs: {found}"
    return [Timing(m, wall[m], cpu[m], counts[m].pop()) for m in methods]


def reference_time(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    row = con.execute("select max(occurred_at) from profile_events").fetchone()
    assert row is not None and isinstance(row[0], dt.datetime), "profile_events is empty"
    as_of: dt.datetime = row[0]
    return as_of


def share(con: duckdb.DuckDBPyConnection, live: LiveWarehouse) -> None:
    """How many profiles each condition keeps on its own, so the audience is known to be non-trivial."""
    total = con.execute("select count(*) from profiles").fetchone()[0]  # type: ignore[index]
    print(f"profiles: {total:,}")
    for condition in SPEC["where"]["all"]:
        alone = parse_spec({"name": "bench_condition", "where": condition})
        n = live.count(alone).total
        print(f"  {json.dumps(condition):<110} {n:>10,}  {n / total:6.1%}")


def profile(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """DuckDB's per-operator timings for ``sql`` (summed over threads), as an indented tree."""
    out = Path(tempfile.mkdtemp(prefix="herald-bench-profile-")) / "profile.json"
    con.execute("pragma enable_profiling = 'json'")
    con.execute(f"pragma profiling_output = '{out}'")
    try:
        con.execute(sql).fetchall()
    finally:
        con.execute("pragma disable_profiling")
    tree = json.loads(out.read_text())
    out.unlink()
    out.parent.rmdir()
    print(
        f"\ncompiled query, per operator (latency {tree['latency'] * 1000:.0f} ms, "
        f"CPU {tree['cpu_time'] * 1000:.0f} ms):"
    )

    def walk(node: dict[str, Any], depth: int) -> None:
        name = node.get("operator_name") or node.get("operator_type")
        if name:
            table = (node.get("extra_info") or {}).get("Table", "")
            print(
                f"  {'  ' * depth}{name} {table}".ljust(60)
                + f"{node.get('operator_cardinality', 0):>12,} rows {node.get('operator_timing', 0) * 1000:8.0f} ms"
            )
        for child in node.get("children", []):
            walk(child, depth + (1 if name else 0))

    walk(tree, 0)


def build_sorted_copy(source: Path, target: Path) -> None:
    """The marts the query reads, narrowed and clustered (see COPY_TABLES), plus the per-profile rollup (see
    ``rollup_sql``), in a new file ``target``."""
    started = time.perf_counter()
    with replacing(target) as partial:
        con = duckdb.connect(str(partial))
        try:
            con.execute("set enable_progress_bar = false")
            con.execute(f"attach '{source}' as src (read_only)")
            for table, (columns, order) in COPY_TABLES.items():
                t0 = time.perf_counter()
                order_by = f" order by {order}" if order else ""
                con.execute(f"create table {table} as select {columns} from src.{table}{order_by}")
                print(f"  {table}: {time.perf_counter() - t0:.1f} s ({order or 'as stored'})")
            con.execute("detach src")
            t0 = time.perf_counter()
            con.execute(f"create table {ROLLUP} as {rollup_sql(con, reference_time(con))}")
            width = len(con.execute(f"describe {ROLLUP}").fetchall())
            print(f"  {ROLLUP}: {time.perf_counter() - t0:.1f} s ({width} columns, one row per profile)")
        finally:
            con.close()
    print(f"sorted copy built in {time.perf_counter() - started:.0f} s: {target}")


def rollup_sql(con: duckdb.DuckDBPyConnection, as_of: dt.datetime) -> str:
    """A per-profile rollup model: one row per profile with, for each window in ROLLUP_DAYS ending at the build's
    reference time, the count of every event type and the count and EUR sum of orders, and a flag per consent
    (channel, topic). Not only the columns this audience reads: the whole family a model would carry."""
    types = [r[0] for r in con.execute("select distinct event_type from profile_events order by 1").fetchall()]
    consents = con.execute(
        "select distinct channel, topic from profile_consents"
        " where channel is not null and topic is not null order by 1, 2"
    ).fetchall()
    event_cols, order_cols = [], []
    for days in ROLLUP_DAYS:
        ev_window = _window("occurred_at", as_of, days)
        for t in types:
            event_cols.append(f"cast(count_if(event_type = '{t}' and {ev_window}) as integer) as {t}_{days}d")
        or_window = _window("ordered_at", as_of, days)
        order_cols.append(f"cast(count_if({or_window}) as integer) as orders_{days}d")
        order_cols.append(f"coalesce(sum(total_amount_eur) filter ({or_window}), 0) as order_eur_{days}d")
    consent_cols = [
        f"bool_or(channel = '{ch}' and topic = '{tp}' and coalesce(is_opted_in, false)) as consent_{ch}_{tp}"
        for ch, tp in consents
    ]
    event_names = [c.rsplit(" as ", 1)[1] for c in event_cols]
    order_names = [c.rsplit(" as ", 1)[1] for c in order_cols]
    consent_names = [c.rsplit(" as ", 1)[1] for c in consent_cols]
    return f"""
        with e as (select profile_id, {", ".join(event_cols)} from profile_events group by profile_id),
             o as (select profile_id, {", ".join(order_cols)} from orders group by profile_id),
             c as (select profile_id, {", ".join(consent_cols)} from profile_consents group by profile_id)
        select p.profile_id, p.country_code,
               {", ".join(f"coalesce(e.{n}, 0) as {n}" for n in event_names)},
               {", ".join(f"coalesce(o.{n}, 0) as {n}" for n in order_names)},
               {", ".join(f"coalesce(c.{n}, false) as {n}" for n in consent_names)}
        from profiles p
        left join e on e.profile_id = p.profile_id
        left join o on o.profile_id = p.profile_id
        left join c on c.profile_id = p.profile_id
    """


def sql_rollup() -> str:
    """The audience on the per-profile rollup: one scan of one row per profile, no join, no aggregate."""
    return f"""
        select count(*) from {ROLLUP}
        where country_code in ({_in_list(COUNTRIES)})
          and order_eur_{ORDER_DAYS}d >= {ORDER_MIN_EUR}
          and {EVENT_TYPE}_{EVENT_DAYS}d >= {EVENT_MIN}
          and consent_{CONSENT_CHANNEL}_{CONSENT_TOPIC}
    """


# ---------------------------------------------------------------------------------------------- the rollup model


def rollup_is_current(path: Path) -> bool:
    con = warehouse.open_published(path)
    try:
        if not _has_table(con, PROFILE_ROLLUPS):
            return False
        return rollups_as_of(con) == build_as_of(con)
    finally:
        con.close()


def build_rollups(project: Project) -> None:
    """Build profile_rollups and its tests on top of the published build (at that build's reference time) and
    publish the result; a full build when the published build is not current."""
    started = time.perf_counter()
    build_on_published(project, [PROFILE_ROLLUPS], quiet=True)
    print(f"built and published {PROFILE_ROLLUPS} in {time.perf_counter() - started:.0f} s")


def compiled_plain(live: LiveWarehouse, spec: AudienceSpec) -> str:
    """The compiled count query with every ``coalesce(predicate, false)`` replaced by the bare predicate.

    Equivalent only where no ``not`` is above the predicate (a WHERE drops NULL as it drops false): true of
    this spec. It shows what a compiler that wraps only negated leaves would gain."""
    assert spec.where is not None and not any(isinstance(c, Not) for c in walk(spec.where))

    def bare(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Coalesce) and [e.sql() for e in node.expressions] == ["FALSE"]:
            inner: exp.Expression = node.this
            if isinstance(inner, exp.Paren):
                inner = inner.this
            return inner
        return node

    members = live.compiler().query(spec).transform(bare)
    return f"select audience_group, count(*) as n from ({members.sql(dialect='duckdb')}) as members group by 1"


def measure(
    label: str, project: Project, path: Path, spec: AudienceSpec, args: argparse.Namespace, *, with_pandas: bool
) -> list[Timing]:
    with open_live(project, path=path) as opened:
        con = opened.con
        con.execute("set enable_progress_bar = false")
        if args.threads:
            con.execute(f"set threads = {args.threads}")
        rollup = opened.compiler().rollups
        as_of = opened.as_of if rollup else reference_time(con)
        live = dataclasses.replace(opened, as_of=as_of)
        # The same build without the rollup: every condition through the subqueries over the facts.
        subqueries = dataclasses.replace(live, rollups_as_of=None)
        threads = con.execute("select current_setting('threads')").fetchone()[0]  # type: ignore[index]
        where = "the build's as_of" if rollup else "the newest event"
        print(
            f"\n== {label}: {path} (as_of {as_of}: {where}; rollup {'read' if rollup else 'absent'}; "
            f"DuckDB threads {threads})"
        )
        if with_pandas:
            share(con, live)
        plain = compiled_plain(subqueries, spec)
        flat, candidates_first = sql_flat(as_of), sql_candidates_first(as_of)

        def scalar(sql: str) -> int:
            row = con.execute(sql).fetchone()
            assert row is not None
            return int(row[0])

        methods: dict[str, Callable[[], int]] = {}
        if rollup:
            methods["live.count, rollup"] = lambda: live.count(spec).total
        methods |= {
            "live.count, subqueries": lambda: subqueries.count(spec).total,
            "subqueries, no coalesce": lambda: sum(int(r[1]) for r in con.execute(plain).fetchall()),
            "hand SQL: flat semi-joins": lambda: scalar(flat),
            "hand SQL: candidates-first": lambda: scalar(candidates_first),
        }
        if _has_table(con, ROLLUP):
            methods["hand SQL: per-profile rollup"] = lambda: scalar(sql_rollup())
        frames: Frames | None = None
        if with_pandas:
            load_started, cpu_started = time.perf_counter(), time.process_time()
            frames = load_frames(con)
            load_s, load_cpu = time.perf_counter() - load_started, time.process_time() - cpu_started
            mem = sum(int(df.memory_usage(deep=True).sum()) for df in dataclasses.astuple(frames)) / 2**30
            print(f"pandas: loaded the needed columns once in {load_s:.1f} s ({load_cpu:.1f} s CPU), {mem:.2f} GiB")
            loaded = frames
            methods["pandas (columns in memory)"] = lambda: pandas_count(loaded, as_of)
        results = timed(methods, args.runs)
        del frames, methods
        if args.profile:
            members = live.sql(spec)
            profile(con, f"select audience_group, count(*) from ({members}) as members group by audience_group")
    return results


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute("select count(*) from information_schema.tables where table_name = ?", [name]).fetchone()
    return bool(row and row[0])


def report(label: str, results: list[Timing]) -> None:
    base = next(r for r in results if r.method.startswith("hand SQL: flat"))
    counts = {r.method: r.count for r in results}
    print(f"\n{label}: count {results[0].count:,} from every method: {counts}")
    assert len(set(counts.values())) == 1, f"methods disagree: {counts}"
    print(
        f"{'method':<30}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'CPU ms':>9}"
        f"{'p50 / SQL':>11}{'p95 / SQL':>11}  goal p95 <= {GOAL_P95_MS:.0f} ms"
    )
    for r in results:
        ok = "met" if r.p(95) <= GOAL_P95_MS else "missed"
        print(
            f"{r.method:<30}{r.p(50):>9.0f}{r.p(95):>9.0f}{max(r.wall_ms):>9.0f}{statistics.median(r.cpu_ms):>9.0f}"
            f"{r.p(50) / base.p(50):>10.2f}x{r.p(95) / base.p(95):>10.2f}x  {ok}"
        )
    by_name = {r.method: r for r in results}
    if "live.count, rollup" in by_name:
        rollup, subqueries = by_name["live.count, rollup"], by_name["live.count, subqueries"]
        print(
            f"live.count with the rollup / without: p50 {rollup.p(50) / subqueries.p(50):.3f}x, "
            f"p95 {rollup.p(95) / subqueries.p(95):.3f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="built DuckDB file (read-only)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per method, after 2 warm-ups")
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: all cores)")
    parser.add_argument("--sorted-copy", type=Path, help="also time a clustered copy of the marts (built if absent)")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas method (it loads ~1 GiB)")
    parser.add_argument("--profile", action="store_true", help="print the compiled query's per-operator timings")
    parser.add_argument("--no-build", action="store_true", help=f"do not build {PROFILE_ROLLUPS} when it is missing")
    args = parser.parse_args()
    if not args.warehouse.exists():
        parser.error(f"no warehouse file at {args.warehouse}")

    project = Project(root=ROOT, warehouse_dir=args.warehouse.parent.parent)
    if not args.no_build and not rollup_is_current(args.warehouse):
        print(f"{PROFILE_ROLLUPS} is missing or stale in {args.warehouse}: building it on the published build")
        build_rollups(project)
    spec = parse_spec(SPEC)
    load_before = os.getloadavg()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, duckdb {duckdb.__version__}, pandas {pd.__version__}"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}")
    print(f"runs per method: {args.runs} (after {WARMUPS} warm-ups)")

    tables = [
        ("marts as built", measure("as built", project, args.warehouse, spec, args, with_pandas=not args.no_pandas))
    ]
    if args.sorted_copy:
        if not args.sorted_copy.exists():
            print(f"\nbuilding the sorted copy from {args.warehouse}")
            build_sorted_copy(args.warehouse, args.sorted_copy)
        tables.append(
            (
                "same marts, clustered copy",
                measure("clustered copy", project, args.sorted_copy, spec, args, with_pandas=False),
            )
        )
    for label, results in tables:
        report(label, results)
    if len(tables) == 2:
        built, copy = (next(r for r in results if r.method == "live.count, subqueries") for _, results in tables)
        print(f"\nlive.count (subqueries) p50 as built / clustered: {built.p(50) / copy.p(50):.2f}x")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
