"""Market data at rest: capture readers, bundled samples, (later) the Parquet store."""
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "samples"
