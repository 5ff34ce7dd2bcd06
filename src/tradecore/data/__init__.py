"""Market data at rest: capture readers, bundled samples, the Parquet store (recorder,
importers, replay), DuckDB queries and the data-quality monitor."""
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "samples"
