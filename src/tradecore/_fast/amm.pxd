# Uniswap V2 constant-product quotes, bit-exact with UniswapV2Library, compiled.
#
# Python ints in, Python ints out. The products reach ~2^(112+112+10) bits, so the kernel does
# 128x128->256-bit multiplication and a 256/128-bit division (double-precision estimate, then exact
# integer correction) in C. That path is taken when every operand is < 2^117 (uint112 V2
# reserves always are) and the quotient fits in 128 bits; anything larger falls back to Python
# int arithmetic in this module: same answer, only slower. The plain-Python reference is
# tradecore.mev.amm.v2 (the tests compare the two with hypothesis).

# Python-level entry points with the 0.30 % fee of Uniswap V2 and Sushiswap (997/1000), three
# positional ints (no keyword parsing on the hot path):
#   v2_get_amount_out(amount_in, reserve_in, reserve_out)
#   v2_get_amount_in(amount_out, reserve_in, reserve_out)

# floor(amount_in*fee_num*reserve_out / (reserve_in*fee_den + amount_in*fee_num)).
# ValueError on a non-positive amount or reserve, TypeError on a non-int.
cpdef object v2_get_amount_out_fee(object amount_in, object reserve_in, object reserve_out,
                                   unsigned int fee_num, unsigned int fee_den)

# floor(reserve_in*amount_out*fee_den / ((reserve_out - amount_out)*fee_num)) + 1.
cpdef object v2_get_amount_in_fee(object amount_out, object reserve_in, object reserve_out,
                                  unsigned int fee_num, unsigned int fee_den)

# Whether the last call of either function took the compiled path (for the benchmark and tests).
cpdef bint last_call_was_compiled()
