"""Synthetic raw data at any size, in the landing layout, and the committed demo seeds made from it.

    generate(out_dir, profiles=1_000_000)      every raw table as landing batches (Parquet)
    write_demo_seeds(Path("seeds/demo"))        the demo CSVs, byte for byte as committed

Everything is computed by DuckDB from ``hash(key, seed, salt)``, so a seed always gives the same rows (for a given
DuckDB version: a release that changed ``hash`` would change the data, and the demo-seed test would say so).
"""

from herald.generate.core import GenerateReport, Progress, generate
from herald.generate.seeds import write_demo_seeds

__all__ = ["GenerateReport", "Progress", "generate", "write_demo_seeds"]
