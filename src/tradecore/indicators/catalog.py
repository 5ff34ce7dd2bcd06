"""The indicator catalogue: one row per indicator naming its batch function, its streaming
class, its inputs (in call order) and its TA-Lib counterpart, if any. Tests, the benchmark,
the docs and :func:`warmup` all iterate over this one table, so an indicator added here is
checked everywhere.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tradecore.indicators import momentum, overlap, statistic, streaming, trend, volatility, volume


@dataclass(frozen=True)
class Spec:
    name: str
    family: str
    func: Callable[..., object]
    stream: type
    inputs: tuple[str, ...]          # names among open, high, low, close, volume, real1, timestamps
    talib: str | None                # TA-Lib function name, None when TA-Lib lacks it
    params: dict = field(default_factory=dict)   # non-default parameters used by checks
    note: str = ""                   # the documented difference from TA-Lib, if any


def _s(name: str, family: str, module, inputs: str, talib: str | None = "",
       params: dict | None = None, note: str = "") -> Spec:
    return Spec(name, family, getattr(module, name), getattr(streaming, name.upper()),
                tuple(inputs.split()), name.upper() if talib == "" else talib, params or {}, note)


_C, _HL, _HLC, _OHLC, _HLCV = "close", "high low", "high low close", "open high low close", \
    "high low close volume"

SPECS: tuple[Spec, ...] = (
    # overlap
    _s("sma", "overlap", overlap, _C),
    _s("ema", "overlap", overlap, _C),
    _s("wma", "overlap", overlap, _C),
    _s("dema", "overlap", overlap, _C),
    _s("tema", "overlap", overlap, _C),
    _s("trima", "overlap", overlap, _C),
    _s("kama", "overlap", overlap, _C),
    _s("t3", "overlap", overlap, _C),
    _s("hma", "overlap", overlap, _C, None),
    _s("midpoint", "overlap", overlap, _C),
    _s("midprice", "overlap", overlap, _HL),
    _s("bbands", "overlap", overlap, _C),
    _s("avgprice", "price", overlap, _OHLC),
    _s("medprice", "price", overlap, _HL),
    _s("typprice", "price", overlap, _HLC),
    _s("wclprice", "price", overlap, _HLC),
    # momentum
    _s("rsi", "momentum", momentum, _C),
    _s("cmo", "momentum", momentum, _C),
    _s("stoch", "momentum", momentum, _HLC),
    _s("stochf", "momentum", momentum, _HLC),
    _s("stochrsi", "momentum", momentum, _C),
    _s("willr", "momentum", momentum, _HLC),
    _s("cci", "momentum", momentum, _HLC),
    _s("mfi", "momentum", momentum, _HLCV),
    _s("mom", "momentum", momentum, _C),
    _s("roc", "momentum", momentum, _C),
    _s("rocp", "momentum", momentum, _C),
    _s("rocr", "momentum", momentum, _C),
    _s("rocr100", "momentum", momentum, _C),
    _s("trix", "momentum", momentum, _C),
    _s("ultosc", "momentum", momentum, _HLC),
    _s("apo", "momentum", momentum, _C),
    _s("ppo", "momentum", momentum, _C),
    _s("macd", "momentum", momentum, _C),
    _s("macdfix", "momentum", momentum, _C),
    _s("bop", "momentum", momentum, _OHLC),
    # trend
    _s("plus_dm", "trend", trend, _HL),
    _s("minus_dm", "trend", trend, _HL),
    _s("plus_di", "trend", trend, _HLC),
    _s("minus_di", "trend", trend, _HLC),
    _s("dx", "trend", trend, _HLC),
    _s("adx", "trend", trend, _HLC),
    _s("adxr", "trend", trend, _HLC),
    _s("aroon", "trend", trend, _HL),
    _s("aroonosc", "trend", trend, _HL),
    _s("sar", "trend", trend, _HL),
    _s("supertrend", "trend", trend, _HLC, None),
    _s("ichimoku", "trend", trend, _HL, None),
    # volatility
    _s("trange", "volatility", volatility, _HLC),
    _s("atr", "volatility", volatility, _HLC),
    _s("natr", "volatility", volatility, _HLC),
    _s("keltner", "volatility", volatility, _HLC, None),
    _s("donchian", "volatility", volatility, _HL, None),
    _s("hv_close", "volatility", volatility, _C, None),
    _s("hv_parkinson", "volatility", volatility, _HL, None),
    _s("hv_garman_klass", "volatility", volatility, _OHLC, None),
    # volume
    _s("obv", "volume", volume, "close volume"),
    _s("ad", "volume", volume, _HLCV),
    _s("adosc", "volume", volume, _HLCV),
    _s("cmf", "volume", volume, _HLCV, None),
    _s("vwap", "volume", volume, _HLCV + " timestamps", None),
    _s("volume_profile", "volume", volume, "close volume", None, {"bin_width": 10.0}),
    # statistic
    _s("var", "statistic", statistic, _C),
    _s("stddev", "statistic", statistic, _C),
    _s("zscore", "statistic", statistic, _C, None),
    _s("linearreg", "statistic", statistic, _C),
    _s("linearreg_slope", "statistic", statistic, _C),
    _s("linearreg_intercept", "statistic", statistic, _C),
    _s("linearreg_angle", "statistic", statistic, _C),
    _s("tsf", "statistic", statistic, _C),
    _s("correl", "statistic", statistic, "high low"),
    _s("beta", "statistic", statistic, "high low"),
    _s("max", "statistic", statistic, _C),
    _s("min", "statistic", statistic, _C),
    _s("sum", "statistic", statistic, _C),
)

BY_NAME: dict[str, Spec] = {s.name: s for s in SPECS}


_M_TRIM_THRESHOLD = -1   # glibc mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_RETAIN_BYTES = 1 << 30


def retain_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks of up to 1 GiB in the heap for reuse instead
    of returning them to the kernel; True when it took effect (glibc only).

    Why: batch indicators allocate their outputs and a few temporaries (8 MB each at one
    million bars). By default glibc serves such a block with a fresh mmap, or trims the
    heap once a few are freed, and the next call then page-faults on every 4 KiB of it:
    measured here (a KVM guest) at about 1.7 us per fault, a two-temporary indicator spent 7 ms
    of its 9 ms in page faults. With the freed memory retained, repeated calls reuse
    already-mapped pages. The cost is a process that keeps its peak heap. It is a
    process-wide setting (every allocation by numpy, Numba, TA-Lib...), so it is made at
    start-up by :func:`warmup` (``retain_memory=False`` to leave malloc alone)."""
    import ctypes
    import ctypes.util
    import sys
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _RETAIN_BYTES)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, _RETAIN_BYTES))


def warmup(retain_memory: bool = True) -> float:
    """Compile (first run) or load from the Numba cache (later runs) every kernel by calling
    every batch function once on a small series with a NaN gap; returns the seconds spent.
    Call it at start-up, before any feed connects: never on the hot path. With
    ``retain_memory`` it also calls :func:`retain_freed_memory`."""
    if retain_memory:
        retain_freed_memory()
    t0 = time.perf_counter()
    n = 64
    rng = np.random.default_rng(0)
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    data = {"open": close + 0.1, "high": close + 1.0, "low": close - 1.0, "close": close,
            "volume": rng.uniform(1.0, 2.0, n),
            "timestamps": np.arange(n, dtype=np.int64) * 3_600_000_000_000}
    for k in ("open", "high", "low", "close", "volume"):
        data[k] = data[k].copy()
        data[k][n // 2] = np.nan
    for spec in SPECS:
        spec.func(*(data[k] for k in spec.inputs), **spec.params)
    return time.perf_counter() - t0
