"""Binance spot, USD-M and COIN-M futures."""
