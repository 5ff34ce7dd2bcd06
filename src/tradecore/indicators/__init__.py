"""Technical indicators: batch functions over numpy arrays (Numba kernels, TA-Lib's names,
argument names, defaults and output order, in lower case) and streaming objects (the same
names in upper case) whose ``update`` returns the batch value of the same bar in O(1).

    from tradecore import indicators as ta
    ta.warmup()                       # compile / load the Numba cache at start-up
    ta.rsi(close, timeperiod=14)      # batch
    r = ta.RSI(timeperiod=14)         # streaming
    r.update(close_of_new_bar)

``catalog.SPECS`` lists every indicator with its inputs and TA-Lib counterpart;
docs/indicators.md lists them with every documented difference from TA-Lib.
"""
from tradecore.indicators.catalog import BY_NAME, SPECS, Spec, retain_freed_memory, warmup
from tradecore.indicators.momentum import (apo, bop, cci, cmo, macd, macdfix, mfi, mom, ppo, roc,
                                           rocp, rocr, rocr100, rsi, stoch, stochf, stochrsi,
                                           trix, ultosc, willr)
from tradecore.indicators.overlap import (avgprice, bbands, dema, ema, hma, kama, medprice,
                                          midpoint, midprice, sma, t3, tema, trima, typprice,
                                          wclprice, wma)
from tradecore.indicators.statistic import (beta, correl, linearreg, linearreg_angle,
                                            linearreg_intercept, linearreg_slope, max, min,
                                            stddev, sum, tsf, var, zscore)
from tradecore.indicators.streaming import (AD, ADOSC, ADX, ADXR, APO, AROON, AROONOSC, ATR,
                                            AVGPRICE, BBANDS, BETA, BOP, CCI, CMF, CMO, CORREL,
                                            DEMA, DONCHIAN, DX, EMA, HMA, HV_CLOSE,
                                            HV_GARMAN_KLASS, HV_PARKINSON, ICHIMOKU, KAMA,
                                            KELTNER, LINEARREG, LINEARREG_ANGLE,
                                            LINEARREG_INTERCEPT, LINEARREG_SLOPE, MACD, MACDFIX,
                                            MAX, MEDPRICE, MFI, MIDPOINT, MIDPRICE, MIN,
                                            MINUS_DI, MINUS_DM, MOM, NATR, OBV, PLUS_DI, PLUS_DM,
                                            PPO, ROC, ROCP, ROCR, ROCR100, RSI, SAR, SMA, STDDEV,
                                            STOCH, STOCHF, STOCHRSI, SUM, SUPERTREND, T3, TEMA,
                                            TRANGE, TRIMA, TRIX, TSF, TYPPRICE, ULTOSC, VAR,
                                            VOLUME_PROFILE, VWAP, WCLPRICE, WILLR, WMA, ZSCORE,
                                            Indicator)
from tradecore.indicators.trend import (adx, adxr, aroon, aroonosc, dx, ichimoku, minus_di,
                                        minus_dm, plus_di, plus_dm, sar, supertrend)
from tradecore.indicators.volatility import (atr, donchian, hv_close, hv_garman_klass,
                                             hv_parkinson, keltner, natr, trange)
from tradecore.indicators.volume import ad, adosc, cmf, obv, volume_profile, vwap

# candlestick patterns (cdl*: TA-Lib's names; many at once: indicators.patterns.patterns),
# support/resistance, the feature pipeline
from tradecore.indicators import patterns as _patterns
from tradecore.indicators.features import (CANDLE_FEATURES, DEFAULT_FEATURES, FeatureSet,
                                           aggregate_trades, book_levels)
from tradecore.indicators.features import warmup as feature_warmup
from tradecore.indicators.levels import cluster_levels, fractals, period_pivots, pivots
from tradecore.indicators.levels import volume_profile as range_volume_profile
from tradecore.indicators.patterns import PatternStream, pattern_names

globals().update({_n: getattr(_patterns, _n) for _n in pattern_names()})

__all__ = ["SPECS", "BY_NAME", "Spec", "warmup", "retain_freed_memory", "Indicator",
           *(s.name for s in SPECS), *(s.name.upper() for s in SPECS),
           "PatternStream", "pattern_names", *pattern_names(),
           "pivots", "period_pivots", "fractals", "cluster_levels", "range_volume_profile",
           "FeatureSet", "DEFAULT_FEATURES", "CANDLE_FEATURES", "book_levels",
           "aggregate_trades", "feature_warmup"]
