"""Runs Spark work in a process of its own: its JVM holds the Derby metastore until it exits, so the pytest
process must not start one (dbt's own Spark session could not open the metastore after it).

    python tests/spark_worker.py load  LANDING_DIR SPARK_DIR SCHEMA
    python tests/spark_worker.py query SPARK_DIR < queries.json   -> prints a JSON list of first values
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.engines import load_landing_into_spark, spark_session


def main(argv: list[str]) -> None:
    if argv[0] == "load":
        load_landing_into_spark(Path(argv[1]), Path(argv[2]), argv[3])
    elif argv[0] == "query":
        queries = json.load(sys.stdin)
        spark = spark_session(Path(argv[1]))
        try:
            values = [spark.sql(q).collect()[0][0] for q in queries]
        finally:
            spark.stop()
        # Figures are numbers (Spark returns Decimal for some sums); text figures stay text.
        print("RESULT " + json.dumps([v if v is None or isinstance(v, str) else int(v) for v in values]))


if __name__ == "__main__":
    main(sys.argv[1:])
