"""Runs the Spark side of the portability test in a process of its own, in one JVM.

Loading the raw data, the dbt build and the queries share one Spark session: the JVM takes 15–25 s to start
and holds the catalog (in memory, see tests/engines.spark_session), so the steps cannot run in processes of
their own, and the pytest process must not start a session (dbt's would be a different one).
dbt runs in this process through ``dbtRunner``, and its session method picks up the session started here.
dbt parses the project while the JVM starts and the raw data loads (dbt needs no connection to parse).

    python tests/spark_worker.py SPEC.json

SPEC.json holds ``landing_dir``, ``spark_dir``, ``schema``, ``dbt_build`` (the build command's arguments),
``dbt_vars`` (the ``--vars`` arguments, given to the parse and the build alike so the build reuses the
parse), ``queries`` and ``result_file``: the first value of each query is written there as a JSON list.
dbt's environment is this process's.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.engines import load_landing_into_spark, spark_session


def _log(message: str, started: float) -> None:
    print(f"spark_worker: {message} after {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    started = time.monotonic()
    session: dict[str, Any] = {}

    def start_and_load() -> None:
        try:
            session["spark"] = spark = spark_session(Path(spec["spark_dir"]))
            _log("session started", started)
            load_landing_into_spark(spark, Path(spec["landing_dir"]), spec["schema"])
            _log("raw data loaded", started)
        except BaseException as exc:  # reported by the main thread
            session["error"] = exc

    loader = threading.Thread(target=start_and_load)
    loader.start()
    from dbt.cli.main import dbtRunner

    dbt_vars = list(spec["dbt_vars"])
    parsed = dbtRunner().invoke(["parse", *dbt_vars])
    _log("dbt parse done", started)
    loader.join()
    spark = session.get("spark")
    try:
        if "error" in session:
            raise session["error"]
        if not parsed.success:
            print(f"dbt parse failed on spark: {parsed.exception or ''}", file=sys.stderr)
            return 1
        built = dbtRunner().invoke([*spec["dbt_build"], *dbt_vars])
        _log("dbt build done", started)
        if not built.success:
            print(f"dbt {' '.join(spec['dbt_build'])} failed on spark: {built.exception or ''}", file=sys.stderr)
            return 1
        assert spark is not None
        values = [spark.sql(q).collect()[0][0] for q in spec["queries"]]
        _log("queries done", started)
    finally:
        if spark is not None:
            spark.stop()
    # Figures are numbers (Spark returns Decimal for some sums); text figures stay text.
    values = [v if v is None or isinstance(v, str) else int(v) for v in values]
    Path(spec["result_file"]).write_text(json.dumps(values), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
