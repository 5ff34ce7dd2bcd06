"""Uniswap V3 swap math with exact integers, ported from the v3-core Solidity semantics
(TickMath, SqrtPriceMath, SwapMath, and the UniswapV3Pool.swap loop with
TickBitmap.nextInitializedTickWithinOneWord). Every division rounds as the contracts do; where
the contracts take a different formula when an intermediate product would overflow 256 bits
(SqrtPriceMath.getNextSqrtPriceFromAmount0RoundingUp) we take the same branch, so results are
bit-identical, not just mathematically close.

The protocol fee is not modelled (it does not change what the trader pays or receives).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
Q96 = 1 << 96
_U256 = 1 << 256
_U160_MAX = (1 << 160) - 1

_TICK_FACTORS = (
    (0x2, 0xfff97272373d413259a46990580e213a), (0x4, 0xfff2e50f5f656932ef12357cf3c7fdcc),
    (0x8, 0xffe5caca7e10e4e61c3624eaa0941cd0), (0x10, 0xffcb9843d60f6159c9db58835c926644),
    (0x20, 0xff973b41fa98c081472e6896dfb254c0), (0x40, 0xff2ea16466c96a3843ec78b326b52861),
    (0x80, 0xfe5dee046a99a2a811c461f1969c3053), (0x100, 0xfcbe86c7900a88aedcffc83b479aa3a4),
    (0x200, 0xf987a7253ac413176f2b074cf7815e54), (0x400, 0xf3392b0822b70005940c7a398e4b70f3),
    (0x800, 0xe7159475a2c29b7443b29c7fa6e889d9), (0x1000, 0xd097f3bdfd2022b8845ad8f792aa5825),
    (0x2000, 0xa9f746462d870fdf8a65dc1f90e061e5), (0x4000, 0x70d869a156d2a1b890bb3df62baf32f7),
    (0x8000, 0x31be135f97d08fd981231505542fcfa6), (0x10000, 0x9aa508b5b7a84e1c677de54f3e99bc9),
    (0x20000, 0x5d6af8dedb81196699c329225ee604), (0x40000, 0x2216e584f5fa1ea926041bedfe98),
    (0x80000, 0x48a170391f7dc42444e8fa2),
)


def _mul_div(a: int, b: int, d: int) -> int:
    return a * b // d


def _mul_div_up(a: int, b: int, d: int) -> int:
    return -(-(a * b) // d)


def _div_up(a: int, d: int) -> int:
    return -(-a // d)


def get_sqrt_ratio_at_tick(tick: int) -> int:
    """TickMath.getSqrtRatioAtTick: sqrt(1.0001^tick) * 2^96, rounded up, exactly."""
    abs_tick = -tick if tick < 0 else tick
    if abs_tick > MAX_TICK:
        raise ValueError(f"tick {tick} outside [{MIN_TICK}, {MAX_TICK}]")
    ratio = 0xfffcb933bd6fad37aa2d162d1a594001 if abs_tick & 0x1 else 0x100000000000000000000000000000000
    for bit, factor in _TICK_FACTORS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = (_U256 - 1) // ratio
    return (ratio >> 32) + (0 if ratio % (1 << 32) == 0 else 1)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """TickMath.getTickAtSqrtRatio: the greatest tick whose sqrt ratio is <= the price.
    Same answer as the contract's log2 approximation (which is corrected to exactly this
    definition); found here by bisection over getSqrtRatioAtTick."""
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise ValueError(f"sqrtPriceX96 {sqrt_price_x96} outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)")
    lo, hi = MIN_TICK, MAX_TICK
    while lo < hi:
        mid = (lo + hi + 1) >> 1
        if get_sqrt_ratio_at_tick(mid) <= sqrt_price_x96:
            lo = mid
        else:
            hi = mid - 1
    return lo


def next_sqrt_price_from_amount0_rounding_up(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    if amount == 0:
        return sqrt_p
    numerator1 = liquidity << 96
    product = amount * sqrt_p
    if add:
        if product < _U256 and numerator1 + product < _U256:
            return _mul_div_up(numerator1, sqrt_p, numerator1 + product)
        return _div_up(numerator1, numerator1 // sqrt_p + amount)
    if product >= _U256 or numerator1 <= product:
        raise ValueError("price would cross zero: output larger than the token0 reserve")
    return _mul_div_up(numerator1, sqrt_p, numerator1 - product)


def next_sqrt_price_from_amount1_rounding_down(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    if add:
        return sqrt_p + (amount << 96) // liquidity
    quotient = _div_up(amount << 96, liquidity)
    if sqrt_p <= quotient:
        raise ValueError("price would cross zero: output larger than the token1 reserve")
    return sqrt_p - quotient


def next_sqrt_price_from_input(sqrt_p: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    if zero_for_one:
        return next_sqrt_price_from_amount0_rounding_up(sqrt_p, liquidity, amount_in, True)
    return next_sqrt_price_from_amount1_rounding_down(sqrt_p, liquidity, amount_in, True)


def next_sqrt_price_from_output(sqrt_p: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    if zero_for_one:
        return next_sqrt_price_from_amount1_rounding_down(sqrt_p, liquidity, amount_out, False)
    return next_sqrt_price_from_amount0_rounding_up(sqrt_p, liquidity, amount_out, False)


def get_amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    numerator1 = liquidity << 96
    numerator2 = sqrt_b - sqrt_a
    if round_up:
        return _div_up(_mul_div_up(numerator1, numerator2, sqrt_b), sqrt_a)
    return _mul_div(numerator1, numerator2, sqrt_b) // sqrt_a


def get_amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if round_up:
        return _mul_div_up(liquidity, sqrt_b - sqrt_a, Q96)
    return _mul_div(liquidity, sqrt_b - sqrt_a, Q96)


def compute_swap_step(sqrt_current: int, sqrt_target: int, liquidity: int, amount_remaining: int,
                      fee_pips: int) -> tuple[int, int, int, int]:
    """SwapMath.computeSwapStep -> (sqrt_next, amount_in, amount_out, fee_amount).
    amount_remaining > 0: exact input; < 0: exact output. fee_pips: 500 = 0.05 %."""
    zero_for_one = sqrt_current >= sqrt_target
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        less_fee = _mul_div(amount_remaining, 1_000_000 - fee_pips, 1_000_000)
        amount_in = (get_amount0_delta(sqrt_target, sqrt_current, liquidity, True) if zero_for_one
                     else get_amount1_delta(sqrt_current, sqrt_target, liquidity, True))
        sqrt_next = (sqrt_target if less_fee >= amount_in
                     else next_sqrt_price_from_input(sqrt_current, liquidity, less_fee, zero_for_one))
    else:
        amount_out = (get_amount1_delta(sqrt_target, sqrt_current, liquidity, False) if zero_for_one
                      else get_amount0_delta(sqrt_current, sqrt_target, liquidity, False))
        sqrt_next = (sqrt_target if -amount_remaining >= amount_out
                     else next_sqrt_price_from_output(sqrt_current, liquidity, -amount_remaining, zero_for_one))
    at_max = sqrt_target == sqrt_next
    if zero_for_one:
        if not (at_max and exact_in):
            amount_in = get_amount0_delta(sqrt_next, sqrt_current, liquidity, True)
        if not (at_max and not exact_in):
            amount_out = get_amount1_delta(sqrt_next, sqrt_current, liquidity, False)
    else:
        if not (at_max and exact_in):
            amount_in = get_amount1_delta(sqrt_current, sqrt_next, liquidity, True)
        if not (at_max and not exact_in):
            amount_out = get_amount0_delta(sqrt_current, sqrt_next, liquidity, False)
    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining
    if exact_in and sqrt_next != sqrt_target:
        fee = amount_remaining - amount_in
    else:
        fee = _mul_div_up(amount_in, fee_pips, 1_000_000 - fee_pips)
    return sqrt_next, amount_in, amount_out, fee


@dataclass
class V3Pool:
    """The state a V3 swap reads: price, tick, in-range liquidity, fee, tick spacing and the
    initialized ticks with their liquidityNet."""
    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee_pips: int
    tick_spacing: int
    liquidity_net: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._compressed = sorted(t // self.tick_spacing for t in self.liquidity_net)

    def _next_initialized_within_word(self, tick: int, lte: bool) -> tuple[int, bool]:
        sp = self.tick_spacing
        compressed = tick // sp  # Solidity rounds toward zero then steps down for negatives: = floor
        if lte:
            word_start = (compressed >> 8) << 8
            i = bisect.bisect_right(self._compressed, compressed) - 1
            if i >= 0 and self._compressed[i] >= word_start:
                return self._compressed[i] * sp, True
            return word_start * sp, False
        c1 = compressed + 1
        word_end = ((c1 >> 8) << 8) + 255
        i = bisect.bisect_left(self._compressed, c1)
        if i < len(self._compressed) and self._compressed[i] <= word_end:
            return self._compressed[i] * sp, True
        return word_end * sp, False

    def swap(self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None,
             commit: bool = False) -> tuple[int, int]:
        """UniswapV3Pool.swap -> (amount0, amount1) from the pool's side (positive = paid in).
        amount_specified > 0 exact input, < 0 exact output. With commit the pool state moves."""
        if amount_specified == 0:
            raise ValueError("amount_specified must be non-zero")
        if sqrt_price_limit_x96 is None:
            sqrt_price_limit_x96 = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        if zero_for_one:
            if not MIN_SQRT_RATIO < sqrt_price_limit_x96 < self.sqrt_price_x96:
                raise ValueError("price limit must be below the current price for zeroForOne")
        elif not self.sqrt_price_x96 < sqrt_price_limit_x96 < MAX_SQRT_RATIO:
            raise ValueError("price limit must be above the current price for oneForZero")
        exact_in = amount_specified > 0
        remaining, calculated = amount_specified, 0
        sqrt_p, tick, liq = self.sqrt_price_x96, self.tick, self.liquidity
        while remaining != 0 and sqrt_p != sqrt_price_limit_x96:
            start = sqrt_p
            tick_next, initialized = self._next_initialized_within_word(tick, zero_for_one)
            tick_next = max(MIN_TICK, min(MAX_TICK, tick_next))
            sqrt_next_tick = get_sqrt_ratio_at_tick(tick_next)
            if zero_for_one:
                target = max(sqrt_next_tick, sqrt_price_limit_x96)
            else:
                target = min(sqrt_next_tick, sqrt_price_limit_x96)
            sqrt_p, a_in, a_out, fee = compute_swap_step(sqrt_p, target, liq, remaining, self.fee_pips)
            if exact_in:
                remaining -= a_in + fee
                calculated -= a_out
            else:
                remaining += a_out
                calculated += a_in + fee
            if sqrt_p == sqrt_next_tick:
                if initialized:
                    net = self.liquidity_net[tick_next]
                    liq += -net if zero_for_one else net
                    if liq < 0:
                        raise ValueError("liquidity underflow: the tick map is inconsistent")
                tick = tick_next - 1 if zero_for_one else tick_next
            elif sqrt_p != start:
                tick = get_tick_at_sqrt_ratio(sqrt_p)
        if commit:
            self.sqrt_price_x96, self.tick, self.liquidity = sqrt_p, tick, liq
        if zero_for_one == exact_in:
            return amount_specified - remaining, calculated
        return calculated, amount_specified - remaining
