"""Uniswap V2 (and forks) constant-product quotes, bit-exact with UniswapV2Library.

Python ints: no bound. `tradecore._fast.amm` holds the compiled getAmountOut (128-bit path with a
fallback to these functions); this module is its reference.
"""
from __future__ import annotations

FEE_NUM = 997    # 0.30 % fee: amountIn * 997 / 1000 reaches the curve (Uniswap V2, Sushiswap)
FEE_DEN = 1000


def _ints(*xs: object) -> None:
    if not all(type(x) is int for x in xs):
        raise TypeError(f"amounts and reserves must be ints (no float touches an amount), got {xs!r}")


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int,
                   fee_num: int = FEE_NUM, fee_den: int = FEE_DEN) -> int:
    """UniswapV2Library.getAmountOut: floor(in*997*rOut / (rIn*1000 + in*997))."""
    _ints(amount_in, reserve_in, reserve_out)
    if amount_in <= 0:
        raise ValueError(f"amount_in must be > 0, got {amount_in}")
    if reserve_in <= 0 or reserve_out <= 0:
        raise ValueError(f"reserves must be > 0, got {reserve_in}, {reserve_out}")
    with_fee = amount_in * fee_num
    return with_fee * reserve_out // (reserve_in * fee_den + with_fee)


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int,
                  fee_num: int = FEE_NUM, fee_den: int = FEE_DEN) -> int:
    """UniswapV2Library.getAmountIn: floor(rIn*out*1000 / ((rOut-out)*997)) + 1."""
    _ints(amount_out, reserve_in, reserve_out)
    if amount_out <= 0:
        raise ValueError(f"amount_out must be > 0, got {amount_out}")
    if reserve_in <= 0 or reserve_out <= amount_out:
        raise ValueError(f"need reserve_out > amount_out > 0 and reserve_in > 0, got {reserve_in}, {reserve_out}")
    return reserve_in * amount_out * fee_den // ((reserve_out - amount_out) * fee_num) + 1


def swap_reserves(amount_in: int, reserve_in: int, reserve_out: int) -> tuple[int, int, int]:
    """(amount_out, new reserve_in, new reserve_out) of an exact-input swap."""
    out = get_amount_out(amount_in, reserve_in, reserve_out)
    return out, reserve_in + amount_in, reserve_out - out
