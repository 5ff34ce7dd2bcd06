"""Backtests: the replay driver, simulated venue settings, and the reports of a run.

Reports (metrics.py, results.py, report.py) need only numpy, matplotlib and core: any run that
fills a `results.Results` (backtest, paper or live) gets the same metrics and the same HTML page.
"""
