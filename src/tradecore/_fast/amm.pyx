"""Uniswap V2 quotes with 256-bit-safe integer arithmetic in C (see amm.pxd)."""
from cpython.long cimport PyLong_Check

cdef extern from *:
    """
    #include <stdint.h>
    typedef unsigned __int128 tc_u128;
    typedef struct { tc_u128 hi, lo; } tc_u256;

    static inline tc_u256 tc_mul128(tc_u128 a, tc_u128 b) {
        uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64), b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
        tc_u128 p00 = (tc_u128)a0 * b0, p01 = (tc_u128)a0 * b1, p10 = (tc_u128)a1 * b0, p11 = (tc_u128)a1 * b1;
        tc_u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
        tc_u256 r;
        r.lo = (mid << 64) | (uint64_t)p00;
        r.hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
        return r;
    }
    static inline int tc_gt256(tc_u256 a, tc_u256 b) { return a.hi != b.hi ? a.hi > b.hi : a.lo > b.lo; }
    static inline tc_u256 tc_sub256(tc_u256 a, tc_u256 b) {
        tc_u256 r; r.lo = a.lo - b.lo; r.hi = a.hi - b.hi - (a.lo < b.lo); return r;
    }
    static inline double tc_dbl128(tc_u128 a) {
        return (double)(uint64_t)(a >> 64) * 18446744073709551616.0 + (double)(uint64_t)a;
    }
    static inline double tc_dbl256(tc_u256 a) {
        return tc_dbl128(a.hi) * 340282366920938463463374607431768211456.0 + tc_dbl128(a.lo);
    }
    static inline tc_u128 tc_dbl_to_u128(double x, tc_u128 cap) {
        if (!(x > 0)) return 0;
        if (x >= tc_dbl128(cap)) return cap;
        return (tc_u128)x;
    }
    /* x -> *out when x is an int with 0 < x < 2^117 (return 1), else return 0. Reads the
       CPython digits directly (3.11 layout); other versions go through the byte-array API. */
    static inline int tc_pylong_u117(PyObject *x, tc_u128 *out) {
        if (!PyLong_CheckExact(x)) return 0;
    #if PY_VERSION_HEX < 0x030C0000
        PyLongObject *v = (PyLongObject *)x;
        Py_ssize_t n = Py_SIZE(v);
        if (n <= 0 || n > 4) return 0;
        tc_u128 r = 0;
        for (Py_ssize_t i = n - 1; i >= 0; i--) r = (r << PyLong_SHIFT) | (tc_u128)v->ob_digit[i];
    #else
        if (_PyLong_Sign(x) <= 0 || _PyLong_NumBits(x) > 117) return 0;
        tc_u128 r = 0;
        if (_PyLong_AsByteArray((PyLongObject *)x, (unsigned char *)&r, 16, 1, 0) < 0) { PyErr_Clear(); return 0; }
    #endif
        if (r >> 117) return 0;
        *out = r;
        return 1;
    }
    static inline PyObject *tc_u128_to_pylong(tc_u128 v) {
        if ((v >> 64) == 0) return PyLong_FromUnsignedLongLong((unsigned long long)v);
        return _PyLong_FromByteArray((unsigned char *)&v, 16, 1, 0);
    }
    /* floor(n / d) into *q; 0 on success, -1 when the quotient does not fit in 128 bits.
       The double-precision estimate is only a starting point: the loop ends on the exact condition
       0 <= n - q*d < d, so the answer never depends on floating-point rounding. */
    static int tc_div256_128(tc_u256 n, tc_u128 d, tc_u128 *q_out) {
        if (d == 0 || n.hi >= d) return -1;
        if (n.hi == 0) { *q_out = n.lo / d; return 0; }
        double dd = tc_dbl128(d);
        tc_u128 q = tc_dbl_to_u128(tc_dbl256(n) / dd, ~(tc_u128)0);
        /* the estimate is within ~q*2^-52 (53-bit mantissa): fix it up with
           exact single steps; a far estimate is re-estimated from the exact remainder */
        for (int it = 0; it < 200; it++) {
            tc_u256 p = tc_mul128(q, d);
            if (tc_gt256(p, n)) {
                tc_u256 over = tc_sub256(p, n);
                if (over.hi == 0 && over.lo <= d) { *q_out = q - 1; return 0; }
                tc_u128 step = tc_dbl_to_u128(tc_dbl256(over) / dd, q);
                q -= step ? step : 1;
            } else {
                tc_u256 r = tc_sub256(n, p);
                if (r.hi == 0 && r.lo < d) { *q_out = q; return 0; }
                if (r.hi == 0 && r.lo - d < d) { *q_out = q + 1; return 0; }
                tc_u128 step = tc_dbl_to_u128(tc_dbl256(r) / dd, ~(tc_u128)0 - q);
                q += step ? step : 1;
            }
        }
        return -1;
    }
    """
    ctypedef unsigned long long tc_u128  # really unsigned __int128 (only cast and passed through)
    ctypedef struct tc_u256:
        tc_u128 hi
        tc_u128 lo
    tc_u256 tc_mul128(tc_u128 a, tc_u128 b) nogil
    bint tc_pylong_u117(object x, tc_u128* out)
    object tc_u128_to_pylong(tc_u128 v)
    int tc_div256_128(tc_u256 n, tc_u128 d, tc_u128* q_out) nogil

cdef extern from "Python.h":
    int _PyLong_Sign(object v)

cdef bint _last_compiled = False


cdef inline void _check(object a, str name_a, object r_in, object r_out) except *:
    if not (PyLong_Check(a) and PyLong_Check(r_in) and PyLong_Check(r_out)):
        raise TypeError(f"amounts and reserves must be ints, got {type(a).__name__}, "
                        f"{type(r_in).__name__}, {type(r_out).__name__}")
    if _PyLong_Sign(a) <= 0:
        raise ValueError(f"{name_a} must be > 0, got {a}")
    if _PyLong_Sign(r_in) <= 0 or _PyLong_Sign(r_out) <= 0:
        raise ValueError(f"reserves must be > 0, got {r_in}, {r_out}")


def v2_get_amount_out(amount_in, reserve_in, reserve_out):
    return v2_get_amount_out_fee(amount_in, reserve_in, reserve_out, 997, 1000)


def v2_get_amount_in(amount_out, reserve_in, reserve_out):
    return v2_get_amount_in_fee(amount_out, reserve_in, reserve_out, 997, 1000)


cpdef object v2_get_amount_out_fee(object amount_in, object reserve_in, object reserve_out,
                                   unsigned int fee_num, unsigned int fee_den):
    global _last_compiled
    cdef tc_u128 a, r_in, r_out, with_fee, den, q
    cdef tc_u256 num
    if (fee_num <= fee_den and fee_den <= 1024 and tc_pylong_u117(amount_in, &a)
            and tc_pylong_u117(reserve_in, &r_in) and tc_pylong_u117(reserve_out, &r_out)):
        with_fee = a * <tc_u128>fee_num              # < 2^127
        den = r_in * <tc_u128>fee_den + with_fee      # < 2^128
        num = tc_mul128(with_fee, r_out)              # < 2^244
        if tc_div256_128(num, den, &q) == 0:
            _last_compiled = True
            return tc_u128_to_pylong(q)
    _check(amount_in, "amount_in", reserve_in, reserve_out)
    _last_compiled = False
    wf = amount_in * fee_num
    return wf * reserve_out // (reserve_in * fee_den + wf)


cpdef object v2_get_amount_in_fee(object amount_out, object reserve_in, object reserve_out,
                                  unsigned int fee_num, unsigned int fee_den):
    global _last_compiled
    cdef tc_u128 o, r_in, r_out, den, q
    cdef tc_u256 num
    if (fee_num <= fee_den and fee_den <= 1024 and tc_pylong_u117(amount_out, &o)
            and tc_pylong_u117(reserve_in, &r_in) and tc_pylong_u117(reserve_out, &r_out) and r_out > o):
        num = tc_mul128(r_in * <tc_u128>fee_den, o)   # < 2^244
        den = (r_out - o) * <tc_u128>fee_num          # < 2^127
        if tc_div256_128(num, den, &q) == 0 and q != <tc_u128>(-1):
            _last_compiled = True
            return tc_u128_to_pylong(q + 1)
    _check(amount_out, "amount_out", reserve_in, reserve_out)
    if reserve_out <= amount_out:
        raise ValueError(f"need reserve_out > amount_out, got {reserve_out} <= {amount_out}")
    _last_compiled = False
    return reserve_in * amount_out * fee_den // ((reserve_out - amount_out) * fee_num) + 1


cpdef bint last_call_was_compiled():
    return _last_compiled
