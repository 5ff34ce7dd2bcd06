"""Build the Cython kernels of tradecore._fast.

pyproject.toml holds the metadata; this file exists only because extension lists cannot be
declared there with build modes. The extension list is explicit (no glob) so that a stray .pyx
never becomes a module by accident.

Build modes (environment):
  TRADECORE_DEBUG=1     bounds/wraparound/initialized checks on, assertions kept, -O0 -g
  TRADECORE_ANNOTATE=1  write Cython's annotated HTML to build/annotated/
"""
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

FAST_MODULES = [
    "fixed",      # decimal strings <-> int64 ticks/lots, exactly
    "book",       # the L2 order book
    "jsonscan",   # hand-written scanner for Binance depth frames
    "checksum",   # CRC32 book checksums (Kraken, OKX)
    "riskgate",   # the pre-trade risk gate
    "arb",        # cross-venue and triangular arbitrage detectors
    "amm",        # Uniswap V2 quotes, 256-bit-safe (MEV sizing)
    "replay",     # the gated backtest replay loop (calls Python only when a listener cares)
    "streamk",    # building blocks of the streaming indicators (rolling sums, deques, ...)
    "wire",       # order frames in the venue's bytes (Binance order.place after session.logon)
    "slots",      # __slots__ records (the order) read from C by slot offsets
    "orderrec",   # the order record on the order path: spec check, journal intent line
    "orderpath",  # the execution engine's submit, compiled (its reference stays in Python)
    "syncer",     # the journal's periodic fdatasync on a thread that never takes the GIL
    "fanout",     # the node's hook for a changed book (engine.py _book_hook), compiled
    "arenas",     # Python's small-object arenas kept mapped and faulted in (live policy)
    "probes",     # latency probes of the production metrics, recorded from C
]

DEBUG = os.environ.get("TRADECORE_DEBUG") == "1"
ANNOTATE = os.environ.get("TRADECORE_ANNOTATE") == "1"

directives = {
    "language_level": 3,
    "embedsignature": True,
    "cdivision": True,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
}
cflags = ["-O0", "-g"] if DEBUG else ["-O3"]
macros = [] if DEBUG else [("CYTHON_WITHOUT_ASSERTIONS", "1")]

extensions = [
    Extension(
        f"tradecore._fast.{name}",
        [f"src/tradecore/_fast/{name}.pyx"],
        extra_compile_args=cflags,
        define_macros=macros,
    )
    for name in FAST_MODULES
]

if ANNOTATE:
    os.makedirs("build/annotated", exist_ok=True)

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        include_path=["src"],
        annotate=ANNOTATE,
        build_dir="build/annotated" if ANNOTATE else None,
        nthreads=os.cpu_count() or 1,
    ),
)
