"""Risk: the pre-trade gate (compiled), limits, circuit breakers and the kill switch, sizing,
VaR/CVaR and correlation clusters. docs/risk.md describes the whole.

Only the light modules are imported here; `risk.var` and `risk.correlation` (Numba, numpy) are
imported by those who need them, so that importing the gate does not compile anything.
"""
from tradecore.risk.gate import RiskGate
from tradecore.risk.limits import ClusterLimit, RiskLimits, SymbolLimits

__all__ = ["RiskGate", "RiskLimits", "SymbolLimits", "ClusterLimit"]
