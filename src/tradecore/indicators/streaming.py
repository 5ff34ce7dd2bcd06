"""Streaming indicators: one object per indicator, ``update(<the batch inputs of one bar>)``
in O(1) returns what the batch function returns at that bar (NaN during warm-up; a tuple in
the batch output order for multi-output indicators). Class names are the batch names in
upper case (``RSI(timeperiod=14).update(close)``), with the same parameters and defaults.

A non-finite input is a gap (tested inline as ``x - x + ... != 0.0``: 0.0 for finite
floats, NaN for NaN or inf, and cheaper than a call): the object resets and returns NaN, so
after a gap it warms up again, exactly as the batch functions restart after a gap. Exceptions to O(1): CCI is
O(timeperiod) per bar (mean absolute deviation has no running form), and the blocks that
recompute their sums exactly every ``timeperiod`` bars are amortised O(1).
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from tradecore._fast import streamk as sk
from tradecore.indicators import _stream_core as s
from tradecore.indicators._core import NOISE_RTOL
from tradecore.indicators._stream_core import NAN, Indicator
from tradecore.indicators.momentum import TIE_RTOL
from tradecore.indicators.volume import MAX_PROFILE_BINS, NS_PER_DAY

NAN2 = (NAN, NAN)
NAN3 = (NAN, NAN, NAN)
NAN4 = (NAN, NAN, NAN, NAN)
_LN2 = math.log(2.0)


# -- overlap --------------------------------------------------------------------------------

class SMA(Indicator):
    __slots__ = ("_b",)

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        self._b = sk.Sma(s.period("timeperiod", timeperiod))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._b.update(real)


class EMA(Indicator):
    __slots__ = ("_b",)

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        p = s.period("timeperiod", timeperiod)
        self._b = sk.Ema(p, 2.0 / (p + 1))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._b.update(real)


class WMA(Indicator):
    __slots__ = ("_b",)

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        self._b = sk.Wma(s.period("timeperiod", timeperiod))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._b.update(real)


class DEMA(Indicator):
    __slots__ = ("_e1", "_e2")

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        p = s.period("timeperiod", timeperiod)
        self._e1 = sk.Ema(p, 2.0 / (p + 1))
        self._e2 = sk.Ema(p, 2.0 / (p + 1))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        e1 = self._e1.update(real)
        return 2.0 * e1 - self._e2.update(e1)


class TEMA(Indicator):
    __slots__ = ("_e1", "_e2", "_e3")

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        p = s.period("timeperiod", timeperiod)
        k = 2.0 / (p + 1)
        self._e1, self._e2, self._e3 = sk.Ema(p, k), sk.Ema(p, k), sk.Ema(p, k)

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        e1 = self._e1.update(real)
        e2 = self._e2.update(e1)
        return 3.0 * e1 - 3.0 * e2 + self._e3.update(e2)


class TRIMA(Indicator):
    __slots__ = ("_a", "_b")

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        p = s.period("timeperiod", timeperiod)
        a = (p + 1) // 2 if p % 2 else p // 2
        b = a if p % 2 else a + 1
        self._a, self._b = sk.Sma(a), sk.Sma(b)

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._b.update(self._a.update(real))


class KAMA(Indicator):
    __slots__ = ("_k",)

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        self._k = sk.Kama(s.period("timeperiod", timeperiod))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._k.update(real)


class T3(Indicator):
    __slots__ = ("_e", "_c")

    def __init__(self, timeperiod: int = 5, vfactor: float = 0.7) -> None:
        self._args = (timeperiod, vfactor)
        p = s.period("timeperiod", timeperiod)
        v = s.real("vfactor", vfactor, 0.0, 1.0)
        k = 2.0 / (p + 1)
        self._e = [sk.Ema(p, k, 0) for _ in range(6)]
        a2 = v * v
        c1 = -a2 * v
        c2 = 3.0 * (a2 - c1)
        c3 = -6.0 * a2 - 3.0 * (v - c1)
        c4 = 1.0 + 3.0 * v - c1 + 3.0 * a2
        self._c = (c1, c2, c3, c4)

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        e = self._e
        e1 = e[0].update(real)
        e2 = e[1].update(e1)
        e3 = e[2].update(e2)
        e4 = e[3].update(e3)
        e5 = e[4].update(e4)
        e6 = e[5].update(e5)
        c1, c2, c3, c4 = self._c
        return c1 * e6 + c2 * e5 + c3 * e4 + c4 * e3


class HMA(Indicator):
    __slots__ = ("_half", "_full", "_out")

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        p = s.period("timeperiod", timeperiod)
        self._half, self._full, self._out = sk.Wma(p // 2), sk.Wma(p), sk.Wma(int(math.sqrt(p)))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._out.update(2.0 * self._half.update(real) - self._full.update(real))


class MIDPOINT(Indicator):
    __slots__ = ("_hl",)

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._hl = sk.HighLow(s.period("timeperiod", timeperiod))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._hl.mid(real, real)


class MIDPRICE(Indicator):
    __slots__ = ("_hl",)

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._hl = sk.HighLow(s.period("timeperiod", timeperiod))

    def update(self, high: float, low: float) -> float:
        if high - high + low - low != 0.0:
            self.reset()
            return NAN
        return self._hl.mid(high, low)


class BBANDS(Indicator):
    __slots__ = ("_ma", "_var", "_up", "_dn")

    def __init__(self, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0,
                 matype: int = 0) -> None:
        self._args = (timeperiod, nbdevup, nbdevdn, matype)
        p = s.period("timeperiod", timeperiod)
        self._up = s.real("nbdevup", nbdevup, -3e37)
        self._dn = s.real("nbdevdn", nbdevdn, -3e37)
        self._ma = sk.ma(p, s.matype("matype", matype))
        self._var = sk.RollingVar(p)

    def update(self, real: float) -> tuple[float, float, float]:
        if real - real != 0.0:
            self.reset()
            return NAN3
        mid = self._ma.update(real)
        sd = math.sqrt(self._var.update(real))  # NaN during warm-up
        return mid + self._up * sd, mid, mid - self._dn * sd


class AVGPRICE(Indicator):
    __slots__ = ()

    def __init__(self) -> None:
        self._args = ()

    def update(self, open: float, high: float, low: float, close: float) -> float:  # noqa: A002
        if open - open + high - high + low - low + close - close != 0.0:
            return NAN
        return (open + high + low + close) / 4.0


class MEDPRICE(Indicator):
    __slots__ = ()

    def __init__(self) -> None:
        self._args = ()

    def update(self, high: float, low: float) -> float:
        if high - high + low - low != 0.0:
            return NAN
        return (high + low) / 2.0


class TYPPRICE(Indicator):
    __slots__ = ()

    def __init__(self) -> None:
        self._args = ()

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            return NAN
        return (high + low + close) / 3.0


class WCLPRICE(Indicator):
    __slots__ = ()

    def __init__(self) -> None:
        self._args = ()

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            return NAN
        return (high + low + close * 2.0) / 4.0


# -- momentum -------------------------------------------------------------------------------

class _WilderGainLoss:
    """The Wilder average gain and loss of momentum._rsi_like."""

    __slots__ = ("p", "inv", "n", "prev", "g", "lo")

    def __init__(self, p: int) -> None:
        self.p = p
        self.inv = 1.0 / p
        self.n = 0
        self.prev = NAN
        self.g = 0.0
        self.lo = 0.0

    def update(self, x: float) -> bool:
        """True once (g, lo) hold the smoothed averages of this bar."""
        if x != x:
            return False
        n = self.n
        self.n = n + 1
        p = self.p
        if n == 0:
            self.prev = x
            return False
        d = x - self.prev
        self.prev = x
        if n <= p:
            if d < 0:
                self.lo -= d
            else:
                self.g += d
            if n < p:
                return False
            self.g /= p
            self.lo /= p
            return True
        lo = self.lo * (p - 1)
        g = self.g * (p - 1)
        if d < 0:
            lo -= d
        else:
            g += d
        inv = self.inv
        self.lo = lo * inv
        self.g = g * inv
        return True


class RSI(Indicator):
    __slots__ = ("_w",)

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._w = _WilderGainLoss(s.period("timeperiod", timeperiod))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        w = self._w
        if not w.update(real):
            return NAN
        t = w.g + w.lo
        return 100.0 * (w.g / t) if t != 0.0 else 0.0


class CMO(RSI):
    __slots__ = ()

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        w = self._w
        if not w.update(real):
            return NAN
        t = w.g + w.lo
        return 100.0 * ((w.g - w.lo) / t) if t != 0.0 else 0.0


def _FastK(p: int) -> sk.HighLow:
    """The fast stochastic %K of the last p bars (c.high_low_window mode 1): its ``fastk``."""
    return sk.HighLow(p, NOISE_RTOL)


class STOCH(Indicator):
    __slots__ = ("_fk", "_k", "_d")

    def __init__(self, fastk_period: int = 5, slowk_period: int = 3, slowk_matype: int = 0,
                 slowd_period: int = 3, slowd_matype: int = 0) -> None:
        self._args = (fastk_period, slowk_period, slowk_matype, slowd_period, slowd_matype)
        self._fk = _FastK(s.period("fastk_period", fastk_period, 1))
        self._k = sk.ma(s.period("slowk_period", slowk_period, 1), s.matype("slowk_matype", slowk_matype))
        self._d = sk.ma(s.period("slowd_period", slowd_period, 1), s.matype("slowd_matype", slowd_matype))

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN2
        k = self._k.update(self._fk.fastk(high, low, close))
        d = self._d.update(k)
        return (k if d == d else NAN), d


class STOCHF(Indicator):
    __slots__ = ("_fk", "_d")

    def __init__(self, fastk_period: int = 5, fastd_period: int = 3, fastd_matype: int = 0) -> None:
        self._args = (fastk_period, fastd_period, fastd_matype)
        self._fk = _FastK(s.period("fastk_period", fastk_period, 1))
        self._d = sk.ma(s.period("fastd_period", fastd_period, 1), s.matype("fastd_matype", fastd_matype))

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN2
        k = self._fk.fastk(high, low, close)
        d = self._d.update(k)
        return (k if d == d else NAN), d


class STOCHRSI(Indicator):
    __slots__ = ("_rsi", "_f")

    def __init__(self, timeperiod: int = 14, fastk_period: int = 5, fastd_period: int = 3,
                 fastd_matype: int = 0) -> None:
        self._args = (timeperiod, fastk_period, fastd_period, fastd_matype)
        self._rsi = RSI(timeperiod)
        self._f = STOCHF(fastk_period, fastd_period, fastd_matype)

    def update(self, real: float) -> tuple[float, float]:
        if real - real != 0.0:
            self.reset()
            return NAN2
        r = self._rsi.update(real)
        if r != r:
            return NAN2
        return self._f.update(r, r, r)


class WILLR(Indicator):
    __slots__ = ("_hl",)

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._hl = sk.HighLow(s.period("timeperiod", timeperiod), NOISE_RTOL)

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        return self._hl.willr(high, low, close)


class CCI(Indicator):
    """O(timeperiod) per update (mean absolute deviation), like the batch kernel."""

    __slots__ = ("_c",)

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._c = sk.Cci(s.period("timeperiod", timeperiod), NOISE_RTOL)

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        return self._c.update(high, low, close)


class MFI(Indicator):
    __slots__ = ("_m",)

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._m = sk.Mfi(s.period("timeperiod", timeperiod), TIE_RTOL)

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        if high - high + low - low + close - close + volume - volume != 0.0:
            self.reset()
            return NAN
        return self._m.update(high, low, close, volume)


class _Lagged(Indicator):
    """Base of MOM/ROC*: needs the value timeperiod bars ago."""

    __slots__ = ("_p", "_ring", "_n")

    def __init__(self, timeperiod: int = 10) -> None:
        self._args = (timeperiod,)
        self._p = s.period("timeperiod", timeperiod, 1)
        self._ring = [0.0] * (self._p + 1)
        self._n = 0

    def _base(self, real: float) -> float:
        q = self._p + 1
        n = self._n
        self._ring[n % q] = real
        self._n = n + 1
        return self._ring[(n - self._p) % q] if n >= self._p else NAN


class MOM(_Lagged):
    __slots__ = ()

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return real - self._base(real)


class ROC(_Lagged):
    __slots__ = ()

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        b = self._base(real)
        if b != b:
            return NAN
        return ((real / b) - 1.0) * 100.0 if b != 0.0 else 0.0


class ROCP(_Lagged):
    __slots__ = ()

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        b = self._base(real)
        if b != b:
            return NAN
        return (real - b) / b if b != 0.0 else 0.0


class ROCR(_Lagged):
    __slots__ = ()

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        b = self._base(real)
        if b != b:
            return NAN
        return real / b if b != 0.0 else 0.0


class ROCR100(_Lagged):
    __slots__ = ()

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        b = self._base(real)
        if b != b:
            return NAN
        return (real / b) * 100.0 if b != 0.0 else 0.0


class TRIX(Indicator):
    __slots__ = ("_e", "_prev")

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        p = s.period("timeperiod", timeperiod, 1)
        k = 2.0 / (p + 1)
        self._e = (sk.Ema(p, k), sk.Ema(p, k), sk.Ema(p, k))
        self._prev = NAN

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        e1, e2, e3 = self._e
        v = e3.update(e2.update(e1.update(real)))
        b = self._prev
        self._prev = v
        if b != b or v != v:
            return NAN
        return ((v / b) - 1.0) * 100.0 if b != 0.0 else 0.0


class ULTOSC(Indicator):
    __slots__ = ("_sums", "_prev_close")

    def __init__(self, timeperiod1: int = 7, timeperiod2: int = 14, timeperiod3: int = 28) -> None:
        self._args = (timeperiod1, timeperiod2, timeperiod3)
        ps = sorted((s.period("timeperiod1", timeperiod1, 1), s.period("timeperiod2", timeperiod2, 1),
                     s.period("timeperiod3", timeperiod3, 1)))
        self._sums = tuple((sk.RollingSum(p), sk.RollingSum(p)) for p in ps)
        self._prev_close = NAN

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        pc = self._prev_close
        self._prev_close = close
        if pc != pc:
            return NAN
        true_low = low if low < pc else pc
        bp = close - true_low
        tr = (high if high > pc else pc) - true_low
        (s1, t1), (s2, t2), (s3, t3) = self._sums
        a1, b1, a2, b2 = s1.update(bp), t1.update(tr), s2.update(bp), t2.update(tr)
        a3, b3 = s3.update(bp), t3.update(tr)
        if a3 != a3:
            return NAN
        v = 0.0
        if b1 != 0.0:
            v += 4.0 * (a1 / b1)
        if b2 != 0.0:
            v += 2.0 * (a2 / b2)
        if b3 != 0.0:
            v += a3 / b3
        return 100.0 * (v / 7.0)


class APO(Indicator):
    __slots__ = ("_f", "_s")

    def __init__(self, fastperiod: int = 12, slowperiod: int = 26, matype: int = 1) -> None:
        self._args = (fastperiod, slowperiod, matype)
        f = s.period("fastperiod", fastperiod)
        sl = s.period("slowperiod", slowperiod)
        kind = s.matype("matype", matype)
        f, sl = min(f, sl), max(f, sl)
        self._f, self._s = sk.ma(f, kind), sk.ma(sl, kind)

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._f.update(real) - self._s.update(real)


class PPO(APO):
    __slots__ = ()

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        f = self._f.update(real)
        sl = self._s.update(real)
        if sl != sl:
            return NAN
        return ((f - sl) / sl) * 100.0 if sl != 0.0 else 0.0


class MACD(Indicator):
    __slots__ = ("_f", "_s", "_sig")

    def __init__(self, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9) -> None:
        self._args = (fastperiod, slowperiod, signalperiod)
        f = s.period("fastperiod", fastperiod)
        sl = s.period("slowperiod", slowperiod)
        sig = s.period("signalperiod", signalperiod, 1)
        self._init(f, sl, sig, 2.0 / (f + 1), 2.0 / (sl + 1))

    def _init(self, f: int, sl: int, sig: int, kf: float, ks: float) -> None:
        if sl < f:
            f, sl, kf, ks = sl, f, ks, kf
        self._f = sk.Ema(f, kf, sl - f)
        self._s = sk.Ema(sl, ks, 0)
        self._sig = sk.Ema(sig, 2.0 / (sig + 1), 0)

    def update(self, real: float) -> tuple[float, float, float]:
        if real - real != 0.0:
            self.reset()
            return NAN3
        m = self._f.update(real) - self._s.update(real)
        sig = self._sig.update(m)
        return (m if sig == sig else NAN), sig, m - sig


class MACDFIX(MACD):
    __slots__ = ()

    def __init__(self, signalperiod: int = 9) -> None:  # noqa: D107 (TA-Lib's fixed 12/26)
        self._args = (signalperiod,)
        self._init(12, 26, s.period("signalperiod", signalperiod, 1), 0.15, 0.075)


class BOP(Indicator):
    __slots__ = ()

    def __init__(self) -> None:
        self._args = ()

    def update(self, open: float, high: float, low: float, close: float) -> float:  # noqa: A002
        if open - open + high - high + low - low + close - close != 0.0:
            return NAN
        r = high - low
        return (close - open) / r if r > 0.0 else 0.0


# -- trend ----------------------------------------------------------------------------------

class _DM:
    """Per-bar +DM/-DM and true range (trend._dm)."""

    __slots__ = ("n", "ph", "pl", "pc", "plus", "minus", "tr")

    def __init__(self) -> None:
        self.n = 0
        self.ph = self.pl = self.pc = NAN
        self.plus = self.minus = self.tr = 0.0

    def update(self, high: float, low: float, close: float) -> None:
        self.n += 1
        if self.n > 1:
            diff_p = high - self.ph
            diff_m = self.pl - low
            self.plus = diff_p if (diff_p > 0 and diff_p > diff_m) else 0.0
            self.minus = diff_m if (diff_m > 0 and diff_p < diff_m) else 0.0
            pc = self.pc
            self.tr = (high if high > pc else pc) - (low if low < pc else pc)
        self.ph, self.pl, self.pc = high, low, close


class PLUS_DM(Indicator):  # noqa: N801 (TA-Lib's name)
    __slots__ = ("_p", "_dm", "_sp", "_sm")

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._p = s.period("timeperiod", timeperiod)
        self._dm = _DM()
        self._sp = self._sm = 0.0

    def _step(self, high: float, low: float) -> bool:
        dm = self._dm
        dm.update(high, low, NAN)
        n = dm.n
        p = self._p
        if n == 1:
            return False
        if n < p:
            self._sp += dm.plus
            self._sm += dm.minus
            return False
        if n == p:
            self._sp += dm.plus
            self._sm += dm.minus
            return True
        inv = 1.0 / p
        self._sp = self._sp - self._sp * inv + dm.plus
        self._sm = self._sm - self._sm * inv + dm.minus
        return True

    def update(self, high: float, low: float) -> float:
        if high - high + low - low != 0.0:
            self.reset()
            return NAN
        return self._sp if self._step(high, low) else NAN


class MINUS_DM(PLUS_DM):  # noqa: N801
    __slots__ = ()

    def update(self, high: float, low: float) -> float:
        if high - high + low - low != 0.0:
            self.reset()
            return NAN
        return self._sm if self._step(high, low) else NAN


class PLUS_DI(Indicator):  # noqa: N801
    __slots__ = ("_di",)

    _WHICH = 0

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._di = sk.Di(s.period("timeperiod", timeperiod), self._WHICH)

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        return self._di.update(high, low, close)


class MINUS_DI(PLUS_DI):  # noqa: N801
    __slots__ = ()

    _WHICH = 1


class DX(PLUS_DI):
    __slots__ = ()

    _WHICH = 2


class ADX(Indicator):
    __slots__ = ("_p", "_di", "_k", "_sum", "_adx")

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._p = s.period("timeperiod", timeperiod)
        self._di = sk.Di(self._p, 2)
        self._k = 0
        self._sum = 0.0
        self._adx = NAN

    def _step(self, high: float, low: float, close: float) -> float:
        dx = self._di.update(high, low, close)
        if dx != dx:
            return NAN
        p = self._p
        k = self._k
        self._k = k + 1
        if k < p:
            self._sum += dx
            if k < p - 1:
                return NAN
            self._adx = self._sum / p
        else:
            self._adx = ((self._adx * (p - 1)) + dx) * (1.0 / p)
        return self._adx

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        return self._step(high, low, close)


class ADXR(ADX):
    __slots__ = ("_hist",)

    def __init__(self, timeperiod: int = 14) -> None:
        super().__init__(timeperiod)
        self._hist: deque[float] = deque(maxlen=self._p)

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        a = self._step(high, low, close)
        if a != a:
            return NAN
        hist = self._hist
        hist.append(a)
        return (a + hist[0]) / 2.0 if len(hist) == self._p else NAN


class AROON(Indicator):
    __slots__ = ("_p", "_hi", "_lo", "_n")

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._p = s.period("timeperiod", timeperiod)
        self._hi, self._lo = sk.Extreme(self._p + 1, True), sk.Extreme(self._p + 1, False)
        self._n = 0

    def _step(self, high: float, low: float) -> bool:
        a = self._hi.update(high)
        self._lo.update(low)
        self._n += 1
        return a == a

    def update(self, high: float, low: float) -> tuple[float, float]:
        if high - high + low - low != 0.0:
            self.reset()
            return NAN2
        if not self._step(high, low):
            return NAN2
        p = self._p
        i = self._n - 1
        factor = 100.0 / p
        return factor * (p - (i - self._lo.index)), factor * (p - (i - self._hi.index))


class AROONOSC(AROON):
    __slots__ = ()

    def update(self, high: float, low: float) -> float:  # type: ignore[override]
        if high - high + low - low != 0.0:
            self.reset()
            return NAN
        if not self._step(high, low):
            return NAN
        return (100.0 / self._p) * (self._hi.index - self._lo.index)


class SAR(Indicator):
    __slots__ = ("_acc", "_max", "_n", "_h0", "_l0", "_long", "_af", "_ep", "_sar",
                 "_new_low", "_new_high")

    def __init__(self, acceleration: float = 0.02, maximum: float = 0.2) -> None:
        self._args = (acceleration, maximum)
        acc = s.real("acceleration", acceleration)
        mx = s.real("maximum", maximum)
        self._acc = min(acc, mx)
        self._max = mx
        self._af = self._acc
        self._n = 0
        self._h0 = self._l0 = NAN
        self._long = True
        self._ep = self._sar = self._new_low = self._new_high = NAN

    def update(self, high: float, low: float) -> float:
        if high - high + low - low != 0.0:
            self.reset()
            return NAN
        n = self._n
        self._n = n + 1
        if n == 0:
            self._h0, self._l0 = high, low
            return NAN
        if n == 1:
            diff_p = high - self._h0
            diff_m = self._l0 - low
            minus = diff_m if (diff_m > 0 and diff_p < diff_m) else 0.0
            self._long = not (minus > 0)
            if self._long:
                self._ep, self._sar = high, self._l0
            else:
                self._ep, self._sar = low, self._h0
            self._new_low, self._new_high = low, high
        acc, mx = self._acc, self._max
        prev_low, prev_high = self._new_low, self._new_high
        new_low, new_high = low, high
        self._new_low, self._new_high = low, high
        sar = self._sar
        ep = self._ep
        af = self._af
        if self._long:
            if new_low <= sar:
                self._long = False
                sar = ep
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
                out = sar
                af = acc
                ep = new_low
                sar = sar + af * (ep - sar)
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
            else:
                out = sar
                if new_high > ep:
                    ep = new_high
                    af += acc
                    if af > mx:
                        af = mx
                sar = sar + af * (ep - sar)
                if sar > prev_low:
                    sar = prev_low
                if sar > new_low:
                    sar = new_low
        else:
            if new_high >= sar:
                self._long = True
                sar = ep
                if sar > prev_low:
                    sar = prev_low
                if sar > new_low:
                    sar = new_low
                out = sar
                af = acc
                ep = new_high
                sar = sar + af * (ep - sar)
                if sar > prev_low:
                    sar = prev_low
                if sar > new_low:
                    sar = new_low
            else:
                out = sar
                if new_low < ep:
                    ep = new_low
                    af += acc
                    if af > mx:
                        af = mx
                sar = sar + af * (ep - sar)
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
        self._sar, self._ep, self._af = sar, ep, af
        return out


class SUPERTREND(Indicator):
    __slots__ = ("_atr", "_mult", "_up", "_dn", "_d", "_pc", "_started")

    def __init__(self, timeperiod: int = 10, multiplier: float = 3.0) -> None:
        self._args = (timeperiod, multiplier)
        self._atr = sk.WilderAtr(s.period("timeperiod", timeperiod, 1))
        self._mult = s.real("multiplier", multiplier)
        self._up = self._dn = NAN
        self._d = 1.0
        self._pc = NAN
        self._started = False

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN2
        a = self._atr.update(high, low, close)
        pc = self._pc
        self._pc = close
        if a != a:
            return NAN2
        mid = (high + low) / 2.0
        bu = mid + self._mult * a
        bl = mid - self._mult * a
        if not self._started:
            self._started = True
            self._up, self._dn = bu, bl
        else:
            up = self._up = bu if (bu < self._up or pc > self._up) else self._up
            dn = self._dn = bl if (bl > self._dn or pc < self._dn) else self._dn
            if self._d > 0 and close < dn:
                self._d = -1.0
            elif self._d < 0 and close > up:
                self._d = 1.0
        d = self._d
        return (self._dn if d > 0 else self._up), d


class ICHIMOKU(Indicator):
    __slots__ = ("_t", "_k", "_b", "_delay")

    def __init__(self, tenkan_period: int = 9, kijun_period: int = 26, senkou_period: int = 52,
                 displacement: int = 26) -> None:
        self._args = (tenkan_period, kijun_period, senkou_period, displacement)
        ps = (s.period("tenkan_period", tenkan_period, 1), s.period("kijun_period", kijun_period, 1),
              s.period("senkou_period", senkou_period, 1))
        d = s.period("displacement", displacement, 0)
        self._t, self._k, self._b = (sk.HighLow(p) for p in ps)
        self._delay: deque[tuple[float, float]] = deque(maxlen=d + 1)

    def update(self, high: float, low: float) -> tuple[float, float, float, float]:
        if high - high + low - low != 0.0:
            self.reset()
            return NAN4
        tenkan = self._t.mid(high, low)
        kijun = self._k.mid(high, low)
        span_b = self._b.mid(high, low)
        delay = self._delay
        delay.append(((tenkan + kijun) / 2.0, span_b))
        if len(delay) == delay.maxlen:
            sa, sb = delay[0]
        else:
            sa = sb = NAN
        return tenkan, kijun, sa, sb


# -- volatility -----------------------------------------------------------------------------

class TRANGE(Indicator):
    __slots__ = ("_pc",)

    def __init__(self) -> None:
        self._args = ()
        self._pc = NAN

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        pc = self._pc
        self._pc = close
        if pc != pc:
            return NAN
        return (high if high > pc else pc) - (low if low < pc else pc)


class ATR(Indicator):
    __slots__ = ("_atr",)

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._atr = sk.WilderAtr(s.period("timeperiod", timeperiod, 1))

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        return self._atr.update(high, low, close)


class NATR(ATR):
    __slots__ = ()

    def update(self, high: float, low: float, close: float) -> float:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        a = self._atr.update(high, low, close)
        if a != a:
            return NAN
        return (a / close) * 100.0 if close != 0.0 else 0.0


class KELTNER(Indicator):
    __slots__ = ("_ema", "_atr", "_mult")

    def __init__(self, timeperiod: int = 20, multiplier: float = 2.0, atr_period: int = 10) -> None:
        self._args = (timeperiod, multiplier, atr_period)
        p = s.period("timeperiod", timeperiod)
        self._mult = s.real("multiplier", multiplier)
        self._ema = sk.Ema(p, 2.0 / (p + 1))
        self._atr = sk.WilderAtr(s.period("atr_period", atr_period, 1))

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        if high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN3
        mid = self._ema.update(close)
        band = self._mult * self._atr.update(high, low, close)
        return mid + band, mid, mid - band


class DONCHIAN(Indicator):
    __slots__ = ("_hi", "_lo")

    def __init__(self, timeperiod: int = 20) -> None:
        self._args = (timeperiod,)
        p = s.period("timeperiod", timeperiod, 1)
        self._hi, self._lo = sk.Extreme(p, True), sk.Extreme(p, False)

    def update(self, high: float, low: float) -> tuple[float, float, float]:
        if high - high + low - low != 0.0:
            self.reset()
            return NAN3
        up = self._hi.update(high)
        dn = self._lo.update(low)
        return up, (up + dn) / 2.0, dn


def _check_positive(name: str, x: float) -> None:
    if x <= 0.0:
        raise ValueError(f"{name} must be > 0 (logarithms), got {x!r}")


class HV_CLOSE(Indicator):  # noqa: N801
    __slots__ = ("_p", "_var", "_pc", "_scale")

    def __init__(self, timeperiod: int = 20, periods_per_year: float = 1.0) -> None:
        self._args = (timeperiod, periods_per_year)
        self._p = s.period("timeperiod", timeperiod)
        self._scale = math.sqrt(s.real("periods_per_year", periods_per_year, 0.0, lo_open=True))
        self._var = sk.RollingVar(self._p)
        self._pc = NAN

    def update(self, close: float) -> float:
        if close - close != 0.0:
            self.reset()
            return NAN
        _check_positive("close", close)
        pc = self._pc
        self._pc = close
        if pc != pc:
            return NAN
        v = self._var.update(math.log(close / pc))
        if v != v:
            return NAN
        p = self._p
        return math.sqrt(v * p / (p - 1)) * self._scale


class HV_PARKINSON(Indicator):  # noqa: N801
    __slots__ = ("_m", "_scale")

    _K = 4.0 * math.log(2.0)

    def __init__(self, timeperiod: int = 20, periods_per_year: float = 1.0) -> None:
        self._args = (timeperiod, periods_per_year)
        self._m = sk.MeanNonneg(s.period("timeperiod", timeperiod, 1))
        self._scale = math.sqrt(s.real("periods_per_year", periods_per_year, 0.0, lo_open=True))

    def update(self, high: float, low: float) -> float:
        if high - high + low - low != 0.0:
            self.reset()
            return NAN
        _check_positive("high", high)
        _check_positive("low", low)
        u = math.log(high / low)
        return math.sqrt(self._m.update(u * u) / self._K) * self._scale


class HV_GARMAN_KLASS(Indicator):  # noqa: N801
    __slots__ = ("_m", "_scale")

    _K = 2.0 * math.log(2.0) - 1.0

    def __init__(self, timeperiod: int = 20, periods_per_year: float = 1.0) -> None:
        self._args = (timeperiod, periods_per_year)
        self._m = sk.MeanNonneg(s.period("timeperiod", timeperiod, 1))
        self._scale = math.sqrt(s.real("periods_per_year", periods_per_year, 0.0, lo_open=True))

    def update(self, open: float, high: float, low: float, close: float) -> float:  # noqa: A002
        if open - open + high - high + low - low + close - close != 0.0:
            self.reset()
            return NAN
        if open <= 0.0 or high <= 0.0 or low <= 0.0 or close <= 0.0:
            for name, x in (("open", open), ("high", high), ("low", low), ("close", close)):
                _check_positive(name, x)
        u = math.log(high / low)
        v = math.log(close / open)
        return math.sqrt(self._m.update(0.5 * u * u - self._K * v * v)) * self._scale


# -- volume ---------------------------------------------------------------------------------

class OBV(Indicator):
    __slots__ = ("_obv", "_prev")

    def __init__(self) -> None:
        self._args = ()
        self._obv = NAN
        self._prev = NAN

    def update(self, real: float, volume: float) -> float:
        if real - real + volume - volume != 0.0:
            self.reset()
            return NAN
        prev = self._prev
        self._prev = real
        if prev != prev:
            self._obv = volume
        elif real > prev:
            self._obv += volume
        elif real < prev:
            self._obv -= volume
        return self._obv


class AD(Indicator):
    __slots__ = ("_ad",)

    def __init__(self) -> None:
        self._args = ()
        self._ad = 0.0

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        if high - high + low - low + close - close + volume - volume != 0.0:
            self.reset()
            return NAN
        r = high - low
        if r > 0.0:
            self._ad += (((close - low) - (high - close)) / r) * volume
        return self._ad


class ADOSC(Indicator):
    __slots__ = ("_ad", "_osc")

    def __init__(self, fastperiod: int = 3, slowperiod: int = 10) -> None:
        self._args = (fastperiod, slowperiod)
        self._ad = AD()
        self._osc = sk.ChaikinOsc(s.period("fastperiod", fastperiod),
                                  s.period("slowperiod", slowperiod))

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        if high - high + low - low + close - close + volume - volume != 0.0:
            self.reset()
            return NAN
        return self._osc.update(self._ad.update(high, low, close, volume))


class CMF(Indicator):
    __slots__ = ("_c",)

    def __init__(self, timeperiod: int = 20) -> None:
        self._args = (timeperiod,)
        self._c = sk.Cmf(s.period("timeperiod", timeperiod, 1))

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        if high - high + low - low + close - close + volume - volume != 0.0:
            self.reset()
            return NAN
        return self._c.update(high, low, close, volume)


class VWAP(Indicator):
    """Session VWAP; ``update(..., timestamp)`` needs strictly increasing int ns timestamps
    and raises ValueError (changing nothing) otherwise."""

    __slots__ = ("_anchor", "_session", "_pv", "_vv", "_last_ts")

    def __init__(self, anchor_ns: int = NS_PER_DAY) -> None:
        self._args = (anchor_ns,)
        self._anchor = s.period("anchor_ns", anchor_ns, 1, 2**62)
        self._session: int | None = None
        self._pv = self._vv = 0.0
        self._last_ts: int | None = None

    def update(self, high: float, low: float, close: float, volume: float, timestamp: int) -> float:
        last = self._last_ts
        if last is not None and timestamp <= last:
            raise ValueError(f"timestamp must be strictly increasing: {timestamp} follows {last}")
        if high - high + low - low + close - close + volume - volume != 0.0:
            self.reset()
            self._last_ts = timestamp
            return NAN
        self._last_ts = timestamp
        sess = timestamp // self._anchor
        if sess != self._session:
            self._session = sess
            self._pv = self._vv = 0.0
        self._pv += ((high + low + close) / 3.0) * volume
        self._vv += volume
        return self._pv / self._vv if self._vv > 0.0 else NAN


class VOLUME_PROFILE(Indicator):  # noqa: N801
    """Volume per price bin, accumulated in O(1) per update; ``profile()`` gives the batch
    function's (levels, volumes) for everything seen so far, ``poc()`` the point of control
    (lower edge of the bin with the most volume, the lowest such bin on ties)."""

    __slots__ = ("_w", "_bins", "_lo", "_hi")

    def __init__(self, bin_width: float) -> None:
        self._args = (bin_width,)
        self._w = s.real("bin_width", bin_width, 0.0, lo_open=True)
        self._bins: dict[int, float] = {}
        self._lo = self._hi = 0

    def update(self, real: float, volume: float) -> float:
        """Add one trade or bar; returns the volume of its bin so far (NaN rows skipped)."""
        if real - real + volume - volume != 0.0:
            return NAN
        k = math.floor(real / self._w)
        bins = self._bins
        if bins:
            lo = k if k < self._lo else self._lo
            hi = k if k > self._hi else self._hi
            if hi - lo > MAX_PROFILE_BINS:
                raise ValueError(f"price {real} is more than {MAX_PROFILE_BINS} bins of "
                                 f"{self._w} away from the profile")
            self._lo, self._hi = lo, hi
        else:
            self._lo = self._hi = k
        v = bins.get(k, 0.0) + volume
        bins[k] = v
        return v

    def profile(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._bins:
            return np.empty(0), np.empty(0)
        lo = self._lo
        vols = np.zeros(self._hi - lo + 1)
        for k, v in self._bins.items():
            vols[k - lo] = v
        return np.arange(lo, self._hi + 1) * self._w, vols

    def poc(self) -> float:
        if not self._bins:
            return NAN
        k = max(self._bins, key=lambda b: (self._bins[b], -b))
        return k * self._w


# -- statistic ------------------------------------------------------------------------------

class VAR(Indicator):
    __slots__ = ("_v",)

    def __init__(self, timeperiod: int = 5, nbdev: float = 1.0) -> None:
        self._args = (timeperiod, nbdev)
        s.real("nbdev", nbdev, -3e37)
        self._v = sk.RollingVar(s.period("timeperiod", timeperiod, 1))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._v.update(real)


class STDDEV(Indicator):
    __slots__ = ("_v", "_k")

    def __init__(self, timeperiod: int = 5, nbdev: float = 1.0) -> None:
        self._args = (timeperiod, nbdev)
        self._k = s.real("nbdev", nbdev, -3e37)
        self._v = sk.RollingVar(s.period("timeperiod", timeperiod))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        v = self._v.update(real)
        return math.sqrt(v) * self._k if v == v else NAN


class ZSCORE(Indicator):
    __slots__ = ("_m", "_v")

    def __init__(self, timeperiod: int = 20) -> None:
        self._args = (timeperiod,)
        p = s.period("timeperiod", timeperiod)
        self._m, self._v = sk.Sma(p), sk.RollingVar(p)

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        m = self._m.update(real)
        v = self._v.update(real)
        if v != v:
            return NAN
        sd = math.sqrt(v)
        return (real - m) / sd if sd > 0.0 else 0.0


class LINEARREG(Indicator):
    __slots__ = ("_lr",)

    _KIND = 0   # the output of sk.LinReg

    def __init__(self, timeperiod: int = 14) -> None:
        self._args = (timeperiod,)
        self._lr = sk.LinReg(s.period("timeperiod", timeperiod), self._KIND)

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._lr.update(real)


class LINEARREG_SLOPE(LINEARREG):  # noqa: N801
    __slots__ = ()

    _KIND = 1


class LINEARREG_INTERCEPT(LINEARREG):  # noqa: N801
    __slots__ = ()

    _KIND = 2


class LINEARREG_ANGLE(LINEARREG):  # noqa: N801
    __slots__ = ()

    _KIND = 3


class TSF(LINEARREG):
    __slots__ = ()

    _KIND = 4


class CORREL(Indicator):
    __slots__ = ("_c",)

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        self._c = sk.Correl(s.period("timeperiod", timeperiod, 1))

    def update(self, real0: float, real1: float) -> float:
        if real0 - real0 + real1 - real1 != 0.0:
            self.reset()
            return NAN
        return self._c.update(real0, real1)


class BETA(Indicator):
    __slots__ = ("_b",)

    def __init__(self, timeperiod: int = 5) -> None:
        self._args = (timeperiod,)
        self._b = sk.Beta(s.period("timeperiod", timeperiod, 1))

    def update(self, real0: float, real1: float) -> float:
        if real0 - real0 + real1 - real1 != 0.0:
            self.reset()
            return NAN
        return self._b.update(real0, real1)


class MAX(Indicator):
    __slots__ = ("_e",)

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        self._e = sk.Extreme(s.period("timeperiod", timeperiod), True)

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._e.update(real)


class MIN(MAX):
    __slots__ = ()

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        self._e = sk.Extreme(s.period("timeperiod", timeperiod), False)


class SUM(Indicator):
    __slots__ = ("_s",)

    def __init__(self, timeperiod: int = 30) -> None:
        self._args = (timeperiod,)
        self._s = sk.RollingSum(s.period("timeperiod", timeperiod))

    def update(self, real: float) -> float:
        if real - real != 0.0:
            self.reset()
            return NAN
        return self._s.update(real)
