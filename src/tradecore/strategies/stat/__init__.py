"""Statistical arbitrage on pairs (docs/stat-arb.md).

selection    align candles, correlation screen, Engle-Granger / ADF (statsmodels), half-life
kernels      Numba batch kernels: rolling OLS and Kalman hedge ratios, z-score, signals, backtest
batch        the batch pipeline over arrays (validation + kernels)
incremental  the same statistics one bar at a time for live trading (equal to batch at every bar)
params       PairParams, shared by batch, live and the strategy
strategy     PairsTrading, the Strategy that trades both legs
"""
