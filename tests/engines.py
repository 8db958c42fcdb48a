"""Throwaway database engines for the portability tests: a local PostgreSQL cluster and a local Spark session."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    dbname: str

    def env(self) -> dict[str, str]:
        return {
            "HERALD_TARGET": "postgres",
            "HERALD_PG_HOST": self.host,
            "HERALD_PG_PORT": str(self.port),
            "HERALD_PG_USER": self.user,
            "HERALD_PG_DBNAME": self.dbname,
        }


@contextmanager
def postgres_cluster() -> Iterator[Postgres]:
    """initdb + pg_ctl on a spare port (about a second); runs as the postgres user when we are root."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install -y postgresql (make test does)")
    # Not under pytest's tmp folder: that is private to root, and the server runs as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="herald-pg-"))
    data = base / "pgdata"
    data.mkdir(parents=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_user, initdb, "-A", "trust", "-U", "postgres", "-D", str(data)], check=True, capture_output=True
    )
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-o", opts, "-l", str(data / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        import psycopg2

        deadline = time.monotonic() + 20
        while True:
            try:
                conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        conn.autocommit = True
        conn.cursor().execute("create database herald")
        conn.close()
        yield Postgres("127.0.0.1", port, "postgres", "herald")
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def spark_session(spark_dir: Path):  # type: ignore[no-untyped-def]
    """A local Spark session for the dbt `spark` target, tuned for many small queries on tiny data.

    Started before dbt in the same process, it is the session dbt-spark's `session` method then uses: dbt's
    builder (profiles.yml) only gets this session back, so its static settings (Hive support, the Derby URL)
    are ignored with a warning and its runtime ones (shuffle partitions) are reapplied on every statement.
    The portability test builds ~110 nodes on a few thousand rows, so per-query overhead is what costs:

    - in-memory catalog, not Hive + Derby: the tables live in the warehouse dir as before, the catalog in this
      JVM, which the load, the build and the queries share (tests/spark_worker.py); every dbt statement
      (create/drop/rename table, create view, show table extended, describe extended) saves a metastore trip.
    - AQE starts from one shuffle partition (profiles.yml's 4 stay in force, AQE's initial number wins): one
      task per stage and one file per table on data this small.
    - no code generation (whole-stage off, expression factories interpreted): compiling with Janino, then
      JIT-compiling the classes, took a third of the executors' time; interpreting a few thousand rows is
      cheaper. Same SQL, same plans' semantics, same answers (the test compares them with DuckDB's).
    - the JVM compiles with its quick compiler only and collects garbage in one thread: a few minutes of many
      small queries on two cores spend less CPU that way than on optimising compilations and parallel
      collection.

    Measured on the portability test's build (2 cores): CPU 404 s -> 305 s, build 446 s -> 223 s.
    """
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.warehouse.dir", f"{spark_dir}/warehouse")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")  # as profiles.yml, which sets it on every statement
        .config("spark.sql.adaptive.coalescePartitions.initialPartitionNum", "1")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .config("spark.driver.memory", "2g")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )


def load_landing_into_spark(spark, landing_dir: Path, schema: str) -> None:  # type: ignore[no-untyped-def]
    """Land the raw batches as Spark tables in ``<schema>_raw`` through ``spark``, as a Spark warehouse's loader
    would.

    dbt-spark loads seeds through INSERT statements at a few hundred rows a second; the raw data of a real
    Spark warehouse arrives as files, so this reads the same typed Parquet batches DuckDB reads.
    """
    from herald.raw_schema import ALL_TABLES

    spark.sql(f"create database if not exists {schema}_raw")
    for table in ALL_TABLES:
        frame = spark.read.option("mergeSchema", "true").parquet(str(landing_dir / table.name))
        for field in frame.schema.fields:  # Parquet's zone-less timestamps read as TIMESTAMP_NTZ
            if field.dataType.typeName() == "timestamp_ntz":
                frame = frame.withColumn(field.name, frame[field.name].cast("timestamp"))
        frame.write.mode("overwrite").saveAsTable(f"{schema}_raw.{table.name}")


_PG_TYPES = {
    "varchar": "text",
    "integer": "bigint",
    "double": "double precision",
    "date": "date",
    "timestamp": "timestamp",
}


def load_landing_into_postgres(landing_dir: Path, pg: Postgres, schema: str) -> None:
    """Land the raw batches as PostgreSQL tables in ``<schema>_raw`` with COPY, as a server warehouse's loader would.

    dbt seeds insert through parameterised statements (minutes for the demo's 60k events); COPY takes a second.
    """
    import duckdb
    import psycopg2

    from herald.landing import arrow_schema
    from herald.raw_schema import ALL_TABLES, BATCH_COLUMNS

    conn = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=pg.dbname)
    try:
        cur = conn.cursor()
        cur.execute(f"create schema if not exists {schema}_raw")
        for table in ALL_TABLES:
            names = arrow_schema(table).names
            columns = {c.name: c for c in (*table.columns, *BATCH_COLUMNS)}
            ddl = ", ".join(f"{n} {_PG_TYPES[columns[n].type]}" for n in names)
            cur.execute(f"drop table if exists {schema}_raw.{table.name}")
            cur.execute(f"create table {schema}_raw.{table.name} ({ddl})")
            csv_path = Path(tempfile.mkdtemp(prefix="herald-copy-")) / f"{table.name}.csv"
            batches = f"{landing_dir / table.name}/*.parquet"
            duckdb.sql(f"select {', '.join(names)} from read_parquet('{batches}', union_by_name=true)").write_csv(
                str(csv_path)
            )
            with open(csv_path, encoding="utf-8") as fh:
                cur.copy_expert(f"copy {schema}_raw.{table.name} from stdin with (format csv, header true)", fh)
            shutil.rmtree(csv_path.parent)
        conn.commit()
    finally:
        conn.close()
