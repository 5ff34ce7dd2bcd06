"""The features a model sees, behind one small protocol, and a built-in candle feature set.

`FeatureSource` is the adapter the ML code depends on: a feature set has `names`, computes a
whole history at once with `batch(candles)` (training, backtests) and hands out a `live()`
stream whose `update(bar)` returns the same row the batch computes for that bar (the live path).
The indicator pipeline's `FeatureSet` plugs in behind the same protocol; `CandleFeatures` here is
a minimal built-in set so training, inference and the strategy work and are tested on their own.

No look-ahead by construction: row t uses bars 0..t only (a test truncates the history after t
and checks row t is unchanged). Warm-up rows (not enough history) are NaN in `batch` and None
from `update`.

Batch and live run the same compiled step function (`_step`: rolling sums over ring buffers), batch
in a Numba loop over the history and live as one compiled call per bar, so they agree by
construction; `CandleLiveReference` is the same recurrence in plain Python, the reference the
tests compare both with (1e-12). Rolling sums drift by rounding over long runs; at the sizes
used here (|r| < 1, 1e5 bars) the drift is below 1e-12 and far below anything a model resolves.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numba as nb
import numpy as np
import orjson

__all__ = ["Candles", "FeatureSource", "LiveFeatures", "CandleFeatures", "CandleLiveReference",
           "schema_of", "schema_hash", "load_candles"]


@dataclass(frozen=True)
class Candles:
    """OHLCV bars in time order (close time semantics: the bar at ts_ns is complete)."""
    ts_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        n = len(self.ts_ns)
        for name in ("open", "high", "low", "close", "volume"):
            a = getattr(self, name)
            if len(a) != n:
                raise ValueError(f"Candles {self.source!r}: {name} has {len(a)} rows, ts_ns {n}")
        if n > 1 and np.any(np.diff(self.ts_ns) <= 0):
            i = int(np.flatnonzero(np.diff(self.ts_ns) <= 0)[0]) + 1
            raise ValueError(f"Candles {self.source!r}: timestamps must increase (row {i})")
        if n and not np.all(self.close > 0):
            raise ValueError(f"Candles {self.source!r}: close prices must be > 0")

    def __len__(self) -> int:
        return len(self.ts_ns)

    def slice(self, start: int, stop: int) -> "Candles":
        return Candles(self.ts_ns[start:stop], self.open[start:stop], self.high[start:stop],
                       self.low[start:stop], self.close[start:stop], self.volume[start:stop],
                       self.source)


def load_candles(path: str, start: str | None = None, end: str | None = None) -> Candles:
    """Read a shared-data candle CSV (`ts_ms,datetime_utc,open,high,low,close,volume`, optionally
    gzipped). `start`/`end` are ISO dates (inclusive start, exclusive end)."""
    import gzip
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        header = f.readline().strip().split(",")
        want = ["ts_ms", "open", "high", "low", "close", "volume"]
        missing = [w for w in want if w not in header]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}; header is {header}")
        cols = [header.index(w) for w in want]
        raw = np.loadtxt(f, delimiter=",", usecols=cols, dtype=np.float64, ndmin=2)
    ts = raw[:, 0].astype(np.int64) * 1_000_000
    keep = np.ones(len(ts), dtype=bool)
    if start:
        keep &= ts >= np.datetime64(start, "ns").astype(np.int64)
    if end:
        keep &= ts < np.datetime64(end, "ns").astype(np.int64)
    r = raw[keep]
    if not len(r):
        raise ValueError(f"{path}: no candles in [{start}, {end})")
    return Candles(ts[keep], r[:, 1].copy(), r[:, 2].copy(), r[:, 3].copy(), r[:, 4].copy(),
                   r[:, 5].copy(), source=str(path))


class LiveFeatures(Protocol):
    def update(self, ts_ns: int, open: float, high: float, low: float, close: float,
               volume: float) -> np.ndarray | None: ...


class FeatureSource(Protocol):
    """What models are trained on and fed with. `config` and `names` make the schema."""
    names: tuple[str, ...]
    config: dict[str, Any]

    def batch(self, candles: Candles) -> np.ndarray: ...
    def live(self) -> LiveFeatures: ...


def schema_of(src: FeatureSource) -> dict[str, Any]:
    """The feature schema a model is bound to: which source, its config, the column names."""
    return {"source": type(src).__name__, "config": dict(src.config), "names": list(src.names)}


def schema_hash(schema: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


# --------------------------------------------------------------------------- the built-in set

# State of the recurrences, one float64 array (one argument to unbox per live call):
#   [0:6]  running sums of r, r^2, up-moves, down-moves, log volume, log volume^2
#   [6]    bars seen
#   then rings: 1-bar returns, up-moves, down-moves, log volumes (window each), closes (hmax+1)
_S_T = 6
_S_RINGS = 7


def _state_size(window: int, hmax: int) -> int:
    return _S_RINGS + 4 * window + hmax + 1


@nb.njit(cache=True, inline="always")
def _step(st, horizons, window, hmax, h, l, c, v, out):  # pragma: no cover - numba
    """Advance the recurrences by one bar; write the row into `out`; False during warm-up."""
    t = int(st[6])
    j = t % window
    hm1 = hmax + 1
    b_r, b_up, b_dn, b_lv, b_c = 7, 7 + window, 7 + 2 * window, 7 + 3 * window, 7 + 4 * window
    lvt = math.log(v + 1.0)
    if t >= 1:
        r = math.log(c / st[b_c + (t - 1) % hm1])
    else:
        r = 0.0
    g = r if r > 0.0 else 0.0
    d = -r if r < 0.0 else 0.0
    if t >= window:
        o1 = st[b_r + j]
        ov = st[b_lv + j]
        st[0] -= o1
        st[1] -= o1 * o1
        st[2] -= st[b_up + j]
        st[3] -= st[b_dn + j]
        st[4] -= ov
        st[5] -= ov * ov
    st[b_r + j] = r
    st[b_up + j] = g
    st[b_dn + j] = d
    st[b_lv + j] = lvt
    st[0] += r
    st[1] += r * r
    st[2] += g
    st[3] += d
    st[4] += lvt
    st[5] += lvt * lvt
    st[b_c + t % hm1] = c
    st[6] = t + 1
    if t < window or t < hmax:
        return False
    nh = horizons.shape[0]
    for k in range(nh):
        out[k] = math.log(c / st[b_c + (t - horizons[k]) % hm1])
    mean = st[0] / window
    var = st[1] / window - mean * mean
    out[nh] = math.sqrt(var) if var > 0.0 else 0.0
    tot = st[2] + st[3]
    out[nh + 1] = (st[2] / tot - 0.5) if tot > 0.0 else 0.0
    vm = st[4] / window
    vv = st[5] / window - vm * vm
    out[nh + 2] = (lvt - vm) / math.sqrt(vv) if vv > 1e-18 else 0.0
    out[nh + 3] = math.log(h / l) if l > 0.0 else 0.0
    rng = h - l
    out[nh + 4] = ((c - l) / rng - 0.5) if rng > 0.0 else 0.0
    return True


@nb.njit(cache=True)
def _batch_kernel(h, l, c, v, horizons, window, hmax, st, out):  # pragma: no cover - numba
    for t in range(c.shape[0]):
        if not _step(st, horizons, window, hmax, h[t], l[t], c[t], v[t], out[t]):
            out[t, :] = np.nan


@nb.njit(cache=True)
def _live_kernel(st, horizons, window, hmax, h, l, c, v, out):  # pragma: no cover - numba
    return _step(st, horizons, window, hmax, h, l, c, v, out)


class _CandleLive:
    """O(1) per bar: the batch kernel's own step function, one compiled call per bar."""

    __slots__ = ("_st", "_h", "_w", "_hmax", "_out")

    def __init__(self, horizons: tuple[int, ...], window: int) -> None:
        self._h = np.asarray(horizons, dtype=np.int64)
        self._w = window
        self._hmax = max(horizons)
        self._st = np.zeros(_state_size(window, self._hmax))
        self._out = np.empty(len(horizons) + 5, dtype=np.float64)

    def update(self, ts_ns: int, open: float, high: float, low: float, close: float,
               volume: float) -> np.ndarray | None:
        """The feature row of this bar (a view reused by the next call), None during warm-up."""
        if not close > 0.0:
            raise ValueError(f"feature update at {ts_ns}: close must be > 0, got {close!r}")
        if _live_kernel(self._st, self._h, self._w, self._hmax, float(high), float(low),
                        float(close), float(volume), self._out):
            return self._out
        return None


class CandleLiveReference:
    """Plain-Python reference of `_step` (the same operations in the same order on Python
    floats); tests compare the compiled batch and live paths with it."""

    __slots__ = ("_h", "_w", "_hmax", "_closes", "_r1", "_up", "_dn", "_lv", "_s", "_t",
                 "_out")

    def __init__(self, horizons: tuple[int, ...], window: int) -> None:
        self._h = horizons
        self._w = window
        self._hmax = max(horizons)
        self._closes = [0.0] * (self._hmax + 1)      # ring of the last hmax+1 closes
        self._r1 = [0.0] * window
        self._up = [0.0] * window
        self._dn = [0.0] * window
        self._lv = [0.0] * window
        self._s = [0.0] * 6                          # r, r2, up, dn, v, v2
        self._t = 0
        self._out = np.empty(len(horizons) + 5, dtype=np.float64)

    def update(self, ts_ns: int, open: float, high: float, low: float, close: float,
               volume: float) -> np.ndarray | None:
        """The feature row of this bar (a view reused by the next call), None during warm-up."""
        if not close > 0.0:
            raise ValueError(f"feature update at {ts_ns}: close must be > 0, got {close!r}")
        t, w, s = self._t, self._w, self._s
        cl = self._closes
        hm1 = self._hmax + 1
        lvt = math.log(volume + 1.0)
        j = t % w
        r = math.log(close / cl[(t - 1) % hm1]) if t >= 1 else 0.0
        g = r if r > 0.0 else 0.0
        d = -r if r < 0.0 else 0.0
        if t >= w:
            o1, ou, od, ov = self._r1[j], self._up[j], self._dn[j], self._lv[j]
            s[0] -= o1
            s[1] -= o1 * o1
            s[2] -= ou
            s[3] -= od
            s[4] -= ov
            s[5] -= ov * ov
        self._r1[j], self._up[j], self._dn[j], self._lv[j] = r, g, d, lvt
        s[0] += r
        s[1] += r * r
        s[2] += g
        s[3] += d
        s[4] += lvt
        s[5] += lvt * lvt
        cl[t % hm1] = close
        self._t = t + 1
        if t < w or t < self._hmax:
            return None
        out = self._out
        nh = len(self._h)
        for k, hz in enumerate(self._h):
            out[k] = math.log(close / cl[(t - hz) % hm1])
        mean = s[0] / w
        var = s[1] / w - mean * mean
        out[nh] = math.sqrt(var) if var > 0.0 else 0.0
        tot = s[2] + s[3]
        out[nh + 1] = (s[2] / tot - 0.5) if tot > 0.0 else 0.0
        vm = s[4] / w
        vv = s[5] / w - vm * vm
        out[nh + 2] = (lvt - vm) / math.sqrt(vv) if vv > 1e-18 else 0.0
        out[nh + 3] = math.log(high / low) if low > 0.0 else 0.0
        rng = high - low
        out[nh + 4] = ((close - low) / rng - 0.5) if rng > 0.0 else 0.0
        return out


class CandleFeatures:
    """Log returns over `horizons` bars, rolling volatility of 1-bar returns, an RSI-like
    up-move share (Cutler's RSI / 100 - 0.5), a volume z-score (of log volume), the bar's
    log range and the close's position in the bar; volatility/RSI/volume over `window` bars."""

    def __init__(self, horizons: Sequence[int] = (1, 4, 12, 24), window: int = 24) -> None:
        hz = tuple(int(h) for h in horizons)
        if not hz or any(h < 1 for h in hz) or len(set(hz)) != len(hz):
            raise ValueError(f"CandleFeatures: horizons must be distinct ints >= 1, got "
                             f"{horizons!r}")
        if int(window) < 2:
            raise ValueError(f"CandleFeatures: window must be >= 2 bars, got {window!r}")
        self.horizons = hz
        self.window = int(window)
        self.config: dict[str, Any] = {"horizons": list(hz), "window": self.window}
        self.names: tuple[str, ...] = tuple(
            [f"ret_{h}" for h in hz] + [f"vol_{window}", f"rsi_{window}", f"volz_{window}",
                                        "range", "close_pos"])

    @property
    def warmup(self) -> int:
        """Index of the first complete row."""
        return max(self.window, max(self.horizons))

    def batch(self, candles: Candles) -> np.ndarray:
        out = np.empty((len(candles), len(self.names)), dtype=np.float64)
        hmax = max(self.horizons)
        _batch_kernel(np.ascontiguousarray(candles.high, dtype=np.float64),
                      np.ascontiguousarray(candles.low, dtype=np.float64),
                      np.ascontiguousarray(candles.close, dtype=np.float64),
                      np.ascontiguousarray(candles.volume, dtype=np.float64),
                      np.asarray(self.horizons, dtype=np.int64), self.window, hmax,
                      np.zeros(_state_size(self.window, hmax)), out)
        return out

    def live(self) -> _CandleLive:
        return _CandleLive(self.horizons, self.window)

    def live_reference(self) -> CandleLiveReference:
        return CandleLiveReference(self.horizons, self.window)


class _PipelineLive:
    __slots__ = ("_live",)

    def __init__(self, live) -> None:
        self._live = live

    def update(self, ts_ns: int, open: float, high: float, low: float, close: float,
               volume: float) -> np.ndarray:
        return self._live.update({"ts_ns": ts_ns, "open": open, "high": high, "low": low,
                                  "close": close, "volume": volume})


class PipelineFeatures:
    """The indicator feature pipeline (tradecore.indicators.features.FeatureSet) behind the
    FeatureSource protocol: by default its candle families (CANDLE_FEATURES, 143 columns: no
    book or trade-flow inputs, which candles do not carry). Batch and live rows are equal by
    the pipeline's own contract (tested there and through this adapter)."""

    def __init__(self, features: Sequence[Any] | None = None) -> None:
        from tradecore.indicators.features import CANDLE_FEATURES, FeatureSet
        cfg = list(CANDLE_FEATURES if features is None else features)
        self._fs = FeatureSet(cfg)
        if self._fs.depth or "buy_volume" in self._fs.needs:
            raise ValueError("features: candle models take candle families only (no 'book' or "
                             "'trade_flow' entries)")
        self.names = tuple(self._fs.names)
        # JSON-able: tuples (family, params) become lists, which FeatureSet also accepts
        self.config = {"features": [list(e) if isinstance(e, tuple) else e for e in cfg]}

    def warmup(self) -> int:
        from tradecore.indicators.features import warmup
        warmup()
        return len(self.names)

    def batch(self, candles: Candles) -> np.ndarray:
        X, _ = self._fs.batch({"ts_ns": candles.ts_ns, "open": candles.open,
                               "high": candles.high, "low": candles.low,
                               "close": candles.close, "volume": candles.volume})
        return X

    def live(self) -> _PipelineLive:
        return _PipelineLive(self._fs.live())


def feature_source_from_config(cfg: dict[str, Any] | None) -> CandleFeatures | PipelineFeatures:
    """`source = "CandleFeatures"` (the small built-in set: horizons, window) or
    `source = "FeatureSet"` (the indicator pipeline: `features`, a FeatureSet config list;
    default: its candle families)."""
    cfg = dict(cfg or {})
    kind = cfg.pop("source", "CandleFeatures")
    if kind == "FeatureSet":
        unknown = set(cfg) - {"features"}
        if unknown:
            raise ValueError(f"features: unknown keys {sorted(unknown)}; expected features")
        return PipelineFeatures(cfg.get("features"))
    if kind != "CandleFeatures":
        raise ValueError(f"features.source: unknown feature source {kind!r}; expected "
                         f"'CandleFeatures' or 'FeatureSet'")
    unknown = set(cfg) - {"horizons", "window"}
    if unknown:
        raise ValueError(f"features: unknown keys {sorted(unknown)}; expected horizons, window")
    return CandleFeatures(**cfg)
